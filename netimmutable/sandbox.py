"""What a template can see and do: its context (data only), the sandbox, and the limits on what it renders.

The context contract (docs/DESIGN "Template context"): every key of the host's data, after Nornir's group
and defaults inheritance, as a top-level variable, plus ``host``: a frozen ``HostView`` (``host.name``,
``host.hostname``, ``host.platform``, ``host.groups`` as names, ``host["key"]`` for data). Nothing in the
context is a Nornir object, so nothing reaches a connection, a file, the environment or the process.

The sandbox is Jinja's immutable one, with limits on what builds big strings (a format width, ``*``,
``**``, ``+``, ``~``, a width-taking filter or string method), on the whole output of a host, and on its
render time (checked at every call, operator, output chunk and ``{% for %}`` item:
``_BoundedCodeGenerator`` compiles loops, ``~`` and ``+`` so that they go through the sandbox);
``lipsum`` (random, so not deterministic, and unbounded) and the ``random`` filter (two renders of one
commit would differ) are not offered. ``not_secret(value)`` declares a value that follows a
secret keyword as not secret (render checks every such value comes from ``secret()`` or from it).

Examples:
    >>> view = HostView(name="r1", hostname="192.0.2.1", platform="frr", groups=("core",), data={"asn": 1})
    >>> view["asn"], view.groups, "asn" in view, dict(view)
    (1, ('core',), True, {'asn': 1})
    >>> check_format_spec(">10")
    >>> check_format_spec(">999999999")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jinja2.exceptions.SecurityError: format width or precision 999999999 is over the limit of 4096
"""

from __future__ import annotations

import re
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import update_wrapper
from typing import Any

from jinja2 import Environment, Template, nodes, pass_environment
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_NAMESPACE
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.runtime import Context, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter, safe_range
from jinja2.visitor import NodeTransformer
from nornir.core.inventory import Host

from netimmutable.secretref import secret_placeholder
from netimmutable.settings import DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_RENDER_SECONDS

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_MAX_RENDER_SECONDS",
    "DOCUMENTED_GLOBALS",
    "MAX_FORMAT_WIDTH",
    "HostView",
    "OutputTooLarge",
    "RenderSandbox",
    "check_format_spec",
    "not_secret",
    "render_bounded",
    "template_context",
]

MAX_FORMAT_WIDTH = 4096
"""The largest width, precision or filter width a template may ask for (no config line needs more)."""


@pass_environment
def not_secret(env: Environment, value: Any) -> str:
    """``value`` as text, declared not a secret: a line carrying it after a secret keyword (a password
    hash the device shows anyway, say) renders. The template says so where it is reviewed."""
    text = str(value)
    if isinstance(env, RenderSandbox):
        env.declared.add(text)
    return text


DOCUMENTED_GLOBALS: Mapping[str, Any] = types.MappingProxyType(
    {
        **{k: v for k, v in DEFAULT_NAMESPACE.items() if k != "lipsum"},
        "range": safe_range,
        "secret": secret_placeholder,
        "not_secret": not_secret,
    }
)
"""Every global a template can call: Jinja's ``range`` (at most 100,000 items), ``dict``, ``cycler``,
``joiner``, ``namespace``, and netimmutable's ``secret(name, form="plain")`` (``netimmutable.secretforms``)
and ``not_secret()``."""

_NUMBER = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_WIDTH_FILTERS = {"center": 1, "indent": 1, "wordwrap": 1, "slice": 1, "batch": 1}
"""Filters whose argument at this position is a width or a count."""


class OutputTooLarge(SecurityError):
    """A template built a string, or a whole output, over its limit."""


@dataclass(frozen=True, slots=True, eq=False)
class HostView(Mapping[str, Any]):
    """A host as templates see it: names and data, no methods that reach anything else."""

    name: str
    hostname: str | None
    platform: str | None
    groups: tuple[str, ...]
    data: Mapping[str, Any] = field(repr=False)
    """The host's data after inheritance (also each a top-level variable)."""

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def template_context(host: Host) -> dict[str, Any]:
    """The variables a host's templates render with: its data keys and ``host``."""
    data = dict(host.items())
    view = HostView(
        name=host.name,
        hostname=host.hostname,
        platform=host.platform,
        groups=tuple(group.name for group in host.groups),
        data=types.MappingProxyType(data),
    )
    return {**data, "host": view}


