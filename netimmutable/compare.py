"""Is the device running what it should? One answer, per platform strategy, for plan, the drift gate, the
convergence check, rollback, recover and verify.

Strategies (``Strategy``):

- ``text``: read the running config (``get_config``) and compare normalized text (``netimmutable.normalize``).
  Exact and cheap (one call); right where the artifact is written in the device's own output form: ``sim``.
- ``device``: load the intended config as a replace candidate, take the device's own ``compare_config``,
  discard (three calls). The vendor's semantic diff: right where a template cannot reproduce the device's
  ``show running-config`` byte for byte (hashed secrets, defaults it adds, its own ordering), and the only
  way for a driver without ``get_config``. The default for eos, junos, ios, iosxr, nxos and any driver
  netimmutable does not know.
- ``text-first``: equal normalized text ends it (the fast path); a difference is confirmed by the device's
  own diff, so indentation, block order and the device's orderings are never changes. The default for
  ``frr`` (whose ``compare_config`` is frr-reload.py's semantic diff). Without ``get_config``: ``device``.

``Comparison.decided_by`` says which of the two views decided (``text`` or ``device``); verify reports it.
The setting ``compare`` (platform or driver name -> strategy) in netimmutable.yaml overrides the defaults.

Examples:
    >>> strategy_for("sim").value, strategy_for("frr").value, strategy_for("eos").value
    ('text', 'text-first', 'device')
    >>> strategy_for("acme_os").value, strategy_for("eos", {"eos": "text-first"}).value
    ('device', 'text-first')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from netimmutable.errors import Unsupported
from netimmutable.normalize import normalized_diff
from netimmutable.secretforms import align, canonical

__all__ = ["DEFAULT_STRATEGIES", "CompareDevice", "Comparison", "Strategy", "compare_running", "strategy_for"]


class Strategy(StrEnum):
    TEXT = "text"
    DEVICE = "device"
    TEXT_FIRST = "text-first"


DEFAULT_STRATEGIES: Mapping[str, Strategy] = {
    "sim": Strategy.TEXT,
    "frr": Strategy.TEXT_FIRST,
}
"""Drivers whose running config the text compare can match; every other driver compares ``device``."""


def strategy_for(driver: str, overrides: Mapping[str, str] | None = None) -> Strategy:
    """The strategy for ``driver`` (the NAPALM driver name): the setting's override, else the default."""
    key = driver.lower()
    if overrides and key in overrides:
        return Strategy(overrides[key])
    return DEFAULT_STRATEGIES.get(key, Strategy.DEVICE)


class CompareDevice(Protocol):
    """The part of ``netimmutable.device.Device`` a comparison uses."""

    @property
    def name(self) -> str: ...

    @property
    def platform(self) -> str: ...

    def running_config(self) -> str: ...
    def load_replace(self, config: str) -> None: ...
    def compare(self) -> str: ...
    def discard(self) -> None: ...


def _aligned(device: CompareDevice, intended: str, running: str | None, secrets: Mapping[str, str]) -> str:
    """``intended`` holding the device's own encodings of the secrets it has in a form (a hash with the
    device's salt instead of this run's): the device's diff then shows no change where only the salt
    differs. Reads the running config for it (one more call) only when ``intended`` holds such a value."""
    if canonical(intended, secrets) == intended:
        return intended
    if running is None:
        try:
            running = device.running_config()
        except Unsupported:
            return intended
    return align(intended, running, secrets)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Running against intended, as one strategy saw it."""

    diff: str
    """'' when the device runs the intended config; otherwise the normalized unified diff (``text``, and
    ``text-first`` once the device confirmed it) or the device's own diff (``device`` without a running config
    read). May hold secret values: mask before showing or storing."""
    decided_by: str
    """``text`` or ``device``: the view that decided."""
    running: str | None
    """The running config when it was read (None: not read, or the driver has no ``get_config``)."""

    @property
    def equal(self) -> bool:
        return not self.diff


def compare_running(
    device: CompareDevice,
    intended: str,
    strategy: Strategy,
    extra: Sequence[str] = (),
    *,
    running: str | None = None,
    labels: tuple[str, str] = ("artifact", "running"),
    secrets: Mapping[str, str] | None = None,
) -> Comparison:
    """Compare what ``device`` runs with ``intended`` (secrets resolved) the way ``strategy`` says.

    ``secrets`` (the run's resolved values): the text view recognizes a secret in its device form on both
    sides (a type 7 or ``$9$`` text, a hash: ``netimmutable.secretforms``), whichever seed or salt each used;
    the device view loads the candidate with the device's own encodings of those secrets (``align``).

    ``running``: a running config read a moment ago (saves a read). A ``device`` comparison leaves no
    candidate behind: it is discarded even when the compare fails. Raises ``DeviceError`` as the device does.
    """
    text_diff = ""
    if strategy is not Strategy.DEVICE:
        if running is None:
            try:
                running = device.running_config()
            except Unsupported:
                if strategy is Strategy.TEXT:
                    raise
        if running is not None:
            diff = normalized_diff(
                intended,
                running,
                device.platform,
                extra,
                expected_label=labels[0],
                running_label=labels[1],
                secrets=secrets,
            )
            if not diff or strategy is Strategy.TEXT:
                return Comparison(diff, Strategy.TEXT.value, running)
            text_diff = diff
    if secrets:
        intended = _aligned(device, intended, running, secrets)
    device.load_replace(intended)
    try:
        diff = device.compare()
    finally:
        device.discard()
    if not diff.strip():
        return Comparison("", Strategy.DEVICE.value, running)
    # text-first: the device confirmed the difference; the normalized text diff is what people read
    return Comparison(text_diff or diff, Strategy.DEVICE.value, running)
