"""`python -m analyzer`: the same command line as the `logscan` script."""

from analyzer.cli import app

app()
