"""The `logscan` command: the typer group, `--version`, and each subcommand loaded only when it is used.

Start-up is part of the interface: `logscan --version` and a scan of an empty file should answer at once
(issue 12: 0.15 s), and Polars alone takes about that long to import. So this module imports typer and
analyzer.commands.group only; a subcommand's module (and with it Polars, rich and the stages) is imported
when the command line names that subcommand, or when `--help` lists them all. `SUBCOMMANDS` says where each
one lives; it is built exactly as `app.command(...)` / `app.add_typer(...)` would build it.

The subcommands themselves: `scan` in analyzer.commands.app, the others in their own modules.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Annotated, Any

import typer
import typer.main
from typer import _click as click  # typer vendors click

from analyzer.commands.group import Command, Group, examples

#: name -> (module, the command function or typer app, its epilog), in `--help` order (commands, then groups,
#: as typer lists them).
SUBCOMMANDS: Mapping[str, tuple[str, str, str]] = {
    "scan": ("analyzer.commands.app", "scan", "SCAN_EPILOG"),
    "tail": ("analyzer.commands.tail", "tail_command", "TAIL_EPILOG"),
    "events": ("analyzer.commands.events", "events_command", "EVENTS_EPILOG"),
    "config": ("analyzer.commands.config", "config_command", "CONFIG_EPILOG"),
    "signatures": ("analyzer.commands.signatures", "signatures_app", "SIGNATURES_EPILOG"),
}


def _load(name: str) -> click.Command:
    """The click command `name`, from its module, registered as `app.command` or `app.add_typer` would."""
    module_name, attribute, epilog = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name, epilog=getattr(module, epilog), cls=Group)
    else:
        holder.command(name, epilog=getattr(module, epilog), cls=Command)(target)
    return typer.main.get_group(holder).commands[name]


class _Subcommands(MutableMapping[str, click.Command]):
    """The group's commands: every name known at once (usage errors suggest them), each built on first use."""

    def __init__(self) -> None:
        self._built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name not in SUBCOMMANDS:
                raise KeyError(name)
            self._built[name] = _load(name)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("logscan's subcommands are fixed")

    def __iter__(self) -> Iterator[str]:
        return iter([*SUBCOMMANDS, *(name for name in self._built if name not in SUBCOMMANDS)])

    def __len__(self) -> int:
        return len(set(SUBCOMMANDS) | set(self._built))


class _Logscan(Group):
    """The top-level group, its subcommands loaded lazily (`_Subcommands`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Subcommands()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # names only: typer's own lists (name, command) pairs, building every one


app = typer.Typer(
    name="logscan",
    help="Log-driven incident analyzer for FastAPI/uvicorn + SQLAlchemy + PostgreSQL + Docker Compose backends.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=_Logscan,
    epilog=examples(
        "logscan scan app.log                 # what broke, and the first fix",
        "logscan tail app.log                 # the same, live",
        "logscan events app.log | head        # the records as logscan reads them",
        "logscan signatures list              # what logscan knows",
        "logscan config                       # the settings a run here would use",
    ) + "\n\nstdout is the report (or the events); every warning, error and progress line goes to stderr. "
    "Exit codes: 0 = done (also when a reader such as head closes stdout early); 1 = scan --fail-on found an "
    "incident, or a signature check failed; 2 = an unusable argument, path or config file, or a usage error.",
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"logscan {version('logscan')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Log-driven incident analyzer for FastAPI/uvicorn + SQLAlchemy + PostgreSQL + Docker Compose backends.

    stdout is the report (or the events); every warning, error and progress line goes to stderr. Exit codes:
    0 done (also when a reader such as head closes stdout early), 1 scan --fail-on found an incident or a
    signature check failed, 2 an unusable argument or config file (usage errors included).
    """


def main() -> None:
    """The `logscan` script: the typer app, with a closed stdout (`| head`) ending it quietly."""
    try:
        app()
    except BrokenPipeError:  # closed while click itself was writing (help, usage)
        from analyzer.commands.group import quiet_closed_stdout

        quiet_closed_stdout()
        sys.exit(0)


if __name__ == "__main__":
    main()
