"""Auvo records: a template per resource, field sets from the blueprint's models."""

from __future__ import annotations

import random
from collections.abc import Callable
from copy import deepcopy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.auvo.state import AuvoState


# --- templates (field sets from the blueprint's models) -------------------------------------------


def _customer_template() -> dict[str, Any]:
    return {
        "id": 0, "externalId": "", "description": "", "cpfCnpj": "", "phoneNumber": [], "email": [],
        "manager": "", "managerJobPosition": "", "note": "", "address": "", "latitude": 0.0,
        "longitude": 0.0, "maximumVisitTime": 1, "unitMaximumTime": 1, "groupsId": [], "managerTeamsId": [],
        "managersId": [], "segmentId": 0, "active": True, "adressComplement": "", "creationDate": "",
        "contacts": [], "dateLastUpdate": "", "uriAnexos": [],
    }


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _task_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {
        "taskID": 0, "externalId": "", "idUserFrom": 1001, "idUserTo": 1002,
        "userToName": "Técnico Simulado", "userFromName": "Administrador", "customerId": 0,
        "customerExternalId": "", "customerDescription": "", "taskType": 0, "taskTypeDescription": "",
        "creationDate": now, "taskDate": now, "latitude": 0.0, "longitude": 0.0, "address": "",
        "orientation": "", "priority": 1, "deliveredOnSmarthPhone": True, "deliveredDate": now,
        "finished": False, "report": "", "visualized": True, "visualizedDate": now, "checkIn": False,
        "checkInDate": now, "checkOut": False, "checkOutDate": now, "checkinType": 1, "equipmentsId": [],
        "keyWords": [], "keyWordsDescriptions": [], "inputedKm": 0, "adoptedKm": 0, "attachments": [],
        "questionnaires": [], "signatureUrl": "", "checkInDistance": 0, "checkOutDistance": 0,
        "sendSatisfactionSurvey": False, "survey": "", "taskUrl": "", "pendency": "",
        "dateLastUpdate": now, "ticketId": 0, "ticketTitle": "", "signatureName": "",
        "signatureDocument": "", "expense": "0,00", "duration": "", "durationDecimal": "",
        "displacementStart": "", "products": [], "services": [], "additionalCosts": [],
        "summary": {"totalProducts": 0.0, "totalServices": 0.0, "totalAdditionalCosts": 0.0,
                    "totalValue": 0.0, "discount": {"value": 0.0, "type": "Valor"}},
        "estimatedDuration": "00:00:00", "financialCategory": "", "taskStatus": 1,
    }


def _task_type_template(state: AuvoState) -> dict[str, Any]:
    return {
        "id": 0, "description": "", "creatorId": 1001, "creationDate": state.now_str(),
        "standardTime": "01:00:00", "toleranceTime": "00:15:00", "standardQuestionnaireId": 0,
        "active": True, "sendSatisfactionSurvey": False,
        "requirements": {"fillReport": True, "getSignature": False, "fillRolledKilometer": False,
                         "emailTheTask": False, "minimumNumberOfPhotos": 0, "requiredQuestionnaires": []},
    }


def _quotation_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {
        "publicId": 0, "customerId": 0, "customerName": "", "taskID": 0, "descount": "0.00",
        "requesterUserId": 1001, "observations": "", "registerDate": now, "requestDate": now,
        "aditionalCosts": [], "alterations": [], "products": [], "contacts": [],
        "summary": {"totalProducts": 0.0, "totalServices": 0.0, "totalAdditionalCosts": 0.0,
                    "netTotalValue": 0.0, "grossTotalValue": 0.0,
                    "discount": {"type": "Monetario", "value": 0.0}},
        "CurrentStage": {"id": 1, "description": "Em aberto", "position": 1, "changeStock": False,
                         "isCancelled": False, "editAllowed": True},
    }


def _product_template(state: AuvoState) -> dict[str, Any]:
    return {
        "productId": "", "externalId": "", "code": "", "name": "", "associatedEquipmentId": 0,
        "categoryId": 0, "unitaryValue": "0,00", "unitaryCost": "0,00", "totalStock": 0, "active": True,
        "minimumStock": "0", "Base64Image": "", "uriAnexos": [], "productSpecifications": [],
        "employeesStock": [],
    }


def _service_template(state: AuvoState) -> dict[str, Any]:
    return {"id": "", "title": "", "description": "", "price": "0.00", "active": True,
            "fiscalServiceId": "00000000-0000-0000-0000-000000000000"}


def _expense_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {"id": 0, "description": "", "userToId": 1002, "userToName": "Técnico Simulado", "typeId": 1,
            "typeName": "Despesa de viagem", "date": now, "attachmentUrl": "", "creationDate": now,
            "amount": 0}


def _webhook_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {"id": 0, "userId": 1001, "entity": "Task", "action": "Inclusao", "urlResponse": "",
            "creationDate": now, "deleteDate": now, "active": True}


def _keyword_template(state: AuvoState) -> dict[str, Any]:
    return {"id": 0, "description": "", "registrationDate": state.now_str()}


def _group_template(state: AuvoState) -> dict[str, Any]:
    return {"id": 0, "description": ""}


TEMPLATES: dict[str, Callable[[AuvoState], dict[str, Any]]] = {
    "customerGroups": _group_template,
    "taskTypes": _task_type_template,
    "tasks": _task_template,
    "quotations": _quotation_template,
    "products": _product_template,
    "services": _service_template,
    "expenses": _expense_template,
    "webHooks": _webhook_template,
    "keywords": _keyword_template,
}


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the API shows it: a deep copy without our private `_` bookkeeping keys."""
    return {k: deepcopy(v) for k, v in record.items() if not k.startswith("_")}
