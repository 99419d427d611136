"""Online log template miner: groups messages by template, vectorized with Polars.

What: ``TemplateMiner.add(messages)`` returns, for each message, a template (the message with
``<*>`` for each variable word) and a stable ``template_id`` (a 64-bit blake2b hash of the
template text, so equal text means equal id in any process). State carries across batches;
``merge`` combines miners built on different shards; memory is capped. Messages that match no
known signature are grouped by it (issue 11).

How (column-wise and batch-wise, after Brain, Yu et al. 2023; no per-line Python):

1. Key. One regex pass per line (in a large batch, per distinct line: verbatim repeats, found
   by their hash, pass once) turns every digit run into "0". The masks below treat all digits alike, so lines
   with one key get one template: everything else runs once per distinct key (a few thousand
   keys for millions of lines), weighted by its line count.
2. Mask. Squeeze whitespace, then replace with ``<*>``: dates (month/day names next to
   numbers), quantities with a unit (``5 ms``, ``3.5 KB``), paths and URLs, and any word
   holding a digit (keeping a ``key=`` prefix and closing brackets). A digit marks a value.
3. Root. Messages are split into words; every (word count, position, word) gets its weighted
   frequency. The constant words of one event all share one frequency (the event's), so the
   frequency shared by most words of a message singles out its root: those words at their
   positions. Messages with the same word count and root form a group (no similarity
   threshold, no dependence on arrival order).
4. Split. In a group a position with one value is constant. A position with 2..``split_max``
   values and no ``<*>`` tells events apart that share a root: the group splits on it and the
   rule applies again to each part. A part never has more values at a position than its group,
   so such a position stays a split position (or turns constant) in every part: the final parts
   do not depend on the order of the splits, and a round splits on all of them at once. A
   position with more values (or ``<*>`` among them) is variable and becomes ``<*>``
   (``key=<*>`` when all share a key).
5. Online. The known templates of the same word counts re-enter each batch that brings new
   keys, as pseudo-messages weighted by their counts; a ``<*>`` in them keeps a position
   variable, so templates only generalize. A template covered word for word by a more general
   one is folded into it. Keys already resolved skip steps 2-5 (a bounded cache), so a steady
   stream costs one regex pass and a few hash joins per line. When a template generalizes its
   old id becomes an alias: ``resolve(ids)`` maps ids handed out earlier to the current
   template (on Loghub-2k, resolved ids of a stream fed in 4..100 batches group exactly as one
   batch does; the per-batch output is final for that batch).
6. Merge. Union of the template tables (counts summed, last_seen max) followed by the same
   fold. Union is associative and the fold keeps the maximal templates of a subsumption order,
   so ``(a.merge(b)).merge(c)`` and ``a.merge(b.merge(c))`` keep the same templates and counts
   (while no eviction cuts in). Key caches and aliases are merged along.

Why it generalizes: nothing is specific to a system. Grouping uses the statistics of the data
itself (per-column word frequencies, per-column distinct values); the only constants are the
general masks and ``split_max`` (3: on Loghub-2k, Apache/BGL/HDFS/HealthApp score within 0.003
for 3..5 and Linux/OpenSSH/Spark/Zookeeper peak at 3; see benchmarks/RESULTS.md).

Memory: at most ``max_templates`` templates (least recently seen, then least frequent, are
evicted), ``max_keys`` cached keys and aliases (those of evicted templates go, then the oldest),
and only the first ``MAX_CHARS`` characters of a message count; a batch itself is held whole.

Limits: an event whose variable part changes the number of words (free text with spaces) gets
one template per word count; a variable with at most ``split_max`` distinct values seen so far
stays split (e.g. three user names); constant words holding digits (``ssh2``) become ``<*>``;
keys are Polars hashes of the normalized line, and verbatim repeats are found by a Polars hash
of the line (64-bit: collisions are possible in principle, and merge needs miners built with
the same Polars version).

Cost: a batch costs one digit-regex pass per distinct line plus a fixed number of Polars
calls (about 80 on the 16k Loghub lines, a few more per round of splits) over its new keys,
whatever their number. On small, diverse batches those fixed calls and the per-line regex
dominate (see benchmarks/RESULTS.md, issue 11).
"""

from __future__ import annotations

import hashlib
from typing import Final

import polars as pl

