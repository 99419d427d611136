"""The command line: thin typer layers (`scan`, `tail`, `events`, `signatures`, `config`) over the stages."""
