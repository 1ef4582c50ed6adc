"""``netimmutable metrics`` on a repository whose history the test writes: exact figures, every format.

The history (times UTC, "now" is 2024-06-30T00:00:00Z through ``--until``; ``--since 30d`` starts
2024-05-31T00:00:00Z):

    release 1   2024-04-30T00:00:00Z  rendered in 1.5 s (trailer)
    R1 deploy   2024-05-01T10:00:00Z +120 s   a1 deployed, b2 deployed
    R2 deploy   2024-05-20T10:00:00Z +100 s   a1 unchanged, b2 unchanged          (no change)
    release 2   2024-06-09T00:00:00Z  rendered in 2.5 s
    R3 deploy   2024-06-10T09:00:00Z +300 s   a1 deployed, b2 rolled back          restored in-run: 300 s
    R4 deploy   2024-06-20T12:00:00Z +600 s   a1 rollback-failed, b2 skipped       restored by R5: 1,920 s
    R5 rollback 2024-06-20T12:30:00Z +120 s   a1 deployed (its last-good again)
    R6 deploy   2024-06-25T08:00:00Z +240 s   c3 reverted (device timer)           restored in-run: 240 s
    R7 deploy   2024-06-28T08:00:00Z  +60 s   c3 unknown                           never restored
    R8 recover  2024-06-28T09:00:00Z  +30 s   c3 unknown again
    R9 deploy   2024-06-29T10:00:00Z +180 s   a1 deployed, b2 deployed
    R10 deploy  2024-07-05T10:00:00Z  +60 s   a1 deployed                          after "now": left out

Hosts: a1, b2 (templated, expectations), c3 (adopted verbatim: template adopted/c3.j2, no expectations),
d4 (templated, expectations, never deployed). Last verify: a1 in-sync 2024-05-20 (outside 30d), b2 drift
since 2024-06-28T02:00 (seen again 2024-06-29T02:00: 86,400 s), c3 in-sync then drift from
2024-06-29T01:00 to 03:00 (7,200 s), d4 no-baseline (never compared), z9 drift (removed from the
inventory since: not counted).
"""

from __future__ import annotations

import datetime as dt
import doctest
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from netimmutable import metrics as metrics_module
from netimmutable import metrics_report
from netimmutable.artifacts import RENDER_TRAILER, open_git
from netimmutable.inventory import load_inventory
from netimmutable.metrics import compute, parse_utc
from netimmutable.metrics_report import metrics_schema, to_json
from netimmutable.metrics_source import load_history
from netimmutable.records import HostOutcome, HostRecord, Records, RunRecord
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.verify_state import VerifyStateEntry, read_state_file, state_path, update_state_file
from tests.unit.netrepo_helpers import SMALL_NETWORK, git, head, make_netrepo, run_cli

