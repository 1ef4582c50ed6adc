"""The sim device server's wire format: length-prefixed JSON frames, shared by server and driver.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object). Both ends are
ours (``netimmutable.lab.sim_server`` and the ``sim`` driver with ``optional_args.server``), so the format
is kept minimal; it is not a public API.

Requests (client -> server), one at a time per connection, each answered by one response:

- ``{"op": "open", "host": NAME}``: open a device session on this connection (one per connection);
- ``{"op": "call", "method": NAME, "args": [...], "kwargs": {...}}``: call a driver method of the session;
- ``{"op": "close"}``: end the session (the connection may open another);
- ``{"op": "stats"}``: the server's counters (calls, device seconds, CPU; no session needed).

Responses: ``{"ok": true, "result": VALUE}`` or ``{"ok": false, "error": {"type": NAME, "message": TEXT}}``.

Values keep what JSON would lose: a mapping whose keys are not all strings (NAPALM's BGP detail is keyed
by AS number) travels as ``{"\\u0000map": [[key, value], ...]}``.

Examples:
    >>> decode(encode({"global": {65001: [{"up": True}]}}))
    {'global': {65001: [{'up': True}]}}
    >>> frame({"op": "stats"})
    b'\\x00\\x00\\x00\\x0e{"op":"stats"}'
"""

from __future__ import annotations

import json
import struct
from typing import Any

__all__ = [
    "HEADER",
    "MAP_TAG",
    "MAX_FRAME",
    "WireError",
    "decode",
    "encode",
    "frame",
    "frame_size",
    "parse_frame",
]

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
"""Largest frame either end accepts (bytes of JSON): far above any config, small enough to refuse junk."""
MAP_TAG = "\u0000map"


class WireError(ValueError):
    """A frame that is not what the protocol says (size, JSON, shape)."""


def encode(value: Any) -> Any:
    """``value`` as plain JSON data (see the module docstring for mappings with non-string keys)."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and MAP_TAG not in value:
            return {k: encode(v) for k, v in value.items()}
        return {MAP_TAG: [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of ``encode``."""
    if isinstance(value, dict):
        pairs = value.get(MAP_TAG)
        if len(value) == 1 and isinstance(pairs, list):
            return {_key(decode(k)): decode(v) for k, v in pairs}
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value  # a list cannot be a key; a tuple was sent


def frame(message: dict[str, Any]) -> bytes:
    """One frame holding ``message`` (already encoded data)."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_FRAME:
        raise WireError(f"message of {len(body)} bytes is larger than the {MAX_FRAME}-byte frame limit")
    return HEADER.pack(len(body)) + body


def frame_size(header: bytes) -> int:
    """The body length announced by a 4-byte ``header``; raises ``WireError`` when it is too large."""
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes announced; the limit is {MAX_FRAME}")
    return int(size)


def parse_frame(body: bytes) -> dict[str, Any]:
    """The JSON object of a frame's body; raises ``WireError`` when it is not one."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"frame is not UTF-8 JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError(f"frame must hold a JSON object, got {type(message).__name__}")
    return message
