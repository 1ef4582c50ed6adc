"""Canary test: secrets from every provider go to the devices and nowhere else.

A copy of the example network gets BGP session passwords from ``secret("bgp/<a>-<b>")``. Each password is
a unique random canary, provided through the environment, a 0600 secrets file outside the repository, or a
``secrets_command``. The whole cycle then runs through the CLI (render, commit, diff, plan --save, deploy
--plan with a device rejecting a password line, deploy, verify with reports, drift, show-running, an automatic
rollback, rollback by hand, status, history, recover, unlock). Afterwards every git object (records
included), every file of ``.git`` and ``.netimmutable`` (but the simulated devices themselves), every plan and
report file, every captured output and every log record is searched: zero hits. The devices, on the other
hand, must hold every value (so the test would also fail if nothing were sent).
"""

from __future__ import annotations

import json
import logging
import os
import secrets as pysecrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from netimmutable.cli import main
from netimmutable.connections import prepare_hosts
from netimmutable.drivers.sim import SimLab
from netimmutable.errors import InventoryError
from netimmutable.inventory import load_inventory
from netimmutable.lab import lab_down
from netimmutable.locks import locks_dir
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import init_repo
from netimmutable.secrets import SecretError, Secrets
from netimmutable.settings import Settings
from tests.unit.records_fixtures import BAD_CHANGE

SETTINGS = """\
version: 1
approval_branch: main
secrets_file: {secrets_file}
secrets_command: [{python}, {command}]
deploy:
  batch_size: 10
  workers: 10
  canary: 1
  max_failures: 1
  on_failure: stop
  revert_in: 60
  settle_timeout: 1.5
  settle_interval: 0.1
  soak: 0
compliance:  # per-feature lines in the reports must be masked too
  features:
    bgp: ["router bgp"]
"""

PASSWORD_LINE = (
    " neighbor {{ n.address }} password "
    '{{ secret("bgp/" ~ ([host.name, n.description] | sort | join("-"))) }}\n'
)
"""One password per BGP session, the same name on both ends (``bgp/r1-r2``)."""

SESSIONS = {"bgp/r1-r2": "env", "bgp/r1-r4": "env", "bgp/r2-r3": "file", "bgp/r3-r4": "command"}
"""Secret name -> the provider that holds its value."""
ENDS = {
    "bgp/r1-r2": ("r1", "r2"),
    "bgp/r1-r4": ("r1", "r4"),
    "bgp/r2-r3": ("r2", "r3"),
    "bgp/r3-r4": ("r3", "r4"),
}

COMMAND = """\
import sys
values = {values!r}
name = sys.argv[1]
if name not in values:
    sys.exit(1)
print(values[name])
"""


@dataclass
class CanaryNet:
    root: Path
    outside: Path
    """A folder outside the repository: secrets file, secrets command, plan and report files."""
    values: dict[str, str]
    first: str = ""
    captured: list[str] = field(default_factory=list)

    @property
    def lab(self) -> SimLab:
        return SimLab(self.root / ".netimmutable" / "lab" / "sim")

    def cli(self, *args: str, code: int | Sequence[int] = 0) -> str:
        result = CliRunner().invoke(main, [*args, "--repo", str(self.root)], catch_exceptions=False)
        text = result.stdout + result.stderr
        self.captured.append(f"$ netimmutable {' '.join(args)}\n{text}")
        codes = (code,) if isinstance(code, int) else tuple(code)
        assert result.exit_code in codes, f"netimmutable {' '.join(args)} -> {result.exit_code}\n{text}"
        return text

    def subprocess_cli(self, *args: str, code: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "netimmutable", *args, "--repo", str(self.root)],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
            timeout=120,
        )
        text = done.stdout + done.stderr
        self.captured.append(f"$ netimmutable {' '.join(args)} (subprocess)\n{text}")
        assert done.returncode == code, f"netimmutable {' '.join(args)} -> {done.returncode}\n{text}"
        return text

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    def head(self) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()


def _canary() -> str:
    return "canary" + pysecrets.token_hex(12)


