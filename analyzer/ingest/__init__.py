"""Ingest: what the user named -> normalized event frames.

sources (bytes, batch) and follow (bytes, live) -> framing (records) ->
formats (one module per log format) -> normalize (records -> events) ->
pipeline (the feed/flush every command runs). Nothing here knows about
signatures, incidents or reports.
"""