def check_format_spec(spec: str) -> None:
    """Refuse a ``str.format`` spec asking for a width or precision over MAX_FORMAT_WIDTH."""
    for number in _NUMBER.findall(spec):
        if int(number) > MAX_FORMAT_WIDTH:
            raise SecurityError(
                f"format width or precision {int(number)} is over the limit of {MAX_FORMAT_WIDTH}"
            )


def _check_percent_format(text: str) -> None:
    """The same for ``%`` formatting (``'%5d' % x``, the ``format`` filter); ``*`` widths are refused."""
    for match in _PERCENT_SPEC.finditer(text):
        for group in match.groups():
            if group == "*":
                raise SecurityError("a '*' width or precision in a % format is not allowed in templates")
            if group is not None and int(group) > MAX_FORMAT_WIDTH:
                raise SecurityError(
                    f"format width or precision {int(group)} is over the limit of {MAX_FORMAT_WIDTH}"
                )


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        check_format_spec(format_spec)  # after nested fields ({:{width}}) were filled in
        return super().format_field(value, format_spec)


def _width(value: Any, what: str) -> None:
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = int(value)
        except ValueError:
            return  # not a number: the filter itself reports it
        if number > MAX_FORMAT_WIDTH:
            raise SecurityError(f"{what}: {number} is over the limit of {MAX_FORMAT_WIDTH}")


