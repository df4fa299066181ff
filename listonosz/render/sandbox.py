"""The template sandbox: what the Jinja in a campaign's templates and subjects may do.

Anyone who can edit a campaign, a template or a run form writes Jinja that the worker runs,
so it runs in Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: no names that
start with ``_`` (no ``__globals__``, no ``os``), no Python internals, no mutating lists or
dicts, and none of pydantic's model API (``parse_file`` reads files). On top of that, one
message has a budget: ``range()`` of at most :data:`MAX_RANGE` numbers, at most
:data:`MAX_ITERATIONS` loop iterations, :data:`MAX_SIZE` characters (or items) in any value
or output a template makes, numbers of at most :data:`MAX_BITS` bits, and ``render_seconds``
of time. What goes past a limit raises :class:`SandboxLimit`, a
:class:`~jinja2.exceptions.SecurityError` that names the limit (never a value).

Sizes are checked before the operation where the size is known beforehand (``*``, ``**``,
printf widths, the filters that multiply their input) and on every result otherwise, so a
chain of steps cannot grow past a small multiple of the limit.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from jinja2 import Template, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel

from listonosz.render.folding import bound_names, fold, foldable_names

#: Most numbers a ``range()`` in a template may produce.
MAX_RANGE = 10_000
#: Most loop iterations (all loops together) while rendering one message.
MAX_ITERATIONS = 100_000
#: Most characters of a string, or items of a list, that a template may make, output included.
MAX_SIZE = 1_000_000
#: Largest number (in bits) that ``*`` or ``**`` may make.
MAX_BITS = 4_096
#: Widest field a printf-style or ``str.format`` spec may ask for.
MAX_WIDTH = 1_000
#: Default time one message may take to render, in seconds.
RENDER_SECONDS = 2.0

LOOP_FILTER = "_lz_loop"
SIZED_FILTER = "_lz_sized"
_CONCAT_BATCH = 64  # output pieces measured at a time
_TIME_CHECK_EVERY = 64  # loop iterations between two looks at the clock
_PYDANTIC_API = frozenset(dir(BaseModel))
_METHODS = (types.MethodType, types.BuiltinMethodType)
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)  # concrete: an ABC check is slow


class SandboxLimit(SecurityError):
    """A template went past one of the sandbox's limits; the message names the limit."""


class _Budget:
    """What one message may still spend: loop iterations and time."""

    __slots__ = ("deadline", "iterations", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.iterations = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise SandboxLimit(
                f"rendering one message took longer than {self.seconds:g} s "
                "(the render_seconds setting)"
            )

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise SandboxLimit(f"more than {MAX_ITERATIONS:,} loop iterations in one message")
        if not self.iterations % _TIME_CHECK_EVERY:
            self.check_time()


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "listonosz_render_budget", default=None
)


class message_budget:
    """``with message_budget(seconds):`` every render inside shares one message's budget."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._token: contextvars.Token[_Budget | None] | None = None

    def __enter__(self) -> None:
        if _budget.get() is None:  # nested: the outer budget counts
            self._token = _budget.set(_Budget(self._seconds))

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _budget.reset(self._token)


def _current() -> _Budget:
    budget = _budget.get()
    # Outside Template.render (generate, stream): a budget of its own for this loop or call,
    # never left behind in the context, where it would run out for every later message.
    return budget if budget is not None else _Budget(RENDER_SECONDS)


def _too_big(what: str, size: int, unit: str, limit: int = MAX_SIZE) -> SandboxLimit:
    return SandboxLimit(f"{what} of {size:,} {unit} is over the limit of {limit:,}")


def sized(value: Any) -> Any:
    """``value``, unless it is a string or collection longer than :data:`MAX_SIZE`."""
    if isinstance(value, _SIZED) and len(value) > MAX_SIZE:
        text = isinstance(value, str)
        raise _too_big(
            "a text" if text else "a list", len(value), "characters" if text else "items"
        )
    return value


def bounded_range(*args: int) -> range:
    """``range()`` for templates: at most :data:`MAX_RANGE` numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _too_big("range()", len(numbers), "numbers", MAX_RANGE)
    return numbers


@pass_context  # never folded into a constant at compile time
def _concat_piece(_context: Context, value: Any) -> Any:
    """What each side of a ``~`` goes through: :func:`sized`. Never folded, and so neither is
    the ``~``: Jinja folds one into a plain string, so Markup on one side would be escaped
    twice (``{{ 'a&b' | e ~ '&' }}`` gives ``a&amp;amp;b&amp;`` folded, ``a&amp;b&amp;`` not)."""
    return sized(value)


