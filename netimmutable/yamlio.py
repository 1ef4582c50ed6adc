"""Safe YAML loading that knows where every value came from.

Everything netimmutable reads from YAML goes through ``load_yaml``: safe tags only, duplicate keys refused,
alias expansion limited (no billion laughs), size limited, and scalar strings free of newlines and control
characters (a newline in a data value would inject configuration lines). Errors name the file and line.
Aliases are limited by what they add: values (MAX_EXPANDED_NODES) and bytes of scalar text
(MAX_EXPANDED_BYTES).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from netimmutable.errors import InputError
from netimmutable.memo import BoundedMemo

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED_BYTES",
    "MAX_EXPANDED_NODES",
    "MAX_YAML_BYTES",
    "LocatedDict",
    "load_plain_yaml_text",
    "load_yaml",
    "load_yaml_text",
    "to_plain",
]

MAX_YAML_BYTES = 32 * 1024 * 1024
MAX_EXPANDED_NODES = 2_000_000
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (inventory data is a few levels deep). Checked by
netimmutable itself, so the error is the same whatever PyYAML or libyaml would do with deeper input."""
MAX_EXPANDED_BYTES = 16 * 1024 * 1024
"""What aliases may add to a document, in bytes of scalar text (on top of the text's own length)."""
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"


class LocatedDict(dict[str, Any]):
    """A mapping that remembers the line (1-based) of each of its keys, and of itself."""

    __slots__ = ("key_lines", "line")

    def __init__(self) -> None:
        super().__init__()
        self.line: int = 0
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate keys and rejects control characters in strings."""

    file_label = "<string>"
    allow_multiline = False


def _expanded_within(node: yaml.Node, limit: int, byte_limit: int) -> bool:
    """Whether the document, every alias expanded, has at most ``limit`` nodes and ``byte_limit`` bytes of
    scalars (a fast, iterative count that gives up as soon as it passes a limit; a cycle always passes)."""
    stack: list[Any] = [node]
    count = 0
    size = 0
    pop, extend = stack.pop, stack.extend
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    while stack:
        item = pop()
        if type(item) is tuple:  # a (key, value) pair of a mapping
            extend(item)
            continue
        count += 1
        if count > limit:
            return False
        if isinstance(item, (mapping, sequence)):
            extend(item.value)
        else:
            size += len(item.value)
            if size > byte_limit:
                return False
    return True


def _check_expansion(node: yaml.Node, label: str, text_length: int) -> None:
    """Refuse documents whose aliases add more than MAX_EXPANDED_NODES values or MAX_EXPANDED_BYTES bytes
    of scalars (billion laughs; one big string aliased thousands of times).

    Every node takes at least one character of the text, and every scalar's text is in it, so an
    alias-free document never has more nodes, or scalar bytes, than characters: each budget is its limit
    on top of the text's length.
    """
    limit = MAX_EXPANDED_NODES + text_length
    byte_limit = MAX_EXPANDED_BYTES + text_length
    if _expanded_within(node, limit, byte_limit):
        return  # the usual case; otherwise the exact walk below finds the node to name
    sizes: dict[int, tuple[int, int]] = {}

    def size(n: yaml.Node) -> tuple[int, int]:
        known = sizes.get(id(n))
        if known is not None:
            return known
        sizes[id(n)] = (1, 0)  # cycles (recursive aliases) count once
        nodes, scalar_bytes = 1, 0
        children: list[yaml.Node] = []
        if isinstance(n, yaml.MappingNode):
            children = [c for pair in n.value for c in pair]
        elif isinstance(n, yaml.SequenceNode):
            children = list(n.value)
        else:
            scalar_bytes = len(n.value)
        for child in children:
            child_nodes, child_bytes = size(child)
            nodes += child_nodes
            scalar_bytes += child_bytes
        if nodes > limit or scalar_bytes > byte_limit:
            raise InputError(
                f"YAML aliases expand to more than {MAX_EXPANDED_NODES} values or {MAX_EXPANDED_BYTES} "
                "bytes (a YAML bomb?)",
                file=label,
                line=n.start_mark.line + 1,
            )
        sizes[id(n)] = (nodes, scalar_bytes)
        return nodes, scalar_bytes

    size(node)


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The mappings and sequences directly inside ``node`` (scalars add no nesting level)."""
    if isinstance(node, yaml.MappingNode):
        parts = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        parts = list(node.value)
    else:
        return []
    return [part for part in parts if isinstance(part, (yaml.MappingNode, yaml.SequenceNode))]


