"""netimmutable's ``Device`` over NAPALM's real ``junos`` driver against the Junos double: artifact format,
the candidate lock, refused loads.

NAPALM's junos driver locks the candidate at load (``<lock-configuration/>``) and keeps it until discard,
commit or the end of the session; PyEZ refuses ``set`` commands with ``overwrite`` (a bare ``ValueError``
raised after the lock was taken), so netimmutable loads a ``set`` artifact as ``delete`` + ``load set``
(``capabilities.replace_load``). Whatever goes wrong at load, netimmutable must leave the lock free while
its session is still open, so that nobody else (or its own next step) is locked out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netimmutable.compare import Strategy
from netimmutable.deploy_model import HostJob
from netimmutable.device import Device
from netimmutable.errors import CandidateLocked, ConfigRejected
from netimmutable.outcomes import HostOutcome
from netimmutable.push import run_host
from tests.doubles import junos_conf, junos_set
from tests.doubles.junos import JunosDouble, start_junos, strip_header
from tests.unit.platforms.device_hosts import host_for, other_session
from tests.unit.scripted_device import env


@pytest.fixture
def dev() -> Iterator[JunosDouble]:
    with start_junos() as double:
        yield double


def set_form(dev: JunosDouble) -> str:
    """The running config as ``show configuration | display set`` prints it."""
    return junos_set.display_set(junos_conf.parse(strip_header(dev.running())))


def test_a_set_format_artifact_is_a_full_replacement(dev: JunosDouble) -> None:
    """A statement the set artifact leaves out (interface ge-0/0/1) is removed, as with an override."""
    artifact = "".join(
        line.replace("host-name r1", "host-name r1-new") + "\n"
        for line in set_form(dev).splitlines()
        if "ge-0/0/1" not in line
    )
    with Device.open(host_for(dev), attempts=1) as device:
        device.load_replace(artifact)
        diff = device.compare()
        assert "-  ge-0/0/1 {" in diff and "+  host-name r1-new;" in diff, diff
        device.commit("netimmutable deploy", None)
    running = strip_header(dev.running())
    assert "ge-0/0/1" not in running and "host-name r1-new;" in running
    assert running == junos_conf.render(junos_set.apply([], artifact))
    assert not dev.locked() and not dev.candidate_changed()


def test_a_set_artifact_equal_to_the_running_config_shows_no_difference(dev: JunosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        device.load_replace(set_form(dev))
        assert device.compare() == ""
        device.discard()
    assert not dev.locked()


def test_a_refused_set_artifact_leaves_no_lock_and_no_candidate(dev: JunosDouble) -> None:
    before = dev.running()
    with Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(ConfigRejected) as caught:
            device.load_replace(set_form(dev) + "set frobnicate all the widgets\n")
        assert caught.value.host == "r1"
        assert not dev.locked(), "the candidate lock is still held after the refused load"
        assert not dev.candidate_changed()
    assert dev.running() == before


def test_a_json_artifact_is_refused_before_any_lock(dev: JunosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(ConfigRejected) as caught:
            device.load_replace('{"configuration": {"system": {"host-name": "r1"}}}\n')
        assert caught.value.host == "r1"
        assert "`json` format" in caught.value.message and "line 1" in caught.value.message
        assert not dev.locked()


def test_a_load_while_another_session_holds_the_lock_is_candidate_locked(dev: JunosDouble) -> None:
    other = other_session(dev)
    try:
        other.load_replace_candidate(
            config=strip_header(dev.running()).replace("host-name r1;", "host-name x;")
        )
        before = dev.running()
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.load_replace(strip_header(before))
        assert caught.value.host == "r1"
        assert "load_replace_candidate" in caught.value.message
        assert dev.locked(), "netimmutable broke or released the other session's lock"
        assert "host-name x;" in dev.candidate(), "netimmutable discarded the other session's candidate"
        assert dev.running() == before
    finally:
        other.discard_config()
        other.close()


def test_a_refused_load_leaves_no_lock_while_the_session_is_open(dev: JunosDouble) -> None:
    before = dev.running()
    with Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(ConfigRejected) as caught:
            device.load_replace("system {\n    host-name r1\n")  # unbalanced braces: a syntax error
        assert caught.value.host == "r1"
        assert not dev.locked()
        assert not dev.candidate_changed()
    assert dev.running() == before


# ----------------------------------------------------------------------------------- pre-flight


def test_preflight_finds_the_candidate_locked_by_another_session(dev: JunosDouble) -> None:
    other = other_session(dev)
    try:
        theirs = strip_header(dev.running()).replace("host-name r1;", "host-name x;")
        other.load_replace_candidate(config=theirs)
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "pre-flight" in caught.value.message
        assert dev.locked() and "host-name x;" in dev.candidate(), "the other session's work was touched"
    finally:
        other.discard_config()
        other.close()


def test_preflight_finds_uncommitted_changes_another_session_left_in_the_candidate(dev: JunosDouble) -> None:
    """Junos refuses the lock while the shared candidate holds another session's uncommitted changes
    ("configuration database modified"), though nobody holds the lock."""
    other = other_session(dev, lock_disable=True)
    try:
        theirs = strip_header(dev.running()).replace("host-name r1;", "host-name x;")
        other.load_replace_candidate(config=theirs)
        assert not dev.locked() and dev.candidate_changed()
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(CandidateLocked):
            device.preflight()
    finally:
        other.close()


def test_preflight_on_a_free_candidate_leaves_it_free(dev: JunosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        device.preflight()
        assert not dev.locked(), "the lock probe kept the lock"
        device.load_replace(strip_header(dev.running()))
        assert device.compare() == ""
        device.discard()


def test_the_window_refuses_a_host_whose_candidate_another_session_holds(dev: JunosDouble) -> None:
    """Through the per-host pipeline: refused at the pre-checks, before the drift gate loads anything; the
    other session's lock and candidate are left as they were."""
    old = strip_header(dev.running())
    new = old.replace("host-name r1;", "host-name r1-new;")
    other = other_session(dev)
    try:
        theirs = old.replace("host-name r1;", "host-name x;")
        other.load_replace_candidate(config=theirs)
        job = HostJob("r1", "junos", "new", new, None, False, "old", old, strategy=Strategy.DEVICE)
        result = run_host(job, env(Device.open(host_for(dev), attempts=1)))
        assert result.outcome is HostOutcome.REFUSED, result
        assert "pre-flight" in result.message and "before any change" in result.message
        assert dev.locked() and "host-name x;" in dev.candidate()
        assert strip_header(dev.running()) == old
    finally:
        other.discard_config()
        other.close()


