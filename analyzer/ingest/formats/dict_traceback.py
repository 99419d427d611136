"""structlog's `dict_tracebacks` turned back into the traceback text Python prints.

structlog's recommended JSON setup (`structlog.processors.dict_tracebacks`, its
`ExceptionDictTransformer`) logs an exception as a JSON list of stacks instead of
text: `[{"exc_type": "KeyError", "exc_value": "'black-friday'", "is_cause": false,
"frames": [{"filename": ..., "lineno": ..., "name": ...}], ...}, ...]`. The list
starts with the exception that was raised; each next stack is the one before it in
the chain (`is_cause`: its `__cause__`, else its `__context__`). An exception group
(`is_group`) holds its members' lists under `exceptions`; a long stack has one
made-up frame (`lineno` -1) that says how many frames were skipped.

`render` writes that list as Python's own traceback, oldest exception first, with
Python's lines between chained exceptions and group members behind Python's `| ` gutter,
so the signatures and analyzer.analysis.exceptions read it as they read any
traceback (members as `traceback.print_exc` prints them). Only `exc_type.__name__` is logged (`TimeoutError`, not
`sqlalchemy.exc.TimeoutError`): the text says what structlog kept, no more. A value
that is not such a list comes back unchanged.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from analyzer.ingest.formats.common import TRACEBACK

CAUSE: Final = "\n\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT: Final = "\n\nDuring handling of the above exception, another exception occurred:\n\n"
GROUP_RULE: Final = "-" * 16


def render(value: str) -> str:
    """The traceback text of a JSON `dict_tracebacks` list, or `value` itself when it is not one."""
    try:
        stacks = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return _chain(stacks) if _is_trace(stacks) else value


def _is_trace(stacks: Any) -> bool:
    return isinstance(stacks, list) and bool(stacks) and all(
        isinstance(stack, dict) and isinstance(stack.get("exc_type"), str) for stack in stacks)


def _chain(stacks: list[dict[str, Any]]) -> str:
    """The stacks of one chain, oldest first, joined as Python joins chained exceptions."""
    text = _stack(stacks[-1])
    for older, newer in zip(reversed(stacks), reversed(stacks[:-1]), strict=False):
        text += (CAUSE if older.get("is_cause") else CONTEXT) + _stack(newer)
    return text


def _stack(stack: dict[str, Any]) -> str:
    """One stack as Python prints it; a group with its members below, behind the gutter Python draws."""
    lines = []
    for frame in stack.get("frames") or []:
        if not isinstance(frame, dict):
            continue
        if frame.get("lineno") == -1:  # the transformer's marker for frames it left out
            lines.append(f"  ... {frame.get('name', '')}")
        else:
            lines.append(f'  File "{frame.get("filename", "?")}", line {frame.get("lineno", 0)}, in {frame.get("name", "?")}')
    value = stack.get("exc_value")
    lines.append(f"{stack['exc_type']}: {value}" if value else stack["exc_type"])
    lines.extend(str(note) for note in stack.get("exc_notes") or [])
    members = [member for member in stack.get("exceptions") or [] if _is_trace(member)] if stack.get("is_group") else []
    if not members:  # Python prints the header only above frames: a group's unraised member has none
        return "\n".join([TRACEBACK, *lines] if stack.get("frames") else lines)
    out = ["  + Exception Group Traceback (most recent call last):", *("  | " + line for line in lines)]
    for n, member in enumerate(members, 1):
        out.append(f"  {'+-+' if n == 1 else '  +'}{GROUP_RULE} {n} {GROUP_RULE}")
        out.extend("    | " + line for line in _chain(member).splitlines())
    out.append("    +" + "-" * 36)
    return "\n".join(out)
