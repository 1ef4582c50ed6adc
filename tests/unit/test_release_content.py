"""The content rule (netimmutable.release_content): a commit's snapshots against the render of its own
inputs, taken out of git (never the working tree), cached by input digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from netimmutable import release_content
from netimmutable.artifacts import open_git
from netimmutable.errors import ApprovalError
from netimmutable.release_content import check_content, require_content
from netimmutable.repo import NetworkRepo, open_repo
from tests.unit.netrepo_helpers import commit_all, git, head, make_netrepo, run_cli, write_files

__all__: list[str] = []


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    root = make_netrepo(tmp_path / "net").root
    assert run_cli(["commit", "-m", "first", "--repo", str(root)]).exit_code == 0
    return open_repo(root)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = release_content._render_commit

    def counted(*args: object) -> dict[str, str]:
        calls.append(str(args[1]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(release_content, "_render_commit", counted)
    return calls


def test_a_release_holds_and_the_second_check_is_served_from_the_cache(
    repo: NetworkRepo, renders: list[str]
) -> None:
    gitrepo = open_git(repo)
    first = head(repo.root)
    write_files(repo.root, {"README.txt": "not an input\n"})
    second = commit_all(repo.root, "docs only: same inputs")
    git(repo.root, "checkout", "-q", "--detach", second)
    git(repo.root, "commit", "-q", "--allow-empty", "-m", "HEAD elsewhere")  # first, second: not HEAD
    assert check_content(repo, gitrepo, first).holds
    assert check_content(repo, gitrepo, first).holds
    assert renders == [first]
    assert check_content(repo, gitrepo, second).holds
    assert renders == [first]  # same input digest: no second render


def test_head_of_a_clean_working_tree_is_checked_without_rendering_it_again(
    repo: NetworkRepo, renders: list[str]
) -> None:
    """`netimmutable commit` left the stat table current: the working tree's render answers for HEAD."""
    assert check_content(repo, open_git(repo), head(repo.root)).holds
    assert renders == []


def test_an_edited_working_tree_is_not_read(repo: NetworkRepo) -> None:
    """Uncommitted edits of the inputs do not change what a commit renders to."""
    hosts = repo.inventory_dir / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.2/32", "10.1.0.22/32"))
    assert check_content(repo, open_git(repo), head(repo.root)).holds


def test_a_hand_edited_snapshot_names_the_file(repo: NetworkRepo) -> None:
    cfg = repo.snapshots_dir / "a1.cfg"
    cfg.write_text(cfg.read_text() + "extra\n")
    sha = commit_all(repo.root, "hand edit")
    result = check_content(repo, open_git(repo), sha)
    assert not result.holds and result.differs == ("a1.cfg",) and not result.missing
    with pytest.raises(ApprovalError, match=r"a1\.cfg") as refused:
        require_content(repo, open_git(repo), sha, allow_stale=False)
    assert "b2.cfg" not in str(refused.value)
    note = require_content(repo, open_git(repo), sha, allow_stale=True)
    assert note is not None and "a1.cfg" in note


def test_inputs_that_do_not_render_are_a_refusal_not_a_crash(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "{{ undefined_variable }}\n"})
    sha = commit_all(repo.root, "broken template, snapshots not rendered")
    result = check_content(repo, open_git(repo), sha)
    assert not result.holds and result.error is not None and "undefined_variable" in result.error


def test_a_removed_host_left_in_snapshots_is_extra(repo: NetworkRepo) -> None:
    hosts = repo.inventory_dir / "hosts.yaml"
    text = hosts.read_text()
    hosts.write_text(text[: text.index("b2:")])
    sha = commit_all(repo.root, "b2 removed from the inventory, its snapshot kept")
    result = check_content(repo, open_git(repo), sha)
    assert result.extra and all(name.startswith("b2.") for name in result.extra)
    git(repo.root, "rm", "-q", *(f"snapshots/{name}" for name in result.extra))
    assert check_content(repo, open_git(repo), commit_all(repo.root, "snapshot removed")).holds


def test_a_later_process_checks_known_snapshots_without_reading_a_blob(
    repo: NetworkRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitrepo = open_git(repo)
    first = head(repo.root)
    write_files(repo.root, {"README.txt": "not an input\n"})
    second = commit_all(repo.root, "docs only: same inputs, same snapshots tree")
    assert check_content(repo, gitrepo, first).holds
    monkeypatch.setattr(release_content, "_MEMO", {})  # as a new process would start

    def no_blobs(*_args: object) -> dict[str, str]:
        raise AssertionError("read a snapshot blob")

    monkeypatch.setattr(release_content, "read_artifacts", no_blobs)
    assert check_content(repo, gitrepo, second).holds
