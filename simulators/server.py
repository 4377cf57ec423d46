"""Run a simulator app over real HTTP on localhost, in a background thread.

Why a real socket and not only Starlette's TestClient: the integration's HTTP clients (httpx with
timeouts, retries, connection pools) must be exercised exactly as in production, and the demo and
benchmarks need a URL. The socket is bound here *before* uvicorn starts, so `port=0` yields a free
port that is known immediately, and several simulators can run at once without collisions.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningServer:
    """A started uvicorn server; `url` has no trailing slash and no base path (add `/v2` etc.)."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    _sock: socket.socket = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread; idempotent."""
        self.server.should_exit = True
        self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0
) -> RunningServer:
    """Start `app` in a daemon thread and return once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    real_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # A handler stalled by an injected timeout must not hold `stop()` hostage.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{real_port}", daemon=True
    )
    thread.start()
    _wait_started(server, thread, startup_timeout)
    return RunningServer(server=server, thread=thread, host=host, port=real_port, _sock=sock)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("simulator server thread died during startup")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("simulator server did not start in time")
        time.sleep(0.01)
