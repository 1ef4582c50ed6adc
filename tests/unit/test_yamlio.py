"""Safe YAML loading: located values, refused tags, duplicates, bombs, control characters, encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from netimmutable import yamlio
from netimmutable.errors import InputError
from netimmutable.yamlio import LocatedDict, load_yaml, load_yaml_text, to_plain


def _error(text: str, **kwargs: bool) -> InputError:
    with pytest.raises(InputError) as info:
        load_yaml_text(text, "f.yaml", **kwargs)
    return info.value


def test_mappings_remember_the_line_of_each_key() -> None:
    data = load_yaml_text("a: 1\nb:\n  c: x\n  d: [1, 2]\n", "f.yaml")
    assert isinstance(data, LocatedDict)
    assert data == {"a": 1, "b": {"c": "x", "d": [1, 2]}}
    assert (data.line_of("a"), data.line_of("b")) == (1, 2)
    assert data["b"].line_of("d") == 4
    assert data["b"].line_of("missing") == data["b"].line == 3


def test_empty_document_is_none() -> None:
    assert load_yaml_text("", "f.yaml") is None
    assert load_yaml_text("# only a comment\n", "f.yaml") is None


def test_syntax_error_names_file_and_line() -> None:
    err = _error("a: 1\nb: [1, 2\nc: 3\n")
    assert err.file == "f.yaml"
    assert err.line is not None and err.line >= 2
    assert str(err).startswith(f"f.yaml:{err.line}: invalid YAML")


def test_bad_indentation_is_located() -> None:
    err = _error("a:\n  b: 1\n c: 2\n")
    assert err.line == 3
    assert "invalid YAML" in err.message


def test_duplicate_key_is_refused_with_both_lines() -> None:
    err = _error("a: 1\nb: 2\na: 3\n")
    assert (err.file, err.line) == ("f.yaml", 3)
    assert "duplicate key 'a' (first at line 1)" in err.message


def test_duplicate_key_in_nested_mapping() -> None:
    err = _error("h:\n  data:\n    x: 1\n    x: 2\n")
    assert err.line == 4


def test_keys_equal_as_text_are_duplicates() -> None:
    # 1 and "1" become the same key once keys are strings: refusing is the only unambiguous choice
    err = _error("1: a\n'1': b\n")
    assert err.line == 2


def test_merge_key_values_may_be_overridden() -> None:
    data = load_yaml_text("base: &b {x: 1, y: 2}\nh:\n  <<: *b\n  x: 3\n", "f.yaml")
    assert data["h"] == {"x": 3, "y": 2}


def test_merge_list_first_mapping_wins_as_in_yaml() -> None:
    data = load_yaml_text("a: &a {x: 1}\nb: &b {x: 2, z: 1}\nh:\n  <<: [*a, *b]\n", "f.yaml")
    assert data["h"] == {"x": 1, "z": 1}


def test_duplicate_own_key_next_to_a_merge_is_still_refused() -> None:
    err = _error("b: &b {x: 1}\nh:\n  <<: *b\n  x: 1\n  x: 2\n")
    assert err.line == 5
    assert "first at line 4" in err.message


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object:os.system {}\n",
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!python/name:os.system\n",
        "a: !custom 1\n",
    ],
)
def test_unsafe_and_unknown_tags_are_refused(text: str) -> None:
    err = _error(text)
    assert err.line == 1
    assert "tag not allowed" in err.message


def test_billion_laughs_is_refused_before_expansion() -> None:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    err = _error("\n".join(lines) + "\n")
    assert "YAML bomb" in err.message
    assert err.file == "f.yaml" and err.line is not None


def test_moderate_aliases_are_fine() -> None:
    data = load_yaml_text("a: &x [1, 2]\nb: *x\nc: *x\n", "f.yaml")
    assert data["b"] == data["c"] == [1, 2]


def test_expansion_limit_counts_expanded_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_EXPANDED_NODES", 50)
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [" + ", ".join(["*a"] * 30) + "]\n"
    assert "YAML bomb" in _error(text).message


def test_expansion_limit_does_not_refuse_large_alias_free_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    # only what aliases add counts against the limit: a big plain inventory is not a bomb
    monkeypatch.setattr(yamlio, "MAX_EXPANDED_NODES", 50)
    text = "".join(f"h{i}: {{a: [1, 2, 3, 4, 5]}}\n" for i in range(200))
    assert len(yamlio.load_yaml_text(text, "f.yaml")) == 200


def test_deep_nesting_is_a_located_error_not_a_crash() -> None:
    # whichever refuses it first (libyaml's own limit, or netimmutable's), it is a located InputError
    err = _error("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert (err.file, err.line) == ("f.yaml", 1)


def test_nesting_beyond_the_limit_names_the_line_where_it_is_passed() -> None:
    text = "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(yamlio.MAX_DEPTH)) + "  x: 1\n"
    err = _error(text)
    assert err.file == "f.yaml"
    assert err.line == yamlio.MAX_DEPTH + 1  # the mapping that is one level too deep starts there
    ok = "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(yamlio.MAX_DEPTH - 2)) + "  x: 1\n"
    assert load_yaml_text(ok, "f.yaml") is not None


def test_aliases_count_their_depth_where_they_are_used() -> None:
    deep = "&d " + "[" * 40 + "]" * 40
    err = _error(f"a: {deep}\nb: " + "[" * 30 + "*d" + "]" * 30 + "\n")
    assert (err.file, err.line) == ("f.yaml", 2)  # where the alias is used, not where it was defined
    assert load_yaml_text(f"a: {deep}\nb: [*d]\n", "f.yaml") is not None


def test_a_recursive_alias_is_refused_with_its_line() -> None:
    err = _error("a: 1\nb: &r [x, *r]\n")
    assert (err.file, err.line) == ("f.yaml", 2)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('a: ok\nb: "line1\\nline2"\n', "a newline"),
        ("a: ok\nb: |\n  line1\n  line2\n", "a newline"),
        ('a: ok\nb: "bell\\a"\n', "control character"),
        ('a: ok\nb: "nul\\0"\n', "control character"),
        ('a: ok\nb: "esc\\e[31m"\n', "control character"),
        ('a: ok\nb: "del\\x7f"\n', "control character"),
        ('a: ok\nb: ["fine", "cr\\r"]\n', "control character"),
    ],
)
def test_newlines_and_control_characters_in_values_are_refused(text: str, what: str) -> None:
    err = _error(text)
    assert err.line == 2
    assert what in err.message
    assert "inject" in err.message


def test_control_character_in_a_key_is_refused() -> None:
    err = _error('"bad\\nkey": 1\n')
    assert err.line == 1


def test_tab_inside_a_value_is_allowed() -> None:
    assert load_yaml_text('a: "x\\ty"\n', "f.yaml") == {"a": "x\ty"}


def test_multiline_allowed_only_when_asked_and_still_no_control_characters() -> None:
    assert load_yaml_text("a: |\n  l1\n  l2\n", "f.yaml", allow_multiline=True) == {"a": "l1\nl2\n"}
    assert "control character" in _error('a: "x\\a"\n', allow_multiline=True).message


def test_non_scalar_mapping_key_is_refused() -> None:
    err = _error("? [1, 2]\n: x\n")
    assert "plain scalar" in err.message


def test_load_yaml_reports_non_utf8_with_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InputError) as info:
        load_yaml(path, "inventory/hosts.yaml")
    assert (info.value.file, info.value.line) == ("inventory/hosts.yaml", 2)
    assert "not UTF-8 (byte 0xe9)" in info.value.message


def test_load_yaml_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="is a directory"):
        load_yaml(tmp_path)


def test_load_yaml_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_YAML_BYTES", 10)
    path = tmp_path / "big.yaml"
    path.write_text("a: 0123456789\n")
    with pytest.raises(InputError, match="byte limit"):
        load_yaml(path)


def test_load_yaml_labels_errors_with_the_given_name(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(InputError) as info:
        load_yaml(path, "inventory/x.yaml")
    assert str(info.value).startswith("inventory/x.yaml:2: ")


def test_to_plain_drops_locations_and_can_sort_keys() -> None:
    data = load_yaml_text("b: {z: 1, y: [{d: 1, c: 2}]}\na: 2\n", "f.yaml")
    plain = to_plain(data)
    assert type(plain) is dict and type(plain["b"]) is dict
    assert list(plain) == ["b", "a"]
    ordered = to_plain(data, sort_keys=True)
    assert list(ordered) == ["a", "b"]
    assert list(ordered["b"]) == ["y", "z"]
    assert list(ordered["b"]["y"][0]) == ["c", "d"]
    assert ordered == plain


def test_plain_yaml_is_remembered_but_every_caller_gets_its_own_copy() -> None:
    from netimmutable.yamlio import load_plain_yaml_text

    text = "- get_facts:\n    hostname: r1\n- get_bgp_neighbors: {global: {peers: {}}}\n"
    first = load_plain_yaml_text(text, "r1.expect.yaml")
    assert first == [{"get_facts": {"hostname": "r1"}}, {"get_bgp_neighbors": {"global": {"peers": {}}}}]
    assert type(first[0]) is dict  # plain containers, not the located ones
    first[0]["get_facts"]["_mode"] = "strict"  # what a consumer may do to what it was given
    again = load_plain_yaml_text(text, "other label")
    assert again == [{"get_facts": {"hostname": "r1"}}, {"get_bgp_neighbors": {"global": {"peers": {}}}}]
    for label in ("r1.expect.yaml", "r2.expect.yaml"):  # a bad document is never remembered
        with pytest.raises(InputError) as exc:
            load_plain_yaml_text("- get_facts: [\n", label)
        assert exc.value.file == label and exc.value.line is not None


def test_fan_out_of_a_big_string_is_refused_by_expanded_bytes() -> None:
    """Issue 14 item 6: a 1 MiB anchored string aliased 3,000 times passed the node-count limit (the
    inventory cache grew to 3 GB). Aliases are now limited by the bytes they add, too."""
    text = f"big: &b {'x' * (1024 * 1024)}\nfan: [{', '.join(['*b'] * 100)}]\n"
    err = _error(text)
    assert "YAML bomb" in err.message and err.file == "f.yaml" and err.line is not None


def test_a_few_aliases_of_a_long_string_are_fine() -> None:
    text = f"long: &s {'y' * 100_000}\nuse: [*s, *s, *s]\n"
    assert yamlio.load_yaml_text(text, "f.yaml")["use"][2] == "y" * 100_000
