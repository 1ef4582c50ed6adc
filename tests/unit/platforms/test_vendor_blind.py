"""A driver without ``get_config`` on every vendor platform: NAPALM's real driver of each, as a community
driver netimmutable does not know (``tests/unit/third_party/napalm_blind<platform>``), against the doubles.

The change window compares through the device's own ``compare_config`` (strategy ``device``), rolls back by
full replace, gets no device-side timer and no commit message (conservative defaults), and says so before the
window. The same scenarios on the sim device: ``tests/unit/deploy/test_blind_driver.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.platforms.vendor_net import PLATFORMS, VendorNet, vendor_net

THIRD_PARTY = Path(__file__).resolve().parents[1] / "third_party"


@pytest.fixture(params=PLATFORMS)
def blind(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[VendorNet]:
    """The host recorded good through the real driver, now reached through its blind copy."""
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    with vendor_net(tmp_path, request.param) as net:
        net.use_driver(f"blind{net.platform}")
        yield net


def test_a_good_release_deploys_through_the_devices_compare(blind: VendorNet) -> None:
    new = blind.release_good_change()

    result = blind.deploy()

    assert result.exit_code == 0, result.output
    assert "no device-side revert timer" in result.output or "no device timer" in result.output, result.output
    assert blind.on_device() == blind.intent(new)
    assert blind.last_good() == new


def test_a_failing_release_is_rolled_back_by_full_replace(blind: VendorNet) -> None:
    blind.release_bad_change()

    result = blind.deploy()

    assert result.exit_code == 4, result.output
    assert blind.host in result.output
    assert blind.on_device() == blind.intent(blind.first)
    assert blind.last_good() == blind.first


def test_verify_finds_drift_through_the_device(blind: VendorNet) -> None:
    assert blind.cli("verify", "--limit", blind.host).exit_code == 0
    blind.drift()

    result = blind.cli("verify", "--limit", blind.host)

    assert result.exit_code == 3, result.output
    assert blind.host in result.output
    assert "device" in result.output
