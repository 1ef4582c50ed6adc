"""Canary test for secret forms: a secret rendered ``secret(name, form="type7")`` reaches the devices encoded,
and neither the value nor any encoding of it (type 7 is reversible: the encoding is as good as the value)
lands in git, records, plans, reports, output or logs. Every CLI call is a new resolution (a new random
seed), so the runs after the first also prove that the comparison holds across encodings: verify is in
sync, a plan of the same release is unchanged, the devices keep the encoding they were given; a device
holding another secret is drift, shown masked.
"""

from __future__ import annotations

import logging
import re

import pytest

from netimmutable.secretforms import decode_type7, encode_type7
from tests.unit.safety.test_secret_canary import (
    ENDS,
    PASSWORD_LINE,
    CanaryNet,
    _files,
    _git_objects,
    _hits,
    _log_text,
    canary_net,
)

__all__ = ["canary_net"]  # the fixture, shared with test_secret_canary

_PASSWORD = re.compile(r"^ neighbor (\S+) password (\S+)$", re.M)


def _encodings(net: CanaryNet) -> dict[str, str]:
    """(host neighbour) -> the encoded password the device holds."""
    found: dict[str, str] = {}
    for host in ("r1", "r2", "r3", "r4"):
        for peer, shown in _PASSWORD.findall(net.lab.running(host)):
            found[f"{host} {peer}"] = shown
    return found


def test_a_type7_secret_reaches_the_devices_encoded_and_nothing_else(
    canary_net: CanaryNet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    net = canary_net
    net.cli("deploy", "--yes")
    net.edit(
        "templates/frr/bgp.j2",
        " neighbor {{ n.address }} timers connect",
        PASSWORD_LINE.replace(")) }}", '), form="type7") }}') + " neighbor {{ n.address }} timers connect",
    )
    net.cli("render")
    net.cli("commit", "-m", "bgp session passwords, type 7")
    assert "password <<secret:bgp/r1-r2:type7>>" in (net.root / "snapshots" / "r1.cfg").read_text()
    net.cli("plan", code=3)
    net.cli("deploy", "--yes")

    pushed = _encodings(net)
    assert len(pushed) == 2 * len(ENDS)
    values = set(net.values.values())
    assert {decode_type7(shown) for shown in pushed.values()} == values  # each device got its session's
    assert not values & set(pushed.values())  # ... encoded

    out = net.cli("verify")  # a new resolution (another seed): still in sync
    net.cli("plan")  # the same release: unchanged (exit 0), the devices keep their encodings
    assert _encodings(net) == pushed

    other = "other" + net.values["bgp/r1-r2"][::-1]
    drifted = encode_type7(other)
    net.lab.set_running("r2", net.lab.running("r2").replace(pushed["r2 10.255.12.1"], drifted))
    out = net.cli("verify", code=3)
    assert "password <<masked>>" in out or "password <<secret:" in out

    haystacks: dict[str, bytes] = {f"git {k} {sha}": d for sha, (k, d) in _git_objects(net.root).items()}
    for path in _files(net.root, skip=net.lab.root):
        haystacks[str(path)] = path.read_bytes()
    haystacks["captured output"] = "\n".join(net.captured).encode()
    haystacks["log records"] = _log_text(caplog.records).encode()
    secrets = {**net.values, "drifted value": other, "drifted encoding": drifted}
    secrets.update({f"encoding on {where}": shown for where, shown in pushed.items()})
    assert _hits(secrets, haystacks) == []
    assert any(b"<<secret:bgp/r1-r2:type7>>" in data for data in haystacks.values())
