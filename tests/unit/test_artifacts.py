"""Releases in git: what a release commit holds, its trailers, no empty commits, other files left alone."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from netimmutable import __version__
from netimmutable.approval import check_approved
from netimmutable.artifacts import (
    DIGEST_TRAILER,
    VERSION_TRAILER,
    CommitResult,
    artifacts_digest,
    close_all_git,
    commit_release,
    dirty_paths,
    git_env,
    host_of,
    hosts_in,
    open_git,
    read_artifacts,
    resolve_release,
)
from netimmutable.errors import ApprovalError, RepoError
from netimmutable.inventory import load_inventory
from netimmutable.release_content import previous_release
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import NetworkRepo, open_repo

from .netrepo_helpers import commit_all, head, make_netrepo, write_files
from .netrepo_helpers import git as run_git


def _render_and_commit(repo: NetworkRepo, message: str | None = None) -> CommitResult:
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
    return commit_release(repo, open_git(repo), rendered, message)


def _files_at(root: Path, rev: str) -> list[str]:
    return sorted(run_git(root, "show", "--name-only", "--format=", rev).split())


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return make_netrepo(tmp_path / "net")


def test_artifacts_digest_is_order_independent_and_content_sensitive() -> None:
    a = artifacts_digest({"r1.cfg": "x\n", "r2.cfg": "y\n"})
    assert a == artifacts_digest({"r2.cfg": "y\n", "r1.cfg": "x\n"})
    assert a.startswith("sha256:") and len(a) == len("sha256:") + 64
    assert a != artifacts_digest({"r1.cfg": "y\n", "r2.cfg": "x\n"})  # names are part of it
    assert a != artifacts_digest({"r1.cfg": "x\n"})
    assert artifacts_digest({}) != a


def test_host_names_of_artifact_files() -> None:
    assert host_of("r1.cfg") == "r1"
    assert host_of("r1.expect.yaml") == "r1"
    assert host_of("edge.ber.1.cfg") == "edge.ber.1"
    assert hosts_in(["r2.cfg", "r1.expect.yaml", "r1.cfg"]) == ["r1", "r2"]


def test_release_commit_holds_inputs_and_snapshots_with_trailers(repo: NetworkRepo) -> None:
    result = _render_and_commit(repo, "first release")
    release = result.release
    assert release is not None
    assert release.sha == head(repo.root)
    assert release.summary == "first release"
    expected_files = [
        "snapshots/a1.cfg",
        "snapshots/a1.expect.yaml",
        "snapshots/b2.cfg",
        "snapshots/b2.expect.yaml",
    ]
    assert list(result.changed_files) == expected_files
    assert _files_at(repo.root, "HEAD") == expected_files
    message = run_git(repo.root, "log", "-1", "--format=%B")
    trailers = run_git(repo.root, "log", "-1", "--format=%(trailers:only,unfold)").split("\n")
    assert f"{VERSION_TRAILER}: {__version__}" in trailers
    committed = read_artifacts(open_git(repo), "HEAD", "snapshots")
    assert f"{DIGEST_TRAILER}: {artifacts_digest(committed)}" in trailers
    assert release.digest == artifacts_digest(committed)
    assert message.startswith("first release\n\n")
    assert dirty_paths(repo, open_git(repo)) == ()


def test_default_message_names_changed_devices(repo: NetworkRepo) -> None:
    release = _render_and_commit(repo).release
    assert release is not None
    assert release.summary == "release: 2 device(s) changed (a1, b2)"
    hosts = repo.inventory_dir / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.2/32", "10.1.0.22/32"))
    release = _render_and_commit(repo).release
    assert release is not None
    assert release.summary == "release: 1 device(s) changed (b2)"
    assert _files_at(repo.root, "HEAD") == ["inventory/hosts.yaml", "snapshots/b2.cfg"]


def test_no_empty_commit_when_nothing_changed(repo: NetworkRepo) -> None:
    assert _render_and_commit(repo).release is not None
    before = head(repo.root)
    result = _render_and_commit(repo, "again")
    assert result.release is None
    assert result.changed_files == ()
    assert head(repo.root) == before


def test_template_only_change_is_a_release_too(repo: NetworkRepo) -> None:
    assert _render_and_commit(repo).release is not None
    write_files(repo.root, {"templates/demo/README": "notes on the templates\n"})
    result = _render_and_commit(repo)
    assert result.release is not None
    assert result.release.summary == "release: 0 device(s) changed"
    assert _files_at(repo.root, "HEAD") == ["templates/demo/README"]


def test_unrelated_dirty_files_are_left_alone_and_reported(repo: NetworkRepo) -> None:
    write_files(repo.root, {"README.md": "hello\n"})
    commit_all(repo.root, "readme")
    write_files(
        repo.root, {"README.md": "edited\n", "notes/todo.txt": "untracked\n", "staged.txt": "staged\n"}
    )
    run_git(repo.root, "add", "staged.txt")
    result = _render_and_commit(repo, "release with others around")
    assert result.release is not None
    assert result.unrelated_dirty == ("README.md", "notes/todo.txt", "staged.txt")
    assert "README.md" not in _files_at(repo.root, "HEAD")
    assert "staged.txt" not in _files_at(repo.root, "HEAD")
    status = run_git(repo.root, "status", "--porcelain=v1").splitlines()
    assert sorted(status) == [" M README.md", "?? notes/", "A  staged.txt"]
    assert (repo.root / "README.md").read_text() == "edited\n"


def test_nothing_to_commit_still_reports_unrelated_files(repo: NetworkRepo) -> None:
    assert _render_and_commit(repo).release is not None
    write_files(repo.root, {"scratch.txt": "x\n"})
    result = _render_and_commit(repo)
    assert result.release is None
    assert result.unrelated_dirty == ("scratch.txt",)


def test_removed_host_removes_its_snapshots_in_the_release(repo: NetworkRepo) -> None:
    assert _render_and_commit(repo).release is not None
    write_files(
        repo.root,
        {"inventory/hosts.yaml": "a1:\n  groups: [core]\n  data: {loopback: 10.1.0.1/32, links: []}\n"},
    )
    result = _render_and_commit(repo)
    assert result.release is not None
    assert "snapshots/b2.cfg" in result.changed_files
    assert sorted(read_artifacts(open_git(repo), "HEAD", "snapshots")) == ["a1.cfg", "a1.expect.yaml"]


def test_git_env_falls_back_when_no_identity(repo: NetworkRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    gitrepo = open_git(repo)
    with gitrepo.config_writer() as cfg:
        cfg.set_value("user", "name", "Net Eng")
        cfg.set_value("user", "email", "neteng@example.net")
    assert git_env(gitrepo) == {}


def test_previous_release_and_resolve(repo: NetworkRepo) -> None:
    """The release before a commit is found by content (release_content), not by trailers."""
    gitrepo = open_git(repo)
    first = _render_and_commit(repo, "one").release
    assert first is not None
    assert previous_release(repo, gitrepo, first.sha) is None  # init and setup commits are not releases
    write_files(repo.root, {"README.md": "x\n"})
    commit_all(repo.root, "docs only: the snapshots of the release before")
    docs = run_git(repo.root, "rev-parse", "HEAD").strip()
    hosts = repo.inventory_dir / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.2/32", "10.1.0.22/32"))
    second = _render_and_commit(repo, "two").release
    assert second is not None
    prev = previous_release(repo, gitrepo, second.sha)
    assert prev is not None and prev.sha == docs
    snap = repo.settings.snapshots_dir
    assert read_artifacts(gitrepo, prev.sha, snap) == read_artifacts(gitrepo, first.sha, snap)
    assert resolve_release(gitrepo, "HEAD~1").digest is None  # a commit netimmutable did not make
    root = run_git(repo.root, "rev-list", "--max-parents=0", "HEAD").strip()
    assert previous_release(repo, gitrepo, root) is None
    with pytest.raises(RepoError, match="unknown revision 'nope'"):
        resolve_release(gitrepo, "nope")


def test_read_artifacts_ignores_other_files_and_missing_folder(repo: NetworkRepo) -> None:
    gitrepo = open_git(repo)
    assert read_artifacts(gitrepo, "HEAD", "no/such/dir") == {}
    write_files(repo.root, {"snapshots/notes.txt": "x\n"})
    _render_and_commit(repo)
    assert sorted(read_artifacts(gitrepo, "HEAD", "snapshots")) == [
        "a1.cfg",
        "a1.expect.yaml",
        "b2.cfg",
        "b2.expect.yaml",
    ]


def test_open_git_refuses_a_folder_without_git(tmp_path: Path) -> None:
    (tmp_path / "netimmutable.yaml").write_text("{}\n")
    with pytest.raises(RepoError, match="is not a git repository"):
        open_git(open_repo(tmp_path))


def test_check_approved(repo: NetworkRepo) -> None:
    gitrepo = open_git(repo)
    release = _render_and_commit(repo, "one").release
    assert release is not None
    assert check_approved(repo, gitrepo, "HEAD").sha == release.sha
    run_git(repo.root, "checkout", "--quiet", "-b", "feature")
    hosts = repo.inventory_dir / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.2/32", "10.1.0.22/32"))
    assert _render_and_commit(repo, "two").release is not None
    with pytest.raises(ApprovalError, match="not on the approval branch 'main'"):
        check_approved(repo, gitrepo, "HEAD")
    write_files(repo.root, {"scratch.txt": "x\n"})
    with pytest.raises(ApprovalError, match=r"working tree is not clean \(1 path\(s\): scratch.txt\)"):
        check_approved(repo, gitrepo, release.sha)
    assert check_approved(repo, gitrepo, release.sha, allow_dirty=True).sha == release.sha
    run_git(repo.root, "branch", "-m", "main", "old")
    with pytest.raises(ApprovalError, match="approval branch 'main' does not exist"):
        check_approved(repo, gitrepo, release.sha, allow_dirty=True)


def test_commit_fails_cleanly_when_git_refuses(repo: NetworkRepo) -> None:
    before = head(repo.root)
    write_files(repo.root, {"snapshots/x.cfg": "x\n"})
    (repo.root / ".git" / "index.lock").write_text("")  # another git process "holds" the index
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    with pytest.raises(RepoError, match=r"git commit failed: .*index\.lock"):
        commit_release(repo, open_git(repo), rendered, "x")
    assert head(repo.root) == before


def test_a_file_staged_by_another_program_during_the_commit_stays_out_of_the_release(
    repo: NetworkRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import git

    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
    (repo.root / "private.txt").write_text("not part of any release\n")

    def status_then_someone_stages(self: git.Git, *args: str, **kwargs: object) -> str:
        out = self._call_process("status", *args, **kwargs)
        run_git(repo.root, "add", "private.txt")  # an editor staging on save, between status and commit
        return str(out)

    monkeypatch.setattr(git.Git, "status", status_then_someone_stages, raising=False)
    result = commit_release(repo, open_git(repo), rendered, "release")
    assert result.release is not None
    files = _files_at(repo.root, result.release.sha)
    assert "private.txt" not in files and any(f.startswith("snapshots/") for f in files)
    assert run_git(repo.root, "status", "--porcelain", "private.txt").startswith("A ")  # still staged


def test_a_release_commit_moves_the_branch_by_one_commit_with_a_reflog_entry(repo: NetworkRepo) -> None:
    before = head(repo.root)
    (repo.root / "notes.txt").write_text("left alone, not staged\n")
    result = _render_and_commit(repo, "first release")
    assert result.release is not None
    assert run_git(repo.root, "rev-parse", "refs/heads/main").strip() == result.release.sha
    assert run_git(repo.root, "rev-parse", f"{result.release.sha}^").strip() == before
    assert run_git(repo.root, "reflog", "-1", "--format=%gs", "main").strip() == "commit: first release"
    assert all(f.startswith(("snapshots/", "inventory/", "templates/")) for f in _files_at(repo.root, "HEAD"))
    assert run_git(repo.root, "status", "--porcelain").strip() == "?? notes.txt"  # index matches the commit


def _helpers_running(gitrepo: git.Repo) -> list[int]:
    """Pids of the repo's persistent ``git cat-file`` helpers that are still running."""
    running = []
    for name in ("cat_file_all", "cat_file_header"):
        helper = getattr(gitrepo.git, name, None)
        proc = getattr(helper, "proc", None)
        if proc is not None and proc.poll() is None:
            running.append(proc.pid)
    return running


def test_every_repo_opened_is_closed_also_a_second_one_on_the_same_directory(repo: NetworkRepo) -> None:
    """A command's end closes every repo ``open_git`` handed out (``close_all_git``). ``git.Repo`` compares
    equal by directory, so the second repo opened on one directory was never tracked nor closed: its cat-file
    helpers were left to the garbage collector (a ResourceWarning in some later test, CI failing at random).
    A repo used again after a close is closed by the next one too."""
    first = open_git(repo)
    first.head.commit.tree["snapshots"]  # starts its cat-file helpers
    held = open_git(repo)
    assert held == first and held is not first
    held.head.commit.tree["snapshots"]  # starts the cat-file helpers
    assert _helpers_running(held)
    close_all_git()
    assert not _helpers_running(held) and not _helpers_running(first)
    held.head.commit.tree["snapshots"]  # used again after the command closed it
    assert _helpers_running(held)
    close_all_git()
    assert not _helpers_running(held)
