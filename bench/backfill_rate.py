"""Backfill rate: how close `auvo-bling backfill` runs to Bling's quota, measured in one run.

Seeds both simulators with N customers per side (a share of them already on both sides, found by
CPF/CNPJ or e-mail; a fifth without a document), serves them with their rate limits ENFORCED
(Bling 3 requests/s and Auvo 400/minute by default, the real quotas), runs the backfill through
the same composition root as the CLI (shared throttles in the store), and prints:

- Bling calls per written record (the issue's goal: at most 1.05),
- the Bling request rate, overall and in the write phase, as a fraction of the quota (goal >= 0.9),
- the 429 / rate-limit answers (goal: none),
- the projection for the guide's "about an hour": records written per hour at this rate.

Usage:

    python bench/backfill_rate.py [--customers 300] [--both-share 0.2] [--direction both]
                                  [--bling-rps 3] [--auvo-rpm 400] [--database-url sqlite:///...]

A higher simulated rate (e.g. `--customers 2000 --bling-rps 30 --auvo-rpm 4000`) keeps a large
run short; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
from typing import Any

from auvo_bling.authorize import authorize_headless
from auvo_bling.backfill.progress import PlainProgress, RichProgress
from auvo_bling.backfill.run import Backfill
from auvo_bling.wiring import App
from infra.logging import configure_logging
from infra.settings import Settings
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.seed import format_cpf, format_phone, make_cnpj, make_cpf, make_party
from simulators.server import serve_in_thread

CLIENT_ID, CLIENT_SECRET, REDIRECT = (
    "bench-client",
    "bench-secret-0123456789",
    "http://127.0.0.1:8765/callback",
)


def person(rng: random.Random, i: int) -> dict[str, Any]:
    p = make_party(rng)
    draw = rng.random()
    document = "" if draw < 0.2 else (make_cpf(rng) if draw < 0.65 else make_cnpj(rng))
    return {
        "name": f"{p.name} {i}",
        "document": document,
        "email": f"cliente{i}@example.com.br",
        "phone": p.landline_digits,
        "mobile": p.mobile_digits,
        "address": {
            "endereco": p.street,
            "numero": p.number,
            "bairro": p.bairro,
            "municipio": p.municipio,
            "uf": p.uf,
            "cep": p.cep,
            "complemento": p.complement,
        },
    }


def add_auvo(state: AuvoState, p: dict[str, Any]) -> None:
    a = p["address"]
    line = f"{a['endereco']}, {a['numero']}, {a['bairro']}, {a['municipio']} - {a['uf']}, CEP {a['cep']}"
    state.add_customer(
        p["name"],
        cpfCnpj=p["document"],
        phoneNumber=[p["phone"], p["mobile"]],
        email=[p["email"]],
        address=line,
        adressComplement=a["complemento"],
        active=True,
    )


def add_bling(state: BlingState, p: dict[str, Any], formatted: bool) -> None:
    doc = p["document"]
    if doc and formatted and len(doc) == 11:
        doc = format_cpf(doc)
    state.add_contact(
        nome=p["name"],
        situacao="A",
        numeroDocumento=doc,
        telefone=format_phone(p["phone"]),
        celular=format_phone(p["mobile"]),
        tipo="J" if len(p["document"]) == 14 else "F",
        email=p["email"],
        endereco={"geral": p["address"]},
    )


def seed(auvo: AuvoState, bling: BlingState, n: int, both_share: float) -> int:
    """N per side; `both_share` of them are the same customer on both sides. Returns that count."""
    rng = random.Random(42)
    shared = int(n * both_share)
    i = 0
    for _ in range(shared):
        i += 1
        p = person(rng, i)
        add_auvo(auvo, p)
        add_bling(bling, p, formatted=i % 3 == 0)
    for _ in range(n - shared):
        i += 1
        add_auvo(auvo, person(rng, i))
        i += 1
        add_bling(bling, person(rng, i), formatted=False)
    return shared


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=300, help="customers per side")
    parser.add_argument("--both-share", type=float, default=0.2, help="share already on both sides")
    parser.add_argument("--direction", default="both", choices=["auvo_to_bling", "bling_to_auvo", "both"])
    parser.add_argument("--bling-rps", type=int, default=3, help="Bling quota, enforced by the simulator")
    parser.add_argument("--auvo-rpm", type=int, default=400, help="Auvo quota, enforced by the simulator")
    parser.add_argument("--database-url", default=None, help="default: a throw-away SQLite file")
    parser.add_argument("--guide-hour-records", type=int, default=0, help="also project this many writes")
    args = parser.parse_args()
    configure_logging("console", "warning")

    auvo_state = AuvoState(rate_limit_per_minute=args.auvo_rpm)
    bling_state = BlingState(rate_limit_per_second=args.bling_rps)
    bling_state.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    shared = seed(auvo_state, bling_state, args.customers, args.both_share)
    auvo_server = serve_in_thread(create_auvo_app(auvo_state))
    bling_server = serve_in_thread(create_bling_app(bling_state))
    workdir = tempfile.mkdtemp(prefix="backfill-bench-")
    settings = Settings(
        amqp_url="memory://",
        database_url=args.database_url or f"sqlite:///{os.path.join(workdir, 'bench.sqlite3')}",
        secret_key="bench-secret-key-for-token-encryption",
        customers={"direction": args.direction},
        auvo={
            "base_url": f"{auvo_server.url}/v2",
            "api_key": auvo_state.api_key,
            "api_token": auvo_state.api_token,
            "requests_per_minute": args.auvo_rpm,
        },
        bling={
            "base_url": f"{bling_server.url}/Api/v3",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "requests_per_second": args.bling_rps,
        },
    )
    app = App(settings)
    try:
        authorize_headless(app)
        progress = RichProgress() if sys.stderr.isatty() else PlainProgress(every=200)
        job = Backfill(
            app.store,
            app.auvo,
            app.bling,
            tenant=app.tenant,
            direction=app.direction,
            progress=progress,
            bling_quota_per_second=args.bling_rps,
        )
        try:
            summary = job.run()
        finally:
            getattr(progress, "close", lambda: None)()
    finally:
        app.close()
        auvo_server.stop()
        bling_server.stop()

    bling_http = sum(bling_state.calls.values())
    write = summary.phases.get("write", {"seconds": 0.0, "bling_calls": 0})
    write_rate = write["bling_calls"] / write["seconds"] if write["seconds"] else 0.0
    per_hour = 3600 * summary.bling_rate / (summary.bling_calls_per_written or 1)
    print(summary.render())
    print()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, CPython {platform.python_version()}")
    print(
        f"workload: {args.customers} customers per side, {shared} already on both sides, "
        f"direction {args.direction}, quotas Bling {args.bling_rps}/s Auvo {args.auvo_rpm}/min (enforced)"
    )
    print(f"Bling calls per written record: {summary.bling_calls_per_written} (goal <= 1.05)")
    print(
        f"Bling request rate: {summary.bling_rate:.2f}/s overall = {summary.bling_rate / args.bling_rps:.2f} "
        f"of the quota; write phase {write_rate:.2f}/s = {write_rate / args.bling_rps:.2f} (goal >= 0.9)"
    )
    print(
        f"rate-limit answers: {summary.rate_limited} (goal 0); "
        f"Bling data requests the simulator counted: {bling_http}"
    )
    print(f"projection: about {per_hour:,.0f} written records per hour at this rate and call ratio")
    if args.guide_hour_records:
        minutes = args.guide_hour_records / per_hour * 60
        print(f"  {args.guide_hour_records:,} records would take about {minutes:.0f} minutes")
    return 0 if not summary.failed else 1


if __name__ == "__main__":
    sys.exit(main())
