"""Bounded JSON parsing: the one way Verity reads JSON it did not write (request bodies, JSON-LD, queue payloads).

Python's `json.loads` recurses once per nesting level, so `[[[[...` 100,000 levels deep raises `RecursionError`
(a 500, not a ValueError) and a few hundred levels that do parse can still break whatever walks the result later.
`loads` therefore measures the nesting depth and the size *before* parsing, in one linear pass that needs no
recursion, and refuses anything over the bounds with `JSONInputError` (a ValueError, mapped to 400 problem+json in
server/errors.py). Every JSON reader at the edge goes through it: Flask's `request.get_json` (the app's JSON provider,
installed by create_app), POST /v1/refutations, `build.py claims import`, and the RQ job payload serializer.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 64                 # JSON-LD and our own bodies nest about 10 deep; 64 leaves room and is far from recursion
MAX_BYTES = 16 * 1024 * 1024   # request bodies are bounded again by MAX_CONTENT_LENGTH; this bounds the parse itself

# A string, or an unterminated one up to the end: every match consumes, so the scan stays linear on any input.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JSONInputError(ValueError):
    """JSON we refuse to parse: invalid, too large or nested too deeply (400 `invalid-json`)."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, counted without parsing (brackets in strings skipped)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    opening = brackets.count("[") + brackets.count("{")
    if opening <= 1:
        return opening
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def loads(data: str | bytes | bytearray, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES,
          **kwargs: Any) -> Any:
    """Parse JSON from outside, refusing it before parsing when it is larger or deeper than the bounds.

    `kwargs` go to `json.loads` (Flask's tagged session serializer passes an `object_hook`).

    Raises:
        JSONInputError: not UTF-8, larger than `max_bytes`, nested deeper than `max_depth`, or not valid JSON.
    """
    if len(data) > max_bytes:
        raise JSONInputError(f"the JSON is {len(data)} bytes; the limit is {max_bytes}")
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise JSONInputError("the JSON is not UTF-8") from None
    else:
        text = data
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JSONInputError(f"the JSON nests {depth} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text, **kwargs)
    except (ValueError, RecursionError) as exc:  # RecursionError cannot happen below max_depth; kept as a backstop
        raise JSONInputError(f"invalid JSON ({exc})" if isinstance(exc, ValueError) else "invalid JSON") from None


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with bounded parsing: `request.get_json()` refuses deep or huge JSON as a ValueError."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


class BoundedJSONSerializer:
    """RQ serializer (rq.serializers.JSONSerializer's interface): JSON out, bounded JSON in.

    Anyone who can write to Redis can write a job payload; the worker parses it with the same bounds as a request.
    """

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> bytes:
        return json.dumps(*args, **kwargs).encode("utf-8")

    @staticmethod
    def loads(s: bytes | str, *args: Any, **kwargs: Any) -> Any:
        return loads(s)
