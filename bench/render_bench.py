"""Render: `netimmutable render` vs a bare Jinja2 loop (the limit) vs Nornir + nornir_jinja2 (the usual peer).

All three read the same ``inventory/`` and ``templates/`` and write ``<host>.cfg`` + ``<host>.expect.yaml``;
their outputs are compared byte for byte, so no pipeline is measured doing less work than the others.
netimmutable renders cold (no cache) twice: on every core (the default) and in one process
(``--processes 1``); both outputs are compared. Then the incremental path: the tree is committed, one
host's data changes in ``hosts.yaml`` and ``netimmutable commit`` (render of what changed + git) is timed
against the cold render.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import BenchResult, Timing, quiet, timed
from bench.synth import SynthSpec, mutate_hosts, write_network
from netimmutable.procpool import resolve_processes

__all__ = ["run"]

FULL_HOSTS = 2000
QUICK_HOSTS = 60


def _cli(root: Path, *args: str) -> None:
    """The real command path: the click entry point, in process."""
    from netimmutable.cli import main

    with quiet():
        code = main([*args, "--repo", str(root)], standalone_mode=False)
    if code not in (None, 0):
        raise RuntimeError(f"netimmutable {' '.join(args)} exited {code}")


def _netimmutable_render(root: Path, *args: str) -> None:
    _cli(root, "render", *args)


def _forget(root: Path) -> None:
    """Back to cold: no local cache, no snapshots."""
    shutil.rmtree(root / ".netimmutable", ignore_errors=True)
    shutil.rmtree(root / "snapshots", ignore_errors=True)
    (root / "snapshots").mkdir()


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _peak_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _bare_render(root: Path, out: Path) -> None:
    """The limit: plain CSafeLoader + jinja2.Environment + write, inheritance done by hand."""
    import jinja2
    import yaml

    from netimmutable.filters import FILTERS, TESTS

    inv = root / "inventory"
    with (inv / "hosts.yaml").open("rb") as f:
        hosts = yaml.load(f, Loader=yaml.CSafeLoader)
    with (inv / "groups.yaml").open("rb") as f:
        groups = yaml.load(f, Loader=yaml.CSafeLoader)
    with (inv / "defaults.yaml").open("rb") as f:
        defaults = yaml.load(f, Loader=yaml.CSafeLoader)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root / "templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - device configs, not HTML
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    out.mkdir(parents=True, exist_ok=True)
    for name, spec in hosts.items():
        context: dict[str, Any] = dict(defaults.get("data") or {})
        platform = defaults.get("platform")
        for group in reversed(spec.get("groups") or []):
            context.update(groups[group].get("data") or {})
            platform = groups[group].get("platform") or platform
        context.update(spec.get("data") or {})
        context["host"] = SimpleNamespace(name=name, hostname=spec.get("hostname"), platform=platform)
        config = env.get_template(context["template"]).render(context)
        if not config.endswith("\n"):
            config += "\n"
        expect = env.get_template(context["expect_template"]).render(context)
        if not expect.endswith("\n"):
            expect += "\n"
        (out / f"{name}.cfg").write_text(config)
        (out / f"{name}.expect.yaml").write_text(expect)


def _nornir_render(root: Path, out: Path) -> None:
    """The usual peer pipeline: InitNornir(SimpleInventory) + template_file + write_file, threaded runner."""
    import jinja2
    from nornir import InitNornir
    from nornir.core.task import Task
    from nornir_jinja2.plugins.tasks import template_file
    from nornir_utils.plugins.tasks.files import write_file

    from netimmutable.filters import FILTERS, TESTS

    inv = root / "inventory"
    nr = InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": 20}},
        inventory={
            "plugin": "SimpleInventory",
            "options": {
                "host_file": str(inv / "hosts.yaml"),
                "group_file": str(inv / "groups.yaml"),
                "defaults_file": str(inv / "defaults.yaml"),
            },
        },
        logging={"enabled": False},
    )
    # One shared, identically configured environment (the fastest correct use of template_file: with
    # `path=` it would build a new Environment and recompile every template for every host).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root / "templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - device configs, not HTML
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    out.mkdir(parents=True, exist_ok=True)

    def render_task(task: Task) -> None:
        data = dict(task.host.items())
        entry, expect_entry = data.pop("template"), data.pop("expect_template")
        config = task.run(task=template_file, template=entry, jinja_env=env, **data).result
        expect = task.run(task=template_file, template=expect_entry, jinja_env=env, **data).result
        task.run(task=write_file, filename=str(out / f"{task.host.name}.cfg"), content=config)
        task.run(task=write_file, filename=str(out / f"{task.host.name}.expect.yaml"), content=expect)

    result = nr.run(task=render_task)
    if result.failed:
        first = next(iter(result.failed_hosts.values()))
        raise RuntimeError(f"nornir render failed: {first.exception or first[0].result}")


def _load_inventory_only(root: Path) -> None:
    from netimmutable.inventory import load_inventory
    from netimmutable.repo import open_repo

    load_inventory(open_repo(root))


def _same_outputs(a: Path, b: Path) -> tuple[int, list[str]]:
    names = sorted(p.name for p in a.iterdir() if not p.name.startswith("."))
    differ = [n for n in names if (a / n).read_bytes() != (b / n).read_bytes()]
    return len(names), differ


def _one_host_commit(root: Path, spec: SynthSpec) -> tuple[Timing, int, list[str]]:
    """Commit the rendered tree (git), change one host's data, time ``netimmutable commit``."""
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Bench")
    _git(root, "config", "user.email", "bench@example.invalid")
    _git(root, "config", "commit.gpgsign", "false")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "first")
    changed = mutate_hosts(root, spec, spec.hosts, generation=1)  # host 0 only
    with timed() as one:
        _cli(root, "commit", "-m", "one host changed")
    committed = subprocess.run(
        ["git", "diff", "--name-only", "HEAD~1", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.split()
    return one, changed, committed


def _compare_outputs(folder: Path, result: BenchResult) -> None:
    files, differ_bare = _same_outputs(folder / "single", folder / "bare")
    _files, differ_peer = _same_outputs(folder / "single", folder / "nornir")
    _files, differ_parallel = _same_outputs(folder / "single", folder / "parallel")
    result.inputs["outputs_identical"] = not differ_bare and not differ_peer
    result.inputs["parallel_identical_to_one_process"] = not differ_parallel
    if differ_bare or differ_peer or differ_parallel:
        result.notes.append(
            f"outputs differ: {len(differ_bare)} file(s) vs bare, {len(differ_peer)} vs nornir, "
            f"{len(differ_parallel)} parallel vs one process "
            f"(first: {(differ_bare or differ_peer or differ_parallel)[0]})"
        )
    result.inputs["files_written"] = files


def run(work: Path, quick: bool, hosts: int | None = None) -> BenchResult:
    count = hosts or (QUICK_HOSTS if quick else FULL_HOSTS)
    spec = SynthSpec(hosts=count)
    result = BenchResult("render")
    root = work / "render" / "net"
    root.mkdir(parents=True)
    write_network(root, spec)
    hosts_bytes = (root / "inventory" / "hosts.yaml").stat().st_size
    result.inputs = {
        "hosts": count,
        "interfaces_per_host": spec.interfaces,
        "hosts_yaml_bytes": hosts_bytes,
        "yaml_bytes_per_host": round(hosts_bytes / count),
        "templates": len(list((root / "templates").rglob("*.j2"))),
        "files_per_host": 2,
    }

    with timed() as bare:
        _bare_render(root, work / "render" / "bare")
    with timed() as single:
        _netimmutable_render(root, "--processes", "1")
    shutil.copytree(root / "snapshots", work / "render" / "single")
    _forget(root)
    rss_before = _peak_rss_mib(resource.RUSAGE_SELF)
    with timed() as full:
        _netimmutable_render(root)
    rss_parent = _peak_rss_mib(resource.RUSAGE_SELF)
    rss_worker = _peak_rss_mib(resource.RUSAGE_CHILDREN)
    shutil.copytree(root / "snapshots", work / "render" / "parallel")
    with timed() as again:
        _netimmutable_render(root)
    with timed() as load:
        _load_inventory_only(root)
    with timed() as peer:
        _nornir_render(root, work / "render" / "nornir")

    one, changed, committed = _one_host_commit(root, spec)

    sample = (root / "snapshots" / "leaf-00000.cfg").read_text()
    result.inputs["config_lines_per_host"] = sample.count("\n")
    _compare_outputs(work / "render", result)
    result.inputs["hosts_changed_for_commit"] = changed
    result.inputs["commit_changed_files"] = committed
    if committed != ["inventory/hosts.yaml", "snapshots/leaf-00000.cfg"]:
        result.notes.append(f"the one-host commit changed {committed}")

    result.figure(
        "netimmutable render",
        full.wall,
        "s",
        f"cold, every core ({resolve_processes(0)} processes); {count / full.wall:.0f} hosts/s; "
        f"cpu of this process {full.cpu:.2f} s",
    )
    result.figure(
        "netimmutable render --processes 1",
        single.wall,
        "s",
        f"cold, one process; {count / single.wall:.0f} hosts/s; cpu {single.cpu:.2f} s",
    )
    result.figure(
        "peak RSS: this process / largest worker",
        rss_parent,
        "MiB",
        f"{rss_worker:.0f} MiB largest worker; {rss_before:.0f} MiB before the render",
    )
    result.figure(
        "commit, one host changed",
        one.wall,
        "s",
        f"of {count}: render of what changed + git; cpu {one.cpu:.2f} s",
    )
    result.figure(
        "bare jinja2 loop", bare.wall, "s", f"{count / bare.wall:.0f} hosts/s; cpu {bare.cpu:.2f} s"
    )
    result.figure(
        "nornir + nornir_jinja2", peer.wall, "s", f"{count / peer.wall:.0f} hosts/s; cpu {peer.cpu:.2f} s"
    )
    result.figure(
        "re-render, nothing changed",
        again.wall,
        "s",
        f"{count / again.wall:.0f} hosts/s; cpu {again.cpu:.2f} s",
    )
    result.figure("  of which load_inventory", load.wall, "s", "measured alone")
    result.figure("netimmutable hosts/s", count / full.wall, "hosts/s")
    result.figure("bare hosts/s", count / bare.wall, "hosts/s")
    result.figure("nornir hosts/s", count / peer.wall, "hosts/s")
    result.ratio("render vs bare jinja2", ("netimmutable render", full.wall), ("bare", bare.wall), "<=", 0.6)
    result.ratio(
        "render one process vs bare jinja2",
        ("netimmutable render --processes 1", single.wall),
        ("bare", bare.wall),
        "<=",
        1.25,
    )
    result.ratio(
        "commit one host changed vs full render",
        ("commit, one host changed", one.wall),
        ("full render", full.wall),
        "<=",
        0.05,
    )
    result.ratio(
        "nornir pipeline vs render",
        ("nornir + nornir_jinja2", peer.wall),
        ("netimmutable", full.wall),
        ">=",
        3.0,
    )
    result.ratio(
        "re-render unchanged vs full", ("re-render", again.wall), ("full render", full.wall), "<=", 0.10
    )
    return result