@pytest.fixture
def canary_net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CanaryNet]:
    outside = tmp_path / "outside"
    outside.mkdir()
    values = {name: _canary() for name in SESSIONS}
    secrets_file = outside / "secrets.yaml"
    secrets_file.write_text("".join(f"{n}: {v}\n" for n, v in values.items() if SESSIONS[n] == "file"))
    secrets_file.chmod(0o600)
    command = outside / "secret_command.py"
    command.write_text(COMMAND.format(values={n: v for n, v in values.items() if SESSIONS[n] == "command"}))
    for name, value in values.items():
        if SESSIONS[name] == "env":
            monkeypatch.setenv(
                "NETIMMUTABLE_SECRET_" + name.upper().replace("/", "_").replace("-", "_"), value
            )

    root = init_repo(tmp_path / "network", example=True)
    (root / "netimmutable.yaml").write_text(
        SETTINGS.format(secrets_file=secrets_file, python=sys.executable, command=command)
    )
    net = CanaryNet(root, outside, values)
    net.cli("commit", "-m", "first release")
    net.first = net.head()
    net.cli("lab", "up", "--sim")
    try:
        yield net
    finally:
        lab_down(root)


def _files(folder: Path, skip: Path | None = None) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if skip is not None and path.is_relative_to(skip):
            continue
        if path.is_file():
            yield path


