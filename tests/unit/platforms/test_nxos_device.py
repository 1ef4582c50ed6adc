"""netimmutable's ``Device`` over NAPALM's real ``nxos`` driver against the NX-OS double: a refused commit.

The driver's commit is ``rollback running-config file candidate_config.txt``, atomic on NX-OS; a line the
device refuses fails it as ``NXAPICommandError`` rather than NAPALM's ``ReplaceConfigException``. It must
reach the change window as the same "device refused" error every other platform gives
(``ConfigRejected``), with the device left as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netimmutable.device import Device
from netimmutable.errors import ConfigRejected, PreflightFailed
from tests.doubles import nxos_config as nx
from tests.doubles.nxos import NxosDouble, default_baseline, start_nxos
from tests.unit.platforms.device_hosts import host_for


@pytest.fixture
def dev() -> Iterator[NxosDouble]:
    with start_nxos() as double:
        yield double


def candidate(dev: NxosDouble, extra: str) -> str:
    return "\n".join(nx.body_of(dev.baseline)) + f"\n{extra}\n"


def test_a_refused_commit_is_config_rejected_and_the_device_is_unchanged(dev: NxosDouble) -> None:
    before = nx.body_of(dev.running())
    with Device.open(host_for(dev), attempts=1) as device:
        device.load_replace(candidate(dev, "frobnicate all the widgets 42"))
        with pytest.raises(ConfigRejected) as caught:
            device.commit("netimmutable deploy", None)
        assert caught.value.host == "r1"
        assert "commit_config" in caught.value.message
    assert nx.body_of(dev.running()) == before
    assert dev.startup == before


def test_preflight_without_scp_server_refuses_naming_host_and_feature() -> None:
    with start_nxos(baseline=default_baseline().replace("feature scp-server\n", "")) as d:
        with Device.open(host_for(d), attempts=1) as device, pytest.raises(PreflightFailed) as caught:
            device.preflight()
        assert caught.value.host == "r1"
        assert "feature scp-server" in caught.value.message
        assert not d.bootflash


def test_preflight_passes_with_scp_server_and_one_read(dev: NxosDouble) -> None:
    with Device.open(host_for(dev), attempts=1) as device:
        before = len(dev.log)
        device.preflight()
        added = dev.log[before:]
    assert len(added) == 1 and "show running-config" in added[0], added
