"""Control sequences out of log text before it reaches any output.

Log text is hostile: a line can hold terminal escape sequences that a terminal
obeys when a report or an echoed record is printed: DCS strings (`ESC P … ESC \\`),
also tmux's passthrough (`ESC Ptmux; ESC ESC ]52;c;… BEL ESC \\`, which wraps an
OSC 52 clipboard write), XTGETTCAP queries (`ESC P + q … ESC \\`, whose answer the
terminal types back), OSC title and hyperlink strings, APC/PM/SOS strings, CSI
sequences in their 7-bit (`ESC [`) and 8-bit (U+009B) forms, and bare C0/C1
controls (CR rewrites a line, BS hides text). Ingest strips colours for its own
parsing, but keeps ESC and every C1 character (they are text to it); this module
is the output side's guarantee.

`strip_controls` removes every sequence whole (its payload too, so a clipboard
write leaves no base64 behind), then any control character left (C0 except TAB
and LF, DEL, C1, a lone ESC). Output never holds a control character from log
text, whatever the input: the last step is a catch-all, the sequence patterns
only decide what goes with each introducer. The patterns run in Polars' Rust
regex engine (linear time), over whole Series at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import polars as pl

#: String sequences: DCS (`ESC P` / U+0090), SOS (`ESC X` / U+0098), PM (`ESC ^` / U+009E),
#: APC (`ESC _` / U+009F), up to ST (`ESC \\` / U+009C), any other ESC (which ends the string in a
#: terminal's parser too) or the end of the line. A doubled ESC inside is tmux's escaped ESC
#: (passthrough), not the end. BEL does not end them.
_STRING = r"(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])(?:[^\x1b\x9c\n]|\x1b\x1b)*(?:\x1b\\|\x9c)?"
#: OSC (`ESC ]` / U+009D): ends at BEL or ST (or the line's end).
_OSC = r"(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
#: CSI (`ESC [` / U+009B): parameter bytes, intermediate bytes, one final byte.
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
#: Any other escape: ESC, intermediate bytes, a final byte (`ESC \\`, `ESC c`, `ESC (B`, `ESC 7` ...).
#: A space is not taken as an intermediate: a lone ESC before a word is more likely than `ESC SP F`,
#: and the ESC goes either way.
_ESCAPE = r"\x1b[!-/]*[0-~]?"
#: What is left: C0 except TAB and LF, DEL, C1.
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"

SEQUENCES: Final = "|".join((_STRING, _OSC, _CSI, _ESCAPE))
CONTROL: Final = _CONTROL


def strip_series(values: pl.Series) -> pl.Series:
    """`values` (a String Series) without control sequences or control characters; untouched rows cost one scan."""
    dirty = values.str.contains(CONTROL).fill_null(False)
    if not dirty.any():
        return values
    cleaned = values.filter(dirty).str.replace_all(SEQUENCES, "").str.replace_all(CONTROL, "")
    return values.clone().scatter(dirty.arg_true(), cleaned)


def strip_controls(text: str) -> str:
    """One string without control sequences or control characters (see `strip_series`)."""
    import polars as pl

    return str(strip_series(pl.Series([text], dtype=pl.String))[0])