WILD: Final = "<*>"
_MONTH: Final = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
)
_DAY: Final = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b"
_UNIT: Final = r"(?:[KMGTP]i?B|B|bytes?|[mun]?s|secs?|seconds?|mins?|minutes?|h|hours?)"
_KEY: Final = r"[(\[{\"']*[A-Za-z_][A-Za-z_.-]*[=:]"  # a "key=" / "key:" prefix, maybe after brackets
_WORD: Final = rf"(^|\s)((?:{_KEY})?)\S*?\d\S*?([)\]}}\"',;:.]*)(\s|$)"
#: General masks, applied in order to digit-normalized text; each match becomes <*>: dates
#: (month or day names next to numbers), quantities with a unit, paths and URLs, then any word
#: holding a digit (keeping a key= prefix and closing punctuation). No rule is system specific.
_MASKS: Final[tuple[tuple[str, str], ...]] = (
    (rf"\b(?:{_DAY},?\s+)?{_MONTH}\s+\d+\b", WILD),
    (rf"\b(?:{_DAY},?\s+)?\d+\s+{_MONTH}", WILD),
    (rf"\b{_DAY},?(\s+\d)", "<*>${1}"),
    (rf"\b\d+(?:\.\d+)?\s?(?:{_UNIT}\b|%)", WILD),
    (r"(^|[\s=(\[])(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)[^\s,;)\]]+", "${1}<*>"),
    # twice: a match consumes the space after it, so back-to-back words need a second pass
    (_WORD, "${1}${2}<*>${3}${4}"),
    (_WORD, "${1}${2}<*>${3}${4}"),
)


def _text_id(texts: pl.Series) -> pl.Series:
    """Stable ids: blake2b of the template text, as an unsigned 64-bit integer."""
    return texts.map_elements(
        lambda t: int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big"),
        return_dtype=pl.UInt64,
    )


#: Characters of a message that count: a longer one is grouped by its start (bounds memory).
MAX_CHARS: Final = 4096


def normalize(messages: pl.Expr) -> pl.Expr:
    """The per-line key: every run of digits as "0". Masking treats all digits alike, so two
    lines with the same key get the same template; everything after this runs once per key."""
    return messages.fill_null("").str.slice(0, MAX_CHARS).str.replace_all(r"[0-9]+", "0")