NOW = "2024-06-30T00:00:00Z"
OUT = HostOutcome
EXTRA_HOSTS = """\
c3:
  hostname: 192.0.2.3
  platform: adopted
  data:
    template: adopted/c3.j2
d4:
  hostname: 192.0.2.4
  groups: [edge]
  data:
    loopback: 10.1.0.4/32
    links: []
"""
RUNS: list[tuple[str, str, str, int, dict[str, HostOutcome]]] = [
    ("R1", "deploy", "2024-05-01T10:00:00Z", 120, {"a1": OUT.DEPLOYED, "b2": OUT.DEPLOYED}),
    ("R2", "deploy", "2024-05-20T10:00:00Z", 100, {"a1": OUT.UNCHANGED, "b2": OUT.UNCHANGED}),
    ("R3", "deploy", "2024-06-10T09:00:00Z", 300, {"a1": OUT.DEPLOYED, "b2": OUT.ROLLED_BACK}),
    ("R4", "deploy", "2024-06-20T12:00:00Z", 600, {"a1": OUT.ROLLBACK_FAILED, "b2": OUT.SKIPPED}),
    ("R5", "rollback", "2024-06-20T12:30:00Z", 120, {"a1": OUT.DEPLOYED}),
    ("R6", "deploy", "2024-06-25T08:00:00Z", 240, {"c3": OUT.REVERTED}),
    ("R7", "deploy", "2024-06-28T08:00:00Z", 60, {"c3": OUT.UNKNOWN}),
    ("R8", "recover", "2024-06-28T09:00:00Z", 30, {"c3": OUT.UNKNOWN}),
    ("R9", "deploy", "2024-06-29T10:00:00Z", 180, {"a1": OUT.DEPLOYED, "b2": OUT.DEPLOYED}),
    ("R10", "deploy", "2024-07-05T10:00:00Z", 60, {"a1": OUT.DEPLOYED}),
]
VERIFIES = [  # written in this order, as successive verify runs would
    ("a1", "2024-05-20T02:00:00Z", "in-sync"),
    ("b2", "2024-06-28T02:00:00Z", "drift"),
    ("b2", "2024-06-29T02:00:00Z", "drift"),
    ("c3", "2024-06-27T02:00:00Z", "in-sync"),
    ("c3", "2024-06-29T01:00:00Z", "drift"),
    ("c3", "2024-06-29T03:00:00Z", "drift"),
    ("d4", "2024-06-29T03:00:00Z", "no-baseline"),
    ("z9", "2024-06-29T03:00:00Z", "drift"),  # no longer in the inventory: not counted
]


