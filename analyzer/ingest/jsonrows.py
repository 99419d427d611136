"""Decode JSON-lines records into typed columns, fast when the input is clean and
exact when it is not.

Polars decodes a whole column in Rust, but one malformed line (a truncated
write, binary junk) fails the batch; then each row is decoded on its own with
orjson and a row that is not a JSON object becomes all-null, which parsers
report as unparsed (the record then falls back to the plain format).
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl


def _coerce(value: Any, dtype: pl.DataType) -> Any:
    """Shape an orjson value like Polars' decoder would for `dtype` (leaves are strings)."""
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return None
        return {f.name: _coerce(value.get(f.name), f.dtype) for f in dtype.fields}
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _loads(line: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def decode(lines: pl.Series, schema: pl.Struct) -> pl.DataFrame:
    """One row per line with the schema's fields; rows that are not JSON objects are all null.

    A column `_valid` tells which rows decoded.
    """
    try:
        decoded = lines.to_frame("line").select(pl.col("line").str.json_decode(schema)).to_series()  # parallel by chunk
        valid = decoded.is_not_null()
    except pl.exceptions.PolarsError:
        values = [_loads(line) for line in lines.to_list()]
        valid = pl.Series([isinstance(v, dict) for v in values])
        decoded = pl.Series([_coerce(v, schema) for v in values], dtype=schema)
    return decoded.struct.unnest().with_columns(valid.alias("_valid"))
