"""Auvo list queries: paramFilter and paging, the per-resource filters, paged answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.auvo.common import DATE_FMT, MAX_PAGE_SIZE, AuvoValidationError
from simulators.auvo.state import AuvoState
from simulators.auvo.templates import public
from simulators.auvo.validation import _INVALID, _as_int, _not_valid

# --- query helpers --------------------------------------------------------------------------------


def _query(request: Request, name: str) -> str | None:
    """Case-insensitive query parameter lookup (ASP.NET binds `PageSize` and `pagesize` alike)."""
    wanted = name.lower()
    for key, value in request.query_params.multi_items():
        if key.lower() == wanted:
            return value
    return None


def parse_date(value: Any, field: str) -> datetime:
    """Auvo filter dates: `yyyy-MM-ddTHH:mm:ss` (also accepted: a space, or a date alone)."""
    text = str(value).strip()
    for fmt in (DATE_FMT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise AuvoValidationError({field: _not_valid(value)})


def parse_param_filter(request: Request, required: bool = False) -> dict[str, Any]:
    """The URL-encoded JSON `paramFilter`, keys lower-cased; 400 in Auvo's words when unusable."""
    raw = _query(request, "paramFilter")
    if raw is None or not raw.strip():
        if required:
            raise ParamFilterRequired()
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AuvoValidationError({"paramFilter": _not_valid(raw)}) from exc
    if not isinstance(value, dict):
        raise AuvoValidationError({"paramFilter": _not_valid(raw)})
    return {str(k).lower(): v for k, v in value.items()}


class ParamFilterRequired(Exception):
    """The blueprint's 400 for a list that needs a paramFilter and got none."""

    body: ClassVar[dict[str, Any]] = {
        "message": "The paramFilter is required as ParamUserFilter string json.", "target": None,
        "errorCode": 0, "errors": None,
    }


def parse_paging(request: Request) -> tuple[int, int, int]:
    """(page, pageSize, order 0=asc/1=desc) with the blueprint's defaults and a cap of 100."""
    page_raw = _query(request, "page")
    size_raw = _query(request, "pageSize")
    order_raw = (_query(request, "order") or "asc").strip().lower()
    try:
        page = int(page_raw) if page_raw not in (None, "") else 1
    except ValueError as exc:
        raise AuvoValidationError({"page": _not_valid(page_raw)}) from exc
    try:
        size = int(size_raw) if size_raw not in (None, "") else 10
    except ValueError as exc:
        raise AuvoValidationError({"pageSize": _not_valid(size_raw)}) from exc
    if order_raw in ("asc", "0"):
        order = 0
    elif order_raw in ("desc", "1"):
        order = 1
    else:
        raise AuvoValidationError({"order": _not_valid(order_raw)})
    return max(1, page), min(MAX_PAGE_SIZE, max(1, size)), order