def _stamp(when: str, seconds: int) -> str:
    return (parse_utc(when) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _release(root: Path, when: str, render_seconds: str, message: str) -> str:
    """Render and commit a release at ``when`` whose trailer says it rendered in ``render_seconds``."""
    assert run_cli(["render", "--repo", str(root)]).exit_code == 0
    git(root, "add", "--all")
    body = f"{message}\n\n{RENDER_TRAILER}: {render_seconds}\n"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    env |= {
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    subprocess.run(["git", "commit", "--quiet", "--no-verify", "-m", body], cwd=root, env=env, check=True)
    return head(root)


def build_history(root: Path) -> NetworkRepo:
    files = dict(SMALL_NETWORK)
    files["inventory/hosts.yaml"] += EXTRA_HOSTS
    files["templates/adopted/c3.j2"] = "hostname c3\n! adopted verbatim\nend\n"
    repo = make_netrepo(root, files)
    first = _release(root, "2024-04-30T00:00:00Z", "1.500", "release 1")
    path = root / "inventory" / "groups.yaml"
    path.write_text(path.read_text().replace("10.0.0.3", "10.0.0.9"))
    second = _release(root, "2024-06-09T00:00:00Z", "2.500", "release 2")
    with open_git(repo) as gitrepo:
        records = Records(repo, gitrepo)
        for run_id, kind, start, seconds, outcomes in RUNS:
            hosts = tuple(HostRecord(h, o, release=second) for h, o in outcomes.items())
            run = RunRecord(run_id, kind, second, start, _stamp(start, seconds), "test", hosts)
            records.write_run(run, {})
        for host in ("a1", "b2", "c3"):
            records.mark_good(host, first, "R1")
    for host, when, state in VERIFIES:
        update_state_file(state_path(repo), [VerifyStateEntry(host, when, state, second)])
    return open_repo(root)


@pytest.fixture(scope="module")
def history_repo(tmp_path_factory: pytest.TempPathFactory) -> NetworkRepo:
    return build_history(tmp_path_factory.mktemp("metrics") / "net")


def stats(count: int, mean: float | None, median: float | None, top: float | None) -> dict[str, Any]:
    return {"count": count, "mean": mean, "median": median, "max": top}


RESTORES = {
    "automatic_rollbacks": 2,  # R3 b2, R6 c3
    "manual_rollbacks": 1,  # R5 a1
    "rollback_seconds": stats(3, 220.0, 240.0, 300.0),  # R3 300, R5 120, R6 240
    "restored": 3,
    "unrestored": 1,
    "unrestored_runs": ["R7"],
    "restore_seconds": stats(3, 820.0, 300.0, 1920.0),  # R3 300, R4 1,920 (R5's end), R6 240
}
COVERAGE = {
    "inventory_hosts": 4,
    "managed_hosts": 3,
    "managed_ratio": 0.75,
    "adopted_hosts": 1,
    "templated_hosts": 3,
    "expectations_hosts": 3,
    "unmanaged_hosts": ["d4"],
}
WINDOW_30D = {
    "label": "30d",
    "since_utc": "2024-05-31T00:00:00Z",
    "until_utc": NOW,
    "days": 30.0,
    "deployments": {
        "deploy_runs": 5,  # R3 R4 R6 R7 R9
        "deployments": 2,  # R3 R9
        "host_deployments": 3,
        "per_day": 0.0667,
        "changes": 5,
        "failed_changes": 4,  # R3 R4 R6 R7
        "change_failure_rate": 0.8,
    },
    "restores": RESTORES,
    "drift": {
        "verified_hosts": 2,  # b2, c3 (a1's last verify is older; d4's compared nothing)
        "drifting_hosts": 2,
        "rate": 1.0,
        "hosts": ["b2", "c3"],
        "drifting_seconds": stats(2, 46800.0, 46800.0, 86400.0),
    },
    "durations": {
        "deploy_seconds": stats(5, 276.0, 240.0, 600.0),
        "render_seconds": stats(1, 2.5, 2.5, 2.5),
    },
}
WINDOW_ALL = {
    "label": "all",
    "since_utc": None,
    "until_utc": NOW,
    "days": 61.0,  # from release 1
    "deployments": {
        "deploy_runs": 7,
        "deployments": 3,
        "host_deployments": 5,
        "per_day": 0.0492,  # 3 / 61
        "changes": 6,
        "failed_changes": 4,
        "change_failure_rate": 0.6667,
    },
    "restores": RESTORES,
    "drift": {
        "verified_hosts": 3,
        "drifting_hosts": 2,
        "rate": 0.6667,
        "hosts": ["b2", "c3"],
        "drifting_seconds": stats(2, 46800.0, 46800.0, 86400.0),
    },
    "durations": {
        "deploy_seconds": stats(7, 228.571, 180.0, 600.0),  # 1,600 / 7
        "render_seconds": stats(2, 2.0, 2.0, 2.5),
    },
}


def test_doctests() -> None:
    for module in (metrics_module, metrics_report):
        assert doctest.testmod(module).failed == 0


def test_exact_figures_of_a_known_history(history_repo: NetworkRepo) -> None:
    history = load_history(history_repo, load_inventory(history_repo))
    assert len(history.runs) == len(RUNS)
    figures = to_json(compute(history, parse_utc(NOW), "30d"))
    assert figures["coverage"] == COVERAGE
    assert figures["windows"] == [WINDOW_30D, WINDOW_ALL]


def test_cli_json_and_text(history_repo: NetworkRepo) -> None:
    args = ["metrics", "--since", "30d", "--until", NOW, "--repo", str(history_repo.root)]
    result = run_cli([*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, metrics_schema())
    assert report["schema_version"] == 1 and report["generated_utc"] == NOW
    assert report["windows"] == [WINDOW_30D, WINDOW_ALL]
    text = run_cli(args)
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert "coverage: 3 of 4 inventory host(s) managed (75.0%); 1 adopted verbatim, 3 templated" in out
    assert "not managed (never deployed): d4" in out
    assert "last 30d (since 2024-05-31T00:00:00Z)" in out and "all records (61 day(s))" in out
    assert "change failure rate 80.0% (4 of 5 change(s) failed)" in out
    assert "time to restore     median 5m 0s, mean 13m 40s, max 32m 0s (3 restored); " in out
    assert "not restored yet: 1 (R7)" in out
    assert "drift               2 of 2 verified host(s) (100.0%): b2, c3" in out
    assert "seen drifting for   median 13h 0m, mean 13h 0m, max 1d 0h (2 host(s))" in out
    assert "render duration     median 2.5s, mean 2.5s, max 2.5s (1 release(s))" in out


def test_since_is_relative_to_until_and_dates_work(history_repo: NetworkRepo) -> None:
    history = load_history(history_repo, load_inventory(history_repo))
    june = to_json(compute(history, parse_utc("2024-07-01T00:00:00Z"), "2024-06-01"))["windows"][0]
    assert june["since_utc"] == "2024-06-01T00:00:00Z" and june["days"] == 30.0
    assert june["deployments"]["deploy_runs"] == 5
    may = to_json(compute(history, parse_utc("2024-06-01T00:00:00Z"), "2024-05-01"))["windows"][0]
    assert may["deployments"] == {
        "deploy_runs": 2,
        "deployments": 1,
        "host_deployments": 2,
        "per_day": 0.0323,  # 1 / 31
        "changes": 1,
        "failed_changes": 0,
        "change_failure_rate": 0.0,
    }
    assert (
        may["restores"]["rollback_seconds"]["count"] == 0
        and may["restores"]["restore_seconds"]["mean"] is None
    )


def test_openmetrics_file_parses_as_openmetrics_and_prometheus_text(
    history_repo: NetworkRepo, tmp_path: Path
) -> None:
    out = tmp_path / "textfile" / "netimmutable.prom"
    out.parent.mkdir()
    result = run_cli(
        [
            "metrics",
            "--since",
            "30d",
            "--until",
            NOW,
            "--openmetrics",
            str(out),
            "--repo",
            str(history_repo.root),
        ]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.parent.iterdir()] == ["netimmutable.prom"]  # no temporary file left
    text = out.read_text()
    assert text.endswith("# EOF\n")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parse_openmetrics(text)
        for s in family.samples
    }
    assert samples[("netimmutable_managed_ratio", ())] == 0.75
    assert samples[("netimmutable_change_failure_ratio", (("window", "30d"),))] == 0.8
    assert samples[("netimmutable_change_failure_ratio", (("window", "all"),))] == 0.6667
    assert samples[("netimmutable_rollbacks", (("how", "manual"), ("window", "all")))] == 1
    key = ("netimmutable_restore_seconds", (("stat", "max"), ("window", "30d")))
    assert samples[key] == 1920
    assert samples[("netimmutable_drifting_hosts", (("window", "30d"),))] == 2
    assert samples[("netimmutable_metrics_generated_timestamp_seconds", ())] == parse_utc(NOW).timestamp()
    # what node_exporter's textfile collector reads: the Prometheus text format, the same samples
    prometheus = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in parse_prometheus(text) for s in f.samples
    }
    assert prometheus == samples


def test_empty_repository_has_no_rates(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    result = run_cli(["metrics", "--format", "json", "--repo", str(repo.root)])
    assert result.exit_code == 0, result.output
    jsonschema.validate(json.loads(result.stdout), metrics_schema())
    (window,) = json.loads(result.stdout)["windows"]
    assert window["days"] is None
    assert window["deployments"]["per_day"] is None
    assert window["deployments"]["change_failure_rate"] is None
    assert window["drift"]["rate"] is None
    assert json.loads(result.stdout)["coverage"]["managed_hosts"] == 0


@pytest.mark.parametrize("args", [["--since", "30 days"], ["--until", "yesterday"], ["--since", "5y"]])
def test_bad_period_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    repo = make_netrepo(tmp_path / "net")
    result = run_cli(["metrics", *args, "--repo", str(repo.root)])
    assert result.exit_code == 2
    assert "30d" in result.stderr or "2024-06-01" in result.stderr


def test_verify_state_streak_restarts_when_the_state_changes(tmp_path: Path) -> None:
    path = tmp_path / "verify-state.json"
    for when, state in [
        ("2024-06-01T00:00:00Z", "drift"),
        ("2024-06-02T00:00:00Z", "drift"),
        ("2024-06-03T00:00:00Z", "in-sync"),
        ("2024-06-04T00:00:00Z", "drift"),
        ("2024-06-05T00:00:00Z", "drift"),
    ]:
        update_state_file(path, [VerifyStateEntry("r1", when, state, "ab12")])
    entry = read_state_file(path)["r1"]
    assert (entry.since_utc, entry.when_utc) == ("2024-06-04T00:00:00Z", "2024-06-05T00:00:00Z")
    # a file written before since_utc existed: the streak starts at its last verify
    data = json.loads(path.read_text())
    del data["hosts"]["r1"]["since_utc"]
    path.write_text(json.dumps(data))
    update_state_file(path, [VerifyStateEntry("r1", "2024-06-06T00:00:00Z", "drift", "ab12")])
    assert read_state_file(path)["r1"].since_utc == "2024-06-05T00:00:00Z"


def test_rollback_time_and_time_to_restore_count_from_the_failed_check_when_hosts_say_when() -> None:
    # a 5-minute window: b2's checks failed at 10:03:00, its rollback verified at 10:03:40; a1 deployed
    b2 = HostRecord(
        "b2", OUT.ROLLED_BACK, failed_utc="2024-06-10T10:03:00Z", ended_utc="2024-06-10T10:03:40Z"
    )
    run = RunRecord(
        "R1",
        "deploy",
        "f" * 40,
        "2024-06-10T10:00:00Z",
        "2024-06-10T10:05:00Z",
        "me",
        (HostRecord("a1", OUT.DEPLOYED, ended_utc="2024-06-10T10:04:00Z"), b2),
    )
    old_style = RunRecord(  # a record written before per-host times: the run's own span, as before
        "R0",
        "deploy",
        "e" * 40,
        "2024-06-01T10:00:00Z",
        "2024-06-01T10:02:00Z",
        "me",
        (HostRecord("b2", OUT.ROLLED_BACK),),
    )

    figures = compute(metrics_module.History(runs=(old_style, run)), parse_utc(NOW))

    [overall] = figures.windows
    assert overall.restores.automatic_rollbacks == 2
    assert overall.restores.rollback_seconds.max == 120.0  # the old record: its run, 2 minutes
    assert overall.restores.rollback_seconds.count == 2 and overall.restores.rollback_seconds.mean == 80.0
    assert overall.restores.restore_seconds.count == 2
    assert overall.restores.restore_seconds.mean == 80.0  # (120 + 40) / 2: from b2's failed check, 40 s


def test_openmetrics_into_a_missing_folder_is_an_input_error_naming_it(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    target = tmp_path / "nonexistent" / "dir" / "x.prom"
    result = run_cli(["metrics", "--openmetrics", str(target), "--repo", str(repo.root)])
    assert result.exit_code == 1
    assert str(target) in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not target.parent.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "2024-06-02", "--until", "2024-06-01"],
        ["--since", "2024-06-01", "--until", "2024-06-01"],
        ["--since", "2999-01-01"],  # in the future
    ],
)
def test_a_period_that_ends_before_it_starts_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    repo = make_netrepo(tmp_path / "net")
    result = run_cli(["metrics", *args, "--repo", str(repo.root)])
    assert result.exit_code == 2
    assert f"--since {args[1]!r} is not before" in result.stderr


def test_deployments_per_day_over_less_than_a_day_count_one_day() -> None:
    """One deployment ten seconds into a history: 1 per day, not 8,640."""
    run = RunRecord(
        "R1",
        "deploy",
        "f" * 40,
        "2024-06-29T23:59:50Z",
        "2024-06-29T23:59:55Z",
        "me",
        (HostRecord("a1", OUT.DEPLOYED),),
    )
    [overall] = compute(metrics_module.History(runs=(run,)), parse_utc(NOW)).windows
    assert overall.days is not None and overall.days < 0.001
    assert overall.deployments.per_day == 1.0


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0412, "41ms"), (0.0004, "<1ms"), (0.5, "500ms"), (1.25, "1.2s"), (2.5, "2.5s"), (75.0, "1m 15s")],
)
def test_short_durations_keep_their_precision(seconds: float, shown: str) -> None:
    """A render of a few hosts takes milliseconds: shown as such, never "0.0s"."""
    assert metrics_report.duration(seconds) == shown
