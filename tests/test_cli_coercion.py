"""Option values converted without pydantic (analyzer.commands.coercion) are exactly what typer's own coercion
makes of them, for every parameter of every logscan command; the values it declines still get typer's errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer import _click as click
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter
from typer.testing import CliRunner

from analyzer.cli import SUBCOMMANDS, _load, app
from analyzer.commands.coercion import DECLINED, PlainFirst, plain


def _commands(command: click.Command) -> list[click.Command]:
    found = [command]
    for sub in getattr(command, "commands", {}).values():
        found += _commands(sub)
    return found


def _parameters() -> list[tuple[click.Context, _TyperParameter]]:
    """(a context, the parameter) for every typer parameter of every command, as the commands declare them."""
    pairs = []
    for name in SUBCOMMANDS:
        for command in _commands(_load(name)):
            ctx = click.Context(command)
            pairs += [(ctx, p) for p in command.get_params(ctx) if isinstance(p, _TyperParameter)]
    return pairs


PARAMETERS = _parameters()
IDS = [f"{ctx.command.name}.{param.name}" for ctx, param in PARAMETERS]


def _typer(ctx: click.Context, param: _TyperParameter, value: Any) -> Any:
    """What typer's own coercion (its pydantic adapter) makes of `value`, or the error it raises."""
    try:
        return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)
    except click.exceptions.BadParameter as exc:
        return ("error", exc.message)


def _samples(param: _TyperParameter) -> st.SearchStrategy[Any]:
    """Values as the command line hands them over: text (its choices and numbers likely), or lists of it."""
    choices = [str(getattr(c, "value", c)) for c in param.type_descriptor.choices or ()]
    text = st.one_of(st.text(max_size=12), st.sampled_from(choices or ["x"]),
                     st.integers(-5, 10**20).map(str), st.sampled_from(["07", " 3", "+4", "1_0", "٣", "TEXT", ""]))
    return st.one_of(text, st.lists(text, max_size=3).map(tuple))


@pytest.mark.parametrize(("ctx", "param"), PARAMETERS, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_plainly_valid_value_converts_as_typer_converts_it(ctx, param, data):
    value = data.draw(_samples(param))
    converted = plain(param.type_descriptor, value, ctx)
    if converted is not DECLINED:
        assert converted == _typer(ctx, param, value)
        assert type(converted) is type(_typer(ctx, param, value))


@pytest.mark.parametrize(("ctx", "param"), PARAMETERS, ids=IDS)
def test_defaults_convert_as_typer_converts_them(ctx, param):
    if param.default is None or isinstance(param.default, bool):
        return
    assert PlainFirst(param.type_descriptor.parameter_info, param.type_descriptor.annotation,
                      param.type_descriptor).coerce(param.default, param, ctx) == _typer(ctx, param, param.default)


@pytest.mark.parametrize(("args", "message"), [
    (["scan", "x.log", "--top", "-1"], "greater than or equal to 0"),
    (["scan", "x.log", "--top", "many"], "valid integer"),
    (["scan", "x.log", "-f", "jsn"], "'jsn' is not one of"),
    (["tail", "x.log", "--storm-count", "0"], "greater than or equal to 1"),
])
def test_a_value_it_declines_gets_typers_own_error(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())  # the error box, unwrapped
