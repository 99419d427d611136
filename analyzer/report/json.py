"""JSON report: the report model as is (schema `logscan.report/2`), for programs and CI."""

from __future__ import annotations

from typing import Any

import orjson


def render(report: dict[str, Any]) -> str:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
