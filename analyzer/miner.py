"""Online log template miner: groups messages by template, vectorized with Polars.

What: ``TemplateMiner.add(messages)`` returns, per message, a template (the message
with ``<*>`` for each variable word) and a stable ``template_id`` (a hash of the
template text). State carries across batches; ``merge`` combines two miners built
on different shards; the number of templates kept is capped.

How (a column-wise, Brain-style miner; Yu et al. 2023):

1. Mask. Whitespace is squeezed; IPs/ports, UUIDs, hex, times and every run of
   characters holding a digit (between delimiters such as ``= : , / ( ) [ ]``)
   become ``<*>``. Only general rules: a value with a digit in it is a value.
   Identical masked messages are then mined once, weighted by their count, so
   the cost follows the number of distinct shapes, not of lines.
2. Root pattern. Messages are split into words and grouped by word count. Each
   (length, position, word) gets its frequency (weighted). In a message, the
   constant words of its event all share one frequency (that of the event) while
   variable words are rarer or commoner; so the frequency shared by the most
   words of the message picks out its "root": those words at their positions.
   Messages with the same length and root form a group (no similarity
   threshold, no order dependence).
3. Split. Inside a group a position with a single value is constant. A position
   with few distinct values (2..``split_max``) is a constant that separates
   events sharing a root: the group splits on the position with the fewest
   values, and the rule is applied again to each part. A position with more
   values, or holding ``<*>`` next to words, is variable.
4. Online. The templates already known take part in the next batch as weighted
   pseudo-messages (their ``<*>`` forces a position variable), so a template
   only ever generalizes; a template that another one covers word for word is
   folded into it (``_fold``). ``merge`` is the union of two template tables
   followed by the same fold; a union is associative and the fold keeps the
   maximal templates of a subsumption order, so merge is associative in the set
   of templates it keeps (counts too as long as no eviction happens).

Why it generalizes: nothing is tuned to a system. Grouping uses the statistics of
the data itself (word frequencies per column, distinct values per column); the
only constants are the masking rule (digits mean a value) and ``split_max``.

Memory: at most ``max_templates`` templates are kept; beyond that the least
recently seen (then least frequent) are evicted. Limits: events whose variable
part changes the number of words (a free-text value with spaces) give one
template per word count; a variable with at most ``split_max`` distinct word
values over the whole stream stays split until more values are seen.
"""

from __future__ import annotations

import hashlib
from typing import Final

import polars as pl

WILD: Final = "<*>"
_MONTH: Final = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY: Final = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_UNIT: Final = r"(?:[KMGTP]i?B|B|bytes?|[mun]?s|secs?|seconds?|mins?|minutes?|h|hours?)"
#: General masks, in order; each match becomes <*> (dates, quantities with a unit, paths and
#: URLs, then any word holding a digit, keeping a ``key=`` prefix).
_MASKS: Final[tuple[tuple[str, str], ...]] = (
    (rf"\b(?:{_DAY},?\s+)?{_MONTH}\s+\d{{1,2}}\b", WILD),
    (rf"\b{_DAY},?(\s+\d)", "<*>${1}"),
    (rf"\b\d+(?:\.\d+)?\s?(?:{_UNIT}\b|%)", WILD),
    (r"(^|[\s=(\[])(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)[^\s,;)\]]*", "${1}<*>"),
    # twice: a match consumes the space after it, so back-to-back words take a second pass
    (_WORD := r"(^|\s)([(\[{\"']*(?:[A-Za-z_][\w.-]*[=:])?)\S*?\d\S*?([)\]}\"',;:.]*)(\s|$)", _WORD_TO := "${1}${2}<*>${3}${4}"),
    (_WORD, _WORD_TO),
)
_SEP: Final = "\x1f"


def _text_id(texts: pl.Series) -> pl.Series:
    """Stable ids: the first 16 hex digits of blake2b over the template text."""
    return texts.map_elements(
        lambda t: hashlib.blake2b(t.encode(), digest_size=8).hexdigest(), return_dtype=pl.String
    )


