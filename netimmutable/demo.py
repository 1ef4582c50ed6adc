"""``netimmutable demo``: the whole story on simulated devices, in a temporary folder, no privileges.

1. ``init --example``: a network repository with the example network (four routers, eBGP in a ring);
2. ``lab up --sim``: simulated devices running the example's configs;
3. a good change (r1 announces one more prefix), committed as a release, planned and deployed: verified and
   confirmed;
4. a bad change (r2 expects the wrong AS from r1), committed and deployed: the post-checks see the BGP
   session down, r2 is rolled back automatically to its last-good release and verified (exit code 4);
5. ``status``: every router on its last-good release, and how the last run ended.

Each step runs the real command, as a user would type it, and says what to look for.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from netimmutable.errors import NetImmutableError

__all__ = ["DEMO_SETTINGS", "run_demo"]

DEMO_SETTINGS = """\
# netimmutable settings of the demo: simulated devices converge at once, so short timers
version: 1
approval_branch: main
deploy:
  batch_size: 10
  workers: 10
  canary: 1
  max_failures: 1
  on_failure: stop
  revert_in: 60                 # seconds; the simulated routers have a device-side revert timer
  settle_timeout: 4             # seconds post-checks keep polling before they call it a failure
  settle_interval: 0.25
  soak: 1                       # seconds the checks must keep holding before the confirm (default: auto)
"""

_GOOD_FROM = "    announce: [10.255.101.0/24]\n"
_GOOD_TO = "    announce: [10.255.101.0/24, 10.255.111.0/24]\n"
_ROUTE_FROM = "      - {prefix: 10.255.101.0/24, nexthop: blackhole}\n"
_ROUTE_TO = _ROUTE_FROM + "      - {prefix: 10.255.111.0/24, nexthop: blackhole}\n"
_BAD = re.compile(r"(\{address: 10\.255\.12\.1, remote_as: )65001")


class _Story:
    def __init__(self, root: Path, console: Console) -> None:
        self.root = root
        self.console = console
        self.failures: list[str] = []

    def say(self, text: str) -> None:
        self.console.print(f"\n[bold cyan]>>[/] {text}")

    def run(self, args: Sequence[str], expect: int = 0) -> int:
        """Run a netimmutable command in-process, as typed by a user (``--repo`` added)."""
        from netimmutable.cli import main

        shown = " ".join(args)
        self.console.print(f"[bold]$ netimmutable {shown}[/]")
        full = list(args) if args[0] == "init" else [*args, "--repo", str(self.root)]
        code = main.main(args=full, prog_name="netimmutable", standalone_mode=False)
        code = int(code or 0)
        if code != expect:
            self.failures.append(f"`netimmutable {shown}` exited {code}, expected {expect}")
            self.console.print(f"[bold red]unexpected exit code {code} (expected {expect})[/]")
        else:
            self.console.print(f"[dim](exit code {code})[/]")
        return code

    def edit(self, path: str, change: Callable[[str], str], what: str) -> None:
        file = self.root / path
        before = file.read_text(encoding="utf-8")
        after = change(before)
        if after == before:
            raise NetImmutableError(f"demo: could not apply '{what}'", file=path)
        file.write_text(after, encoding="utf-8")
        self.console.print(f"[bold]edit[/] {path}: {what}")


def _good_change(text: str) -> str:
    return text.replace(_GOOD_FROM, _GOOD_TO, 1).replace(_ROUTE_FROM, _ROUTE_TO, 1)


def _bad_change(text: str) -> str:
    section = text.index("\nr2:")
    return text[:section] + _BAD.sub(r"\g<1>65009", text[section:], count=1)


def _story(story: _Story) -> None:
    root = story.root
    story.say("A network repository with the example network: four FRR-syntax routers, eBGP in a ring.")
    story.run(["init", str(root), "--example"])
    (root / "netimmutable.yaml").write_text(DEMO_SETTINGS, encoding="utf-8")
    story.run(["commit", "-m", "first release: the example network"])

    story.say("Simulated devices (no privileges), already running that first release.")
    story.run(["lab", "up", "--sim"])

    story.say(
        "Record the running state: deploy the first release. Nothing to change; each router is verified."
    )
    story.run(["deploy", "--yes"])

    story.say("A good change: r1 announces one more prefix. Render, commit a release, plan it.")
    story.edit("inventory/hosts.yaml", _good_change, "r1 announces 10.255.111.0/24 (and a blackhole route)")
    story.run(["commit", "-m", "r1: announce 10.255.111.0/24"])
    story.run(["plan"], expect=3)

    story.say(
        "Deploy it: r1 (the canary) is pushed with a device-side revert timer, post-checks pass, "
        "the commit is confirmed and r1 is recorded good on this release."
    )
    story.run(["deploy", "--yes"])

    story.say("A bad change: r2 now expects AS 65009 from r1 (r1 is AS 65001). The diff looks harmless.")
    story.edit("inventory/hosts.yaml", _bad_change, "r2's neighbour 10.255.12.1 remote_as 65001 -> 65009")
    story.run(["commit", "-m", "r2: fix r1 peering (wrong AS)"])
    story.run(["diff"])

    story.say(
        "Deploy it: r2's post-checks see the BGP session to r1 down, so r2 is rolled back automatically to "
        "its last-good release and verified. Exit code 4 says: verification failed, rolled back."
    )
    story.run(["deploy", "--yes"], expect=4)

    story.say("Where everything stands: each router's last-good release, and how the last run ended.")
    story.run(["status"])
    story.run(["history", "--max-count", "3"])


def run_demo(directory: Path | None = None, *, keep: bool = False, console: Console | None = None) -> bool:
    """Run the story; True when every step ended as it should."""
    out = console or Console(highlight=False, soft_wrap=True)
    base = Path(tempfile.mkdtemp(prefix="netimmutable-demo-")) if directory is None else directory.resolve()
    root = base / "network" if directory is None else base
    story = _Story(root, out)
    started = time.monotonic()
    try:
        _story(story)
    except NetImmutableError as exc:
        story.failures.append(str(exc))
        out.print(f"[bold red]demo failed:[/] {escape(str(exc))}")
    finally:
        if not keep:
            _cleanup(root, base if directory is None else None)
    elapsed = time.monotonic() - started
    if story.failures:
        out.print(f"\n[bold red]the demo did not go as expected ({elapsed:.1f}s):[/]")
        for failure in story.failures:
            out.print(f"  - {escape(failure)}")
        return False
    where = (
        f"kept in {root} (`netimmutable lab down --repo {root}` removes the lab)" if keep else "cleaned up"
    )
    out.print(f"\n[bold green]demo complete[/] in {elapsed:.1f}s; {where}.")
    return True


def _cleanup(root: Path, temporary: Path | None) -> None:
    try:
        from netimmutable.lab import lab_down

        if root.exists():
            lab_down(root)
    except NetImmutableError:
        pass
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)