def _csv(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _bool_filter(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def _contains(haystack: Any, needle: Any) -> bool:
    return str(needle).lower() in str(haystack or "").lower()


def _int_or_400(value: Any, field: str) -> int:
    coerced = _as_int(value)
    if coerced is _INVALID:
        raise AuvoValidationError({field: _not_valid(value)})
    return int(coerced)


def _on_or_after(stamp: str, value: Any, field: str) -> bool:
    return bool(stamp) and parse_date(stamp, field) >= parse_date(value, field)


# --- per-resource filters -------------------------------------------------------------------------

Predicate = Callable[[dict[str, Any]], bool]


def customer_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    preds: list[Predicate] = []
    if pf.get("id") not in (None, "", 0):
        wanted = _int_or_400(pf["id"], "id")
        preds.append(lambda r: r["id"] == wanted)
    if pf.get("description"):
        preds.append(lambda r: _contains(r["description"], pf["description"]))
    if pf.get("segmentid") not in (None, "", 0):
        seg = _int_or_400(pf["segmentid"], "segmentId")
        preds.append(lambda r: r["segmentId"] == seg)
    for key, field in (("creationdate", "creationDate"), ("datelastupdate", "dateLastUpdate")):
        if pf.get(key):
            parse_date(pf[key], field)
            preds.append(lambda r, k=key, f=field: _on_or_after(r[f], pf[k], f))
    if pf.get("groupid") not in (None, "", 0):
        gid = _int_or_400(pf["groupid"], "groupId")
        preds.append(lambda r: gid in (r.get("groupsId") or []))
    active = _bool_filter(pf.get("active"))
    if active is not None:
        preds.append(lambda r: bool(r["active"]) == active)
    if pf.get("externalid"):
        wanted_ext = set(_csv(pf["externalid"]))
        preds.append(lambda r: r.get("externalId") in wanted_ext)
    return preds


def task_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    missing = {k: [f"The {k[0].upper() + k[1:]} field is required."]
               for k in ("startDate", "endDate") if not pf.get(k.lower())}
    if missing:
        raise AuvoValidationError(missing)
    start = parse_date(pf["startdate"], "startDate")
    end = parse_date(pf["enddate"], "endDate")
    preds: list[Predicate] = [lambda r: start <= parse_date(r["taskDate"], "taskDate") <= end]
    status = _int_or_400(pf.get("status", 4), "status") if pf.get("status") not in (None, "") else 4
    if status not in range(7):
        raise AuvoValidationError({"status": _not_valid(status)})
    preds.append(lambda r: _task_status_matches(r, status))
    simple = {"taskid": "taskID", "iduserto": "idUserTo", "customerid": "customerId", "type": "taskType"}
    for key, field in simple.items():
        if pf.get(key) not in (None, "", 0):
            wanted = _int_or_400(pf[key], field)
            preds.append(lambda r, f=field, w=wanted: r.get(f) == w)
    if pf.get("datelastupdate"):
        parse_date(pf["datelastupdate"], "dateLastUpdate")
        preds.append(lambda r: _on_or_after(r["dateLastUpdate"], pf["datelastupdate"], "dateLastUpdate"))
    if pf.get("externalid"):
        wanted_ext = set(_csv(pf["externalid"]))
        preds.append(lambda r: r.get("externalId") in wanted_ext)
    if pf.get("customergroupid") not in (None, "", 0):
        gid = _int_or_400(pf["customergroupid"], "customerGroupId")
        preds.append(lambda r: gid in (state.customers.get(r["customerId"], {}).get("groupsId") or []))
    if pf.get("priority") not in (None, ""):
        preds.append(lambda r: str(r.get("priority")) == str(pf["priority"]))
    if pf.get("orientation"):
        preds.append(lambda r: _contains(r.get("orientation"), pf["orientation"]))
    return preds


def _task_status_matches(task: dict[str, Any], status: int) -> bool:
    """README: 0 not finished, 1 finished automatically, 2 manually, 3 either, 4 all.

    The blueprint does not say how Auvo tells 1 from 2; the record shows `finished` and `checkOut`,
    and a task finished without a check-out is the one finished by hand (in the web panel).
    """
    finished = bool(task.get("finished"))
    manual = finished and not task.get("checkOut")
    return {
        0: not finished,
        1: finished and not manual,
        2: finished and manual,
        3: finished,
        4: True,
        5: bool(task.get("pendency")),
        6: bool(task.get("checkIn")),
    }[status]


FilterBuilder = Callable[[AuvoState, dict[str, Any]], list[Predicate]]


def _simple_filters(spec: dict[str, tuple[str, str]]) -> FilterBuilder:
    """Filters of the form paramFilter key -> (record field, "eq"|"contains"|"bool"|"csv")."""

    def build(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
        preds: list[Predicate] = []
        for key, (field, how) in spec.items():
            value = pf.get(key.lower())
            if value in (None, ""):
                continue
            if how == "contains":
                preds.append(lambda r, f=field, v=value: _contains(r.get(f), v))
            elif how == "bool":
                wanted = _bool_filter(value)
                preds.append(lambda r, f=field, w=wanted: _bool_filter(r.get(f)) == w)
            elif how == "csv":
                wanted_set = set(_csv(value))
                preds.append(lambda r, f=field, w=wanted_set: str(r.get(f)) in w)
            else:
                preds.append(lambda r, f=field, v=value: str(r.get(f)) == str(v))
        return preds

    return build


def expense_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    missing = {k: [f"The {k[0].upper() + k[1:]} field is required."]
               for k in ("startDate", "endDate") if not pf.get(k.lower())}
    if missing:
        raise AuvoValidationError(missing)
    start = parse_date(pf["startdate"], "startDate")
    end = parse_date(pf["enddate"], "endDate")
    preds = _simple_filters({"id": ("id", "eq"), "description": ("description", "contains"),
                             "userToId": ("userToId", "eq"), "type": ("typeId", "eq")})(state, pf)
    preds.append(lambda r: start <= parse_date(r["date"], "date") <= end)
    return preds


def quotation_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    preds = _simple_filters({"publicId": ("publicId", "eq"), "customersId": ("customerId", "csv"),
                             "usersId": ("requesterUserId", "csv")})(state, pf)
    if pf.get("requeststartdate"):
        start = parse_date(pf["requeststartdate"], "requestStartDate")
        preds.append(lambda r: parse_date(r["requestDate"], "requestDate") >= start)
    if pf.get("requestenddate"):
        end = parse_date(pf["requestenddate"], "requestEndDate")
        preds.append(lambda r: parse_date(r["requestDate"], "requestDate") <= end)
    if pf.get("currentstage"):
        preds.append(lambda r: _contains(r.get("CurrentStage", {}).get("description"), pf["currentstage"]))
    return preds


LIST_FILTERS: dict[str, FilterBuilder] = {
    "customers": customer_filters,
    "customerGroups": _simple_filters({"id": ("id", "eq"), "description": ("description", "contains")}),
    "taskTypes": _simple_filters({"id": ("id", "eq"), "description": ("description", "contains")}),
    "tasks": task_filters,
    "quotations": quotation_filters,
    "products": _simple_filters({"name": ("name", "contains"), "externalId": ("externalId", "csv"),
                                 "id": ("code", "eq"), "categoryId": ("categoryId", "eq"),
                                 "associatedEquipmentId": ("associatedEquipmentId", "eq"),
                                 "active": ("active", "bool")}),
    "services": _simple_filters({"title": ("title", "contains"), "description": ("description", "contains"),
                                 "active": ("active", "bool"), "fiscalServiceId": ("fiscalServiceId", "eq")}),
    "expenses": expense_filters,
    "webHooks": _simple_filters({"id": ("id", "eq"), "entity": ("entity", "eq"), "action": ("action", "eq"),
                                 "active": ("active", "bool")}),
    "keywords": _simple_filters({"id": ("id", "eq"), "description": ("description", "contains")}),
}
# Lists whose paramFilter the blueprint marks as required (answer its 400 when absent).
PARAM_FILTER_REQUIRED = frozenset({"tasks", "webHooks", "expenses"})

# Path segment as the blueprint's `links` spell it.
LINK_NAMES = {"customers": "Customers", "tasks": "Tasks", "taskTypes": "TaskTypes", "products": "Products",
              "services": "Service", "quotations": "quotations", "webHooks": "webHooks",
              "expenses": "Expenses", "customerGroups": "CustomerGroups",
              "keywords": "Keywords"}


# --- responses ------------------------------------------------------------------------------------


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _empty(status: int) -> Response:
    return Response(status_code=status)


def _select(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return record
    wanted = {f.lower() for f in fields}
    return {k: v for k, v in record.items() if k.lower() in wanted}


def paged_result(
    request: Request, resource: str, records: Iterable[dict[str, Any]], param_filter_raw: str | None
) -> Response:
    """The blueprint's list envelope; an empty selection or a page past the end is a bare 404."""
    page, size, order = parse_paging(request)
    ordered = sorted(records, key=lambda r: r.get("_seq", 0), reverse=order == 1)
    total = len(ordered)
    chunk = ordered[(page - 1) * size : page * size]
    if not chunk:
        return _empty(404)
    select = [f.strip() for f in (_query(request, "selectfields") or "").split(",") if f.strip()]
    base = str(request.base_url).rstrip("/") + f"/v2/{LINK_NAMES.get(resource, resource)}/?"

    def link(p: int, rel: str) -> dict[str, str]:
        params = {"ParamFilter": param_filter_raw} if param_filter_raw else {}
        params.update({"Page": str(p), "PageSize": str(size), "Order": "Desc" if order else "Asc"})
        return {"href": base + urlencode(params), "rel": rel, "method": "GET"}

    links = [link(page, "self")]
    if page * size < total:
        links.append(link(page + 1, "nextPage"))
    return _json(200, {"result": {
        "entityList": [_select(public(r), select) for r in chunk],
        "pagedSearchReturnData": {"order": order, "pageSize": size, "page": page, "totalItems": total},
        "links": links,
    }})
