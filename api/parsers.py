"""The API's body parsers: DRF's, refusing (400, a parse error) what the database cannot take or
what would exhaust the server: a NUL character (PostgreSQL text cannot hold one) and JSON nested
deeper than any request of this API needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from rest_framework import exceptions, parsers

# The deepest request of the API is a list of objects (the lab import): 2. Room to spare, and far
# below the depth at which Python's JSON decoder itself gives up (RecursionError, about 1,000).
MAX_JSON_DEPTH = 20
NUL = "\x00"
NUL_REFUSED = "The request holds a NUL character (\\u0000), which no field can store."
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels."


def refuse_nul_and_depth(data: Any) -> None:
    """ParseError if any string of `data` (key or value) holds a NUL, or it nests too deep."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                raise exceptions.ParseError(NUL_REFUSED)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise exceptions.ParseError(TOO_DEEP)
            items: Iterable[Any] = (
                (item for pair in value.items() for item in pair)
                if isinstance(value, dict)
                else value
            )
            pending.extend((item, depth + 1) for item in items)


def refuse_nul(strings: Iterable[str]) -> None:
    if any(NUL in text for text in strings):
        raise exceptions.ParseError(NUL_REFUSED)


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise exceptions.ParseError(TOO_DEEP) from error
        refuse_nul_and_depth(data)
        return data


class FormParser(parsers.FormParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_nul(item for key, values in data.lists() for item in (key, *values))
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Form fields are checked; a file's content is its reader's to check (the lab import's CSV
    reader refuses NUL)."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        refuse_nul(item for key, values in parsed.data.lists() for item in (key, *values))
        return parsed
