"""Message templates: the constant part of an error message, for clustering unknown errors.

Two errors are "the same unknown problem" when they have the same exception
type and the same message once its variable parts are masked: quoted values,
UUIDs, addresses, hex and long IDs, numbers. Masking runs as Polars
`replace_all` passes over whole columns (Rust regex, linear time). The
exception line of a traceback comes from analyzer.ingest.formats.common.exception_lines.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: (pattern, replacement) applied in order; earlier masks protect later ones.
MASKS: Final[tuple[tuple[str, str], ...]] = (
    (r"(?i)((?-u:\b)(?:req(?:uest)?|correlation|trace|span)[_-]?id[=:] ?)[^\s,;|]+", "${1}<id>"),
    (r"""'[^'\n]*'|"[^"\n]*\"""", "<str>"),
    (r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>"),
    (r"(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?", "<addr>"),
    (r"0x[0-9a-fA-F]+", "<hex>"),
    (r"(?-u:\b)[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*(?-u:\b)", "<id>"),
    (r"-?(?-u:\b)\d+(?:[.,:]\d+)*(?-u:\b)", "<n>"),
)
MAX_TEMPLATE_CHARS: Final = 300


def template(message: pl.Expr) -> pl.Expr:
    """The message with its variable parts masked, whitespace squeezed, cut to a readable length."""
    out = message
    for pattern, replacement in MASKS:
        out = out.str.replace_all(pattern, replacement)
    return out.str.replace_all(r"\s+", " ").str.strip_chars().str.slice(0, MAX_TEMPLATE_CHARS)
