"""Which hosts of a batch are still changing: lets a host whose only failure may be another host's doing wait
for the others before its verdict.

Hosts changed in one batch affect each other further than one hop: a broken r3 costs r1 the prefixes it
learnt through r2 and r4, although r1 and r3 share no link (the batching rule of ``netimmutable.topology``
keeps only direct neighbours apart). When r1's checks fail only by lost prefixes on sessions whose far end
did not change, while other hosts of its batch changed too, r1 waits until each of them has ended (or is
itself waiting: two such hosts never wait for each other) and then checks again, from the start.

Examples:
    >>> board = BatchBoard(["r1", "r3"])
    >>> board.finished("r3")
    >>> board.wait_for_others("r1", ["r3"], timeout=1.0)
    True
    >>> BatchBoard(["r1", "r3"]).wait_for_others("r1", ["r3"], timeout=0.01)
    False
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

__all__ = ["BatchBoard", "far_ends_at_fault", "only_lost_prefixes"]

_LOST = re.compile(r"regression: BGP neighbour (\S+) .* received \d+ prefixes before the change, \d+ now")
_META = ("failed during the soak", "still failing after", "interrupted")
_SESSION = re.compile(
    r"regression: BGP neighbour (?P<nb>\S+) "
    r"|expectations: get_bgp_neighbors\.[^.]+\.peers\.(?P<peer>[0-9A-Fa-f:.]+?)\.(?=[a-z_])"
)


def only_lost_prefixes(failures: Sequence[str], far_ends: Mapping[str, str]) -> bool:
    """Every failure is prefixes lost on a session whose far end did not change (or a line saying when the
    checks gave up): what another host of the batch may have caused.

    Examples:
        >>> lost = "regression: BGP neighbour 10.0.0.2 (AS 2) received 3 prefixes before the change, 1 now"
        >>> only_lost_prefixes([lost, "failed during the soak, 2.0s after the checks first held"], {})
        True
        >>> only_lost_prefixes([lost], {"10.0.0.2": "r2"}), only_lost_prefixes(["expectations: x"], {})
        (False, False)
    """
    found = False
    for failure in failures:
        match = _LOST.match(failure)
        if match is not None and match.group(1) not in far_ends:
            found = True
        elif not failure.startswith(_META):
            return False
    return found


def far_ends_at_fault(failures: Sequence[str], far_ends: Mapping[str, str]) -> frozenset[str]:
    """The hosts changed in the same batch that every failure may be the doing of: each failure is about a
    BGP session whose far end is one of them (or a line saying when the checks gave up). Empty when any
    failure is about something else. A rollback whose checks fail this way waits for those hosts to end.

    Examples:
        >>> down = "expectations: get_bgp_neighbors.global.peers.10.0.0.2.is_up: expected True, got False"
        >>> sorted(far_ends_at_fault([down, "still failing after 1.5s settle time"], {"10.0.0.2": "r2"}))
        ['r2']
        >>> far_ends_at_fault([down, "expectations: get_facts.hostname: expected r1"], {"10.0.0.2": "r2"})
        frozenset()
        >>> far_ends_at_fault([down], {})
        frozenset()
        >>> v6 = "expectations: get_bgp_neighbors.global.peers.2001:db8::a.address_family.ipv6.sent: 1"
        >>> far_ends_at_fault([v6], {"2001:db8::a": "r3"})
        frozenset({'r3'})
    """
    hosts: set[str] = set()
    for failure in failures:
        match = _SESSION.match(failure)
        address = match and (match["nb"] or match["peer"])
        if address and address in far_ends:
            hosts.add(far_ends[address])
        elif not failure.startswith(_META):
            return frozenset()
    return frozenset(hosts)


class BatchBoard:
    """The hosts of one batch: finished, waiting, or still changing (thread-safe)."""

    def __init__(self, hosts: Iterable[str]) -> None:
        self._hosts = set(hosts)
        self._done: set[str] = set()
        self._waiting: set[str] = set()
        self._changed = threading.Condition()

    def finished(self, host: str) -> None:
        with self._changed:
            self._done.add(host)
            self._changed.notify_all()

    def wait_for_others(
        self,
        host: str,
        others: Collection[str],
        timeout: float,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait until every host of ``others`` in this batch has finished or waits too; False on timeout or
        when ``cancelled`` says so (the caller then decides as it would have)."""
        deadline = time.monotonic() + timeout
        relevant = set(others) & self._hosts
        with self._changed:
            self._waiting.add(host)
            self._changed.notify_all()
            try:
                while not relevant <= (self._done | self._waiting):
                    left = deadline - time.monotonic()
                    if left <= 0 or cancelled():
                        return False
                    self._changed.wait(min(left, 0.5))
                return True
            finally:
                self._waiting.discard(host)
                self._changed.notify_all()
