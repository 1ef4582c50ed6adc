"""What a post-check found wrong, typed where the change window decides on it.

A failure reads as its text everywhere it is shown or stored (``Failure`` is a ``str``), and carries what the
window decides by: its kind and, for a BGP session, the neighbour address. The batch logic (which failures
another host of the batch may have caused, ``netimmutable.batch_board``) and the blame in messages
(``netimmutable.topology.blame_far_end``) read these fields, never the wording.

Examples:
    >>> lost = Failure("BGP neighbour 10.0.0.2 (AS 2) received 3 prefixes before the change, 1 now",
    ...                FailureKind.PREFIXES_LOST, "10.0.0.2")
    >>> shown = lost.prefixed("regression: ")
    >>> shown
    'regression: BGP neighbour 10.0.0.2 (AS 2) received 3 prefixes before the change, 1 now'
    >>> shown.kind.value, shown.neighbour
    ('prefixes-lost', '10.0.0.2')
    >>> kind_of("anything else").value, neighbour_of("anything else")
    ('other', None)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Failure", "FailureKind", "kind_of", "neighbour_of"]


class FailureKind(StrEnum):
    OTHER = "other"
    """Anything the batch logic does not reason about (convergence, facts, interfaces, a getter lost...)."""
    SESSION = "session"
    """A BGP session down or gone, or an expectation about one peer, that held before the change."""
    PREFIXES_LOST = "prefixes-lost"
    """A BGP session still up that receives far fewer prefixes than before the change."""
    ENDED = "ended"
    """Not a finding: when and why the checks gave up (settle time out, failed during the soak, Ctrl-C)."""


class Failure(str):
    """A failure's text, with its kind and the BGP neighbour it is about (None when it is about none)."""

    kind: FailureKind
    neighbour: str | None

    def __new__(
        cls, text: str, kind: FailureKind = FailureKind.OTHER, neighbour: str | None = None
    ) -> Failure:
        failure = super().__new__(cls, text)
        failure.kind = kind
        failure.neighbour = neighbour
        return failure

    def prefixed(self, prefix: str) -> Failure:
        """The same failure, its text after ``prefix`` (e.g. ``regression: ``)."""
        return Failure(prefix + str(self), self.kind, self.neighbour)

    def __reduce__(self) -> tuple[type[Failure], tuple[str, FailureKind, str | None]]:
        return (Failure, (str(self), self.kind, self.neighbour))


def kind_of(failure: str) -> FailureKind:
    """The kind of ``failure`` (a plain string is ``OTHER``)."""
    return failure.kind if isinstance(failure, Failure) else FailureKind.OTHER


def neighbour_of(failure: str) -> str | None:
    """The BGP neighbour ``failure`` is about (None for a plain string)."""
    return failure.neighbour if isinstance(failure, Failure) else None