def mask(messages: pl.Expr) -> pl.Expr:
    """Messages with whitespace squeezed and variable-looking runs replaced by <*>."""
    out = messages.fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()
    for pattern, replacement in _MASKS:
        out = out.str.replace_all(pattern, replacement)
    return out


class TemplateMiner:
    """Online, mergeable template miner; see the module docstring."""

    def __init__(self, max_templates: int = 10_000, split_max: int = 3) -> None:
        self.max_templates = max_templates
        self.split_max = split_max
        self.clock = 0
        self._table = pl.DataFrame(
            schema={"template_id": pl.String, "template": pl.String, "count": pl.UInt64, "last_seen": pl.Int64}
        )

    def templates(self) -> pl.DataFrame:
        """Known templates: template_id, template, count, last_seen (batch clock), most frequent first."""
        return self._table.sort(["count", "template"], descending=[True, False])

    def add(self, messages: pl.Series | list[str]) -> pl.DataFrame:
        """Mine one batch; one row per message (same order): template_id, template."""
        masked = pl.Series("m", messages, dtype=pl.String).to_frame().select(mask(pl.col("m")))
        self.clock += 1
        shapes = masked.group_by("m").agg(weight=pl.len().cast(pl.UInt64))
        known = self._table.select(m=pl.col("template"), weight=pl.col("count"))
        rows = pl.concat([shapes, known]).group_by("m").agg(pl.col("weight").sum())
        mined = self._mine(rows)  # m -> template
        new = mined.group_by("template").agg(pl.col("weight").sum().alias("count"))
        # Known templates not involved keep their last_seen; those seen now get the clock.
        untouched = self._table.filter(~pl.col("template").is_in(mined["m"].implode()))
        seen = new.with_columns(last_seen=pl.lit(self.clock, pl.Int64))
        table, fold = _fold(pl.concat([untouched.drop("template_id"), seen]))
        self._table = self._evict(table)
        out = masked.join(mined.select("m", "template"), on="m", how="left", maintain_order="left")
        out = out.join(fold, left_on="template", right_on="from", how="left", maintain_order="left")
        out = out.select(template=pl.coalesce("to", "template"))
        uniq = out.select(pl.col("template").unique())
        uniq = uniq.with_columns(template_id=_text_id(uniq["template"]))
        return out.join(uniq, on="template", how="left", maintain_order="left").select("template_id", "template")

    def merge(self, other: TemplateMiner) -> TemplateMiner:
        """A new miner holding the templates of both (union, then fold subsumed ones)."""
        out = TemplateMiner(min(self.max_templates, other.max_templates), self.split_max)
        out.clock = max(self.clock, other.clock)
        union = pl.concat([self._table, other._table]).group_by("template").agg(
            pl.col("count").sum(), pl.col("last_seen").max()
        )
        table, _ = _fold(union)
        out._table = out._evict(table)
        return out

    # -- internals ---------------------------------------------------------------------------

    def _evict(self, table: pl.DataFrame) -> pl.DataFrame:
        table = table.sort(["last_seen", "count", "template"], descending=[True, True, False]).head(
            self.max_templates
        )
        return table.with_columns(template_id=_text_id(table["template"])).select(
            "template_id", "template", "count", "last_seen"
        )

    def _mine(self, rows: pl.DataFrame) -> pl.DataFrame:
        """rows (m: masked text, weight) -> m, weight, template."""
        rows = rows.with_row_index("r").with_columns(w=pl.col("m").str.split(" "))
        rows = rows.with_columns(n=pl.col("w").list.len())
        words = rows.select("r", "n", "weight", tok=pl.col("w")).explode("tok")
        words = words.with_columns(pos=pl.int_range(pl.len()).over("r"))
        words = words.with_columns(freq=pl.col("weight").sum().over("n", "pos", "tok"))
        # Root: the frequency shared by most (non-<*>) words of the row; ties -> the higher one.
        cand = words.filter(pl.col("tok") != WILD)
        best = (
            cand.group_by("r", "freq")
            .agg(k=pl.len())
            .sort(["r", "k", "freq"], descending=[False, True, True])
            .unique("r", keep="first")
            .select("r", "freq")
        )
        root = (
            cand.join(best, on=["r", "freq"])
            .sort("r", "pos")
            .group_by("r")
            .agg(key=pl.concat_str([pl.col("pos").cast(pl.String), pl.col("tok")], separator=_SEP).str.join(_SEP))
        )
        rows = rows.join(root, on="r", how="left").with_columns(
            g=pl.struct(pl.col("n"), pl.col("key").fill_null("")).hash()
        )
        words = words.join(rows.select("r", "g"), on="r")
        while True:
            stats = words.group_by("g", "pos").agg(
                nd=pl.col("tok").n_unique(), wild=pl.col("tok").str.contains(WILD, literal=True).any()
            )
            split = (
                stats.filter((pl.col("nd") >= 2) & (pl.col("nd") <= self.split_max) & ~pl.col("wild"))
                .sort(["g", "nd", "pos"])
                .unique("g", keep="first")
                .select("g", split_pos="pos")
            )
            if split.height == 0:
                break
            sub = (
                words.join(split, left_on=["g", "pos"], right_on=["g", "split_pos"])
                .select("r", g2=pl.struct("g", "tok").hash())
            )
            words = words.join(sub, on="r", how="left").with_columns(
                g=pl.coalesce("g2", "g")
            ).drop("g2")
        key = pl.col("tok").str.extract(r"^([(\[{\"']*[A-Za-z_][\w.-]*[=:])")
        stats = words.group_by("g", "pos").agg(
            nd=pl.col("tok").n_unique(),
            tok=pl.col("tok").first(),
            key=pl.when(key.n_unique() == 1).then(key.first()),
        )
        tmpl = (
            stats.with_columns(
                tok=pl.when(pl.col("nd") == 1)
                .then("tok")
                .otherwise(pl.concat_str(pl.col("key").fill_null(""), pl.lit(WILD)))
            )
            .sort("g", "pos")
            .group_by("g")
            .agg(template=pl.col("tok").str.join(" "))
        )
        r2g = words.select("r", "g").unique("r")
        out = rows.select("r", "m", "weight").join(r2g, on="r", how="left").join(tmpl, on="g", how="left")
        return out.select("m", "weight", template=pl.col("template").fill_null(pl.col("m")))


