"""The repository commands through the CLI: init, repo discovery, commit, diff; one run of the real script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest

from netimmutable import __version__
from netimmutable.artifacts import (
    DIGEST_TRAILER,
    RENDER_TRAILER,
    VERSION_TRAILER,
    artifacts_digest,
    open_git,
    read_artifacts,
)
from netimmutable.repo import LOCAL_DIR, open_repo

from .netrepo_helpers import commit_all, git, head, make_netrepo, run_cli, write_files


def _change_b2(root: Path) -> None:
    hosts = root / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.2/32", "10.1.0.22/32"))


def _release(root: Path, message: str) -> str:
    result = run_cli(["commit", "-m", message, "--repo", str(root)])
    assert result.exit_code == 0, result.output
    return head(root)


# --- init --------------------------------------------------------------------------------------------------


def test_init_creates_layout_git_and_first_commit(tmp_path: Path) -> None:
    target = tmp_path / "mynet"
    result = run_cli(["init", str(target)])
    assert result.exit_code == 0
    assert f"created network repository {target}" in result.stdout
    for rel in (
        "netimmutable.yaml",
        "inventory/hosts.yaml",
        "inventory/groups.yaml",
        "inventory/defaults.yaml",
    ):
        assert (target / rel).is_file()
    assert (target / "templates").is_dir() and (target / "snapshots").is_dir()
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(target, "log", "--format=%s").splitlines() == ["netimmutable init"]
    assert git(target, "status", "--porcelain") == ""
    assert (target / ".gitignore").read_text().splitlines()[-1] == f"/{LOCAL_DIR}/"
    (target / LOCAL_DIR).mkdir()
    (target / LOCAL_DIR / "connections.yaml").write_text("hosts: {}\n")
    assert git(target, "status", "--porcelain") == ""  # local state is ignored
    # an empty repo renders nothing and is current
    result = run_cli(["render", "--check", "--repo", str(target)])
    assert result.exit_code == 0
    assert "snapshots are current (0 host(s))" in result.stdout


def test_init_into_an_existing_empty_folder(tmp_path: Path) -> None:
    assert run_cli(["init", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "netimmutable.yaml").is_file()


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me\n")
    result = run_cli(["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists and is not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["precious.txt"]
    assert (tmp_path / "precious.txt").read_text() == "keep me\n"


def test_init_example_copies_the_example_network(tmp_path: Path) -> None:
    target = tmp_path / "ex"
    result = run_cli(["init", str(target), "--example"])
    assert result.exit_code == 0
    assert "with the example network" in result.stdout
    top = Path(__file__).resolve().parents[2]
    assert (target / "inventory" / "hosts.yaml").read_bytes() == (
        top / "inventory" / "hosts.yaml"
    ).read_bytes()
    assert (target / "templates" / "frr" / "main.j2").is_file()
    # inputs only: the user's first commit renders the snapshots and is the first release
    assert [p.name for p in (target / "snapshots").iterdir()] == [".gitkeep"]
    assert git(target, "log", "--format=%s").splitlines() == ["netimmutable init (example network)"]
    assert git(target, "status", "--porcelain") == ""
    result = run_cli(["render", "--repo", str(target)])
    assert result.exit_code == 0
    assert "rendered 4 host(s); 8 file(s) changed" in result.stdout


def test_init_usage_error_without_directory() -> None:
    result = run_cli(["init"])
    assert result.exit_code == 2
    assert "Missing argument 'DIRECTORY'" in result.stderr


# --- finding the repository --------------------------------------------------------------------------------


def test_repo_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_netrepo(tmp_path / "net")
    monkeypatch.chdir(repo.root / "templates" / "demo")
    assert open_repo().root == repo.root
    result = run_cli(["render"])
    assert result.exit_code == 0
    assert (repo.snapshots_dir / "a1.cfg").is_file()


def test_repo_option_from_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_netrepo(tmp_path / "net")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 0
    assert (repo.snapshots_dir / "b2.cfg").is_file()


def test_no_repo_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(["render"])
    assert result.exit_code == 1
    assert "no netimmutable.yaml in" in result.stderr
    assert "netimmutable init DIR" in result.stderr


def test_repo_option_must_name_the_root(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    result = run_cli(["render", "--repo", str(repo.root / "inventory")])
    assert result.exit_code == 1
    assert "is not a network repository" in result.stderr


# --- commit ------------------------------------------------------------------------------------------------


def test_commit_renders_and_commits_a_release(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    result = run_cli(["commit", "-m", "first release", "--repo", str(repo.root)])
    assert result.exit_code == 0
    assert f"committed release {head(repo.root)[:10]}: first release" in result.stdout
    message = git(repo.root, "log", "-1", "--format=%B").rstrip("\n") + "\n"
    digest = artifacts_digest(read_artifacts(open_git(repo), "HEAD", "snapshots"))
    head_, render_line = message.rsplit("\n", 2)[:2]
    assert head_ + "\n" == f"first release\n\n{VERSION_TRAILER}: {__version__}\n{DIGEST_TRAILER}: {digest}\n"
    # how long `commit` took to render, for `netimmutable metrics`
    assert re.fullmatch(rf"{RENDER_TRAILER}: \d+\.\d{{3}}", render_line), render_line
    assert f"digest {digest}" in result.stdout
    assert git(repo.root, "status", "--porcelain") == ""
    # nothing changed: no empty commit
    before = head(repo.root)
    result = run_cli(["commit", "--repo", str(repo.root)])
    assert result.exit_code == 0
    assert "nothing to commit" in result.stdout
    assert head(repo.root) == before


@pytest.mark.parametrize("wait", [0.0, 0.05], ids=["same-tick", "later-tick"])
def test_commit_after_a_same_size_hand_edit_with_a_forged_mtime_commits_the_render(
    tmp_path: Path, wait: float
) -> None:
    repo = make_netrepo(tmp_path / "net")
    assert run_cli(["render", "--repo", str(repo.root)]).exit_code == 0
    assert run_cli(["render", "--check", "--repo", str(repo.root)]).exit_code == 0  # the stat table path
    time.sleep(wait)
    path = repo.snapshots_dir / "a1.cfg"
    rendered, before = path.read_bytes(), path.stat()
    edited = rendered.replace(b"a1", b"aX", 1)
    assert edited != rendered and len(edited) == len(rendered)
    path.write_bytes(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = run_cli(["render", "--check", "--repo", str(repo.root)])
    assert result.exit_code == 3 and "stale     snapshots/a1.cfg" in result.stdout
    assert run_cli(["commit", "-m", "one", "--repo", str(repo.root)]).exit_code == 0
    assert path.read_bytes() == rendered
    assert git(repo.root, "show", "HEAD:snapshots/a1.cfg").encode() == rendered
    assert git(repo.root, "status", "--porcelain") == ""


def test_commit_with_a_staged_file_outside_the_release_and_a_rename_into_it(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    _release(repo.root, "one")
    write_files(repo.root, {"notes.txt": "mine\n"})
    commit_all(repo.root, "notes")
    git(repo.root, "mv", "notes.txt", "templates/notes.txt")  # staged: a deletion outside, an add inside
    write_files(repo.root, {"staged.txt": "staged\n"})
    git(repo.root, "add", "staged.txt")
    result = run_cli(["commit", "-m", "two", "--format", "json", "--repo", str(repo.root)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["changed_files"] == ["templates/notes.txt"]
    shown = git(repo.root, "show", "--name-only", "--format=", "HEAD").split()
    assert "templates/notes.txt" in shown and "staged.txt" not in shown
    assert "A  staged.txt" in git(repo.root, "status", "--porcelain").splitlines()


def test_commit_json_and_unrelated_files(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    write_files(repo.root, {"scratch.txt": "mine\n", "other.txt": "staged\n"})
    git(repo.root, "add", "other.txt")
    result = run_cli(["commit", "--format", "json", "--repo", str(repo.root)])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["release"] == head(repo.root)
    assert payload["digest"].startswith("sha256:")
    assert payload["unrelated_dirty"] == ["other.txt", "scratch.txt"]
    assert "snapshots/a1.cfg" in payload["changed_files"]
    assert git(repo.root, "show", "--name-only", "--format=", "HEAD").split().count("other.txt") == 0
    assert sorted(git(repo.root, "status", "--porcelain").splitlines()) == ["?? scratch.txt", "A  other.txt"]
    result = run_cli(["commit", "--repo", str(repo.root)])
    assert "left alone (2 unrelated change(s)): other.txt, scratch.txt" in result.stderr


def test_commit_with_a_render_error_commits_and_writes_nothing(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    _release(repo.root, "one")
    before = head(repo.root)
    snapshot = (repo.snapshots_dir / "b2.cfg").read_bytes()
    _change_b2(repo.root)
    write_files(repo.root, {"templates/demo/main.j2": "hostname {{ host.name }}\n{{ hostnme }}\n"})
    result = run_cli(["commit", "-m", "broken", "--repo", str(repo.root)])
    assert result.exit_code == 1
    assert "templates/demo/main.j2:2, host a1: undefined variable" in result.stderr
    assert head(repo.root) == before
    assert (repo.snapshots_dir / "b2.cfg").read_bytes() == snapshot


# --- diff --------------------------------------------------------------------------------------------------


@pytest.fixture
def two_releases(tmp_path: Path) -> Path:
    repo = make_netrepo(tmp_path / "net")
    _release(repo.root, "one")
    _change_b2(repo.root)
    _release(repo.root, "two")
    return repo.root


def test_diff_defaults_to_last_deployed_or_previous_release_vs_head(two_releases: Path) -> None:
    root = two_releases
    one, two = git(root, "rev-parse", "HEAD~1", "HEAD").split()
    result = run_cli(["diff", "--repo", str(root)])
    assert result.exit_code == 0
    text = result.stdout
    # nothing deployed yet: every device compares with the release before HEAD
    assert text.startswith(f"1 device(s) differ between last deployed and {two[:10]}\n")
    assert f"--- {one[:10]}/b2.cfg\n+++ {two[:10]}/b2.cfg\n" in text
    assert "- ip address 10.1.0.2/32\n+ ip address 10.1.0.22/32\n" in text
    assert "a1" not in text.split("=== b2")[0].split("expectations")[1]  # unchanged device left out
    assert "\x1b[" not in text  # no colour when not on a terminal
    explicit = run_cli(["diff", one, two, "--repo", str(root)]).stdout
    assert explicit.startswith(f"1 device(s) differ between {one[:10]} and {two[:10]}\n")
    assert explicit.split("\n", 1)[1] == text.split("\n", 1)[1]


def test_diff_default_shows_a_removed_device(two_releases: Path) -> None:
    root = two_releases
    hosts = root / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().split("b2:")[0])
    _release(root, "b2 leaves")
    for args in (["diff"], ["diff", "HEAD~1", "HEAD"]):
        payload = json.loads(run_cli([*args, "--format", "json", "--repo", str(root)]).stdout)
        assert [(h["host"], h["change"]) for h in payload["hosts"]] == [("b2", "removed")], args


def test_diff_skips_non_release_commits_for_the_default_base(two_releases: Path) -> None:
    root = two_releases
    write_files(root, {"README.md": "docs\n"})
    commit_all(root, "docs only")
    result = run_cli(["diff", "--repo", str(root)])
    assert result.exit_code == 0
    assert result.stdout.startswith("no device changes between")


def test_diff_default_base_is_the_previous_release_by_content_not_by_trailer(two_releases: Path) -> None:
    """A release made with plain git (a squash, a revert: no digest trailer) is the base of the next one."""
    root = two_releases
    plain = root / "inventory" / "hosts.yaml"
    plain.write_text(plain.read_text().replace("10.1.0.22/32", "10.1.0.23/32"))
    assert run_cli(["render", "--repo", str(root)]).exit_code == 0
    commit_all(root, "squash of a merge request (no trailer)")
    plain.write_text(plain.read_text().replace("10.1.0.23/32", "10.1.0.24/32"))
    _release(root, "four")
    squash = git(root, "rev-parse", "HEAD~1").strip()

    for args in (["diff"], ["diff", "--format", "json"]):
        result = run_cli([*args, "--repo", str(root)])
        assert result.exit_code == 0, result.output
        assert "10.1.0.23/32" in result.stdout and "10.1.0.22/32" not in result.stdout, result.stdout
    text = run_cli(["diff", "--repo", str(root)]).stdout
    assert f"--- {squash[:10]}/b2.cfg" in text
    one_arg = run_cli(["diff", "--format", "json", "--repo", str(root), "--", "HEAD"])  # A only: B is HEAD
    assert json.loads(one_arg.stdout)["hosts"] == []


def test_diff_of_the_first_release_shows_every_host_added(tmp_path: Path) -> None:
    repo = make_netrepo(tmp_path / "net")
    _release(repo.root, "one")
    payload = json.loads(run_cli(["diff", "--format", "json", "--repo", str(repo.root)]).stdout)
    assert payload["from"] == "last deployed"
    assert [(h["host"], h["change"]) for h in payload["hosts"]] == [("a1", "added"), ("b2", "added")]


def test_diff_markdown_and_json(two_releases: Path) -> None:
    root = str(two_releases)
    md = run_cli(["diff", "--format", "markdown", "--repo", root]).stdout
    assert md.startswith("### netimmutable: 1 device(s) change between `")
    assert "| `b2` | changed | 1 | 1 | - |" in md
    assert md.count("<details>") == 1
    payload = json.loads(run_cli(["diff", "--format", "json", "--repo", root]).stdout)
    assert [(h["host"], h["added"], h["removed"], h["expectations_changed"]) for h in payload["hosts"]] == [
        ("b2", 1, 1, False)
    ]


def test_diff_expectations_changed_flag(two_releases: Path) -> None:
    root = two_releases
    write_files(
        root,
        {"templates/demo/expect.j2": "- get_facts:\n    hostname: {{ host.name }}\n- get_interfaces: {}\n"},
    )
    _release(root, "three")
    payload = json.loads(run_cli(["diff", "--format", "json", "--repo", str(root)]).stdout)
    assert [(h["host"], h["added"], h["expectations_changed"]) for h in payload["hosts"]] == [
        ("a1", 0, True),
        ("b2", 0, True),
    ]
    text = run_cli(["diff", "--repo", str(root)]).stdout
    assert text.splitlines()[3].split() == ["a1", "changed", "0", "0", "changed"]


def test_diff_limit_exit_code_and_colour(two_releases: Path) -> None:
    root = str(two_releases)
    result = run_cli(["diff", "HEAD~1", "HEAD", "--limit", "a1", "--exit-code", "--repo", root])
    assert result.exit_code == 0
    assert result.stdout.startswith("no device changes")
    result = run_cli(["diff", "HEAD~2", "HEAD", "--limit", "a1,b2", "--exit-code", "--repo", root])
    assert result.exit_code == 3
    assert "=== b2 (added, +" in result.stdout and "=== a1 (added" in result.stdout
    coloured = run_cli(["diff", "--repo", root], color=True).stdout
    assert "\x1b[32m+ ip address 10.1.0.22/32" in coloured
    assert "\x1b[31m- ip address 10.1.0.2/32" in coloured


def test_diff_unknown_revision(two_releases: Path) -> None:
    result = run_cli(["diff", "nope", "--repo", str(two_releases)])
    assert result.exit_code == 1
    assert "unknown revision 'nope'" in result.stderr


# --- the installed script ----------------------------------------------------------------------------------


def test_help_shows_examples_and_exit_codes() -> None:
    result = run_cli(["--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.stdout and "3  changes or drift found" in result.stdout
    for command in ("init", "render", "commit", "diff"):
        sub = run_cli([command, "--help"])
        assert sub.exit_code == 0 and "Examples:" in sub.stdout, command
    assert run_cli(["--version"]).stdout == f"netimmutable, version {__version__}\n"


def test_installed_script_runs_the_story(tmp_path: Path) -> None:
    # the script pip installed beside this interpreter: found whether or not its folder is on PATH (a venv's
    # python run by its full path, as the README's commands allow)
    script = str(Path(sysconfig.get_path("scripts")) / "netimmutable")
    assert Path(script).is_file(), f"no netimmutable console script at {script} (pip install -e .)"
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.net"}
    env.update(GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.net")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)

    assert run("init", "net", "--example", cwd=tmp_path).returncode == 0
    net = tmp_path / "net"
    assert run("commit", "-m", "first", cwd=net).returncode == 0
    assert run("render", "--check", cwd=net / "inventory").returncode == 0
    hosts = net / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.255.101.0/24", "10.255.111.0/24", 1))
    check = run("render", "--check", cwd=net)
    assert check.returncode == 3
    assert "stale     snapshots/r1.cfg" in check.stdout
    assert run("commit", "-m", "r1: new prefix", cwd=net).returncode == 0
    diff = run("diff", "--format", "json", cwd=net)
    assert diff.returncode == 0
    assert [h["host"] for h in json.loads(diff.stdout)["hosts"]] == ["r1"]
    bad = run("diff", "no-such-rev", cwd=net)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert "error: unknown revision 'no-such-rev'" in bad.stderr


def test_folders_spelled_with_dot_or_trailing_slash_are_committed_as_a_release(tmp_path: Path) -> None:
    target = tmp_path / "net"
    assert run_cli(["init", str(target), "--example"]).exit_code == 0
    settings = target / "netimmutable.yaml"
    text = settings.read_text()
    text = text.replace("snapshots_dir: snapshots ", "snapshots_dir: ./snapshots ")
    text = text.replace("inventory_dir: inventory ", "inventory_dir: inventory/ ")
    assert "./snapshots" in text and "inventory/ " in text
    settings.write_text(text)
    git(target, "commit", "-q", "-am", "folders spelled differently")
    assert open_repo(target).settings.snapshots_dir == "snapshots"
    assert open_repo(target).settings.inventory_dir == "inventory"
    first = _release(target, "first release")
    files = git(target, "show", "--name-only", "--format=", first).split()
    assert "snapshots/r1.cfg" in files and "snapshots/r4.expect.yaml" in files
    hosts = target / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("description: to r2", "description: uplink to r2", 1))
    second = _release(target, "r1 uplink")
    files = git(target, "show", "--name-only", "--format=", second).split()
    assert sorted(files) == ["inventory/hosts.yaml", "snapshots/r1.cfg", "snapshots/r1.expect.yaml"]
    assert git(target, "status", "--porcelain") == ""


def test_a_template_git_ignores_is_refused_before_the_release(tmp_path: Path) -> None:
    target = tmp_path / "net"
    assert run_cli(["init", str(target), "--example"]).exit_code == 0
    before = head(target)
    main = target / "templates" / "frr" / "main.j2"
    (target / "templates" / "frr" / "banner.j2").write_text("! managed by netimmutable\n")
    main.write_text('{% include "frr/banner.j2" %}\n' + main.read_text())
    (target / ".git" / "info" / "exclude").write_text("banner.j2\n.*.swp\n")
    (target / "templates" / "frr" / ".main.j2.swp").write_text(
        "an editor's swap file\n"
    )  # hidden: left alone
    result = run_cli(["commit", "-m", "with an ignored include", "--repo", str(target)])
    assert result.exit_code == 1, result.output
    assert "templates/frr/banner.j2: git ignores this input file" in result.stderr
    assert head(target) == before  # nothing committed
    (target / ".git" / "info" / "exclude").write_text(".*.swp\n")
    assert run_cli(["commit", "-m", "with the include", "--repo", str(target)]).exit_code == 0
    assert "templates/frr/banner.j2" in git(target, "show", "--name-only", "--format=", "HEAD").split()
