"""Every report lists an incident's causes in the same order: by the cause's rank."""

from __future__ import annotations

import io
import json
import re

from conftest import ROOT
from rich.console import Console

from analyzer.report.model import causes_by_rank
from analyzer.report import html, markdown, terminal

COMPOSE = ROOT / "samples/compose/compose.log"


def test_causes_by_rank_orders_known_causes_and_keeps_unknown_ones_last():
    ranks = {"a": 5, "b": 2, "c": 4}
    causes = [{"fingerprint": fp} for fp in ["a", "x", "c", "b", "a"]]
    assert causes_by_rank(causes, ranks) == ["b", "c", "a", "x"]
    assert causes_by_rank(None, ranks) == []


def _report(cli) -> tuple[dict, dict]:
    """The compose sample's report with one incident's causes listed against rank order."""
    report = json.loads(cli("scan", str(COMPOSE), "--format", "json", "--min-severity", "info").stdout)
    effect = max(report["incidents"], key=lambda i: len(i["caused_by"]))
    assert len(effect["caused_by"]) >= 2
    by_print = {i["fingerprint"]: i for i in report["incidents"]}
    effect["caused_by"] = sorted(effect["caused_by"], key=lambda cause: by_print[cause["fingerprint"]]["rank"])
    effect["caused_by"].reverse()  # e.g. #5, #2
    return report, effect


def _ranks_after(text: str, marker: str) -> list[list[int]]:
    return [[int(n) for n in re.findall(r"#(\d+)", m)] for m in re.findall(marker, text)]


def test_terminal_markdown_and_html_list_causes_by_rank(cli):
    report, effect = _report(cli)
    rank_of = {i["fingerprint"]: i["rank"] for i in report["incidents"]}
    expected = sorted(rank_of[cause["fingerprint"]] for cause in effect["caused_by"])
    assert expected != [rank_of[cause["fingerprint"]] for cause in effect["caused_by"]]  # really out of order

    buffer = io.StringIO()
    terminal.render(Console(file=buffer, width=250, no_color=True, highlight=False), report)
    assert expected in _ranks_after(buffer.getvalue(), r"caused by ((?:#\d+(?:, )?)+)")

    md = markdown.render(report)
    assert expected in _ranks_after(md, r"\(caused by ((?:#\d+(?:, )?)+)\)")  # the table
    assert expected in _ranks_after(md, r"\*\*Caused by:\*\* ([^\n]+)")  # the section
    assert all(found == sorted(found) for found in _ranks_after(md, r"\*\*Caused by:\*\* ([^\n]+)"))

    page = html.render(report)
    assert expected in _ranks_after(page, r"← ((?:#\d+(?:, )?)+)")  # the timeline's labels
    cells = [re.sub(r"<[^>]+>", "", m) for m in re.findall(r"<b>Caused by</b> (.*?)</p>", page)]
    assert expected in [[int(n) for n in re.findall(r"#(\d+)", cell)] for cell in cells]
