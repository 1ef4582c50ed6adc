"""Secrets in the device's form hold under the ``text`` strategy, end to end through NAPALM's real ``eos`` and
``junos`` drivers and netimmutable's ``Device``: the artifact (``<<secret:name:form>>``) and the device's
running config after loading it compare equal; so they do when the device holds the same secret in an
encoding of its own (a user configured it in clear, the device hashed or obfuscated it with its own salt);
another secret, or any changed line, is still a difference, shown without the value or its encoding. The
device's own diff (``device``, ``text-first``) does not count a new salt as a change either.

The doubles follow the vendors here: EOS keeps a clear user secret as ``secret sha512 $6$...`` (computed with
Python's ``crypt``), Junos keeps a clear ``authentication-key`` as ``$9$...`` (computed with netutils) and
marks the line ``## SECRET-DATA``; both put their volatile header lines on top (``! Command:``,
``! device:``, ``! boot system``; ``## Last commit:``). Every secret is generated at run time.
"""

from __future__ import annotations

import re
import secrets as rnd
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable import plan
from netimmutable.compare import Comparison, Strategy, compare_running
from netimmutable.connections import CONNECTION
from netimmutable.device import Device
from netimmutable.normalize import resolve_secrets
from netimmutable.plan import PlanStatus
from netimmutable.secretforms import FORMS
from tests.doubles.eos import EosDouble, start_eos
from tests.doubles.junos import JunosDouble, default_baseline, start_junos


def _host(dev: EosDouble | JunosDouble, platform: str) -> Host:
    options = ConnectionOptions(extras={"optional_args": dict(dev.optional_args)})
    return Host(
        "r1",
        hostname=dev.hostname,
        username=dev.username,
        password=dev.password,
        platform=platform,
        connection_options={CONNECTION: options},
    )


def _deploy(host: Host, config: str) -> None:
    with Device.open(host, attempts=1) as device:
        device.load_replace(config)
        device.commit("", None)


def _compare(
    host: Host, intended: str, secrets: Mapping[str, str] | None, strategy: Strategy = Strategy.TEXT
) -> Comparison:
    with Device.open(host, attempts=1) as device:
        return compare_running(device, intended, strategy, secrets=secrets)


def _device_view_sees_no_change_for_a_new_salt(host: Host, artifact: str, secrets: Mapping[str, str]) -> None:
    """A later run resolves the artifact again (new salts); the device's own diff (``device`` strategy, the
    default for eos and junos) must not report that as a change, and must report another secret."""
    again = resolve_secrets(artifact, secrets)
    assert not _compare(host, again, None, Strategy.DEVICE).equal  # the device does see the salts differ
    seen = _compare(host, again, secrets, Strategy.DEVICE)
    assert seen.equal and seen.decided_by == "device", seen.diff
    assert _compare(host, again, secrets, Strategy.TEXT_FIRST).equal
    other = {name: rnd.token_urlsafe(12) for name in secrets}
    assert not _compare(host, resolve_secrets(artifact, other), other, Strategy.DEVICE).equal


def _hidden(diff: str, *texts: str) -> None:
    """Neither a value nor any encoding of it shows in ``diff``."""
    for text in texts:
        assert text not in diff
    assert not re.search(r"\$[169]\$", diff), diff


# -------------------------------------------------------------------------------------------------- EOS
EOS_USER = "username admin privilege 15 role network-admin secret sha512"


@pytest.fixture
def eos() -> Iterator[EosDouble]:
    with start_eos("r1") as device:
        yield device


def _eos_artifact(baseline: str, secret_text: str) -> str:
    """The baseline as a template renders it: the admin user's secret from ``secret_text``."""
    return re.sub(rf"^{EOS_USER} \S+$", f"{EOS_USER} {secret_text}", baseline, flags=re.M)


def test_eos_sha512_secret_compares_equal_after_the_load_and_a_changed_secret_does_not(
    eos: EosDouble,
) -> None:
    host, value = _host(eos, "eos"), rnd.token_urlsafe(12)
    secrets = {"admin": value}
    artifact = _eos_artifact(eos.baseline, "<<secret:admin:sha512>>")
    pushed = resolve_secrets(artifact, secrets)
    _deploy(host, pushed)
    shown = eos.running()
    assert shown.startswith("! Command: show running-config\n! device: r1 (")  # headers on top
    hashed = re.search(rf"^{EOS_USER} (\S+)$", shown, re.M)
    assert hashed is not None and FORMS["sha512"].matches(hashed[1], value)

    for intended in (pushed, artifact):
        seen = _compare(host, intended, secrets)
        assert seen.equal and seen.decided_by == "text", seen.diff
    _device_view_sees_no_change_for_a_new_salt(host, artifact, secrets)

    # an operator sets the same secret in clear: EOS hashes it with a salt of its own
    eos.set_running(_eos_artifact(eos.baseline, "").replace(" secret sha512 ", f" secret 0 {value}"))
    rehashed = re.search(rf"^{EOS_USER} (\S+)$", eos.running(), re.M)
    assert rehashed is not None and rehashed[1] != hashed[1] and FORMS["sha512"].matches(rehashed[1], value)
    assert _compare(host, pushed, secrets).equal

    other = rnd.token_urlsafe(12)  # another secret: a difference, never shown
    eos.set_running(_eos_artifact(eos.baseline, "").replace(" secret sha512 ", f" secret 0 {other}"))
    drift = _compare(host, pushed, secrets)
    assert not drift.equal
    assert "-username admin" in drift.diff and "+username admin" in drift.diff
    _hidden(drift.diff, value, other)