def test_a_candidate_taken_by_someone_after_the_preflight_is_refused_and_left_as_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone starts editing the shared candidate between the drift gate's discard and our load: the host
    is refused (cause preflight), and nothing we do (cleanup, discard) wipes their uncommitted work
    (review finding: `rollback 0` on a candidate that was never ours)."""
    from tests.doubles.junos import start_junos, strip_header
    from tests.unit.scripted_device import env

    with start_junos() as dev:
        old = strip_header(dev.running())
        new = old.replace("host-name r1;", "host-name r1-new;")
        other = other_session(dev, lock_disable=True)
        theirs = old.replace("host-name r1;", "host-name theirs;")
        real_discard = Device.discard
        raced: list[bool] = []

        def discard_then_they_edit(self: Device) -> None:
            real_discard(self)
            if not raced:  # right after the drift gate's comparison discarded its candidate
                raced.append(True)
                other.load_replace_candidate(config=theirs)

        monkeypatch.setattr(Device, "discard", discard_then_they_edit)
        try:
            job = HostJob("r1", "junos", "new", new, None, False, "old", old, strategy=Strategy.DEVICE)
            result = run_host(job, env(Device.open(host_for(dev), attempts=1)))
            assert (result.outcome, result.cause) == (HostOutcome.REFUSED, "preflight"), result
            assert "host-name theirs;" in dev.candidate()  # their work is still there
            assert "host-name r1;" in dev.running()  # and nothing of ours was committed
        finally:
            other.close()
