"""``python -m bench [--quick] [--only render,release,...]``: every comparison in one process run.

Generates its inputs in a temporary folder, prints a table, writes ``bench/results.json``.
See docs/performance.md for what each figure means and what bounds it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.common import BenchResult, machine_info
from bench.report import format_table, write_results

BENCHMARKS = ("render", "release", "changewindow", "verify", "frr", "masking", "strategy", "cluster")
_MODULES = {
    "render": "bench.render_bench",
    "release": "bench.release_bench",
    "changewindow": "bench.changewindow_bench",
    "verify": "bench.verify_bench",
    "frr": "bench.frr_bench",
    "masking": "bench.masking_bench",
    "strategy": "bench.strategy_bench",
    "cluster": "bench.cluster_bench",
}
# Imported before anything is timed, so no pipeline is billed for importing its libraries.
_PRELOAD = (
    "jinja2",
    "jinja2.sandbox",
    "yaml",
    "git",
    "nornir",
    "nornir_jinja2.plugins.tasks",
    "nornir_utils.plugins.tasks.files",
    "netimmutable.cli",
    "netimmutable.inventory",
    "netimmutable.render",
    "netimmutable.artifacts",
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of seconds (CI)")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {','.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results.json", help="where to write the JSON"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs (path is printed)")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    args.selected = [name for name in BENCHMARKS if name in wanted]
    return args


def _preload() -> None:
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"warning: cannot import {name}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    _preload()
    machine = machine_info()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results: list[BenchResult] = []
    work = Path(tempfile.mkdtemp(prefix="netimmutable-bench-"))
    print(f"netimmutable benchmarks ({'quick' if args.quick else 'full'}): {', '.join(args.selected)}")
    print(f"machine: {machine['cpu_count']} cpu, python {machine['python']}, inputs in {work}")
    try:
        for name in args.selected:
            module = importlib.import_module(_MODULES[name])
            run: Callable[..., BenchResult] = module.run
            folder = work / name
            folder.mkdir()
            print(f"-- {name} ...", flush=True)
            t0 = time.perf_counter()
            try:
                result = run(folder, args.quick)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others
                traceback.print_exc()
                result = BenchResult(name, status="error", reason=f"{type(exc).__name__}: {exc}")
            result.seconds = time.perf_counter() - t0
            results.append(result)
            if result.status == "skipped":
                print(f"   skipped: {result.reason}")
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(format_table(results))
    run_info = {
        "started_utc": started,
        "quick": args.quick,
        "only": args.selected,
        "argv": sys.argv[1:] if argv is None else argv,
    }
    write_results(args.out, machine, run_info, results)
    print(f"\nwrote {args.out}")
    return 1 if any(r.status == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