def _keyed(lines: pl.Series, part: int = 100_000, small: int = 50_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(h per line, (h, k, weight) per distinct key): k is the normalized line, h its hash.

    In a large batch a line repeated verbatim (same hash as it is) is normalized once: the digit
    regex is the only per-line regex and the dearest step of a batch. Finding the repeats costs
    a few Polars calls, more than they save below ``small`` lines (about even at 16k Loghub
    lines, 4x faster on 1M repeated ones). Distinct lines are normalized in parallel parts.
    """
    frame = lines.to_frame("k")
    if frame.height <= small:
        frame = frame.select(k=normalize(pl.col("k"))).with_columns(h=pl.col("k").hash())
        return frame.select("h"), frame.group_by("h").agg(pl.col("k").first(), weight=pl.len().cast(pl.UInt64))
    frame = frame.with_columns(r=pl.col("k").hash())
    raw = frame.filter(pl.col("r").is_first_distinct())
    plans = [
        raw.slice(i, part).lazy().select("r", k=normalize(pl.col("k"))).with_columns(h=pl.col("k").hash())
        for i in range(0, max(raw.height, 1), part)
    ]
    raw = pl.concat(pl.collect_all(plans)) if len(plans) > 1 else plans[0].collect()
    per_line = frame.select("r").join(raw.select("r", "h"), on="r", how="left", maintain_order="left").select("h")
    weight = per_line.group_by("h").agg(weight=pl.len().cast(pl.UInt64))
    uniq = raw.group_by("h").agg(pl.col("k").first()).join(weight, on="h")
    return per_line, uniq


def mask(keys: pl.Expr) -> pl.Expr:
    """Keys with whitespace squeezed and variable-looking parts replaced by <*>."""
    out = keys.str.replace_all(r"\s+", " ").str.strip_chars()
    for pattern, replacement in _MASKS:
        out = out.str.replace_all(pattern, replacement)
    return out


_TABLE: Final = {"template_id": pl.UInt64, "template": pl.String, "count": pl.UInt64, "last_seen": pl.Int64}
_KEYS: Final = {"h": pl.UInt64, "template": pl.String}
_ALIASES: Final = {"alias": pl.UInt64, "template": pl.String}


class TemplateMiner:
    """Online, mergeable template miner; see the module docstring.

    max_templates caps the template table (least recently seen, then least frequent, go first);
    max_keys caps the cache of line keys (digit-normalized lines) already resolved to a template
    (keys of evicted templates go, then the oldest).
    """

    def __init__(self, max_templates: int = 10_000, split_max: int = 3, max_keys: int = 100_000) -> None:
        self.max_templates = max_templates
        self.max_keys = max_keys
        self.split_max = split_max
        self.clock = 0
        self._table = pl.DataFrame(schema=_TABLE)
        self._keys = pl.DataFrame(schema=_KEYS)
        self._aliases = pl.DataFrame(schema=_ALIASES)  # id of a template since generalized -> its template

    def templates(self) -> pl.DataFrame:
        """Known templates: template_id, template, count, last_seen (batch clock), most frequent first."""
        return self._table.sort(["count", "template"], descending=[True, False])

    def resolve(self, template_ids: pl.Series) -> pl.DataFrame:
        """The current template_id and template for ids handed out earlier (null when evicted).

        A template only generalizes; when it does, its old id becomes an alias of the new one,
        so earlier batches' ids can be regrouped against the current state.
        """
        lookup = pl.concat([self._table.select(alias="template_id", template="template"), self._aliases])
        return (
            template_ids.cast(pl.UInt64).to_frame("alias")
            .join(lookup, on="alias", how="left", maintain_order="left")
            .join(self._table.select("template", "template_id"), on="template", how="left", maintain_order="left")
            .select("template_id", "template")
        )

    def add(self, messages: pl.Series | list[str]) -> pl.DataFrame:
        """Mine one batch; one row per message (same order): template_id (u64), template."""
        self.clock += 1
        per_line, uniq = _keyed(pl.Series("k", messages, dtype=pl.String))
        fresh = uniq
        if self._keys.height:
            hits = uniq.join(self._keys, on="h", how="inner")
            if hits.height:
                per = hits.group_by("template").agg(w=pl.col("weight").sum())
                self._table = (
                    self._table.join(per, on="template", how="left")
                    .with_columns(
                        count=pl.col("count") + pl.col("w").fill_null(0),
                        last_seen=pl.when(pl.col("w").is_null()).then("last_seen").otherwise(self.clock),
                    )
                    .drop("w")
                )
                fresh = uniq.join(self._keys, on="h", how="anti")
        if fresh.height:
            self._learn(fresh)
        lookup = (
            uniq.lazy()
            .select("h")
            .join(self._keys.lazy(), on="h", how="left")
            .join(self._table.lazy().select("template", "template_id"), on="template", how="left")
            .select("h", "template_id", "template")
        )
        out = per_line.lazy().join(lookup, on="h", how="left", maintain_order="left").drop("h").collect()
        self._evict()
        return out

    def merge(self, other: TemplateMiner) -> TemplateMiner:
        """A new miner holding the templates of both (union, then fold subsumed ones)."""
        out = TemplateMiner(
            min(self.max_templates, other.max_templates), self.split_max, min(self.max_keys, other.max_keys)
        )
        out.clock = max(self.clock, other.clock)
        union = pl.concat([self._table, other._table]).group_by("template").agg(
            pl.col("template_id").first(), pl.col("count").sum(), pl.col("last_seen").max()
        )
        out._table, fold = _fold(union)
        folded = union.select(alias="template_id", template="template").join(fold, left_on="template", right_on="from")
        out._aliases = _remap(pl.concat([self._aliases, other._aliases, folded.drop("to")]), fold).unique(
            "alias", keep="first"
        )
        keys = _remap(pl.concat([self._keys, other._keys]), fold)
        # A key both sides resolved: the more general template wins (most <*>, then text).
        out._keys = (
            keys.with_columns(wild=pl.col("template").str.count_matches(WILD, literal=True))
            .sort(["h", "wild", "template"], descending=[False, True, False])
            .unique("h", keep="first", maintain_order=True)
            .select("h", "template")
        )
        out._evict()
        return out

    # -- internals ---------------------------------------------------------------------------

    def _learn(self, fresh: pl.DataFrame) -> None:
        """Mine keys never seen (h, k, weight) together with the known templates of their lengths."""
        shapes = fresh.with_columns(m=mask(pl.col("k")))
        words = pl.col("m").str.count_matches(" ", literal=True)
        rows = shapes.select("m", "weight", last_seen=pl.lit(self.clock, pl.Int64))
        known = self._table.clear().select("template")
        if self._table.height:
            lengths = shapes.select(n=words).unique()["n"].implode()
            known = self._table.select("template", m=pl.col("template"), weight="count", last_seen="last_seen")
            known = known.filter(words.is_in(lengths))
            rows = pl.concat([rows, known.drop("template")])
        rows = rows.group_by("m").agg(pl.col("weight").sum(), pl.col("last_seen").max())
        mined = self._mine(rows.select("m", "weight")).join(rows, on="m")  # m, template, weight, last_seen
        seen = mined.group_by("template").agg(count=pl.col("weight").sum(), last_seen=pl.col("last_seen").max())
        # The table is folded already and the templates outside these lengths cannot cover or be
        # covered by the new ones (a cover has the same length): fold the new ones only.
        new, fold = _fold(seen.with_columns(template_id=pl.lit(None, pl.UInt64)).select(list(_TABLE)))
        # Known templates that generalized in this batch (from -> to), then folded ones, in one map.
        moved = _then(
            mined.filter(pl.col("m") != pl.col("template")).select(
                pl.col("m").alias("from"), pl.col("template").alias("to")
            ),
            fold,
        )
        new_keys = _remap(shapes.join(mined.select("m", "template"), on="m").select("h", "template"), fold)
        self._keys = pl.concat([_remap(self._keys, moved), new_keys])
        table = new
        if self._table.height:
            rest = self._table.join(known.select("template"), on="template", how="anti")
            table = pl.concat([rest, new])
            old = self._table.select(alias="template_id", template="template", was="template")
            changed = _remap(old, moved).filter(pl.col("template") != pl.col("was")).drop("was")
            self._aliases = pl.concat([_remap(self._aliases, moved), changed]).unique("alias", keep="last")
        missing = table.filter(pl.col("template_id").is_null())
        ids = missing.select("template", new_id=_text_id(missing["template"]))
        self._table = (
            table.join(ids, on="template", how="left")
            .with_columns(template_id=pl.coalesce("template_id", "new_id"))
            .select(list(_TABLE))
        )

    def _evict(self) -> None:
        """Cap the table, then the key cache and aliases. Keys and aliases always name templates of
        the table (learning and merging remap them), so only an eviction leaves some to drop."""
        if self._table.height > self.max_templates:
            table = self._table.sort(["last_seen", "count", "template"], descending=[True, True, False])
            self._table = table.head(self.max_templates)
            kept = self._table.select("template")
            self._keys = self._keys.join(kept, on="template", how="semi", maintain_order="left")
            self._aliases = self._aliases.join(kept, on="template", how="semi", maintain_order="left")
        if self._keys.height > self.max_keys:
            self._keys = self._keys.tail(self.max_keys)
        if self._aliases.height > self.max_keys:
            self._aliases = self._aliases.tail(self.max_keys)

    def _mine(self, rows: pl.DataFrame) -> pl.DataFrame:
        """rows (m: masked text, weight) -> m, template.

        Every aggregation below is a plain one (len, sum, first, n_unique, any, min, max) over
        columns computed up front: Polars runs those over all groups at once, where a composite
        expression inside an aggregation would be evaluated group by group.
        """
        n = pl.col("tok").list.len()
        words = (
            rows.with_row_index("r")
            .select("r", "weight", tok=pl.col("m").str.split(" "))
            .with_columns(n=n, pos=pl.int_ranges(n))
            .explode("tok", "pos")
            .with_columns(th=pl.col("tok").hash(), wild=pl.col("tok").str.contains(WILD, literal=True))
            .with_columns(freq=pl.col("weight").sum().over("n", "pos", "th"), pt=pl.struct("pos", "th").hash())
        )
        # Root: the words of the frequency shared by most (non-<*>) words of the row (ties: the
        # higher frequency); a row's group is its length and its root words at their positions.
        root = (
            words.filter(pl.col("tok") != WILD)
            .group_by("r", "freq")
            .agg(k=pl.len(), key=pl.col("pt").bitwise_xor())
            .filter(pl.col("k") == pl.col("k").max().over("r"))
            .filter(pl.col("freq") == pl.col("freq").max().over("r"))
            .select("r", "key")
        )
        words = words.join(root, on="r", how="left").select(
            "r", "pos", "tok", "th", "pt", "wild",
            key=pl.col("tok").str.extract(rf"^({_KEY})"),
            g=pl.struct("n", pl.col("key").fill_null(0)).hash(),
        )
        # Split: on the positions with 2..split_max values (none <*>), until none is left. Such a
        # position keeps at most split_max values in any part, so the parts are the same whatever
        # the order of the splits: all of a group's split positions are taken at once.
        while True:
            stats = words.group_by("g", "pos").agg(
                nd=pl.col("th").n_unique(),
                wild=pl.col("wild").any(),
                tok=pl.col("tok").first(),
                nk=pl.col("key").n_unique(),
                key=pl.col("key").first(),
            )
            split = stats.filter((pl.col("nd") >= 2) & (pl.col("nd") <= self.split_max) & ~pl.col("wild"))
            if split.height == 0:
                break
            sub = words.join(split.select("g", "pos"), on=["g", "pos"]).group_by("r").agg(s=pl.col("pt").bitwise_xor())
            words = words.join(sub, on="r", how="left").with_columns(
                g=pl.when(pl.col("s").is_null()).then("g").otherwise(pl.struct("g", "s").hash())
            ).drop("s")
        # Template: constant words kept, others <*> (keeping a key= / key: prefix all values share).
        tmpl = (
            stats.lazy()
            .select(
                "g",
                "pos",
                word=pl.when(pl.col("nd") == 1)
                .then("tok")
                .otherwise(pl.concat_str(pl.when(pl.col("nk") == 1).then("key").fill_null(""), pl.lit(WILD))),
            )
            .sort("g", "pos")
            .group_by("g", maintain_order=True)
            .agg("word")
            .select("g", template=pl.col("word").list.join(" "))
        )
        r2g = words.lazy().filter(pl.col("pos") == 0).select("r", "g")  # every row has a first word
        out = rows.lazy().with_row_index("r").join(r2g, on="r", how="left").join(tmpl, on="g", how="left")
        return out.select("m", template=pl.col("template").fill_null(pl.col("m"))).collect()


def _remap(frame: pl.DataFrame, mapping: pl.DataFrame) -> pl.DataFrame:
    """frame's template column with each template found in mapping (from -> to) replaced."""
    return frame.join(mapping, left_on="template", right_on="from", how="left", maintain_order="left").with_columns(
        template=pl.coalesce("to", "template")
    ).drop("to")


def _then(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """One mapping (from -> to) doing first, then second: _remap(_remap(x, first), second)."""
    if second.height == 0:
        return first
    both = _remap(first.rename({"to": "template"}), second).rename({"template": "to"})
    return pl.concat([both, second.join(first, on="from", how="anti")])


def _fold(table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fold each template covered word for word by a more general one into it.

    table: template_id, template, count, last_seen, one row per template. Returns (folded table,
    mapping from -> to). A template covers another of the same length when each of its words is
    <*> or equal. Templates are numbered (t) and words hashed (th) for the joins.
    """
    none = pl.DataFrame(schema={"from": pl.String, "to": pl.String})
    names = table.select("template").with_row_index("t")
    n = pl.col("tok").list.len()
    toks = (
        names.select("t", tok=pl.col("template").str.split(" "))
        .with_columns(n=n, pos=pl.int_ranges(n))
        .explode("tok", "pos")
        .select("t", "n", "pos", th=pl.col("tok").hash(), w=pl.col("tok") == WILD)
    )
    general = (
        toks.group_by("t")
        .agg(wild=pl.col("w").sum(), n=pl.len())
        .filter((pl.col("wild") > 0) & (pl.col("wild") < pl.col("n")))
        .select(g="t", const=pl.col("n") - pl.col("wild"), wild="wild")
    )
    if general.height == 0:
        return table.select(list(_TABLE)), none
    gconst = toks.filter(~pl.col("w")).join(general.select(t="g"), on="t").select("n", "pos", "th", g="t")
    pairs = (
        toks.select("t", "n", "pos", "th")
        .join(gconst, on=["n", "pos", "th"])
        .filter(pl.col("t") != pl.col("g"))
        .group_by("t", "g")
        .agg(hits=pl.len())
        .join(general, on="g")
        .filter(pl.col("hits") == pl.col("const"))
    )
    # Subsumption is transitive: fold into maximal templates only (the most general, then by text).
    pairs = pairs.join(pairs.select(g="t").unique(), on="g", how="anti")
    if pairs.height == 0:
        return table.select(list(_TABLE)), none
    mapping = (
        pairs.join(names.rename({"t": "g", "template": "to"}), on="g")
        .join(names.rename({"template": "from"}), on="t")
        .sort(["from", "wild", "to"], descending=[False, True, False])
        .unique("from", keep="first")
        .select("from", "to")
    )
    ids = table.select("template", "template_id").drop_nulls()
    folded = _remap(table, mapping).group_by("template").agg(pl.col("count").sum(), pl.col("last_seen").max())
    return folded.join(ids, on="template", how="left").select(list(_TABLE)), mapping