def _git_objects(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every object of the repository (reachable or not): sha -> (type, content)."""
    out = subprocess.run(
        ["git", "-C", str(root), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    objects: dict[str, tuple[str, bytes]] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        sha, kind, size = out[pos:end].decode().split()
        start = end + 1
        objects[sha] = (kind, out[start : start + int(size)])
        pos = start + int(size) + 1
    assert objects, "no git objects"
    return objects


VERIFY_TASK_LOG = "Running task '_verify_task' with args"
"""Nornir logs every task's arguments at INFO: verify's task context must not show resolved values."""


def _log_text(records: Sequence[logging.LogRecord], skip: str | None = None) -> str:
    return "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in records
        if skip is None or not r.getMessage().startswith(skip)
    )


def _with_passwords(net: CanaryNet) -> None:
    net.edit(
        "templates/frr/bgp.j2",
        " neighbor {{ n.address }} timers connect",
        PASSWORD_LINE + " neighbor {{ n.address }} timers connect",
    )


def _hits(values: dict[str, str], haystacks: dict[str, bytes]) -> list[str]:
    return [
        f"{name} found in {where}"
        for where, data in haystacks.items()
        for name, value in values.items()
        if value.encode() in data
    ]


def test_secrets_reach_the_devices_and_nothing_else(
    canary_net: CanaryNet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    net = canary_net
    outside = net.outside

    # baseline: every router on the first release (no secrets yet), recorded good
    net.cli("deploy", "--yes")

    # a release with BGP passwords: artifacts and review diffs hold placeholders
    _with_passwords(net)
    net.cli("render")
    net.cli("commit", "-m", "bgp session passwords")
    secured = net.head()
    assert (
        "neighbor 10.255.12.2 password <<secret:bgp/r1-r2>>"
        in (net.root / "snapshots" / "r1.cfg").read_text()
    )
    for fmt in ("text", "markdown", "json"):
        net.cli("diff", net.first, secured, "--format", fmt)

    # plan: the device's own diff holds the values it was sent; it is shown and saved masked
    plan = outside / "plan.json"
    out = net.cli("plan", "--save", str(plan), code=3)
    assert "password <<secret:bgp/r1-r2>>" in out
    net.cli("plan", "--format", "json", code=3)

    # deploy --plan, r3 refusing password lines: the device's error quotes the line, value included
    net.lab.set_knobs("r3", reject_pattern="password")
    out = net.cli("deploy", "--yes", "--plan", str(plan), "--canary", "0", "--on-failure", "continue", code=1)
    assert "Rejected by device policy" in out and "<<secret:bgp/r" in out
    net.lab.clear_knobs("r3")

    # the rest through the installed entry point (real stdout/stderr of a separate process)
    net.subprocess_cli("deploy", "--yes", "--format", "json")
    for name, (a, b) in ENDS.items():
        for host in (a, b):
            assert f"password {net.values[name]}" in net.lab.running(host), f"{host} did not get {name}"

    # scheduled verify with reports, in sync
    net.cli("verify", "-e", "-o", str(outside / "verify.json"), "-o", str(outside / "verify.xml"))
    # drift on a password line: shown masked in text, JSON and JUnit
    running = net.lab.running("r2")
    net.lab.set_running("r2", running.replace(net.values["bgp/r1-r2"], "out-of-band-value"))
    net.cli("verify", code=3)
    net.cli("verify", "-e", "-o", str(outside / "drift.json"), "-o", str(outside / "drift.xml"), code=3)
    net.cli("verify", "--format", "json", code=3)
    net.cli("show-running", "r2")
    net.cli("show-running", "r2", "--normalized")
    net.cli("rollback", "r2", "--yes")
    net.cli("verify", "--limit", "r2")

    # a bad release: r1 is rolled back automatically to the release with the secrets
    for rel, (old, new) in BAD_CHANGE.items():
        net.edit(rel, old, new)
    net.cli("commit", "-m", "r1: wrong remote-as")
    out = net.cli("deploy", "--yes", code=4)
    assert "rolled back" in out or "rolled-back" in out
    assert f"password {net.values['bgp/r1-r2']}" in net.lab.running("r1")

    # rollback by hand: to the first release and back to the one with secrets
    net.cli("rollback", "r1", "--yes", "--to", net.first)
    net.cli("rollback", "r1", "--yes", "--to", secured, "--format", "json")
    assert f"password {net.values['bgp/r1-r4']}" in net.lab.running("r1")

    for args in (
        ("status",),
        ("status", "--format", "json"),
        ("history",),
        ("history", "r1"),
        ("history", "--format", "json"),
        ("recover",),
        ("unlock",),
        ("diff",),
    ):
        net.cli(*args, code=(0, 3))

    # ----------------------------------------------------------------------------- search everywhere
    haystacks: dict[str, bytes] = {}
    objects = _git_objects(net.root)
    haystacks.update({f"git {kind} {sha}": data for sha, (kind, data) in objects.items()})
    refs = subprocess.run(
        ["git", "-C", str(net.root), "for-each-ref", "--format=%(refname) %(objectname)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "refs/netimmutable/runs" in refs and "refs/netimmutable/good/r1" in refs, refs
    for ref in (line.split()[0] for line in refs.splitlines()):
        log = subprocess.run(
            ["git", "-C", str(net.root), "log", "-p", "--all", "--format=fuller", ref, "--"],
            capture_output=True,
            check=True,
        ).stdout
        haystacks[f"git log -p {ref}"] = log
    lab_dir = net.lab.root
    for path in _files(net.root, skip=lab_dir):  # working tree, .git (refs, reflogs, packs), .netimmutable
        haystacks[str(path)] = path.read_bytes()
    for path in _files(outside):
        if path.name not in ("secrets.yaml", "secret_command.py"):  # the providers themselves
            haystacks[str(path)] = path.read_bytes()
    haystacks["captured output"] = "\n".join(net.captured).encode()
    haystacks["log records"] = _log_text(caplog.records).encode()

    # the search is real: placeholders travelled through git, plan and reports, and it finds the values
    # where they belong (the simulated devices)
    assert any(b"<<secret:bgp/r1-r2>>" in data for _, data in objects.values())
    assert b"<<secret:bgp/r" in (outside / "plan.json").read_bytes()
    assert b"<<secret:bgp/r1-r2>>" in (outside / "drift.json").read_bytes()
    drift_report = json.loads((outside / "drift.json").read_text())
    (bgp,) = next(h for h in drift_report["hosts"] if h["host"] == "r2")["features"]
    assert bgp["status"] == "drifted"
    assert any("password <<secret:bgp/r1-r2>>" in line for line in bgp["missing"])
    assert any("password <<masked>>" in line for line in bgp["extra"])
    assert {(outside / f).exists() for f in ("verify.json", "verify.xml", "drift.json", "drift.xml")} == {
        True
    }
    assert (open_repo(net.root).shared_dir / "journal").exists()
    device_files = {str(p): p.read_bytes() for p in _files(lab_dir)}
    assert {h.split(" found")[0] for h in _hits(net.values, device_files)} == set(net.values)

    assert _hits(net.values, haystacks) == []


def test_missing_secret_stops_before_any_device_is_touched(canary_net: CanaryNet) -> None:
    net = canary_net
    net.edit(
        "templates/frr/bgp.j2",
        " neighbor {{ n.address }} timers connect",
        " neighbor {{ n.address }} password {{ secret('bgp/nobody-has-this') }}\n"
        " neighbor {{ n.address }} timers connect",
    )
    net.cli("commit", "-m", "a secret without a value")
    before = {h: net.lab.state(h) for h in net.lab.hosts()}

    # every provider asked: the command (last) fails for the name, and says so without its output
    for args in (("deploy", "--yes"), ("plan",)):
        out = net.cli(*args, code=1)
        assert "secrets command exited 1 for 'bgp/nobody-has-this'" in out
    # no command configured: the message says how to provide the value
    net.edit("netimmutable.yaml", "secrets_command:", "# secrets_command:")
    out = net.cli("plan", code=1)
    assert "secret 'bgp/nobody-has-this' has no value" in out
    assert "NETIMMUTABLE_SECRET_BGP_NOBODY_HAS_THIS" in out

    assert {h: net.lab.state(h) for h in net.lab.hosts()} == before
    assert not list(locks_dir(open_repo(net.root)).glob("*.lock"))
    runs = subprocess.run(
        ["git", "-C", str(net.root), "for-each-ref", "refs/netimmutable/runs"],
        capture_output=True,
        check=True,
    ).stdout
    assert runs == b""  # no run was started, so none is recorded


def test_secrets_file_readable_by_others_is_refused(canary_net: CanaryNet) -> None:
    net = canary_net
    _with_passwords(net)
    net.cli("commit", "-m", "bgp session passwords")
    secrets_file = net.outside / "secrets.yaml"
    secrets_file.chmod(0o644)
    before = {h: net.lab.state(h) for h in net.lab.hosts()}

    out = net.cli("deploy", "--yes", code=1)

    assert "mode 0644" in out and f"chmod 600 {secrets_file}" in out
    assert {h: net.lab.state(h) for h in net.lab.hosts()} == before
    assert net.values["bgp/r2-r3"] not in out


def test_secrets_file_inside_the_repository_is_refused(canary_net: CanaryNet) -> None:
    net = canary_net
    inside = net.root / "secrets.yaml"
    inside.write_text("bgp/r2-r3: x\n")
    inside.chmod(0o600)
    net.edit("netimmutable.yaml", str(net.outside / "secrets.yaml"), str(inside))
    _with_passwords(net)
    net.cli("commit", "-m", "bgp session passwords")

    out = net.cli("plan", code=1)

    assert "must live outside the network repository" in out


def test_password_in_a_committed_inventory_file_is_refused(canary_net: CanaryNet) -> None:
    net = canary_net
    canary = _canary()
    net.edit(
        "inventory/hosts.yaml",
        "  hostname: 10.255.200.1\n",
        f"  hostname: 10.255.200.1\n  password: {canary}\n",
    )
    head = net.head()

    out = net.cli("commit", "-m", "a password in the inventory", code=1)

    assert "inventory/hosts.yaml" in out and "password" in out
    assert canary not in out
    assert net.head() == head  # nothing committed
    objects = subprocess.run(
        ["git", "-C", str(net.root), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    assert canary.encode() not in objects


def test_verify_task_log_holds_no_secret_values(
    canary_net: CanaryNet, caplog: pytest.LogCaptureFixture
) -> None:
    net = canary_net
    net.cli("deploy", "--yes")
    _with_passwords(net)
    net.cli("commit", "-m", "bgp session passwords")
    net.cli("deploy", "--yes")
    caplog.set_level(logging.DEBUG)
    caplog.clear()

    net.cli("verify")

    assert VERIFY_TASK_LOG in _log_text(caplog.records)  # the record is there ...
    assert _hits(net.values, {"log records": _log_text(caplog.records).encode()}) == []  # ... without values


def test_secret_with_a_newline_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = NetworkRepo(root=tmp_path, settings=Settings())
    monkeypatch.setenv("NETIMMUTABLE_SECRET_BGP_X", "pw\nrouter bgp 65999")  # would inject a config line
    with pytest.raises(SecretError, match="contains a newline") as caught:
        Secrets(repo).resolve(" neighbor 10.0.0.2 password <<secret:bgp/x>>\n")
    assert "65999" not in str(caught.value)


def test_password_in_connections_file_is_refused(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "network", example=True)
    canary = _canary()
    (root / ".netimmutable").mkdir(exist_ok=True)
    (root / ".netimmutable" / "connections.yaml").write_text(
        f"hosts:\n  r1:\n    hostname: 10.0.0.1\n    optional_args: {{password: {canary}}}\n"
    )
    repo = open_repo(root)
    with pytest.raises(InventoryError, match="passwords never go into files") as caught:
        prepare_hosts(repo, list(load_inventory(repo).hosts()))
    assert caught.value.file == ".netimmutable/connections.yaml" and caught.value.line == 2
    assert "NETIMMUTABLE_PASSWORD_R1" in str(caught.value) and canary not in str(caught.value)
