//! The miner's state and its operations: add (steps 1-5), merge (step 6), resolve, eviction.
//! See analyzer/miner.py for what each step does and why.

use crate::hash::{self, Map, Set};
use crate::{blake2b, mask, mine};

#[derive(Clone, Copy)]
struct Entry {
    count: u64,
    last_seen: i64,
}

/// Template texts are interned (a number each) so that keys and aliases hold numbers.
#[derive(Clone, Default)]
struct Names {
    text: Vec<String>,
    id: Vec<u64>,
    words: Vec<usize>,
    index: Map<String, u32>,
}

impl Names {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&t) = self.index.get(text) {
            return t;
        }
        let t = self.text.len() as u32;
        self.text.push(text.to_string());
        self.id.push(blake2b::id(text.as_bytes()));
        self.words.push(spaces(text));
        self.index.insert(text.to_string(), t);
        t
    }
}

fn spaces(text: &str) -> usize {
    text.bytes().filter(|b| *b == b' ').count()
}

/// An insertion-ordered map from u64 (key hash or alias id) to a template number; the oldest go
/// first when it is cut to a size.
#[derive(Clone, Default)]
struct Ordered {
    map: Map<u64, u32>,
    order: Vec<u64>,
}

impl Ordered {
    fn len(&self) -> usize {
        self.map.len()
    }
    /// Insert or overwrite; an overwritten entry moves to the end.
    fn put_all(&mut self, items: Vec<(u64, u32)>) {
        let again: Set<u64> = items.iter().filter(|(k, _)| self.map.contains_key(k)).map(|(k, _)| *k).collect();
        if !again.is_empty() {
            self.order.retain(|k| !again.contains(k));
        }
        for (k, v) in items {
            if self.map.insert(k, v).is_none() || again.contains(&k) {
                self.order.push(k);
            }
        }
        // a key repeated within `items` was pushed once per repeat: keep its last place
        if self.order.len() != self.map.len() {
            let mut seen: Set<u64> = Set::default();
            let mut order: Vec<u64> = self.order.iter().rev().filter(|k| seen.insert(**k)).copied().collect();
            order.reverse();
            self.order = order;
        }
    }
    fn remap(&mut self, to: &Map<u32, u32>) {
        if to.is_empty() {
            return;
        }
        for v in self.map.values_mut() {
            if let Some(&n) = to.get(v) {
                *v = n;
            }
        }
    }
    fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.map.retain(|_, v| keep(*v));
        let map = &self.map;
        self.order.retain(|k| map.contains_key(k));
    }
    fn cut(&mut self, max: usize) {
        if self.order.len() > max {
            for k in self.order.drain(..self.order.len() - max) {
                self.map.remove(&k);
            }
        }
    }
    fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.order.iter().map(|k| (*k, self.map[k]))
    }
}

#[derive(Clone)]
pub struct Miner {
    pub max_templates: usize,
    pub split_max: usize,
    pub max_keys: usize,
    pub clock: i64,
    names: Names,
    table: Map<u32, Entry>,
    keys: Ordered,
    aliases: Ordered,
}

/// One row of the template table: id, text, count, last_seen.
pub type Row<'a> = (u64, &'a str, u64, i64);

impl Miner {
    pub fn new(max_templates: usize, split_max: usize, max_keys: usize) -> Miner {
        Miner {
            max_templates,
            split_max,
            max_keys,
            clock: 0,
            names: Names::default(),
            table: Map::default(),
            keys: Ordered::default(),
            aliases: Ordered::default(),
        }
    }

    pub fn sizes(&self) -> [usize; 3] {
        [self.table.len(), self.keys.len(), self.aliases.len()]
    }

