"""``netimmutable.yaml``: defaults, and every kind of invalid setting refused with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from netimmutable.errors import SettingsError
from netimmutable.settings import SETTINGS_FILE, Settings, load_settings, settings_from_mapping
from netimmutable.yamlio import load_yaml_text

from .netrepo_helpers import make_netrepo, run_cli


def _load(tmp_path: Path, text: str) -> Settings:
    (tmp_path / SETTINGS_FILE).write_text(text)
    return load_settings(tmp_path)


def _error(tmp_path: Path, text: str) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        _load(tmp_path, text)
    assert info.value.file == SETTINGS_FILE
    return info.value


def test_empty_file_means_all_defaults(tmp_path: Path) -> None:
    assert _load(tmp_path, "# nothing set\n") == Settings()


def test_values_are_read_and_ints_accepted_for_numbers(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        "approval_branch: release\nsnapshots_dir: out/configs\nignore_lines: ['^! time']\n"
        "deploy:\n  batch_size: 3\n  on_failure: rollback-all\n  settle_timeout: 5\n"
        "verify:\n  unreachable_is_failure: false\n",
    )
    assert s.approval_branch == "release"
    assert s.snapshots_dir == "out/configs"
    assert s.ignore_lines == ("^! time",)
    assert (s.deploy.batch_size, s.deploy.on_failure, s.deploy.workers) == (3, "rollback-all", 10)
    assert s.deploy.settle_timeout == 5.0 and isinstance(s.deploy.settle_timeout, float)
    assert s.verify.unreachable_is_failure is False


def test_cluster_settings(tmp_path: Path) -> None:
    s = _load(tmp_path, "cluster:\n  address: tcp://10.0.0.5:8786\n  site_key: site\n  connect_timeout: 3\n")
    assert (s.cluster.address, s.cluster.site_key, s.cluster.connect_timeout) == (
        "tcp://10.0.0.5:8786",
        "site",
        3.0,
    )
    assert Settings().cluster.address == ""  # the embedded default: no cluster


def test_the_file_init_writes_is_valid_and_equals_the_defaults(tmp_path: Path) -> None:
    make_netrepo(tmp_path / "net")
    assert load_settings(tmp_path / "net") == Settings()


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\napprovalbranch: main\n", 2, "unknown setting 'approvalbranch'"),
        ("deploy:\n  batch_size: 2\n  batchsize: 3\n", 3, "unknown setting 'deploy.batchsize'"),
        ("verify:\n  worker: 3\n", 2, "unknown setting 'verify.worker'"),
        ("deploy:\n  batch_size: ten\n", 2, "deploy.batch_size must be an integer, got 'ten'"),
        ("deploy:\n  batch_size: true\n", 2, "deploy.batch_size must be an integer, got True"),
        ("deploy:\n  batch_size: 2.5\n", 2, "deploy.batch_size must be an integer"),
        ("deploy:\n  revert_in: -1\n", 2, "deploy.revert_in must not be negative"),
        ("deploy:\n  settle_timeout: soon\n", 2, "deploy.settle_timeout must be a number"),
        ("deploy:\n  batch_size: 2\n  soak: soon\n", 3, "deploy.soak: soak must be 'auto' or a number"),
        ("deploy:\n  soak: -5\n", 2, "deploy.soak: soak must be 'auto' or a number of seconds >= 0"),
        ("deploy:\n  soak: true\n", 2, "deploy.soak: soak must be 'auto' or a number"),
        ("verify:\n  unreachable_is_failure: 1\n", 2, "must be true or false"),
        ("approval_branch: 7\n", 1, "approval_branch must be a string"),
        ("ignore_lines: '^!'\n", 1, "ignore_lines must be a list of strings"),
        ("ignore_lines: [1]\n", 1, "ignore_lines must be a list of strings"),
        (
            "deploy:\n  on_failure: panic\n",
            2,
            "deploy.on_failure must be one of stop, rollback-all, continue",
        ),
        ("deploy: 5\n", 1, "deploy must be a mapping"),
        ("inventory_dir: ../elsewhere\n", 1, "inventory_dir must be a path inside the repository"),
        ("templates_dir: /etc\n", 1, "templates_dir must be a path inside the repository"),
        ("snapshots_dir: out/../../x\n", 1, "snapshots_dir must be a path inside the repository"),
        ("connections_file: ../../conn.yaml\n", 1, "connections_file must be a path inside the repository"),
        # issue 14 item 5: patterns compiled at load, none that hides every line; numbers in range
        ("version: 1\nignore_lines: ['^snmp', '[']\n", 2, "ignore_lines[1] '[' is not a valid regular"),
        ("ignore_lines:\n  - '^snmp'\n  - ''\n", 1, "ignore_lines[1] '' matches the empty line"),
        ("ignore_lines: ['^$']\n", 1, "ignore_lines[0] '^$' matches the empty line"),
        ("ignore_lines: ['(?s).*']\n", 1, "matches the empty line"),
        ("ignore_lines: ['.']\n", 1, "ignore_lines[0] '.' matches every line"),
        ("ignore_lines: ['\\S']\n", 1, "matches every line"),
        ("ignore_lines: ['^.', 'x']\n", 1, "ignore_lines[0] '^.' matches every line"),
        ("ignore_lines: ['a{99999999999}']\n", 1, "is not a valid regular expression"),
        # issue 14: patterns that miss the probes above but hide what a device is or how it routes
        ("version: 1\nignore_lines: ['^(?!ZZZ$).']\n", 2, "matches 'hostname r1', a line that says what"),
        ("ignore_lines: ['^ip route 0\\.0\\.0\\.0/0']\n", 1, "matches 'ip route 0.0.0.0/0 blackhole'"),
        ("ignore_lines: ['^snmp', 'remote-as']\n", 1, "ignore_lines[1] 'remote-as' matches ' neighbor"),
        ("ignore_lines: ['^router']\n", 1, "matches 'router bgp 65001'"),
        ("ignore_lines: ['^(?!hostname|ip route).*[0-9]']\n", 1, "matches 'set system host-name r1'"),
        ("ignore_lines: ['route']\n", 1, "matches 'router bgp 65001'"),
        ("deploy:\n  batch_size: 0\n", 2, "deploy.batch_size must be at least 1, got 0"),
        ("version: 1\ndeploy:\n  workers: 0\n", 3, "deploy.workers must be at least 1"),
        ("deploy:\n  workers: 100000\n", 2, "deploy.workers must be at most 1000"),
        ("verify:\n  workers: 0\n", 2, "verify.workers must be at least 1"),
        ("deploy:\n  settle_interval: 0\n", 2, "deploy.settle_interval must be more than 0"),
        ("deploy:\n  revert_in: 9999999\n", 2, "deploy.revert_in must be at most 86400"),
        ("render:\n  max_output_bytes: 10\n", 2, "render.max_output_bytes must be at least 1024"),
        ("render:\n  max_seconds: 0\n", 2, "render.max_seconds must be more than 0"),
        ("cluster:\n  adress: tcp://x:8786\n", 2, "unknown setting 'cluster.adress'"),
        ("cluster:\n  address: 8786\n", 2, "cluster.address must be a string"),
        ("cluster:\n  connect_timeout: 0\n", 2, "cluster.connect_timeout must be more than 0"),
    ],
)
def test_invalid_settings_are_located(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    err = _error(tmp_path, text)
    assert fragment in err.message
    assert err.line == line
    assert fragment in err.message
    assert str(err).startswith(f"{SETTINGS_FILE}:{line}: ")


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    err = _error(tmp_path, "snapshot_dir: x\n")
    assert "known: " in err.message and "snapshots_dir" in err.message


def test_unsupported_version(tmp_path: Path) -> None:
    assert "unsupported settings version 2" in _error(tmp_path, "version: 2\n").message


def test_workers_must_be_at_least_one(tmp_path: Path) -> None:
    assert "at least 1" in _error(tmp_path, "deploy:\n  workers: 0\n").message


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "must be a mapping" in _error(tmp_path, "- a\n- b\n").message


def test_yaml_errors_in_settings_are_located(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"^netimmutable\.yaml:2: duplicate key") as info:
        _load(tmp_path, "version: 1\nversion: 1\n")
    assert info.value.__class__.__name__ == "InputError"


def test_settings_from_mapping_without_lines() -> None:
    with pytest.raises(SettingsError, match="unknown setting 'nope'"):
        settings_from_mapping({"nope": 1})
    assert settings_from_mapping(load_yaml_text("deploy: {canary: 2}\n", "s")).deploy.canary == 2


def test_cli_reports_a_settings_error_with_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "net"
    make_netrepo(root)
    settings = root / SETTINGS_FILE
    settings.write_text(settings.read_text() + "deploy_batch: 3\n")
    line = settings.read_text().count("\n")
    result = run_cli(["render", "--repo", str(root)])
    assert result.exit_code == 1
    assert f"error: {SETTINGS_FILE}:{line}: unknown setting 'deploy_batch'" in result.stderr
    assert not (root / "snapshots" / "a1.cfg").exists()


def test_ordinary_ignore_patterns_are_accepted(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text(
        "ignore_lines: ['^snmp-server location', 'ntp clock-period \\\\d+', '^! generated']\n"
    )
    assert load_settings(tmp_path).ignore_lines[0] == "^snmp-server location"


def test_a_bad_pattern_fails_verify_at_load_not_per_host(tmp_path: Path) -> None:
    """``["["]`` gave "internal error while verifying" for every host; now the settings file is named."""
    from tests.unit.verify_sim import make_sim_net

    net = make_sim_net(tmp_path / "net")
    (net.root / SETTINGS_FILE).write_text("version: 1\nignore_lines: ['[']\n")
    result = net.verify()
    assert result.exit_code == 1
    assert f"{SETTINGS_FILE}:2: " in result.stderr and "internal error" not in result.output


def test_a_pattern_that_hides_most_of_the_snapshots_is_refused_naming_one(tmp_path: Path) -> None:
    """A pattern written to miss every probe line (here: every top-level line but those the probes hold)
    still cannot hide most of what the devices run: measured on the committed snapshots."""
    lines = ["hostname r1", *(f"ip prefix-list PL seq {n} permit 10.{n}.0.0/16" for n in range(12))]
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "r1.cfg").write_text("\n".join([*lines, "router bgp 1", "!", "end"]) + "\n")
    (tmp_path / "snapshots" / "r2.cfg").write_text("hostname r2\nrouter bgp 2\n")
    sneaky = "^(?!hostname|interface|router|ip route|ipv6 route|neighbor|set |\\s)."
    err = _error(tmp_path, f"version: 1\nignore_lines:\n  - '^snmp'\n  - '{sneaky}'\n")
    assert err.line == 2 and "ignore_lines[1]" in err.message and "snapshots/r1.cfg" in err.message
    assert "12 of the 16 config lines" in err.message
    # the patterns together count too: each of these hides 6 of 16 lines, both 12
    halves = "ignore_lines: ['^ip prefix-list PL seq [0-5] ', '^ip prefix-list PL seq ([6-9]|1[01]) ']\n"
    assert "all 2 patterns together" in _error(tmp_path, halves).message
    # a pattern for a few lines is what ignore_lines is for
    assert _load(tmp_path, "ignore_lines: ['^ip prefix-list PL seq 1 ']\n").ignore_lines


def test_the_issue_pattern_no_longer_hides_an_injected_default_route(tmp_path: Path) -> None:
    """Issue 14: `^(?!ZZZ$).` passed the probe check; with it an injected default route on r1 gave
    "4 in-sync; exit 0". It is refused at load, at its line, before any device is asked."""
    from tests.unit.verify_sim import make_sim_net

    net = make_sim_net(tmp_path / "net")
    net.lab.edit("r1", add=["ip route 0.0.0.0/0 10.66.66.66"])
    (net.root / SETTINGS_FILE).write_text("version: 1\nignore_lines: ['^(?!ZZZ$).']\n")
    result = net.verify()
    assert result.exit_code == 1, result.output
    assert f"{SETTINGS_FILE}:2: " in result.stderr and "in-sync" not in result.output
    (net.root / SETTINGS_FILE).write_text("version: 1\n")
    assert net.verify().exit_code == 3  # the route is drift
