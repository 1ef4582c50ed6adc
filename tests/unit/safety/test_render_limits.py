"""Rendered output is bounded and printable (issue 14, items 7 and 8): a template cannot write a huge
snapshot, hang the render, or put control characters into a config; each refusal names host and file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netimmutable.errors import RenderError
from netimmutable.inventory import load_inventory
from netimmutable.render import render_hosts
from netimmutable.repo import NetworkRepo, open_repo
from tests.unit.netrepo_helpers import make_netrepo, run_cli, snapshot_files, write_files

_BIG = 50_000_000  # over the 16 MiB default, small enough that the old code's answer fits in memory


def _error(repo: NetworkRepo, template: str) -> RenderError:
    write_files(repo.root, {"templates/demo/main.j2": template})
    started = time.monotonic()
    with pytest.raises(RenderError) as info:
        render_hosts(open_repo(repo.root), load_inventory(repo).hosts())
    assert time.monotonic() - started < 10
    return info.value


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return make_netrepo(tmp_path / "net")


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("hostname x\nbanner {{ '\\x07' }}\n", 2),
        ("hostname x\n\n\nx{{ '\\x00' }}\n", 4),
        ("a\x1bb\n", 1),
        ("ok\x7f\n", 1),
    ],
    ids=["bel", "nul", "esc-in-template", "del"],
)
def test_control_characters_in_output_are_refused_with_host_and_line(
    repo: NetworkRepo, template: str, line: int
) -> None:
    err = _error(repo, template)
    assert err.host == "a1" and err.file == "templates/demo/main.j2"
    assert f"rendered line {line} " in err.message


def test_tab_is_allowed_and_the_cli_writes_nothing_on_a_control_character(repo: NetworkRepo) -> None:
    write_files(repo.root, {"templates/demo/main.j2": "a\tb\n"})
    assert render_hosts(repo, load_inventory(repo).hosts())[0].config == "a\tb\n"
    before = snapshot_files(repo.root)
    write_files(repo.root, {"templates/demo/main.j2": "a{{ '\\x00' }}\n"})
    result = run_cli(["render", "--repo", str(repo.root)])
    assert result.exit_code == 1 and "templates/demo/main.j2" in result.output
    assert snapshot_files(repo.root) == before


@pytest.mark.parametrize(
    "expression",
    [
        f"'{{:>{_BIG}}}'.format(1)",
        f"'{{:>{{w}}}}'.format(1, w={_BIG})",
        f"'%{_BIG}d' | format(1)",
        f"'%{_BIG}d' % 1",
        f"'%*d' % ({_BIG}, 1)",
        f"'x' * {_BIG}",
        f"['x'] * {_BIG}",
        f"'x' | center({_BIG})",
        f"'x'.rjust({_BIG})",
        "('x' * 5000).replace('', 'y' * 5000)",
        "9 ** 9999999",
    ],
)
def test_expressions_that_build_huge_values_are_refused_at_once(repo: NetworkRepo, expression: str) -> None:
    err = _error(repo, f"x\n{{{{ {expression} }}}}\n")
    assert (err.host, err.file, err.line) == ("a1", "templates/demo/main.j2", 2)


def test_lipsum_is_not_offered(repo: NetworkRepo) -> None:
    """lipsum is random (renders would differ) and ``lipsum(10**6)`` hung the render: not a global."""
    err = _error(repo, "x\n{{ lipsum(3) }}\n")
    assert (err.file, err.line) == ("templates/demo/main.j2", 2)


def test_the_random_filter_is_not_offered(repo: NetworkRepo) -> None:
    """``random`` would make two renders of one commit differ: the release-by-content check (re-render and
    compare) would refuse good releases at random, and a deploy could push what no review saw."""
    err = _error(repo, "x\n{{ ['a', 'b', 'c'] | random }}\n")
    assert (err.host, err.file, err.line) == ("a1", "templates/demo/main.j2", 2)
    assert "random" in err.message


def test_output_per_host_is_bounded_by_the_setting(repo: NetworkRepo) -> None:
    write_files(
        repo.root,
        {
            "netimmutable.yaml": "version: 1\nrender:\n  max_output_bytes: 2000\n",
            "templates/demo/main.j2": "{% for i in range(100) %}line {{ i }} of a loop that goes on\n"
            "{% endfor %}",
        },
    )
    err = _error(repo, (repo.root / "templates/demo/main.j2").read_text())
    assert err.host == "a1" and "2000" in err.message
    write_files(repo.root, {"netimmutable.yaml": "version: 1\nrender:\n  max_output_bytes: 200000\n"})
    assert render_hosts(open_repo(repo.root), load_inventory(repo).hosts())[0].config.count("\n") == 100


def test_default_limit_is_16_mib_and_small_widths_still_work(repo: NetworkRepo) -> None:
    assert repo.settings.render.max_output_bytes == 16 * 1024 * 1024
    template = "{{ '{:>6}'.format(1) }}|{{ '%-4s' | format('a') }}|{{ '{a}'.format_map({'a': 2}) }}\n"
    write_files(repo.root, {"templates/demo/main.j2": template})
    assert render_hosts(repo, load_inventory(repo).hosts())[0].config == "     1|a   |2\n"


def test_a_lower_limit_judges_a_render_cached_under_a_higher_one(repo: NetworkRepo) -> None:
    template = "{% for i in range(100) %}line {{ i }} of a loop that goes on\n{% endfor %}"
    write_files(repo.root, {"templates/demo/main.j2": template})
    assert run_cli(["render", "--repo", str(repo.root)]).exit_code == 0
    write_files(repo.root, {"netimmutable.yaml": "version: 1\nrender:\n  max_output_bytes: 2000\n"})
    result = run_cli(["render", "--check", "--repo", str(repo.root)])
    assert result.exit_code == 1 and "2000" in result.stderr


def test_render_time_per_host_is_bounded_by_the_setting(repo: NetworkRepo) -> None:
    """A loop of 10^7 calls that outputs nothing stops at render.max_seconds (0.5 s here)."""
    write_files(repo.root, {"netimmutable.yaml": "version: 1\nrender:\n  max_seconds: 0.5\n"})
    template = (
        "{% for i in range(100000) %}{% for j in range(100) %}{% set x = ''.join([]) %}{% endfor %}"
        "{% endfor %}\n"
    )
    started = time.monotonic()
    err = _error(repo, template)
    assert time.monotonic() - started < 5
    assert err.host == "a1" and err.file == "templates/demo/main.j2" and "time limit" in err.message


@pytest.mark.parametrize(
    "loops",
    [
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% if j %}{% endif %}{% endfor %}"
        "{% endfor %}",
        "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    ],
    ids=["range", "range-with-if", "string"],
)
def test_silent_nested_loops_stop_at_the_time_limit(repo: NetworkRepo, loops: str) -> None:
    """Issue 14: nested loops that neither output nor call anything (10^10 iterations) were not stopped by
    render.max_seconds; every loop now meets the deadline at each item."""
    write_files(repo.root, {"netimmutable.yaml": "version: 1\nrender:\n  max_seconds: 0.3\n"})
    started = time.monotonic()
    err = _error(repo, f"x\n{loops}\n")
    assert time.monotonic() - started < 5
    assert err.host == "a1" and err.file == "templates/demo/main.j2" and "time limit" in err.message


def test_loops_still_render_as_before(repo: NetworkRepo) -> None:
    """What a loop offers (loop.length, else, filtering, unpacking, recursion) is unchanged."""
    template = (
        "{% for i in [3, 4] %}{{ loop.index }}/{{ loop.length }}={{ i }} {% endfor %}"
        "{% for i in [] %}no{% else %}empty{% endfor %} "
        "{% for k, v in {'a': 1}.items() if v %}{{ k ~ v ~ '!' }}{% endfor %} "
        "{% for n in [[1, [2]]] recursive %}{% if n is iterable %}{{ loop(n) }}{% else %}{{ n }}"
        "{% endif %}{% endfor %}\n"
    )
    write_files(repo.root, {"templates/demo/main.j2": template})
    assert render_hosts(repo, load_inventory(repo).hosts())[0].config == "1/2=3 2/2=4 empty a1! 12\n"


@pytest.mark.parametrize("operator", ["~", "+"])
def test_a_string_doubled_in_a_loop_is_refused_before_it_is_built(repo: NetworkRepo, operator: str) -> None:
    """Issue 14: `{% set ns.s = ns.s ~ ns.s %}` repeated built 128 MiB after 26 doublings and was caught
    only when output; each `~` and `+` now refuses a result over render.max_output_bytes."""
    write_files(repo.root, {"netimmutable.yaml": "version: 1\nrender:\n  max_output_bytes: 2000\n"})
    template = (
        "x\n{% set ns = namespace(s='x') %}{% for i in range(20) %}"
        f"{{% set ns.s = ns.s {operator} ns.s %}}{{% endfor %}}\n"
    )
    err = _error(repo, template)
    assert (err.host, err.file, err.line) == ("a1", "templates/demo/main.j2", 2)