def _fold(table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fold templates covered word for word by a more general one into it.

    table: template, count, last_seen. Returns (folded table, mapping from -> to).
    """
    table = table.group_by("template").agg(pl.col("count").sum(), pl.col("last_seen").max())
    toks = table.select("template", n=pl.col("template").str.split(" ").list.len(), tok=pl.col("template").str.split(" "))
    toks = toks.explode("tok").with_columns(pos=pl.int_range(pl.len()).over("template"))
    general = toks.group_by("template").agg(
        n=pl.col("n").first(), const=(pl.col("tok") != WILD).sum(), wild=(pl.col("tok") == WILD).sum()
    ).filter((pl.col("wild") > 0) & (pl.col("const") > 0))
    if general.height == 0:
        return table, pl.DataFrame(schema={"from": pl.String, "to": pl.String})
    gconst = toks.join(general.select("template"), on="template").filter(pl.col("tok") != WILD)
    pairs = (
        toks.join(gconst, on=["n", "pos", "tok"], suffix="_g")
        .filter(pl.col("template") != pl.col("template_g"))
        .group_by("template", "template_g")
        .agg(hits=pl.len())
        .join(general.select(pl.col("template").alias("template_g"), "const", "wild"), on="template_g")
        .filter(pl.col("hits") == pl.col("const"))
    )
    covered = pairs["template"].unique()
    pairs = pairs.filter(~pl.col("template_g").is_in(covered.implode()))
    mapping = (
        pairs.sort(["template", "wild", "template_g"], descending=[False, True, False])
        .unique("template", keep="first")
        .select(pl.col("template").alias("from"), pl.col("template_g").alias("to"))
    )
    folded = (
        table.join(mapping, left_on="template", right_on="from", how="left")
        .with_columns(template=pl.coalesce("to", "template"))
        .group_by("template")
        .agg(pl.col("count").sum(), pl.col("last_seen").max())
    )
    return folded, mapping
