"""The API clients' HTTP plumbing: one connection pool per process, lent to every client."""

from __future__ import annotations


def test_clients_share_the_process_pool_and_one_closing_leaves_it_to_the_others() -> None:
    """Every API client of the process lends the one pool (no SSL context and socket of its own
    per company and thread); a company's client closing must not close it for the rest."""
    import time

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from infra.http import build_client, process_pool
    from simulators.server import serve_in_thread

    server = serve_in_thread(Starlette(routes=[Route("/ping", lambda request: JSONResponse({"ok": True}))]))
    try:
        one, two = build_client(server.url), build_client(server.url)
        assert one._transport is two._transport is process_pool()
        assert one.get("ping").json() == {"ok": True}
        one.close()
        assert two.get("ping").json() == {"ok": True}  # still served by the pool
        started = time.process_time()
        for _ in range(50):
            build_client(server.url).close()
        assert (time.process_time() - started) / 50 < 0.005  # an httpx.Client of its own: ~30 ms
    finally:
        server.stop()
