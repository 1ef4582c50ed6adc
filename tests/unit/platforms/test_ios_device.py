"""netimmutable's ``Device`` and the change window over NAPALM's real ``ios`` driver against the IOS double:
pre-flight.

NAPALM's ios driver replaces the config with ``configure replace flash:candidate_config.txt force revert
trigger error``, which IOS refuses without the ``archive`` feature (so even a commit without a timer fails),
and copies the candidate to flash by SCP (``ip scp server enable``) unless ``inline_transfer`` is set.
Pre-flight finds both before the window does anything, naming the host and what to configure.
"""

from __future__ import annotations

import pytest
from nornir.core.inventory import Defaults, Groups, Hosts, Inventory

from netimmutable.compare import Strategy
from netimmutable.deploy_model import HostJob
from netimmutable.device import Device
from netimmutable.errors import ConfigRejected, PreflightFailed
from netimmutable.inventory import LoadedInventory
from netimmutable.outcomes import HostOutcome
from netimmutable.plan import PlanStatus, make_plan
from netimmutable.push import run_host
from tests.doubles import ios_config as cfg
from tests.doubles.ios import IosDouble, default_baseline, start_ios
from tests.unit.platforms.device_hosts import host_for
from tests.unit.scripted_device import env

NEW_ROUTE = "ip route 10.254.254.0/24 Null0"


def candidate(dev: IosDouble, extra: str = "") -> str:
    lines = cfg.body_of(dev.baseline)
    return "\n".join([*lines[:-1], extra, lines[-1]] if extra else lines) + "\n"


def shell_commands(dev: IosDouble) -> list[str]:
    return [entry for entry in dev.log if not entry.startswith("scp")]


def test_preflight_passes_on_a_prepared_device_with_one_read() -> None:
    with start_ios() as dev, Device.open(host_for(dev), attempts=1) as device:
        before = len(dev.log)
        device.preflight()
        added = dev.log[before:]
    assert [c for c in added if "running-config" in c], added
    assert not [c for c in added if "configure replace" in c or "copy" in c], added


def test_preflight_without_archive_refuses_naming_host_and_what_to_configure() -> None:
    with start_ios(archive=False) as dev, Device.open(host_for(dev), attempts=1) as device:
        with pytest.raises(PreflightFailed) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "`archive`" in caught.value.message and "path" in caught.value.message
        assert not dev.flash


def test_preflight_without_scp_refuses_unless_inline_transfer() -> None:
    baseline = default_baseline().replace("ip scp server enable\n", "")
    with start_ios(baseline=baseline) as dev:
        with Device.open(host_for(dev), attempts=1) as device, pytest.raises(PreflightFailed) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "ip scp server enable" in caught.value.message and "inline_transfer" in caught.value.message
        with Device.open(host_for(dev, inline_transfer=True), attempts=1) as device:
            device.preflight()


def test_the_window_refuses_a_host_without_archive_before_any_change() -> None:
    """Through the per-host pipeline: the host is refused at the pre-checks, nothing is copied, replaced
    or saved (without pre-flight the load would copy the file and the commit fail on the device)."""
    with start_ios(archive=False) as dev:
        old, new = candidate(dev), candidate(dev, NEW_ROUTE)
        job = HostJob("r1", "ios", "new", new, None, False, "old", old, strategy=Strategy.DEVICE)
        result = run_host(job, env(Device.open(host_for(dev), attempts=1)))
        assert result.outcome is HostOutcome.REFUSED, result
        assert result.cause == "preflight"
        assert "archive" in result.message
        assert not dev.flash
        assert not [c for c in shell_commands(dev) if "configure replace" in c or "write" in c]
        assert cfg.body_of(dev.running()) == cfg.body_of(dev.baseline)


def test_plan_reports_the_missing_archive_and_loads_nothing() -> None:
    """``plan`` runs the same pre-flight, on the running config it reads anyway (no extra read)."""
    with start_ios(archive=False) as dev:
        host = host_for(dev)
        loaded = LoadedInventory(Inventory(hosts=Hosts(), groups=Groups(), defaults=Defaults()), {}, "hosts")
        before = len(dev.log)
        plan = make_plan(
            "sha", "s", {"r1": candidate(dev, NEW_ROUTE)}, [host], loaded, workers=1, resolve=str, secrets={}
        )
        (planned,) = plan.hosts
        assert planned.status is PlanStatus.ERROR
        assert "archive" in planned.message
        assert not dev.flash
        reads = [c for c in dev.log[before:] if "show running-config" in c]
        assert len(reads) == 1, dev.log[before:]


def test_preflight_with_auto_file_prompt_off_needs_file_prompt_quiet_in_the_config() -> None:
    """``auto_file_prompt: false`` keeps NAPALM from toggling ``file prompt quiet`` (which a revert that
    fires after the session left brings back as drift); the config must then carry it itself."""
    with start_ios() as dev:
        device = Device.open(host_for(dev, auto_file_prompt=False), attempts=1)
        with device, pytest.raises(PreflightFailed) as caught:
            device.preflight()
        assert "file prompt quiet" in caught.value.message and caught.value.host == "r1"
    baseline = default_baseline().replace(
        "ip scp server enable\n", "ip scp server enable\nfile prompt quiet\n"
    )
    with (
        start_ios(baseline=baseline) as dev,
        Device.open(host_for(dev, auto_file_prompt=False), attempts=1) as d,
    ):
        d.preflight()


def test_without_archive_even_a_plain_commit_is_refused_and_the_device_unchanged() -> None:
    """What pre-flight saves the window from: the load succeeds (SCP), the commit is refused."""
    with start_ios(archive=False) as dev:
        with Device.open(host_for(dev), attempts=1) as device:
            device.load_replace(candidate(dev, NEW_ROUTE))
            with pytest.raises(ConfigRejected) as caught:
                device.commit("", None)
            assert caught.value.host == "r1" and "commit_config" in caught.value.message
        assert cfg.body_of(dev.running()) == cfg.body_of(dev.baseline)


def test_a_bad_line_is_not_caught_at_load_but_refused_at_commit_atomically() -> None:
    with start_ios() as dev:
        with Device.open(host_for(dev), attempts=1) as device:
            device.load_replace(candidate(dev, "frobnicate all the widgets 42"))  # IOS validates nothing here
            with pytest.raises(ConfigRejected) as caught:
                device.commit("", None)
            assert caught.value.host == "r1"
        assert cfg.body_of(dev.running()) == cfg.body_of(dev.baseline)
