"""The deploy's coordinator channel (``netimmutable.cluster_channel``) on an in-process Dask scheduler, and
what a host whose worker died becomes (``netimmutable.cluster_deploy.lost_result``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from netimmutable.cluster_channel import ChannelNames, CoordinatorLink, Dispatcher, LinkError, RemoteJournal
from netimmutable.cluster_deploy import lost_result
from netimmutable.deploy_model import CancelToken, HostJob, PipelineEnv
from netimmutable.errors import JournalWriteFailed
from netimmutable.outcomes import Cause, HostOutcome

distributed = pytest.importorskip("distributed")


class _Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []

    def before(self, host: str, step: Any, **details: Any) -> None:
        if step == "confirm":
            raise JournalWriteFailed("journal could not be written (No space left on device)")
        self.entries.append(("before", host, str(step)))

    def after(self, host: str, step: Any, outcome: str) -> None:
        self.entries.append(("after", host, str(step)))

    def finish(self, host: str, outcome: str) -> None:
        self.entries.append(("finish", host, outcome))


def _env(journal: _Journal) -> PipelineEnv:
    def no_device() -> Any:
        raise AssertionError("the coordinator never opens a device")

    return PipelineEnv(
        open_device=no_device,
        resolve=str,
        mask=str,
        mark_good=lambda host, release: None,
        settle_timeout=1.0,
        settle_interval=0.1,
        commit_message="m",
        journal=journal,
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # an in-process scheduler; the dashboard on a free loopback port (8787 may be another cluster's)
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0"
        ) as lc,
        distributed.Client(lc) as c,
    ):
        yield c


def test_journal_calls_are_written_by_the_coordinator_and_refused_once_the_host_is_closed(
    client: Any,
) -> None:
    journal = _Journal()
    names = ChannelNames.new("test", ack_timeout=5.0)
    with Dispatcher(client, names, {"r1": _env(journal)}, CancelToken()) as dispatcher:
        link = CoordinatorLink(names, "r1", client)
        remote = RemoteJournal(link)
        remote.before("r1", "commit", release="abc")
        remote.after("r1", "commit", "ok")
        assert journal.entries == [("before", "r1", "commit"), ("after", "r1", "commit")]
        assert dispatcher.journal_of("r1") == ("before commit", "after commit: ok")
        with pytest.raises(JournalWriteFailed, match=r"No space left on device.*not taken"):
            remote.before("r1", "confirm")  # the coordinator's journal failed: the step is not taken
        dispatcher.close_host("r1")  # e.g. its worker was declared dead
        with pytest.raises(JournalWriteFailed, match="closed r1's run"):
            remote.before("r1", "rollback")
        link.close()
    assert journal.entries == [("before", "r1", "commit"), ("after", "r1", "commit")]


def test_no_answer_from_the_coordinator_is_a_failed_call(client: Any) -> None:
    names = ChannelNames.new("test", ack_timeout=0.5)
    dispatcher = Dispatcher(client, names, {"r1": _env(_Journal())}, CancelToken())  # never started
    link = CoordinatorLink(names, "r1", client)
    with pytest.raises(LinkError, match=r"did not answer journal\.before within 0\.5s"):
        link.call("journal.before", step="commit", details={})
    with pytest.raises(JournalWriteFailed, match="not taken"):
        RemoteJournal(link).before("r1", "commit")
    link.close()
    dispatcher.__exit__(None, None, None)


def _job() -> HostJob:
    return HostJob("r1", "sim", "a" * 40, "hostname r1\n", None, False, "b" * 40, "hostname r1\n")


def test_a_host_whose_worker_died_before_any_journaled_step_was_not_touched() -> None:
    result = lost_result(_job(), "w2", (), "the worker w2 running it died")
    assert result.outcome is HostOutcome.FAILED and result.cause is Cause.WORKER_LOST
    assert not result.changed and result.worker == "w2" and "not changed" in result.message


@pytest.mark.parametrize(
    ("journal", "changed"),
    [(("before load", "after load: ok"), False), (("before load", "after load: ok", "before commit"), True)],
)
def test_a_host_whose_worker_died_mid_change_is_unknown_naming_the_worker_and_its_last_step(
    journal: tuple[str, ...], changed: bool
) -> None:
    result = lost_result(_job(), "w2", journal, "the worker w2 running it died")
    assert result.outcome is HostOutcome.UNKNOWN and result.cause is Cause.WORKER_LOST
    assert result.changed is changed and result.worker == "w2"
    assert "worker w2 died" in result.message and journal[-1] in result.message
    assert "netimmutable recover" in result.message
