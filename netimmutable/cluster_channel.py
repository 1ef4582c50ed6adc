"""The channel between a deploy's coordinator and the host pipelines its cluster workers run.

On ``deploy --cluster`` the CLI process stays the only writer of git, records, journal, locks and leases,
and the only one showing progress; a worker's pipeline (``netimmutable.push.run_host``) reaches them through
proxies that send each call to the coordinator:

    worker task --put--> request queue (on the scheduler) --get--> coordinator dispatcher
                <--get--  reply queue of the host          <--put--  handler (journal fsync, git, lease)

Both queues are Dask's own ``distributed.Queue`` (held by the scheduler, the connection every worker and the
coordinator already have, with Dask's TLS and authentication when the cluster uses them; an item is gone
from the scheduler once taken, unlike the event log of ``log_event``). Requests carry a sequence number;
a call waits for the reply with its number (``ACK_TIMEOUT``), so a journal entry is on the coordinator's
disk before the device step it announces is taken. No reply in time, an error reply, or a host the
coordinator has closed (its worker was declared dead): the call fails and the pipeline takes the path of
a journal write failure (``JournalWriteFailed``): the step is not taken.

Ctrl-C and a lost lease reach the workers through two ``distributed.Event`` s (cancel, abandon) and a
``distributed.Variable`` holding the reason; workers look at most once a second (``RemoteCancel``).

Messages are msgpack data (str, int, float, bool, None, lists, dicts): journal details, masked texts,
never a secret value, never a device credential.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from netimmutable.deploy_model import CancelToken, Phase, PipelineEnv, ProgressEvent
from netimmutable.errors import JournalWriteFailed, NetImmutableError
from netimmutable.outcomes import HostOutcome

__all__ = [
    "ACK_TIMEOUT",
    "ChannelNames",
    "CoordinatorLink",
    "Dispatcher",
    "LinkError",
    "RemoteBoard",
    "RemoteCancel",
    "RemoteJournal",
]

_log = logging.getLogger(__name__)

ACK_TIMEOUT = 30.0
"""Seconds a worker waits for the coordinator's reply to a call before the step it guards is not taken."""
_POLL = 0.2
"""Seconds between the coordinator's looks at the run's cancel token."""
_STOP = "__stop__"
"""The request the coordinator puts on its own queue to end its dispatcher."""
_CANCEL_LOOK = 1.0
"""A worker asks the scheduler whether the run was cancelled at most this often."""


def _dask() -> Any:
    """``distributed``, imported when a channel is opened (``import netimmutable`` never needs it)."""
    import distributed

    return distributed


class LinkError(NetImmutableError):
    """A call to the coordinator failed: no reply in time, the coordinator refused it, or its handler
    failed."""


@dataclass(frozen=True, slots=True)
class ChannelNames:
    """The scheduler-side names of one batch's channel (sent to the workers in each task's payload)."""

    channel: str
    requests: str
    cancel: str
    abandon: str
    reason: str
    ack_timeout: float = ACK_TIMEOUT

    @classmethod
    def new(cls, prefix: str, ack_timeout: float = ACK_TIMEOUT) -> ChannelNames:
        channel = f"{prefix}-{uuid.uuid4().hex[:12]}"
        return cls(
            channel,
            f"{channel}-req",
            f"{channel}-cancel",
            f"{channel}-abandon",
            f"{channel}-why",
            ack_timeout,
        )

    def reply(self, host: str) -> str:
        return f"{self.channel}-reply-{host}"


