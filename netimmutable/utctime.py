"""Record times: UTC, ISO 8601, second precision, with a ``Z`` (every record, journal entry and lease).

A leaf module: it imports nothing of netimmutable.

Examples:
    >>> utc_text(0)
    '1970-01-01T00:00:00Z'
    >>> parse_utc("2024-05-01T02:00:00Z").timestamp()
    1714528800.0
"""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["UTC_FORMAT", "parse_utc", "utc_now", "utc_text"]

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(epoch: float) -> str:
    """The record time of ``epoch`` (seconds since 1970)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime(UTC_FORMAT)


def utc_now() -> str:
    """The current time as a record time."""
    return utc_text(time.time())


def parse_utc(text: str) -> dt.datetime:
    """A record time as an aware datetime; raises ``ValueError`` when ``text`` is not one."""
    return dt.datetime.strptime(text, UTC_FORMAT).replace(tzinfo=dt.UTC)