def _bounded_filter(name: str, position: int, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        if len(args) > position + offset:
            _width(args[position + offset], f"filter {name}")
        for key in ("width", "slices", "linecount"):
            if key in kwargs:
                _width(kwargs[key], f"filter {name}")
        return func(*args, **kwargs)

    return update_wrapper(wrapper, func)


def _percent_format(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's ``format`` filter, with the format's widths bounded."""
    text = str(value)
    _check_percent_format(text)
    return text % (kwargs or args)


_TIMED_ITER = "timed_iter"
_SIZED = (str, bytes, list, tuple)


class _Loops(NodeTransformer):
    """Wraps the iterable of every ``{% for %}`` of a parsed template in a call of ``timed_iter`` (an
    environment attribute: the parser never makes one, so no template can write this call itself)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        name = nodes.EnvironmentAttribute(_TIMED_ITER, lineno=node.iter.lineno)
        node.iter = nodes.Call(name, [node.iter], [], None, None, lineno=node.iter.lineno)
        return node


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with what it compiles to plain Python sent through the sandbox's checks by
    direct calls (cheap: a loop item or a ``~`` costs a method call, not a sandboxed call):
    a loop's iterable -> ``environment.timed_iter``, ``~`` -> ``environment.bounded_concat``, ``+`` ->
    ``environment.bounded_add`` (a loop that outputs and calls nothing still meets the time limit; a string
    doubled in a loop meets the size limit before it is built)."""

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        callee = node.node
        if isinstance(callee, nodes.EnvironmentAttribute) and callee.name == _TIMED_ITER:
            self.write(f"environment.{_TIMED_ITER}(")
            self.visit(node.args[0], frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            escape = "context.eval_ctx.autoescape"
        else:
            escape = "True" if frame.eval_ctx.autoescape else "False"
        self.write(f"environment.bounded_concat({escape}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Add(self, node: nodes.BinExpr, frame: Frame) -> None:
        self.write("environment.bounded_add(")
        self.visit(node.left, frame)
        self.write(", ")
        self.visit(node.right, frame)
        self.write(")")


class _TimedIterable:
    """An iterable whose iteration stops at the render's deadline (its length is the wrapped one's)."""

    __slots__ = ("_env", "_iterable")

    def __init__(self, iterable: Any, env: RenderSandbox) -> None:
        self._iterable = iterable
        self._env = env

    def __len__(self) -> int:
        return len(self._iterable)

    def __iter__(self) -> Iterator[Any]:
        check = self._env._check_time
        for item in self._iterable:
            check()
            yield item


class RenderSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with netimmutable's limits (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, *args: Any, max_output: int = DEFAULT_MAX_OUTPUT_BYTES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_output = max_output
        self.deadline = float("inf")
        """``time.monotonic()`` after which the render in progress stops (set by ``render_bounded``)."""
        self.declared: set[str] = set()
        """Values the render in progress passed through ``not_secret()`` (emptied by ``render_bounded``)."""
        self.globals.clear()
        self.globals.update(DOCUMENTED_GLOBALS)
        for name, position in _WIDTH_FILTERS.items():
            self.filters[name] = _bounded_filter(name, position, JINJA_FILTERS[name])
        self.filters["format"] = _percent_format
        del self.filters["random"]  # rendering is deterministic: a release is judged by re-rendering it

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = super()._parse(source, name, filename)
        _Loops().visit(template)
        return template

    def timed_iter(self, iterable: Any) -> _TimedIterable:
        """What a ``{% for %}`` iterates: ``iterable``, checking the render's deadline at each item."""
        return _TimedIterable(iterable, self)

    def bounded_concat(self, autoescape: bool, parts: tuple[Any, ...]) -> str:
        """``a ~ b``: refused before the result is built when it would be over the size limit. (Time is
        checked by the loops and calls around it: an expression without them is as long as its source.)"""
        texts = [part if type(part) is str else str(part) for part in parts]
        size = sum(map(len, texts))
        if size > self.max_output:
            raise OutputTooLarge(f"'~' would build a string of {size} characters, over the limit")
        return markup_join(parts) if autoescape else "".join(texts)

    def bounded_add(self, left: Any, right: Any) -> Any:
        """``a + b``: a string, list or tuple over the size limit is refused before it is built."""
        sized = _SIZED
        if isinstance(left, sized) and isinstance(right, sized) and len(left) + len(right) > self.max_output:
            raise OutputTooLarge(f"'+' would build {len(left) + len(right)} items, over the limit")
        return left + right

    def _check_size(self, value: Any, what: str) -> Any:
        if isinstance(value, (str, bytes, list, tuple)) and len(value) > self.max_output:
            raise OutputTooLarge(f"{what} built {len(value)} items, over the limit of {self.max_output}")
        return value

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError("rendering took longer than its time limit (a runaway loop?)")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self._check_time()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int)
                if sized and len(seq) * max(count, 0) > self.max_output:
                    raise OutputTooLarge(f"'*' would build {len(seq) * count} items")
        elif operator == "**":
            ints = isinstance(left, int) and isinstance(right, int) and right > 0
            if ints and max(abs(left).bit_length(), 1) * right > 65536:
                raise SecurityError("'**' would build a number of more than 65536 bits")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return self._check_size(super().call_binop(context, operator, left, right), f"'{operator}'")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None or type(value.__self__) is not str:
            return wrapped
        text: str = value.__self__
        vformat = _BoundedFormatter(self).vformat
        is_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs = dict(args[0])
                args = ()
            return str(self._check_size(vformat(text, args, kwargs), "str.format"))

        return update_wrapper(wrapper, value)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self._check_time()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and isinstance(__obj, types.BuiltinMethodType):
            name = __obj.__name__
            if name in _WIDTH_METHODS and args:
                _width(args[0], f"str.{name}")
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
                old, new = args[0], args[1]
                hits = len(owner) + 1 if old == "" else owner.count(old)
                if isinstance(new, str) and len(owner) + hits * len(new) > __self.max_output:
                    raise OutputTooLarge("str.replace would build a string over the limit")
        result = super().call(__context, __obj, *args, **kwargs)
        return __self._check_size(result, getattr(__obj, "__name__", "a call"))


def render_bounded(
    env: RenderSandbox,
    template: Template,
    context: Mapping[str, Any],
    max_seconds: float = DEFAULT_MAX_RENDER_SECONDS,
) -> str:
    """Render ``template`` streaming, stopping as soon as the output passes ``env.max_output`` bytes
    (counted as characters while streaming, as UTF-8 bytes at the end) or the time passes ``max_seconds``."""
    env.deadline = time.monotonic() + max_seconds
    env.declared = set()
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > env.max_output:
                raise OutputTooLarge(f"rendered output is over the limit of {env.max_output} bytes")
            env._check_time()
            parts.append(chunk)
        text = "".join(parts)
        if len(text.encode("utf-8")) > env.max_output:
            raise OutputTooLarge(f"rendered output is over the limit of {env.max_output} bytes")
        return text
    finally:
        env.deadline = float("inf")
