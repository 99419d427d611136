"""`logscan signatures`: list, show, lint and test signature catalogues.

A typer sub-app; analyzer.commands.app mounts it with
`app.add_typer(signatures_app, name="signatures")`. Exit codes: 0 = fine,
1 = the signatures have problems or failing examples, 2 = an argument cannot be
used (typer's own usage errors, e.g. a folder that does not exist).
"""

from __future__ import annotations

import textwrap
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from analyzer.commands.options import Command, console, examples
from analyzer.analysis.match import check_examples
from analyzer.analysis.signatures import (
    Signature,
    SignatureError,
    SignatureSet,
    display_path,
    load_signatures,
)

SIGNATURES_EXIT_CODES = (
    "Exit codes: 0 = fine; 1 = the signatures have problems (lint, list, show: an unknown id or a bad file) or an "
    "example fails (test); 2 = an unusable argument (e.g. a folder that does not exist)."
)
SIGNATURES_EPILOG = examples(
    "logscan signatures list                    # id, severity, role, title",
    "logscan signatures show pool_exhausted     # cause, fix, examples",
    "logscan signatures lint ./our-signatures   # every problem, file and key",
    "logscan signatures test ./our-signatures   # run every example",
) + "\n\n" + SIGNATURES_EXIT_CODES

signatures_app = typer.Typer(
    name="signatures",
    help="List, inspect, validate and test signatures, the catalogue of known problems logscan detects.",
    no_args_is_help=True,
)

SignatureDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--signatures",
        "-s",
        metavar="DIR",
        help="A folder of your own signature files (*.toml). Repeatable; adds to the built-in catalogue and overrides it by id.",
        exists=True,
        file_okay=False,
    ),
]
Folder = Annotated[
    Path | None,
    typer.Argument(metavar="FOLDER", help="Folder of signature files (*.toml). Default: the built-in catalogue.",
                   exists=True, file_okay=False),
]


def _out() -> Console:
    """Results on stdout (NO_COLOR honoured fully, as by the other commands)."""
    return console()


def _err() -> Console:
    """Problems and failures, one per line and never wrapped, so they can be grepped."""
    return console(stderr=True, soft_wrap=True)


def _load(folders: list[Path] | None, check_builtin: bool = False) -> SignatureSet:
    """The built-ins plus `folders` (`check_builtin`: the built-ins' patterns compiled too); on problems, print
    every one (file and key) and exit 1."""
    try:
        return load_signatures(folders or [], check_builtin=check_builtin)
    except SignatureError as exc:
        err = _err()
        for problem in exc.problems:
            err.print(Text(str(problem)))
        err.print(f"[bold red]{len(exc.problems)} problem(s)[/] in signature files")
        raise typer.Exit(1) from None


def _in_folder(sigs: SignatureSet, folder: Path | None) -> list[Signature]:
    """The signatures of `sigs` read from `folder` (all of them when no folder is given)."""
    if folder is None:
        return list(sigs)
    where = folder.resolve()
    return [sig for sig in sigs if sig.source.parent.resolve() == where]


ID_WIDTH = 24  # wider ids take a line of their own in `list`
_LIST_EXAMPLES = examples("logscan signatures list", "logscan signatures list --wide -s ./our-signatures")


@signatures_app.command("list", cls=Command, epilog=_LIST_EXAMPLES)
def list_signatures(
    signatures: SignatureDirs = None,
    wide: Annotated[bool, typer.Option("--wide", help="Also the file each signature comes from.")] = False,
) -> None:
    """List every loaded signature: id, severity, role and title (with --wide, the file it comes from)."""
    sigs = _load(signatures)
    out = _out()
    id_width = min(ID_WIDTH, max((len(sig.id) for sig in sigs), default=2))
    head = f"{'id':<{id_width}}  {'severity':<8}  {'role':<7}  "
    title_width = max(20, out.width - len(head) - 1)
    out.print(Text(head + "title" + ("  source" if wide else ""), style="bold"))
    for sig in sigs:
        if len(sig.id) > id_width:  # a long id takes a line of its own rather than squeezing every title
            out.print(Text(sig.id))
        lines = [sig.title] if wide else textwrap.wrap(sig.title, title_width) or [""]
        first = f"{'' if len(sig.id) > id_width else sig.id:<{id_width}}  {sig.severity:<8}  {sig.role:<7}  "
        out.print(Text(first + lines[0] + (f"  {display_path(sig.source)}" if wide else "")), soft_wrap=True)
        for line in lines[1:]:
            out.print(Text(" " * len(head) + line), soft_wrap=True)
    files = len({sig.source for sig in sigs})
    out.print(f"{len(sigs)} signature(s) from {files} file(s)")


