"""ASGI middleware in front of the simulators: deterministic late writes for the chaos tests."""

from __future__ import annotations

import asyncio
import random
from typing import Any


class BufferedBody:
    """ASGI middleware in front of a simulator: reads the request body in full first, and can make
    chosen writes land late.

    The simulators now read the body before their timeout fault stalls (they did not: a timed-out
    POST/PUT never wrote; test_findings.py::test_a_timed_out_post_still_writes), so the buffering
    here is only what lets a stall happen after the body arrived.

    `stall_next(method, path, seconds)`: the next matching request is held `seconds` (after its body
    was read) and then handled: a deterministic late write. `stall_share(method, path, share,
    seconds, seed)`: that share of the matching requests, drawn from a seeded RNG, is held so.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._stalls: list[tuple[str, str, float]] = []
        self._shares: list[tuple[str, str, float, float, random.Random]] = []
        self.stalled = 0

    def stall_next(self, method: str, path: str, seconds: float) -> None:
        self._stalls.append((method, path, seconds))

    def stall_share(self, method: str, path: str, share: float, seconds: float, seed: int = 0) -> None:
        self._shares.append((method, path, share, seconds, random.Random(seed)))

    def _drawn_stall(self, method: str, path: str) -> float:
        for m, p, share, seconds, rng in self._shares:
            if m == method and path.endswith(p) and rng.random() < share:
                return seconds
        return 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: nothing to handle
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        method, path = scope["method"], scope["path"]
        for stall in self._stalls:
            if stall[0] == method and path.endswith(stall[1]):
                self._stalls.remove(stall)
                self.stalled += 1
                await asyncio.sleep(stall[2])
                break
        else:
            drawn = self._drawn_stall(method, path)
            if drawn:
                self.stalled += 1
                await asyncio.sleep(drawn)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