    pub fn templates(&self) -> Vec<Row<'_>> {
        self.table.iter().map(|(t, e)| self.row(*t, e)).collect()
    }

    fn row(&self, t: u32, e: &Entry) -> Row<'_> {
        (self.names.id[t as usize], self.names.text[t as usize].as_str(), e.count, e.last_seen)
    }

    pub fn id(&self, t: u32) -> u64 {
        self.names.id[t as usize]
    }

    pub fn text(&self, t: u32) -> &str {
        &self.names.text[t as usize]
    }

    /// Mine one batch: for each line the number of its key, and for each key its template.
    pub fn add<'a>(&mut self, lines: impl Iterator<Item = Option<&'a str>>) -> (Vec<u32>, Vec<u32>) {
        self.clock += 1;
        let mut at: Map<u64, usize> = Map::default();
        let mut uniq: Vec<(u64, u64)> = Vec::new(); // key hash, weight
        let mut fresh: Vec<(u64, String, u64)> = Vec::new(); // key hash, key, weight (filled below)
        let mut fresh_at: Map<u64, usize> = Map::default();
        let mut per_line: Vec<u32> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        for line in lines {
            mask::normalize(line.unwrap_or(""), &mut buf);
            let h = hash::bytes(&buf, 0);
            let i = match at.get(&h) {
                Some(&i) => i,
                None => {
                    at.insert(h, uniq.len());
                    uniq.push((h, 0));
                    if !self.keys.map.contains_key(&h) {
                        fresh_at.insert(h, fresh.len());
                        fresh.push((h, String::from_utf8(buf.clone()).expect("normalized UTF-8"), 0));
                    }
                    uniq.len() - 1
                }
            };
            uniq[i].1 += 1;
            per_line.push(i as u32);
        }
        for (h, w) in &uniq {
            match self.keys.map.get(h) {
                Some(t) => {
                    let e = self.table.get_mut(t).expect("a key names a template of the table");
                    e.count += w;
                    e.last_seen = self.clock;
                }
                None => fresh[fresh_at[h]].2 = *w,
            }
        }
        if !fresh.is_empty() {
            self.learn(fresh);
        }
        let of_key: Vec<u32> = uniq.iter().map(|(h, _)| self.keys.map[h]).collect();
        self.evict();
        (per_line, of_key)
    }

    /// Mine keys never seen (hash, key, weight) together with the known templates of their lengths.
    fn learn(&mut self, fresh: Vec<(u64, String, u64)>) {
        let clock = self.clock;
        let shapes: Vec<(u64, String, u64)> = fresh.into_iter().map(|(h, k, w)| (h, mask::mask(&k), w)).collect();
        let lengths: Set<usize> = shapes.iter().map(|(_, m, _)| spaces(m)).collect();
        let mut rows: Vec<(String, u64)> = Vec::new();
        let mut last: Vec<i64> = Vec::new();
        let mut row_at: Map<String, usize> = Map::default();
        let mut upsert = |m: &str, w: u64, l: i64, rows: &mut Vec<(String, u64)>| match row_at.get(m) {
            Some(&r) => {
                rows[r].1 += w;
                last[r] = last[r].max(l);
            }
            None => {
                row_at.insert(m.to_string(), rows.len());
                rows.push((m.to_string(), w));
                last.push(l);
            }
        };
        for (_, m, w) in &shapes {
            upsert(m, *w, clock, &mut rows);
        }
        let known: Vec<u32> =
            self.table.keys().copied().filter(|t| lengths.contains(&self.names.words[*t as usize])).collect();
        for t in &known {
            let e = self.table[t];
            upsert(&self.names.text[*t as usize], e.count, e.last_seen, &mut rows);
        }
        drop(upsert);
        let mined = mine::mine(&rows, self.split_max);
        let mut seen: Vec<(&str, u64, i64)> = Vec::new();
        let mut seen_at: Map<&str, usize> = Map::default();
        for (r, template) in mined.iter().enumerate() {
            match seen_at.get(template.as_str()) {
                Some(&s) => {
                    seen[s].1 += rows[r].1;
                    seen[s].2 = seen[s].2.max(last[r]);
                }
                None => {
                    seen_at.insert(template, seen.len());
                    seen.push((template, rows[r].1, last[r]));
                }
            }
        }
        // The table is folded already and the templates outside these lengths cannot cover or be
        // covered by the new ones (a cover has the same length): fold the new ones only.
        let fold = mine::fold(&seen.iter().map(|s| s.0).collect::<Vec<_>>());
        let folded = |t: &str| -> String { fold.get(t).cloned().unwrap_or_else(|| t.to_string()) };
        // Known templates that generalized in this batch (from -> to), then folded ones, in one map.
        let mut moved: Map<String, String> = Map::default();
        for (r, template) in mined.iter().enumerate() {
            if rows[r].0 != *template {
                moved.insert(rows[r].0.clone(), folded(template));
            }
        }
        for (from, to) in &fold {
            moved.entry(from.clone()).or_insert_with(|| to.clone());
        }
        let mut new: Vec<(u32, Entry)> = Vec::new();
        let mut new_at: Map<u32, usize> = Map::default();
        for (t, count, l) in &seen {
            let n = self.names.intern(&folded(t));
            match new_at.get(&n) {
                Some(&i) => {
                    new[i].1.count += count;
                    new[i].1.last_seen = new[i].1.last_seen.max(*l);
                }
                None => {
                    new_at.insert(n, new.len());
                    new.push((n, Entry { count: *count, last_seen: *l }));
                }
            }
        }
        let mut remap: Map<u32, u32> = Map::default();
        for t in &known {
            if let Some(to) = moved.get(&self.names.text[*t as usize]) {
                remap.insert(*t, self.names.intern(to));
            }
        }
        let changed: Vec<(u64, u32)> = remap.iter().filter(|(a, b)| a != b).map(|(a, b)| (self.id(*a), *b)).collect();
        self.keys.remap(&remap);
        let new_keys: Vec<(u64, u32)> = shapes
            .iter()
            .map(|(h, m, _)| (*h, self.names.intern(&folded(&mined[row_at[m.as_str()]]))))
            .collect();
        self.keys.put_all(new_keys);
        for t in &known {
            self.table.remove(t);
        }
        self.table.extend(new);
        self.aliases.remap(&remap);
        self.aliases.put_all(changed);
    }

    /// Cap the table, then the key cache and aliases. Keys and aliases always name templates of
    /// the table (learning and merging remap them), so only an eviction leaves some to drop.
    fn evict(&mut self) {
        if self.table.len() > self.max_templates {
            let mut order: Vec<(u32, Entry)> = self.table.iter().map(|(t, e)| (*t, *e)).collect();
            let names = &self.names.text;
            order.sort_by(|a, b| {
                (b.1.last_seen, b.1.count).cmp(&(a.1.last_seen, a.1.count)).then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
            });
            order.truncate(self.max_templates);
            self.table = order.into_iter().collect();
            let table = &self.table;
            self.keys.retain(|t| table.contains_key(&t));
            self.aliases.retain(|t| table.contains_key(&t));
        }
        self.keys.cut(self.max_keys);
        self.aliases.cut(self.max_keys);
        if self.names.text.len() > 2 * self.table.len() + 4096 {
            self.compact();
        }
    }

    /// Drop interned texts nothing names any more (bounds memory).
    fn compact(&mut self) {
        let mut names = Names::default();
        let mut to: Map<u32, u32> = Map::default();
        let live = self.table.keys().chain(self.keys.map.values()).chain(self.aliases.map.values());
        for t in live.copied().collect::<Vec<_>>() {
            to.entry(t).or_insert_with(|| names.intern(&self.names.text[t as usize]));
        }
        self.table = self.table.iter().map(|(t, e)| (to[t], *e)).collect();
        self.keys.remap(&to);
        self.aliases.remap(&to);
        self.names = names;
    }

    /// A new miner holding the templates of both (union, then fold subsumed ones).
    pub fn merge(&self, other: &Miner) -> Miner {
        let mut out = Miner::new(
            self.max_templates.min(other.max_templates),
            self.split_max,
            self.max_keys.min(other.max_keys),
        );
        out.clock = self.clock.max(other.clock);
        let mut union: Vec<(&str, u64, i64)> = Vec::new();
        let mut union_at: Map<&str, usize> = Map::default();
        for m in [self, other] {
            for (_, text, count, l) in m.templates() {
                match union_at.get(text) {
                    Some(&i) => {
                        union[i].1 += count;
                        union[i].2 = union[i].2.max(l);
                    }
                    None => {
                        union_at.insert(text, union.len());
                        union.push((text, count, l));
                    }
                }
            }
        }
        let fold = mine::fold(&union.iter().map(|u| u.0).collect::<Vec<_>>());
        let folded = |t: &str| -> String { fold.get(t).cloned().unwrap_or_else(|| t.to_string()) };
        for (text, count, l) in &union {
            let t = out.names.intern(&folded(text));
            let e = out.table.entry(t).or_insert(Entry { count: 0, last_seen: i64::MIN });
            e.count += count;
            e.last_seen = e.last_seen.max(*l);
        }
        // aliases of both, then the ids of folded templates: the first for an id wins
        let mut aliases: Vec<(u64, u32)> = Vec::new();
        let mut seen: Set<u64> = Set::default();
        let from_both = [self, other].into_iter().flat_map(|m| m.aliases.iter().map(move |(a, t)| (a, m.text(t).to_string())));
        let from_fold = union.iter().filter(|u| fold.contains_key(u.0)).map(|u| (blake2b::id(u.0.as_bytes()), u.0.to_string()));
        for (alias, text) in from_both.chain(from_fold) {
            if seen.insert(alias) {
                aliases.push((alias, out.names.intern(&folded(&text))));
            }
        }
        out.aliases.put_all(aliases);
        // A key both sides resolved: the more general template wins (most <*>, then text).
        let mut keys: Map<u64, u32> = Map::default();
        for m in [self, other] {
            for (h, t) in m.keys.iter() {
                let n = out.names.intern(&folded(m.text(t)));
                let better = |a: u32, b: u32| {
                    let (ta, tb) = (out.names.text[a as usize].as_str(), out.names.text[b as usize].as_str());
                    (ta.matches(mask::WILD).count(), std::cmp::Reverse(ta)) > (tb.matches(mask::WILD).count(), std::cmp::Reverse(tb))
                };
                match keys.get(&h) {
                    Some(&old) if !better(n, old) => {}
                    _ => {
                        keys.insert(h, n);
                    }
                }
            }
        }
        let mut keys: Vec<(u64, u32)> = keys.into_iter().collect();
        keys.sort_by_key(|(h, _)| *h);
        out.keys.put_all(keys);
        out.evict();
        out
    }

    /// For ids handed out earlier: the current template (number), or None when evicted.
    pub fn resolve(&self, ids: impl Iterator<Item = Option<u64>>) -> Vec<Option<u32>> {
        let by_id: Map<u64, u32> = self.table.keys().map(|t| (self.id(*t), *t)).collect();
        ids.map(|id| id.and_then(|i| by_id.get(&i).or_else(|| self.aliases.map.get(&i)).copied())).collect()
    }

    pub fn in_table(&self, t: u32) -> bool {
        self.table.contains_key(&t)
    }

    /// The whole state as bytes (pickling): parameters, table, keys and aliases in their order.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let num = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
        let text = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        for v in [self.max_templates as u64, self.split_max as u64, self.max_keys as u64, self.clock as u64] {
            num(&mut out, v);
        }
        num(&mut out, self.table.len() as u64);
        for (_, t, count, l) in self.templates() {
            text(&mut out, t);
            num(&mut out, count);
            num(&mut out, l as u64);
        }
        for part in [&self.keys, &self.aliases] {
            num(&mut out, part.len() as u64);
            for (k, t) in part.iter() {
                num(&mut out, k);
                text(&mut out, self.text(t));
            }
        }
        out
    }

    pub fn load(bytes: &[u8]) -> Option<Miner> {
        let mut at = 0usize;
        let mut num = || -> Option<u64> {
            let v = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
            at += 8;
            Some(v)
        };
        let [a, b, c, d] = [num()?, num()?, num()?, num()?];
        let mut m = Miner::new(a as usize, b as usize, c as usize);
        m.clock = d as i64;
        drop(num);
        let read = |at: &mut usize| -> Option<(u64, String)> {
            let v = u64::from_le_bytes(bytes.get(*at..*at + 8)?.try_into().ok()?);
            let n = u64::from_le_bytes(bytes.get(*at + 8..*at + 16)?.try_into().ok()?) as usize;
            let s = std::str::from_utf8(bytes.get(*at + 16..*at + 16 + n)?).ok()?.to_string();
            *at += 16 + n;
            Some((v, s))
        };
        // table rows: text, count, last_seen (read as len-prefixed text then two numbers)
        let rows = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
        at += 8;
        for _ in 0..rows {
            let n = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?) as usize;
            let s = std::str::from_utf8(bytes.get(at + 8..at + 8 + n)?).ok()?;
            at += 8 + n;
            let count = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
            let l = u64::from_le_bytes(bytes.get(at + 8..at + 16)?.try_into().ok()?) as i64;
            at += 16;
            let t = m.names.intern(s);
            m.table.insert(t, Entry { count, last_seen: l });
        }
        for part in 0..2 {
            let n = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
            at += 8;
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let (k, s) = read(&mut at)?;
                items.push((k, m.names.intern(&s)));
            }
            if part == 0 { m.keys.put_all(items) } else { m.aliases.put_all(items) }
        }
        (at == bytes.len()).then_some(m)
    }
}
