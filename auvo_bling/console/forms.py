"""The console's forms are URL-encoded (no file uploads), read here with the standard library:
Starlette's own form parser would need python-multipart for nothing more than this."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request


@dataclass(frozen=True)
class Form:
    fields: dict[str, list[str]]

    @classmethod
    def parse(cls, body: bytes) -> Form:
        return cls(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def __contains__(self, name: str) -> bool:
        return name in self.fields


async def read_form(request: Request) -> Form:
    return Form.parse(await request.body())
