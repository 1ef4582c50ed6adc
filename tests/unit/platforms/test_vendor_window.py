"""The change window on every vendor platform: NAPALM's real drivers against the device doubles, the
multi-vendor example as the network (``tests.unit.platforms.vendor_net``).

Every scenario checks the device out of band (through the double), the exit code, the records and the host
named in the output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.platforms.vendor_net import PLATFORMS, VendorNet, vendor_net


@pytest.fixture(params=PLATFORMS)
def net(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VendorNet]:
    with vendor_net(tmp_path, request.param) as built:
        yield built


def test_a_good_release_is_deployed_and_becomes_last_good(net: VendorNet) -> None:
    new = net.release_good_change()

    result = net.deploy()

    assert result.exit_code == 0, result.output
    assert net.host in result.output
    assert net.on_device() == net.intent(new)
    assert "to hub r1" in net.on_device()
    assert net.last_good() == new
    assert not net.double.has_pending()
