"""Hostile log text reaches no output as something to obey: no control sequence reaches a terminal, a Markdown
report or a JSON string, and no HTML or Markdown syntax from a log is live in the Markdown report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import strings_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from analyzer.report.sanitize import strip_controls

#: What must never come out: C0 except TAB and LF, DEL, C1 (ESC is C0, so every escape sequence is in here).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LOGURU = "2026-11-23 10:00:{s:02d}.000 | ERROR    | shop.api:handler:{s} - {message}\n"

# The reproductions of issue 14.
TMUX_OSC52 = "\x1bPtmux;\x1b\x1b]52;c;ZWNobyBwd25lZCB8IHNo\x07\x1b\\"  # DCS passthrough wrapping a clipboard write
XTGETTCAP = "\x1bP+q544e;636f6c6f7273\x1b\\"  # "tell me TN and colors": the terminal types the answer back
C1_CSI = "\u009b2J\u009b31m"  # clear screen, red, in the 8-bit form
IMG = "<img src=x onerror=alert(document.domain)>"
TITLE = "\x1b]0;pwned\x07"


def _outside_fences(markdown: str) -> str:
    """The Markdown without its fenced code blocks (log text is shown verbatim only there) and docs autolinks."""
    out, fence = [], None
    for line in markdown.splitlines():
        opener = re.match(r"(`{3,})", line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None and line.startswith(fence) and line.strip("`") == "":
            fence = None
        elif fence is None:
            out.append(line)
    return re.sub(r"<https?://[^\s<>]+>", "", "\n".join(out))


#: A CommonMark renderer that passes HTML through (as GitHub's would before sanitizing), with GFM tables.
RENDERER = MarkdownIt("commonmark", {"html": True}).enable("table")


def _live_markup(markdown: str) -> list[str]:
    """What a renderer would make live of the Markdown: raw HTML, images, links other than https docs."""
    live, stack = [], list(RENDERER.parse(markdown))
    while stack:
        token = stack.pop()
        stack.extend(token.children or [])
        if token.type in ("html_inline", "html_block", "image"):
            live.append(f"{token.type}: {token.content}")
        elif token.type == "link_open" and not str(token.attrs.get("href", "")).startswith("https://"):
            live.append(f"link: {token.attrs.get('href')}")
    return live


@pytest.fixture
def hostile_log(tmp_path: Path) -> Path:
    """Every reproduction in one log whose file name sets the terminal title."""
    messages = [f"payment failed {TMUX_OSC52} for order 7", f"lookup {XTGETTCAP} failed", f"bad state {C1_CSI} seen",
                f"render failed: {IMG}", "plain error to keep company"]
    path = tmp_path / f"app{TITLE}.log"
    path.write_text("".join(LOGURU.format(s=i, message=m) for i, m in enumerate(messages)), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_the_issue_reproductions_reach_no_report(cli, plain_env, hostile_log, fmt):
    result = cli("scan", str(hostile_log), "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout + result.stderr
    assert not CONTROL.search(out), repr(CONTROL.search(out))
    assert "ZWNobyBwd25lZCB8IHNo" not in out and "544e;636f" not in out  # payloads go with their sequences
    assert "/app.log" in out and "pwned" not in out  # the file name, its title sequence gone
    if fmt == "markdown":  # verbatim only in fenced blocks, where no renderer reads HTML
        assert "<img" not in _outside_fences(out) and "&lt;img src=x onerror=alert(document.domain)&gt;" in out
        assert _live_markup(result.stdout) == []
    if fmt == "html":
        assert IMG not in out and "&lt;img src=x onerror=alert(document.domain)&gt;" in out
    if fmt == "json":
        assert IMG in "".join(strings_of(json.loads(result.stdout)))  # JSON keeps the text, as data


@pytest.mark.parametrize("args", [["--lines"], ["--format", "jsonl", "--lines"]])
def test_tail_echoes_and_announces_no_control_sequence(cli, plain_env, hostile_log, args):
    result = cli("tail", "-", *args, input=hostile_log.read_bytes())
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.stdout + result.stderr)
    assert "payment failed  for order 7" in result.stdout.replace("\\u001b", "")  # the text around stays


@pytest.mark.parametrize("style", ["table", "jsonl", "csv"])
def test_events_print_no_control_sequence(cli, plain_env, hostile_log, style):
    result = cli("events", str(hostile_log), "-f", style)
    assert result.exit_code == 0, result.output
    out = result.stdout + result.stderr
    assert not CONTROL.search(out) and "\\u001b" not in out and "\\u009b" not in out.lower()
    assert "/app.log" in out and "pwned" not in out


def test_rich_markup_in_log_text_is_shown_not_obeyed(cli, plain_env, write):
    """A cell that held a log string as rich markup would turn `[link=...]` into an OSC 8 hyperlink."""
    path = write("[link=https://evil.example]app[/link].log",
                 LOGURU.format(s=1, message="[link=https://evil.example]click[/link] [bold]x[/bold]"))
    plain_env.setenv("FORCE_COLOR", "1")
    for command in (["events", str(path)], ["scan", str(path)]):
        result = cli(*command)
        assert result.exit_code == 0, result.output
        assert "\x1b]8;" not in result.stdout  # no hyperlink escape
        assert "[link=" in result.stdout  # shown as text (scan's title masks the URL as a template field)


FRAGMENTS = st.sampled_from([
    "\x1b", "\x1bP", "\x1b]", "\x1b[", "\x1b\\", "\x1b_", "\x1b^", "\x1bX", "\x07", "\x9b", "\x90", "\x9c", "\x9d",
    "\x85", "\x00", "\x08", "\r", "\x7f", "\t", ";", "52", "0", "m", "q", "<", ">", "&", "|", "`", "*", "_", "[", "]",
    "(", ")", "!", "#", "<img src=x onerror=alert(1)>", "<script>", "</details>", "tmux;", " ", "a", "é", "│", "└",
    "![x](https://t.example/p.png)", "[click](javascript:alert(1))", "<https://e.example>", "&lt;", "\\", "\n",
])
HOSTILE = st.lists(FRAGMENTS, min_size=1, max_size=25).map("".join)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(HOSTILE, min_size=1, max_size=4))
def test_no_control_byte_or_live_markup_from_any_log_text(cli, plain_env, tmp_path, messages):
    path = tmp_path / "hostile.log"
    path.write_text("".join(LOGURU.format(s=i, message=m.replace("\n", " ")) for i, m in enumerate(messages)),
                    encoding="utf-8")
    text = cli("scan", str(path)).stdout
    markdown = cli("scan", str(path), "--format", "markdown").stdout
    report = json.loads(cli("scan", str(path), "--format", "json").stdout)
    assert report["incidents"], "every message is an error: there is something to report"
    assert not CONTROL.search(text) and not CONTROL.search(markdown)
    assert not any(CONTROL.search(s) for s in strings_of(report))
    assert not re.search("[<>]", _outside_fences(markdown))
    assert _live_markup(markdown) == []


@settings(max_examples=200, deadline=None)
@given(HOSTILE)
def test_stripping_leaves_no_control_and_keeps_clean_text_as_is(text):
    safe = strip_controls(text)
    assert not CONTROL.search(safe)
    clean = CONTROL.sub("", text)
    assert strip_controls(clean) == clean
