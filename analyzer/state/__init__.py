"""State of incremental runs (`scan --state`): checkpoints (where each file was read to) and incident history."""
