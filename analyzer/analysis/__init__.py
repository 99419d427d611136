"""Analysis: normalized events -> ranked incidents.

signatures (the compiled catalogue) -> match (evidence) -> correlate (request
traces) -> incidents (aggregations, window rules, unknown clusters) ->
ranking (order and causes). `engine.Analysis` runs them batch by batch for
both `scan` and `tail`. Nothing here reads files or renders output.
"""