def test_eos_a_changed_line_beside_the_secret_is_still_drift(eos: EosDouble) -> None:
    host, secrets = _host(eos, "eos"), {"admin": rnd.token_urlsafe(12)}
    pushed = resolve_secrets(_eos_artifact(eos.baseline, "<<secret:admin:sha512>>"), secrets)
    _deploy(host, pushed)
    eos.set_running(eos.running().replace("hostname r1", "hostname r1-changed"))
    drift = _compare(host, pushed, secrets)
    changed = [
        line for line in drift.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")
    ]
    assert changed == ["-hostname r1", "+hostname r1-changed"]


def test_eos_a_later_plan_of_the_same_release_is_unchanged_and_the_device_keeps_its_hash(
    eos: EosDouble,
) -> None:
    host, secrets = _host(eos, "eos"), {"admin": rnd.token_urlsafe(12)}
    artifact = _eos_artifact(eos.baseline, "<<secret:admin:sha512>>")
    _deploy(host, resolve_secrets(artifact, secrets))
    before = eos.running()
    job = plan._Job(
        artifact,
        lambda text: resolve_secrets(text, secrets),
        secrets,
        (),
        lambda h: Device.open(h, attempts=1),
    )
    with Device.open(host, attempts=1) as device:
        seen = plan._inspect(device, "r1", artifact, job)
    assert seen.status is PlanStatus.UNCHANGED, seen.diff
    assert eos.running() == before


# ------------------------------------------------------------------------------------------------ Junos
@pytest.fixture
def junos() -> Iterator[JunosDouble]:
    with start_junos() as device:
        yield device


def _junos_artifact(key: str, root: str) -> str:
    """The vMX baseline with a BGP authentication key and a root password, as a template renders it."""
    text = default_baseline("r1")
    text = text.replace(
        "                peer-as 65002;\n",
        f'                peer-as 65002;\n                authentication-key "{key}";\n',
    )
    return text.replace(
        "    host-name r1;\n",
        f'    host-name r1;\n    root-authentication {{\n        encrypted-password "{root}";\n    }}\n',
    )


def test_junos_9_and_sha512_secrets_compare_equal_after_the_load_and_changed_ones_do_not(
    junos: JunosDouble,
) -> None:
    host = _host(junos, "junos")
    secrets: dict[str, Any] = {"bgp": rnd.token_urlsafe(12), "root": rnd.token_urlsafe(12)}
    artifact = _junos_artifact("<<secret:bgp:juniper9>>", "<<secret:root:sha512>>")
    pushed = resolve_secrets(artifact, secrets)
    _deploy(host, pushed)
    shown = junos.running()
    assert shown.startswith("## Last commit: ") and "; ## SECRET-DATA\n" in shown

    for intended in (pushed, artifact):
        seen = _compare(host, intended, secrets)
        assert seen.equal and seen.decided_by == "text", seen.diff
    _device_view_sees_no_change_for_a_new_salt(host, artifact, secrets)

    # the same key configured in clear: Junos keeps its own $9$ of it
    junos.set_running(_junos_artifact(secrets["bgp"], resolve_secrets("<<secret:root:sha512>>", secrets)))
    assert secrets["bgp"] not in junos.running()
    assert _compare(host, artifact, secrets).equal

    other = rnd.token_urlsafe(12)
    junos.set_running(_junos_artifact(other, resolve_secrets("<<secret:root:sha512>>", secrets)))
    drift = _compare(host, artifact, secrets)
    assert not drift.equal and "authentication-key" in drift.diff
    _hidden(drift.diff, secrets["bgp"], other)

    junos.set_running(pushed.replace("autonomous-system 65001;", "autonomous-system 65009;"))
    drift = _compare(host, artifact, secrets)
    assert "-    autonomous-system 65001;" in drift.diff and "+    autonomous-system 65009;" in drift.diff