def _check_depth(node: yaml.Node, label: str) -> None:
    """Refuse documents nested deeper than MAX_DEPTH, naming the line where the limit is passed.

    Iterative, and each node is measured once: an alias is the node it names, so a node met again counts
    its known height from where the alias stands (the line named is the alias's). A recursive alias is
    infinitely deep and refused like any other too-deep document.
    """
    heights: dict[int, int] = {}
    on_path: set[int] = set()
    # (node, its depth, line of the node that holds it, whether its children are measured)
    stack: list[tuple[yaml.Node, int, int, bool]] = [(node, 1, node.start_mark.line + 1, False)]
    while stack:
        item, depth, holder_line, done = stack.pop()
        key = id(item)
        if done:
            on_path.discard(key)
            heights[key] = 1 + max((heights[id(c)] for c in _children(item)), default=0)
            continue
        line = item.start_mark.line + 1
        if key in heights or key in on_path:
            if key in on_path or depth - 1 + heights[key] > MAX_DEPTH:
                why = " (a recursive alias)" if key in on_path else ""
                raise InputError(
                    f"YAML nested more than {MAX_DEPTH} levels deep{why}", file=label, line=holder_line
                )
            continue
        if depth > MAX_DEPTH:
            raise InputError(f"YAML nested more than {MAX_DEPTH} levels deep", file=label, line=line)
        on_path.add(key)
        stack.append((item, depth, holder_line, True))
        # document order: an anchor comes before its aliases, so it is measured where it is written
        stack.extend((child, depth + 1, line, False) for child in reversed(_children(item)))


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    # flatten_mapping puts the keys merged in by `<<: *anchor` first: the mapping's own keys override them
    # (YAML merge semantics); only a key written twice in the mapping itself is a duplicate.
    key_tags = [key_node.tag for key_node, _ in node.value]
    if _MERGE_TAG in key_tags or _VALUE_TAG in key_tags:
        own_count = sum(1 for tag in key_tags if tag != _MERGE_TAG)
        loader.flatten_mapping(node)
        first_own = len(node.value) - own_count
    else:
        first_own = 0  # nothing to flatten: every key is the mapping's own
    merged = first_own > 0
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    key_lines = result.key_lines
    own: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        # plain strings (most keys and values) skip construct_object's bookkeeping: same constructor
        if key_node.tag == _STR_TAG and type(key_node) is yaml.ScalarNode:
            key: Any = _construct_str(loader, key_node)
        else:
            key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)):
            raise InputError(f"mapping key {key!r} must be a plain scalar", file=loader.file_label, line=line)
        key_text = key if type(key) is str else str(key)
        if (key_text in own) if merged else (key_text in result):
            raise InputError(
                f"duplicate key {key_text!r} (first at line {key_lines[key_text]})",
                file=loader.file_label,
                line=line,
            )
        if merged and index >= first_own:
            own.add(key_text)
        if value_node.tag == _STR_TAG and type(value_node) is yaml.ScalarNode:
            result[key_text] = _construct_str(loader, value_node)
        else:
            result[key_text] = loader.construct_object(value_node, deep=True)
        key_lines[key_text] = line
    return result


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    value = node.value if type(node) is yaml.ScalarNode else str(loader.construct_scalar(node))
    bad = _CONTROL.search(value)
    if bad and not (loader.allow_multiline and bad.group() == "\n"):
        what = "a newline" if bad.group() == "\n" else f"control character {bad.group()!r}"
        raise InputError(
            f"value contains {what}; data values must be single lines (it would inject configuration)",
            file=loader.file_label,
            line=node.start_mark.line + 1,
        )
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(_STR_TAG, _construct_str)


def _refuse_binary(loader: _Loader, node: yaml.Node) -> None:
    raise InputError(
        "!!binary values are not accepted", file=loader.file_label, line=node.start_mark.line + 1
    )


_Loader.add_constructor("tag:yaml.org,2002:binary", _refuse_binary)


def _refuse_tag(loader: _Loader, node: yaml.Node) -> None:
    line = node.start_mark.line + 1
    raise InputError(f"invalid YAML: tag not allowed ({node.tag})", file=loader.file_label, line=line)


# PyYAML's fallback for a tag no constructor knows (python/object, !Ref, ...): refused here, by its type,
# rather than by recognising the words of PyYAML's own message
_Loader.add_constructor(None, _refuse_tag)


def to_plain(value: Any, *, sort_keys: bool = False) -> Any:
    """Located containers -> plain dicts and lists, so templates and messages see ordinary types.

    ``sort_keys`` puts every mapping's keys in sorted order, so whoever iterates the result sees the same
    order however the YAML file ordered them (rendering is independent of dict order).
    """
    if isinstance(value, dict):
        keys = sorted(value) if sort_keys else list(value)
        return {k: to_plain(value[k], sort_keys=sort_keys) for k in keys}
    if isinstance(value, list):
        return [to_plain(v, sort_keys=sort_keys) for v in value]
    return value


def load_yaml_text(text: str, label: str, *, allow_multiline: bool = False) -> Any:
    """Parse YAML text; ``label`` names the source in errors."""
    loader_cls = type("_BoundLoader", (_Loader,), {"file_label": label, "allow_multiline": allow_multiline})
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, label, len(text))
        _check_depth(node, label)
        return loader.construct_document(node)
    except InputError:
        raise
    except RecursionError:
        raise InputError("YAML nested too deeply", file=label) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise InputError(f"invalid YAML: {problem}", file=label, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=label) from None
    finally:
        loader.dispose()


def load_yaml(path: Path, label: str | None = None, *, allow_multiline: bool = False) -> Any:
    """Load one YAML file safely. ``label`` is how the file is named in errors (default: the path)."""
    name = label or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InputError(f"file is {size} bytes, over the {MAX_YAML_BYTES} byte limit", file=name)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=name) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML file", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 (byte 0x{raw[exc.start]:02x})", file=name, line=line) from None
    return load_yaml_text(text, name, allow_multiline=allow_multiline)


_PLAIN_MEMO = BoundedMemo(max_size=1024 * 256 * 1024, max_items=1024, max_entry=256 * 1024)  # chars


def load_plain_yaml_text(text: str, label: str) -> Any:
    """``to_plain(load_yaml_text(text, label))``, remembered for small documents that are read again and
    again (a host's expectations: by the pre-flight check, then by every check round). Each call returns
    its own deep copy (callers such as NAPALM's compliance report change what they are given); a document
    that fails to parse is never remembered, so every call raises its own located error."""
    found = _PLAIN_MEMO.get(text)
    if found is None:
        found = to_plain(load_yaml_text(text, label))
        if found is not None:
            _PLAIN_MEMO.put(text, found, size=len(text))
    return copy.deepcopy(found)
