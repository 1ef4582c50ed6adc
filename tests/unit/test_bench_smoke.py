"""`python -m bench --quick` runs end to end and writes results.json of the documented shape (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "render,release", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["machine"]["cpu_count"] >= 1
    assert {"python", "versions"} <= set(data["machine"])
    assert {"netimmutable", "jinja2", "nornir", "git"} <= set(data["machine"]["versions"])
    assert data["run"]["quick"] is True
    assert set(data["benchmarks"]) == {"render", "release"}
    for bench in data["benchmarks"].values():
        assert bench["status"] == "ok", bench
        assert bench["inputs"]
        assert bench["figures"]
        for figure in bench["figures"]:
            assert {"name", "value", "unit"} <= set(figure)
        for ratio in bench["ratios"]:
            assert {"name", "value", "target", "passed", "numerator", "denominator"} <= set(ratio)
            assert isinstance(ratio["passed"], bool)
    render = data["benchmarks"]["render"]
    assert render["inputs"]["outputs_identical"] is True
    assert render["inputs"]["parallel_identical_to_one_process"] is True
    assert render["inputs"]["commit_changed_files"] == ["inventory/hosts.yaml", "snapshots/leaf-00000.cfg"]
    assert {r["name"] for r in render["ratios"]} == {
        "render vs bare jinja2",
        "render one process vs bare jinja2",
        "commit one host changed vs full render",
        "nornir pipeline vs render",
        "re-render unchanged vs full",
    }
    assert data["benchmarks"]["release"]["inputs"]["same_git_tree"] is True
    assert "summary" in data


def test_quick_device_benches_run(tmp_path: Path) -> None:
    """Change window and verify over sim devices (their expectations must hold), frr skipped in --quick."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "changewindow,verify,frr", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    benches = json.loads(out.read_text())["benchmarks"]
    window = benches["changewindow"]
    assert window["status"] == "ok", window
    hosts = window["inputs"]["hosts"]
    assert window["inputs"]["outcomes"] == {"deployed": hosts}
    assert window["inputs"]["deploy_exit_code"] == 0
    assert window["inputs"]["commits_per_host"] == [1]
    assert {r["name"] for r in window["ratios"]} == {"deploy vs model"}
    verify = benches["verify"]
    assert verify["status"] == "ok", verify
    assert verify["inputs"]["states"] == {"in-sync": verify["inputs"]["hosts"]}
    assert benches["frr"]["status"] == "skipped" and benches["frr"]["reason"]


def test_quick_masking_bench_runs(tmp_path: Path) -> None:
    """The masking bench masks every generated secret and recognizes every value in a form of a known one."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "masking", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    masking = json.loads(out.read_text())["benchmarks"]["masking"]
    assert masking["status"] == "ok", masking
    inputs = masking["inputs"]
    # 2 users' sha512 hashes, every neighbour's type 7 password, the TACACS key: all of a known secret
    assert inputs["placeholders_after_normalize"] == 2 + inputs["neighbors"] + 1
    assert {r["name"] for r in masking["ratios"]} == {
        "mask with NAPALM filters vs without",
        "normalize with secrets vs without",
        "normalize with secrets (warm) vs without",
    }


def test_quick_strategy_bench_measures_every_strategy_both_ways(tmp_path: Path) -> None:
    """The strategy bench compares through NAPALM's real eos driver and finds the device in sync, then one
    line off, with every strategy (it asserts each verdict itself); each figure is there."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "strategy", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    strategy = json.loads(out.read_text())["benchmarks"]["strategy"]
    assert strategy["status"] == "ok", strategy
    names = {f["name"] for f in strategy["figures"]}
    for label in ("in sync", "one line changed"):
        assert {
            f"text: {label}",
            f"device: {label}",
            f"text-first: {label}",
            f"device / text, {label}",
        } <= names