@pass_context  # never folded into a constant at compile time
def _loop(_context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates: counts iterations and watches the clock."""
    tick = _current().tick
    for item in iterable:
        tick()
        yield item


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(fmt: str) -> None:
    """Refuse printf-style widths from arguments (``*``) or wider than :data:`MAX_WIDTH`."""
    for match in _PRINTF.finditer(fmt):
        for width in match.groups():
            if width == "*":
                raise SandboxLimit("a '*' width in a %-format is not allowed in templates")
            if width and int(width) > MAX_WIDTH:
                raise _too_big("a %-format width", int(width), "characters", MAX_WIDTH)


def _check_format_spec(fmt: str) -> None:
    """Refuse ``str.format`` specs wider than :data:`MAX_WIDTH` or taken from arguments."""
    for _literal, _field, spec, _conversion in string.Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise SandboxLimit("a nested {} in a format spec is not allowed in templates")
        for width in re.findall(r"\d+", spec):
            if int(width) > MAX_WIDTH:
                raise _too_big("a format width", int(width), "characters", MAX_WIDTH)


def _check_repeat(left: Any, right: Any) -> None:
    """``*``: a repeated string or list, or a product of integers, must stay in bounds."""
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_BITS:
            raise _too_big("a product", bits, "bits", MAX_BITS)
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, _SIZED) and isinstance(times, int) and len(seq) * times > MAX_SIZE:
            raise _too_big("a repetition", len(seq) * times, "characters or items")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = (abs(base).bit_length() - 1) * exponent
        if bits > MAX_BITS:
            raise _too_big("a power", bits, "bits", MAX_BITS)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, _SIZED) else len(str(value))


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1


# Filters whose output can be much larger than their input: how large, before they run.
def _center(value: Any, width: int = 80, *_: Any, **__: Any) -> int:
    return max(_length(value), width)


def _indent(s: Any, width: int | str = 4, *_: Any, **__: Any) -> int:
    return _length(s) + _lines(s) * (width if isinstance(width, int) else len(width))


def _batch(value: Any, linecount: int, *_: Any, **__: Any) -> int:
    return linecount


def _slice(value: Any, slices: int, *_: Any, **__: Any) -> int:
    return slices


def _replace(s: Any, old: Any, new: Any, count: int | None = None, *_: Any, **__: Any) -> int:
    hits = str(s).count(str(old)) if count is None or count < 0 else count
    return _length(s) + hits * _length(new)


def _wordwrap(s: Any, width: int = 79, *args: Any, **kwargs: Any) -> int:
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None) or "\n"
    return _length(s) * (1 + len(str(wrapstring)) // max(width, 1) + 1)


def _wrap(text: Any, width: int = 72, indent: str = "", first: str = "", *_: Any) -> int:
    return _length(text) * (1 + (len(indent) + len(first)) // max(width // 2, 1) + 1)


def _join(value: Any, d: Any = "", *_: Any, **__: Any) -> int:
    return (len(value) if isinstance(value, (*_SIZED, range)) else 0) * (_length(d) + 1)


def _format(value: Any, *_: Any, **__: Any) -> int:
    _check_printf(str(value))
    return 0


def _tojson(value: Any, indent: int | None = None, *_: Any, **__: Any) -> int:
    return 0 if indent is None else MAX_SIZE + 1 if int(indent) > 8 else 0


_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _center,
    "indent": _indent,
    "batch": _batch,
    "slice": _slice,
    "replace": _replace,
    "wordwrap": _wordwrap,
    "wrap": _wrap,
    "join": _join,
    "format": _format,
    "tojson": _tojson,
}


def guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its result's size checked (and estimated first, where it can grow)."""
    estimate = _ESTIMATES.get(name)
    passes = getattr(function, "jinja_pass_arg", None)
    skip = 0 if passes is None else 1  # the context, eval context or environment comes first

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if estimate is not None:
            try:
                size = estimate(*args[skip:], **kwargs)
            except (TypeError, ValueError):
                size = 0  # the filter itself will say what is wrong with its arguments
            if size > MAX_SIZE:
                raise SandboxLimit(
                    f"the {name!r} filter would make more than {MAX_SIZE:,} characters or items"
                )
        return sized(function(*args, **kwargs))

    return guarded


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Numbers passed to a function (e.g. ``'x'.ljust(n)``) and ``str.join`` stay in bounds."""
    if obj is bounded_range:  # says so itself
        return
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and abs(value) > MAX_SIZE:
            raise SandboxLimit(f"the number {value:,} is over the limit of {MAX_SIZE:,}")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str) and getattr(obj, "__name__", "") in ("join", "replace") and args:
        if obj.__name__ == "join" and isinstance(args[0], _SIZED):
            if len(args[0]) * (len(owner) + 1) > MAX_SIZE:
                raise _too_big("a join", len(args[0]) * (len(owner) + 1), "characters")
        elif obj.__name__ == "replace" and len(args) > 1:
            size = len(owner) + owner.count(str(args[0])) * _length(args[1])
            if size > MAX_SIZE:
                raise _too_big("a replace", size, "characters")


class SandboxedTemplate(Template):
    """A template whose :meth:`render` keeps to one message's budget."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with message_budget(getattr(self.environment, "render_seconds", RENDER_SECONDS)):
            return super().render(*args, **kwargs)


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with Listonosz's limits (see the module's docstring).

    ``constants``: values every render will be given under these names, read once when a
    template is compiled instead of for every message (:mod:`listonosz.render.folding`);
    ``sources`` are the templates it will compile from strings, whose ``set``s count too.
    """

    template_class = SandboxedTemplate
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    render_seconds: float = RENDER_SECONDS

    def __init__(
        self,
        *args: Any,
        render_seconds: float = RENDER_SECONDS,
        constants: Mapping[str, Any] | None = None,
        sources: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.render_seconds = render_seconds
        self.constants = dict(constants or {})
        # Worked out now, with this environment's syntax: an overlay (inline.py) has its own.
        self._folded = foldable_names(self, self.constants, sources) if constants else set()
        self._safe_attributes: dict[tuple[type, str], bool] = {}  # allowed ones
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)  # placeholder text: no use in mail, and unbounded
        self.filters = {name: guarded_filter(name, f) for name, f in self.filters.items()}
        self.filters[LOOP_FILTER] = _loop
        self.filters[SIZED_FILTER] = _concat_piece

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals: the environment's with the template's own on top, as a plain
        dict. Jinja's ChainMap was copied key by key in Python for every render (several times
        a message); the environment's globals are all set here, before any template loads."""
        return {**self.globals, **(d or {})}

    @property
    def folded_names(self) -> frozenset[str]:
        """The constants this environment folds into what it compiles (none may be rebound)."""
        return frozenset(self._folded)

    def add_filters(self, **filters: Callable[..., Any]) -> None:
        """Add filters, each with its result's size checked."""
        self.filters.update({name: guarded_filter(name, f) for name, f in filters.items()})

    def concat(self, pieces: Iterable[str]) -> str:
        """The output (or a captured block), refused as soon as its pieces grow too long. The
        pieces are taken :data:`_CONCAT_BATCH` at a time and measured in C: never more than one
        batch (each piece within the size limit) past the limit is held."""
        rest = iter(pieces)
        parts = list(itertools.islice(rest, _CONCAT_BATCH))
        size = sum(map(len, parts))
        while size <= MAX_SIZE:
            batch = list(itertools.islice(rest, _CONCAT_BATCH))
            if not batch:
                return "".join(parts)
            size += sum(map(len, batch))
            parts += batch
        # The whole output would be longer still.
        raise SandboxLimit(f"an output of over {MAX_SIZE:,} characters is over the limit")

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` if the sandbox allows it. Templates read many attributes, so what
        Jinja decides from the type and the name alone is remembered per type and name."""
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            return super().getattr(obj, attribute)  # an item, or undefined
        if self._safe_attributes.get((type(obj), attribute)) and not isinstance(value, _METHODS):
            return value
        return self._checked_attribute(obj, attribute, value)

    def _checked_attribute(self, obj: Any, attribute: str, value: Any) -> Any:
        if isinstance(obj, type) or isinstance(value, _METHODS):
            return super().getattr(obj, attribute)  # classes and methods: every check each time
        if not self.is_safe_attribute(obj, attribute, value):
            return self.unsafe_undefined(obj, attribute)
        self._safe_attributes[type(obj), attribute] = True
        return value

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``obj[argument]``, else the attribute of that name through :meth:`getattr`."""
        try:
            return obj[argument]
        except (TypeError, LookupError):
            if isinstance(argument, str):
                return self.getattr(obj, argument)
        return self.undefined(obj=obj, name=argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """No underscore names, no Python internals, no mutation, no pydantic model API."""
        model = obj if isinstance(obj, type) else type(obj)
        if (
            attr in _PYDANTIC_API
            and issubclass(model, BaseModel)
            and attr not in model.model_fields
        ):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        owner = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        return self.undefined(
            f"access to attribute {attribute!r} of {owner!r} is not allowed in templates",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
        return sized(self.binop_table[operator](left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _current().check_time()
        _check_call(obj, args, kwargs)
        return sized(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format_spec(value.__self__)
        return wrapper

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        """Compile with every ``{% for %}`` counted and each side of every ``~`` checked for
        size (so a ``~`` makes at most a few times :data:`MAX_SIZE`, and no more next time)."""
        for loop in source.find_all(nodes.For):
            assert isinstance(loop.iter, nodes.Expr)  # what Jinja's parser makes of it
            loop.iter = self._wrap(loop.iter, LOOP_FILTER)
        for concat in list(source.find_all(nodes.Concat)):
            concat.nodes = [self._wrap(n, SIZED_FILTER) for n in concat.nodes]
        if self._folded:
            self._fold(source, name)
        return super()._generate(source, name, filename, defer_init)

    def _fold(self, source: nodes.Template, name: str | None) -> None:
        """Fold the constants no template can rebind into ``source``."""
        rebound = bound_names(source) & self._folded
        if rebound:  # only a source nobody declared can get here; its context reaches others
            raise RuntimeError(
                f"a template compiled from a string binds {sorted(rebound)}, which this "
                "environment folds as constants: pass its source in `sources`"
            )
        values = {key: self.constants[key] for key in self._folded}
        fold(source, values, nodes.EvalContext(self, name))

    def _wrap(self, node: nodes.Expr, filter_name: str) -> nodes.Filter:
        wrapped = nodes.Filter(node, filter_name, [], [], None, None, lineno=node.lineno)
        wrapped.set_environment(self)
        return wrapped
