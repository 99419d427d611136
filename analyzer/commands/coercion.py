"""Option values converted without pydantic when they are plainly valid; typer's own coercion for the rest.

typer 0.29 converts every option and argument value through a pydantic `TypeAdapter` that it builds on first
use, even for an option left at its default: importing pydantic and building a scan's adapters took about
0.1 s of every run (benchmarks/startup.py), most of issue 12's 0.15 s start-up budget. logscan's parameters
are of a few plain kinds: text, lists of text, whole numbers (some bounded below), choices (an Enum). A value
that is plainly valid for its kind is converted here to exactly what typer's adapter returns
(tests/test_cli_coercion.py compares the two); any other value (a number that is not one or out of range,
an unknown choice, a kind not listed here such as a Path) goes to typer's own coercion, so every error
message is still typer's and pydantic is imported only then.

It hooks into typer's per-parameter runtime coercion (`_TyperParameter.get_runtime_param`, whose result
typer caches on the parameter), which is why pyproject.toml keeps typer below 0.30.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, get_args, get_origin

import typer.core
from typer import _click as click  # typer vendors click
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_choice

#: What `plain` returns for a value it leaves to typer.
DECLINED: Final = object()


def plain(descriptor: TypeDescriptor, value: Any, ctx: click.Context | None = None) -> Any:
    """`value` converted as typer's adapter for `descriptor` would convert it, or DECLINED when it is not
    plainly valid (or of a kind handled by typer alone)."""
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if info.parser is not None or descriptor.is_file:
        return DECLINED
    if get_origin(annotation) is list:
        (item_type,) = get_args(annotation)
        if not isinstance(value, (list, tuple)):
            value = [value]
        items = [plain(TypeDescriptor(item_type, info, None), item, ctx) for item in value]
        return DECLINED if any(item is DECLINED for item in items) else items
    if annotation is str:
        return value if isinstance(value, str) else DECLINED
    if annotation is int and not info.clamp:
        return _whole_number(value, info.min, info.max)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return coerce_cli_choice(value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return DECLINED
    return DECLINED


def _whole_number(value: Any, low: float | None, high: float | None) -> Any:
    """An int from an int or from ASCII digits, within [low, high]; DECLINED otherwise (signs, spaces,
    underscores, out of range: typer decides, and words the error)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
    else:
        return DECLINED
    if (low is not None and number < low) or (high is not None and number > high):
        return DECLINED
    return number


@dataclass(frozen=True)
class PlainFirst(RuntimeParam):
    """A parameter's coercion: `plain` first, typer's own runtime coercion (built on first need) for the rest."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: click.Context) -> Any:
        converted = plain(self.descriptor, value, ctx)
        if converted is not DECLINED:
            return converted
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def install(params: list[click.Parameter]) -> None:
    """Give each typer parameter of a command `PlainFirst` coercion (typer's boolean flags need none)."""
    for param in params:
        if isinstance(param, typer.core._TyperParameter) and param._runtime_param is None:
            descriptor = param.type_descriptor
            param._runtime_param = PlainFirst(descriptor.parameter_info, descriptor.annotation, descriptor)
