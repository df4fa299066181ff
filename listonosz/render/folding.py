"""Compile-time folding: what every message of a run shares is read once, not per recipient.

The event, the sender, the message kind and its materials are the same in each of a run's
messages, yet ``{{ event.venue.city }}`` or ``{{ event.starts_at | date_pl }}`` would go
through the template sandbox's checks for every recipient (about 150 attribute reads a
message). :func:`fold` replaces each expression made only of such values, attribute and item
reads, and the filters and tests Jinja itself folds, by its value, read through the same
sandbox when the template is compiled; Jinja's optimiser then joins it to the text around it.

The output is the same text, because only what is plain data is folded: a value that is not a
string, number, boolean, None or a tuple of them (a model, a date, Markup, anything the sandbox
refuses, which is Undefined) is left to be read per message, and so is every call, loop and
operator the sandbox watches (Jinja never folds those). A name is folded only where it cannot
mean anything else: if any template that may share a context with this one (every template
the loader lists, and the other sources the environment compiles) binds it (``set``, ``for``,
``with``, a macro or its arguments, an import), it is read per message everywhere.

This is a fast path: the reference is the same template compiled without constants
(``MessageRenderer.render_per_message``); tests/unit/render/test_render_folding.py compares the
two on the shipped templates and on constructs chosen to tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes
from jinja2.visitor import NodeTransformer

#: The expressions folded when they hold a shared value: reads, filters, tests, comparisons.
#: (Jinja refuses by itself to fold what needs the render context or a watched operator.)
_FOLDABLE = (
    nodes.Getattr,
    nodes.Getitem,
    nodes.Filter,
    nodes.Test,
    nodes.Compare,
    nodes.Not,
    nodes.CondExpr,
)


def plain(value: Any) -> bool:
    """Whether ``value`` can stand in compiled code as itself: exact built-in scalars (no
    Markup, no str or int subclasses, no NaN or infinity) and tuples of them."""
    kind = type(value)
    if value is None or kind in (str, int, bool):
        return True
    if kind is float:
        return math.isfinite(value)
    return kind is tuple and all(plain(item) for item in value)


def bound_names(template: nodes.Template) -> set[str]:
    """Every name the template binds anywhere: set, for, with, macro and call arguments,
    macro names and imports."""
    names = {n.name for n in template.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names.update(node.target for node in template.find_all(nodes.Import))
    names.update(node.name for node in template.find_all(nodes.Macro))
    for imported in template.find_all(nodes.FromImport):
        names.update(n if isinstance(n, str) else n[1] for n in imported.names)
    return names


def foldable_names(env: Environment, names: Iterable[str], sources: Iterable[str]) -> set[str]:
    """``names`` that no template of ``env``'s loader and none of ``sources`` binds; none
    when the loader cannot list its templates. A file that is not a template (undecodable,
    or not valid Jinja) cannot run, so it binds nothing."""
    left = set(names)
    if env.loader is None:
        return set()
    try:
        listed = env.list_templates()
    except TypeError:  # a loader that cannot list what it holds
        return set()
    texts = list(sources)
    for name in listed:
        try:
            texts.append(env.loader.get_source(env, name)[0])
        except UnicodeDecodeError:
            continue
    for text in texts:
        try:
            left -= bound_names(env.parse(text))
        except TemplateSyntaxError:
            continue
    return left


def fold(template: nodes.Template, values: Mapping[str, Any], eval_ctx: nodes.EvalContext) -> None:
    """Replace, in place, the expressions of ``template`` that only read ``values`` (by name)
    with their plain values. A template that changes autoescaping is left as it is."""
    if not values or any(template.find_all(nodes.EvalContextModifier)):
        return
    folder = _Folder(values, eval_ctx)
    folder.visit(template)
    _Restorer(folder.placeholders).visit(template)
    template.set_environment(eval_ctx.environment)


class _Folder(NodeTransformer):
    """Swaps each shared name for a placeholder constant holding its value, and folds, bottom
    up, the foldable expressions that hold one and come out plain."""

    def __init__(self, values: Mapping[str, Any], eval_ctx: nodes.EvalContext) -> None:
        self.values = values
        self.eval_ctx = eval_ctx
        # id → (name, node): the nodes are kept alive, so their ids stay unique
        self.placeholders: dict[int, tuple[str, nodes.Const]] = {}

    def visit_Name(self, node: nodes.Name) -> nodes.Node:
        if node.ctx != "load" or node.name not in self.values:
            return node
        placeholder = nodes.Const(self.values[node.name], lineno=node.lineno)
        self.placeholders[id(placeholder)] = (node.name, placeholder)
        return placeholder

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> nodes.Node:
        node = super().generic_visit(node, *args, **kwargs)
        if not isinstance(node, _FOLDABLE) or not self._holds_placeholder(node):
            return node
        try:
            value = node.as_const(self.eval_ctx)
        except nodes.Impossible:
            return node
        return nodes.Const(value, lineno=node.lineno) if plain(value) else node

    def _holds_placeholder(self, node: nodes.Node) -> bool:
        return any(id(const) in self.placeholders for const in node.find_all(nodes.Const))


class _Restorer(NodeTransformer):
    """Turns the placeholders no expression folded away back into the names they stood for."""

    def __init__(self, placeholders: dict[int, tuple[str, nodes.Const]]) -> None:
        self.placeholders = placeholders

    def visit_Const(self, node: nodes.Const) -> nodes.Node:
        entry = self.placeholders.get(id(node))
        if entry is None or entry[1] is not node:
            return node
        return nodes.Name(entry[0], "load", lineno=node.lineno)
