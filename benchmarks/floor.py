"""The floor: a bare Polars read of the files' bytes plus one regex pass, the signature keyword alternation.

What any Polars-based tool pays at least to look at every line once for the known problems: split the
bytes into lines (Polars' CSV reader, quoting off, as analyzer.ingest.framing.decode does) and run one
`str.contains` of every built-in signature keyword, alternated (what analyzer.analysis.match prefilters
with). The pattern is read from a file (`--pattern-file`, written once by benchmarks/run.py), so that the
timed process only imports Polars, reads and matches.

    python benchmarks/floor.py --pattern-file KEYWORDS.txt FILE [FILE ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl


def read(path: Path, encoding: str) -> pl.Series:
    return pl.read_csv(path, has_header=False, separator="\x1f", quote_char=None, comment_prefix=None,
                       new_columns=["line"], schema={"line": pl.String}, encoding=encoding).get_column("line")  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pattern-file", type=Path, required=True)
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    pattern = args.pattern_file.read_text()
    lines = matched = 0
    for path in args.files:
        try:  # strict UTF-8 first, as logscan's own fast path reads clean input
            text = read(path, "utf8")
        except pl.exceptions.ComputeError:
            text = read(path, "utf8-lossy")
        lines += len(text)
        matched += int(text.str.contains(pattern).sum())
    print(f"lines={lines} matched={matched}")


if __name__ == "__main__":
    main()
