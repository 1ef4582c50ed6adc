"""Fault and latency knobs of a simulated device, stored in its folder so any process can set them.

Examples:
    >>> k = Knobs.from_dict({"latency": 0.01, "fail_step": "commit", "fail_exception": "CommitError"})
    >>> k.latency, k.fail_step, k.to_dict()["fail_exception"]
    (0.01, 'commit', 'CommitError')
    >>> Knobs.from_dict({"fail_step": "reboot"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: fail_step must be one of commit, compare, ..., rollback; got 'reboot'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from napalm.base import exceptions as napalm_exc

__all__ = ["STEPS", "Knobs", "exception_class"]

STEPS = frozenset({"open", "load", "compare", "commit", "confirm", "rollback", "get_config", "getters"})


def exception_class(name: str) -> type[Exception]:
    """The NAPALM exception class called ``name`` (``ValueError`` when it is not one)."""
    obj = getattr(napalm_exc, name, None)
    if not (isinstance(obj, type) and issubclass(obj, napalm_exc.NapalmException)):
        raise ValueError(f"fail_exception must name a napalm.base.exceptions class; got {name!r}")
    return obj


@dataclass(frozen=True, slots=True)
class Knobs:
    """What the simulated device does besides behaving well.

    ``latency``: the response time of every call (the device's own work happens within it, as on a real
    device; a call whose work takes longer answers when it is done); ``commit_latency``: more for a commit;
    ``fail_step`` + ``fail_exception`` (+ ``fail_message``, ``fail_times`` = how many calls fail, None = all):
    that step raises that NAPALM exception; ``drop_after_commit``: the commit lands on the device, then the
    committing session's later calls raise ``ConnectionClosedException``; ``unreachable``: ``open`` (and
    every call of an open session) raises ``ConnectionException``; ``reject_pattern``: a regex: candidate
    lines matching it are refused at load time with a device-style message.
    """

    latency: float = 0.0
    commit_latency: float = 0.0
    fail_step: str | None = None
    fail_exception: str = "CommandErrorException"
    fail_message: str = ""
    fail_times: int | None = None
    drop_after_commit: bool = False
    unreachable: bool = False
    reject_pattern: str | None = None

    def __post_init__(self) -> None:
        if self.latency < 0 or self.commit_latency < 0:
            raise ValueError("latency and commit_latency must be >= 0 seconds")
        if self.fail_step is not None and self.fail_step not in STEPS:
            raise ValueError(f"fail_step must be one of {', '.join(sorted(STEPS))}; got {self.fail_step!r}")
        exception_class(self.fail_exception)
        if self.fail_times is not None and self.fail_times < 0:
            raise ValueError("fail_times must be >= 0 or None (always)")
        if self.reject_pattern is not None:
            re.compile(self.reject_pattern)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Knobs:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown knob(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        values = dict(data)
        for key in ("latency", "commit_latency"):
            if key in values:
                values[key] = float(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **changes: Any) -> Knobs:
        return Knobs.from_dict({**self.to_dict(), **changes})

    def fails_at(self, step: str) -> bool:
        return self.fail_step == step and (self.fail_times is None or self.fail_times > 0)

    def after_failure(self) -> Knobs:
        """The knobs once one injected failure has been spent."""
        if self.fail_times is None:
            return self
        left = self.fail_times - 1
        return replace(self, fail_times=left) if left > 0 else replace(self, fail_step=None, fail_times=None)