def _window_text(sig: Signature) -> str:
    group = ", ".join(sig.group_by) or "nothing"
    return f"≥ {sig.min_count} event(s) within {sig.window_seconds:g} s, grouped by {group}"


def _examples_block(title: str, examples: tuple[str, ...]) -> Group:
    parts: list[Text | Padding] = [Text(f"{title} ({len(examples)})", style="bold")]
    for i, example in enumerate(examples):
        parts += [Padding(Text(f"[{i}]", style="dim"), (0, 0, 0, 2)), Padding(Text(example), (0, 0, 0, 4))]
    return Group(*parts)


@signatures_app.command(cls=Command, epilog=examples("logscan signatures show pool_exhausted"))
def show(
    sig_id: Annotated[str, typer.Argument(metavar="ID", help="Signature id, as `logscan signatures list` prints it.")],
    signatures: SignatureDirs = None,
) -> None:
    """Show everything about one signature: how it matches, what it means, how to fix it, and its examples."""
    sigs = _load(signatures)
    if sig_id not in sigs:
        close = get_close_matches(sig_id, [sig.id for sig in sigs], n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See `logscan signatures list`."
        _err().print(Text(f"No signature with id {sig_id!r}.{hint}"))
        raise typer.Exit(1)
    sig = sigs[sig_id]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, str | None]] = [
        ("title", sig.title),
        ("severity", sig.severity),
        ("role", sig.role),
        ("priority", str(sig.priority) if not sig.is_window else None),
        ("source", display_path(sig.source)),
        ("window", _window_text(sig) if sig.is_window else None),
        ("keywords", "\n".join(sig.keywords) or None),
        ("pattern", sig.pattern),
        ("captures", ", ".join(sig.captures) or None),
        ("key", ", ".join(sig.key) or None),
        ("when", "\n".join(str(cond) for cond in sig.when) or None),
        ("cause", sig.cause or None),
        ("fix", "\n".join(f"{i}. {step}" for i, step in enumerate(sig.fix, start=1)) or None),
        ("docs", "\n".join(sig.docs) or None),
        ("leads to", ", ".join(sig.leads_to) or None),
    ]
    for label, value in rows:
        if value is not None:
            grid.add_row(label, Text(value))
    out = _out()
    out.print(Text(sig.id, style="bold cyan"))
    out.print(grid)
    out.print(_examples_block("match examples", sig.examples.match))
    out.print(_examples_block("no_match examples", sig.examples.no_match))


@signatures_app.command(cls=Command, epilog=examples("logscan signatures lint", "logscan signatures lint ./our-signatures"))
def lint(folder: Folder = None) -> None:
    """Validate a folder of signature files and print every problem with its file and key; exit 1 if there is any.

    The folder is checked together with the built-in catalogue, so `leads_to`
    may name built-in signatures and ids may override them.
    """
    sigs = _load([folder] if folder else [], check_builtin=True)
    where = escape(display_path(folder)) if folder else "built-in catalogue"
    _out().print(f"{where}: {len(_in_folder(sigs, folder))} signature(s), no problems")


@signatures_app.command(cls=Command, epilog=examples("logscan signatures test ./our-signatures"))
def test(folder: Folder = None) -> None:
    """Run the examples of a folder's signatures; exit 1 if any fails.

    Each example is read by the real ingest pipeline (format detection, multi-line
    joining, field parsing) and matched against the whole loaded set: a `match`
    example must produce a match of its signature, a `no_match` example must not.
    A window signature's example only has to be selected by its `when`/pattern.
    """
    sigs = _load([folder] if folder else [])
    selected = _in_folder(sigs, folder)
    failures = check_examples(sigs, [sig.id for sig in selected])
    err = _err()
    for failure in failures:
        err.print(Text(str(failure)))
    total = sum(len(sig.examples.match) + len(sig.examples.no_match) for sig in selected)
    summary = f"{total} example(s) of {len(selected)} signature(s)"
    if failures:
        err.print(f"[bold red]{len(failures)} failed[/] of {summary}")
        raise typer.Exit(1)
    _out().print(f"{summary}: all passed")