# ------------------------------------------------------------------------------ worker side
class CoordinatorLink:
    """One host's end of the channel, on the worker (``client``: the worker's own Dask client)."""

    def __init__(self, names: ChannelNames, host: str, client: Any) -> None:
        dask = _dask()
        self.names = names
        self.host = host
        self._requests = dask.Queue(names.requests, client=client)
        self._replies = dask.Queue(names.reply(host), client=client)
        self._seq = 0
        self._lock = threading.Lock()  # one call at a time per host (the pipeline is sequential anyway)

    def send(self, op: str, **args: Any) -> None:
        """Fire and forget (progress): raises ``LinkError`` only when the scheduler did not take it."""
        with self._lock:
            self._put(op, args, reply=False)

    def call(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        """Send ``op`` and wait for its reply: its value, or ``LinkError`` with the coordinator's message."""
        wait = self.names.ack_timeout if timeout is None else timeout
        with self._lock:
            seq = self._put(op, args, reply=True)
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LinkError(f"the coordinator did not answer {op} within {wait:g}s", host=self.host)
                try:
                    reply = self._replies.get(timeout=left)
                except TimeoutError:
                    raise LinkError(
                        f"the coordinator did not answer {op} within {wait:g}s", host=self.host
                    ) from None
                except Exception as exc:  # noqa: BLE001 - the scheduler is gone
                    raise LinkError(
                        f"no answer from the coordinator to {op} ({type(exc).__name__}: {exc})",
                        host=self.host,
                    ) from None
                if not isinstance(reply, dict) or reply.get("seq") != seq:
                    continue  # the late answer to a call that timed out earlier
                if not reply.get("ok"):
                    raise LinkError(str(reply.get("error") or f"{op} failed"), host=self.host)
                return reply.get("value")

    def _put(self, op: str, args: Mapping[str, Any], *, reply: bool) -> int:
        self._seq += 1
        item = {"host": self.host, "seq": self._seq, "op": op, "args": dict(args), "reply": reply}
        try:
            self._requests.put(item, timeout=self.names.ack_timeout)
        except Exception as exc:  # noqa: BLE001 - the scheduler is unreachable
            raise LinkError(
                f"the coordinator cannot be reached through the scheduler ({type(exc).__name__}: {exc})",
                host=self.host,
            ) from None
        return self._seq

    def close(self) -> None:
        for queue in (self._requests, self._replies):
            with contextlib.suppress(Exception):
                queue.close()


class RemoteJournal:
    """``netimmutable.deploy_model.Journal`` on a worker: every entry is written (and fsynced) by the
    coordinator; ``before`` returns only once it says so, else ``JournalWriteFailed`` (the step is not
    taken)."""

    def __init__(self, link: CoordinatorLink) -> None:
        self._link = link

    def before(self, host: str, step: Any, **details: Any) -> None:
        try:
            self._link.call("journal.before", step=str(step), details=details)
        except LinkError as exc:
            raise JournalWriteFailed(
                f"the coordinator did not confirm the journal entry before {step}: {exc.message}; "
                "the step it announces was not taken",
                host=host,
            ) from None

    def after(self, host: str, step: Any, outcome: str) -> None:
        self._link.call("journal.after", step=str(step), outcome=outcome)

    def finish(self, host: str, outcome: str) -> None:
        self._link.call("journal.finish", outcome=outcome)


class RemoteBoard:
    """The host's ``BatchBoard`` (kept by the coordinator), seen from a worker."""

    def __init__(self, link: CoordinatorLink) -> None:
        self._link = link

    def finished(self, host: str) -> None:
        with contextlib.suppress(LinkError):  # the coordinator also marks a host finished when its task ends
            self._link.send("board.finished")

    def wait_for_others(
        self,
        host: str,
        others: Collection[str],
        timeout: float,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        try:
            return bool(
                self._link.call(
                    "board.wait",
                    timeout=timeout + self._link.names.ack_timeout,
                    others=sorted(others),
                    seconds=timeout,
                )
            )
        except LinkError:
            return False  # the caller decides as it would have


class RemoteCancel(CancelToken):
    """The run's cancel token on a worker: set locally, or by the coordinator (Ctrl-C, a lost lease)."""

    def __init__(self, names: ChannelNames, client: Any) -> None:
        super().__init__()
        dask = _dask()
        self._cancel = dask.Event(names.cancel, client=client)
        self._abandon_event = dask.Event(names.abandon, client=client)
        self._why = dask.Variable(names.reason, client=client)
        self._looked = 0.0

    def _look(self) -> None:
        now = time.monotonic()
        if now - self._looked < _CANCEL_LOOK or CancelToken.abandoned.fget(self):  # type: ignore[attr-defined]
            return
        self._looked = now
        try:
            if self._abandon_event.is_set():
                CancelToken.abandon(self)
            if self._cancel.is_set():
                reason = "the coordinator cancelled the run"
                with contextlib.suppress(Exception):
                    reason = str(self._why.get(timeout=1.0))
                CancelToken.cancel(self, reason)
        except Exception:  # noqa: BLE001 - the scheduler is gone: the journal calls fail and decide
            _log.warning("cannot ask the scheduler whether the run was cancelled", exc_info=True)

    @property
    def cancelled(self) -> bool:
        self._look()
        return bool(CancelToken.cancelled.fget(self))  # type: ignore[attr-defined]

    @property
    def abandoned(self) -> bool:
        self._look()
        return bool(CancelToken.abandoned.fget(self))  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ coordinator side
@dataclass(slots=True)
class _HostState:
    env: PipelineEnv
    replies: Any
    open: bool = True
    journal: list[str] = field(default_factory=list)
    """The host's journal entries written through the channel, e.g. ``before commit``, ``after commit``."""


class Dispatcher:
    """The coordinator's end of one batch's channel: takes the workers' requests and serves each with the
    host's coordinator-side ``PipelineEnv`` (its real journal, records, leases, board and progress).

    Use as a context manager around ``Cluster.map_hosts``; ``close_host`` once a host's task has ended
    (a request from it after that is refused: a worker declared dead may not act any more)."""

    def __init__(
        self, client: Any, names: ChannelNames, envs: Mapping[str, PipelineEnv], cancel: CancelToken
    ) -> None:
        dask = _dask()
        self.names = names
        self._client = client
        self._cancel = cancel
        self._requests = dask.Queue(names.requests, client=client)
        self._hosts = {
            name: _HostState(env, dask.Queue(names.reply(name), client=client)) for name, env in envs.items()
        }
        self._cancel_event = dask.Event(names.cancel, client=client)
        self._abandon_event = dask.Event(names.abandon, client=client)
        self._reason = dask.Variable(names.reason, client=client)
        self._told = (False, False)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=len(envs) + 2, thread_name_prefix="netimmutable-chan")
        self._thread = threading.Thread(target=self._loop, name="netimmutable-dispatch", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="netimmutable-cancel", daemon=True)

    def __enter__(self) -> Dispatcher:
        self._thread.start()
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # the scheduler is gone: the daemon thread is left
                self._requests.put({"op": _STOP}, timeout=self.names.ack_timeout)
            self._thread.join(timeout=self.names.ack_timeout)
        if self._watcher.is_alive():
            self._watcher.join(timeout=self.names.ack_timeout)
        self._pool.shutdown(wait=True)
        for state in self._hosts.values():
            with contextlib.suppress(Exception):
                state.replies.close()
        with contextlib.suppress(Exception):
            self._requests.close()
        with contextlib.suppress(Exception):
            self._reason.delete()

    def journal_of(self, host: str) -> tuple[str, ...]:
        """The journal entries the host's worker had written through the coordinator."""
        with self._lock:
            return tuple(self._hosts[host].journal)

    def close_host(self, host: str) -> None:
        with self._lock:
            self._hosts[host].open = False
        board = self._hosts[host].env.board
        if board is not None:
            board.finished(host)

    # -- the loop ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        """Take requests until the stop item (a blocking get: a get that times out on the scheduler is
        logged there as an error, every time)."""
        while True:
            try:
                items = [self._requests.get()]
                items += self._requests.get(batch=True)
            except Exception:  # noqa: BLE001 - the scheduler is gone: the workers' calls time out
                if self._stop.is_set():
                    return
                _log.warning("the channel's request queue failed", exc_info=True)
                time.sleep(_POLL)
                continue
            for item in items:
                if isinstance(item, dict) and item.get("op") == _STOP:
                    return
                self._take(item)

    def _watch(self) -> None:
        """Tell the workers when the run is cancelled (Ctrl-C, a lost lease)."""
        while not self._stop.wait(_POLL):
            self._tell_cancel()

    def _tell_cancel(self) -> None:
        wanted = (self._cancel.cancelled, self._cancel.abandoned)
        if wanted == self._told:
            return
        try:
            if wanted[0] and not self._told[0]:
                self._reason.set(self._cancel.reason)
                self._cancel_event.set()
            if wanted[1] and not self._told[1]:
                self._abandon_event.set()
            self._told = wanted
        except Exception:  # noqa: BLE001 - tried again on the next round
            _log.warning("cannot tell the workers that the run was cancelled", exc_info=True)

    def _take(self, item: Any) -> None:
        if not isinstance(item, dict) or not isinstance(item.get("host"), str):
            _log.warning("the channel dropped a malformed request")
            return
        host = item["host"]
        with self._lock:
            state = self._hosts.get(host)
            closed = state is None or not state.open
        if state is None or closed:
            if state is not None and item.get("reply"):
                self._answer(state, item, error=f"refused: the coordinator has closed {host}'s run")
            return
        op = item.get("op")
        if op in ("progress", "board.finished"):  # quick, and in the order they were sent
            self._serve(state, item)
        else:
            self._pool.submit(self._serve, state, item)

    def _serve(self, state: _HostState, item: dict[str, Any]) -> None:
        try:
            value = self._handle(state, item["host"], str(item.get("op")), dict(item.get("args") or {}))
        except NetImmutableError as exc:
            self._answer(state, item, error=exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - the worker gets the failure; the step is not taken
            _log.warning("channel request %s of %s failed", item.get("op"), item["host"], exc_info=True)
            self._answer(state, item, error=f"{type(exc).__name__}: {exc}")
            return
        self._answer(state, item, value=value)

    def _answer(
        self, state: _HostState, item: Mapping[str, Any], *, value: Any = None, error: str = ""
    ) -> None:
        if not item.get("reply"):
            return
        reply = {"seq": item.get("seq"), "ok": not error, "value": value, "error": error}
        try:
            state.replies.put(reply, timeout=self.names.ack_timeout)
        except Exception:  # noqa: BLE001 - the worker's call times out: its step is not taken
            _log.warning("cannot answer %s of %s", item.get("op"), item.get("host"), exc_info=True)

    def _handle(self, state: _HostState, host: str, op: str, args: dict[str, Any]) -> Any:  # noqa: PLR0911
        env = state.env
        if op == "progress":
            outcome = args.get("outcome")
            event = ProgressEvent(
                host, Phase(args["phase"]), str(args["message"]), HostOutcome(outcome) if outcome else None
            )
            try:
                env.progress(event)
            except KeyboardInterrupt:
                env.cancel.cancel()
            return None
        if op.startswith("journal."):
            return self._journal(state, host, op, args)
        if op == "mark_good":
            env.mark_good(host, str(args["release"]))
            return None
        if op == "keep_captured":
            if env.keep_captured is None:
                raise NetImmutableError("this run keeps no captured configs")
            return env.keep_captured(host, str(args["text"]))
        if op == "fence":
            return env.fence(host)
        if op.startswith("board."):
            return self._board(env, host, op, args)
        if op == "flush":
            return None
        raise NetImmutableError(f"unknown channel request {op!r}")

    def _journal(self, state: _HostState, host: str, op: str, args: dict[str, Any]) -> None:
        step = str(args["step"]) if "step" in args else ""
        if op == "journal.before":
            state.env.journal.before(host, step, **dict(args.get("details") or {}))
            entry = f"before {step}"
        elif op == "journal.after":
            state.env.journal.after(host, step, str(args["outcome"]))
            entry = f"after {step}: {args['outcome']}"
        elif op == "journal.finish":
            state.env.journal.finish(host, str(args["outcome"]))
            entry = f"finish: {args['outcome']}"
        else:
            raise NetImmutableError(f"unknown journal request {op!r}")
        with self._lock:
            state.journal.append(entry)

    def _board(self, env: PipelineEnv, host: str, op: str, args: dict[str, Any]) -> bool | None:
        board = env.board
        if board is None:
            return False if op == "board.wait" else None
        if op == "board.finished":
            board.finished(host)
            return None
        others = [str(o) for o in args.get("others") or ()]
        cancel = env.cancel
        return board.wait_for_others(host, others, float(args["seconds"]), lambda: cancel.cancelled)
