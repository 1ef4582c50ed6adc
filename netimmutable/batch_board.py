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

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from netimmutable.failures import FailureKind, kind_of, neighbour_of

__all__ = ["BatchBoard", "far_ends_at_fault", "only_lost_prefixes"]


def only_lost_prefixes(failures: Sequence[str], far_ends: Mapping[str, str]) -> bool:
    """Every failure is prefixes lost on a session whose far end did not change (or a line saying when the
    checks gave up): what another host of the batch may have caused.

    Examples:
        >>> from netimmutable.failures import Failure
        >>> lost = Failure("regression: ... 3 prefixes before the change, 1 now", FailureKind.PREFIXES_LOST,
        ...                "10.0.0.2")
        >>> ended = Failure("failed during the soak, 2.0s after the checks first held", FailureKind.ENDED)
        >>> only_lost_prefixes([lost, ended], {})
        True
        >>> only_lost_prefixes([lost], {"10.0.0.2": "r2"}), only_lost_prefixes(["expectations: x"], {})
        (False, False)
    """
    found = False
    for failure in failures:
        kind = kind_of(failure)
        if kind is FailureKind.PREFIXES_LOST and neighbour_of(failure) not in far_ends:
            found = True
        elif kind is not FailureKind.ENDED:
            return False
    return found


def far_ends_at_fault(failures: Sequence[str], far_ends: Mapping[str, str]) -> frozenset[str]:
    """The hosts changed in the same batch that every failure may be the doing of: each failure is about a
    BGP session whose far end is one of them (or a line saying when the checks gave up). Empty when any
    failure is about something else. A rollback whose checks fail this way waits for those hosts to end.

    Examples:
        >>> from netimmutable.failures import Failure
        >>> down = Failure("expectations: ...is_up: expected True", FailureKind.SESSION, "10.0.0.2")
        >>> ended = Failure("still failing after 1.5s settle time", FailureKind.ENDED)
        >>> sorted(far_ends_at_fault([down, ended], {"10.0.0.2": "r2"}))
        ['r2']
        >>> far_ends_at_fault([down, "expectations: get_facts.hostname: expected r1"], {"10.0.0.2": "r2"})
        frozenset()
        >>> far_ends_at_fault([down], {})
        frozenset()
    """
    hosts: set[str] = set()
    for failure in failures:
        kind, address = kind_of(failure), neighbour_of(failure)
        if kind in (FailureKind.SESSION, FailureKind.PREFIXES_LOST) and address in far_ends:
            hosts.add(far_ends[address])  # type: ignore[index]  # address is not None: it is in far_ends
        elif kind is not FailureKind.ENDED:
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
