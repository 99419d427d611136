"""`python -m analyzer`: the same command line as the `logscan` script."""

from analyzer.commands.app import app

app()
