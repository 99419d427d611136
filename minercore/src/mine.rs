//! Steps 3-4 (root, split) and the fold of covered templates; see analyzer/miner.py.

use crate::hash::{self, Map, Set};
use crate::mask::{key_prefix, WILD};

fn token_hash(pos: usize, tok: &str) -> u64 {
    hash::pair(pos as u64, hash::bytes(tok.as_bytes(), 1))
}

/// Whether a position with these words splits its group: 2..=split_max values, none with <*>.
fn splits<'a>(words: impl Iterator<Item = &'a str>, split_max: usize) -> bool {
    let mut seen: Vec<&str> = Vec::with_capacity(split_max + 1);
    for w in words {
        if w.contains(WILD) {
            return false;
        }
        if !seen.contains(&w) {
            if seen.len() == split_max {
                return false;
            }
            seen.push(w);
        }
    }
    seen.len() >= 2
}

/// rows (masked text, weight) -> the template of each row.
pub fn mine(rows: &[(String, u64)], split_max: usize) -> Vec<String> {
    let toks: Vec<Vec<&str>> = rows.iter().map(|(m, _)| m.split(' ').collect()).collect();
    // weighted frequency of each (word count, position, word)
    let mut freq: Map<(usize, usize, &str), u64> = Map::default();
    for (r, words) in toks.iter().enumerate() {
        for (pos, tok) in words.iter().enumerate() {
            *freq.entry((words.len(), pos, tok)).or_default() += rows[r].1;
        }
    }
    // Root: the words of the frequency shared by most (non-<*>) words of the row (ties: the
    // higher frequency); a row's group is its word count and its root words at their positions.
    let mut group: Vec<u64> = Vec::with_capacity(rows.len());
    for words in &toks {
        let n = words.len();
        let mut by_freq: Map<u64, (usize, u64)> = Map::default();
        for (pos, tok) in words.iter().enumerate() {
            if *tok != WILD {
                let e = by_freq.entry(freq[&(n, pos, *tok)]).or_default();
                e.0 += 1;
                e.1 ^= token_hash(pos, tok);
            }
        }
        let root = by_freq.iter().max_by_key(|(f, (k, _))| (*k, **f)).map_or(0, |(_, (_, key))| *key);
        group.push(hash::pair(n as u64, root));
    }
    let keys: Vec<Vec<Option<&str>>> = toks
        .iter()
        .map(|words| {
            words
                .iter()
                .map(|w| key_prefix(w.chars()).map(|k| &w[..k]))
                .collect()
        })
        .collect();
    // Split: on the positions with 2..split_max values (none <*>), until none is left. Such a
    // position keeps at most split_max values in any part, so the parts are the same whatever
    // the order of the splits: all of a group's split positions are taken at once.
    let mut members: Map<u64, Vec<usize>> = Map::default();
    for (r, g) in group.iter().enumerate() {
        members.entry(*g).or_default().push(r);
    }
    // Each round looks at the groups the last one made (the first: all of them).
    let mut todo: Vec<Vec<usize>> = members.into_values().collect();
    while !todo.is_empty() {
        let mut parts: Map<u64, Vec<usize>> = Map::default();
        for rs in &todo {
            let n = toks[rs[0]].len();
            let split: Vec<usize> = (0..n).filter(|&pos| splits(rs.iter().map(|&r| toks[r][pos]), split_max)).collect();
            if split.is_empty() {
                continue;
            }
            for &r in rs {
                let s = split.iter().fold(0u64, |acc, &pos| acc ^ token_hash(pos, toks[r][pos]));
                group[r] = hash::pair(group[r], s);
                parts.entry(group[r]).or_default().push(r);
            }
        }
        todo = parts.into_values().collect();
    }
    // Template: constant words kept, others <*> (keeping a key= / key: prefix all values share).
    let mut templates: Map<u64, String> = Map::default();
    let mut members: Map<u64, Vec<usize>> = Map::default();
    for (r, g) in group.iter().enumerate() {
        members.entry(*g).or_default().push(r);
    }
    for (g, rs) in &members {
        let n = toks[rs[0]].len();
        let words: Vec<String> = (0..n)
            .map(|pos| {
                let first = toks[rs[0]][pos];
                if rs.iter().all(|&r| toks[r][pos] == first) {
                    return first.to_string();
                }
                let key = &keys[rs[0]][pos];
                let same = rs.iter().all(|&r| keys[r][pos] == *key);
                format!("{}{WILD}", if same { key.unwrap_or("") } else { "" })
            })
            .collect();
        templates.insert(*g, words.join(" "));
    }
    group.iter().map(|g| templates[g].clone()).collect()
}

/// Fold each template covered word for word by a more general one into it: (from -> to). A
/// template covers another of the same word count when each of its words is <*> or equal; a
/// template folds into a maximal cover (most <*>, then the first by text).
pub fn fold(templates: &[&str]) -> Map<String, String> {
    let toks: Vec<Vec<&str>> = templates.iter().map(|t| t.split(' ').collect()).collect();
    let wild: Vec<usize> = toks.iter().map(|w| w.iter().filter(|t| **t == WILD).count()).collect();
    let mut index: Map<(usize, usize, &str), Vec<usize>> = Map::default();
    for (t, words) in toks.iter().enumerate() {
        for (pos, tok) in words.iter().enumerate() {
            index.entry((words.len(), pos, tok)).or_default().push(t);
        }
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new(); // (covered, cover)
    for (g, words) in toks.iter().enumerate() {
        let n = words.len();
        if wild[g] == 0 || wild[g] == n {
            continue;
        }
        let consts: Vec<(usize, &str)> = words.iter().copied().enumerate().filter(|(_, t)| *t != WILD).collect();
        let (p0, t0) = consts[0];
        for &t in &index[&(n, p0, t0)] {
            if t != g && consts.iter().all(|(pos, tok)| toks[t][*pos] == *tok) {
                pairs.push((t, g));
            }
        }
    }
    let covered: Set<usize> = pairs.iter().map(|(t, _)| *t).collect();
    let mut best: Map<usize, usize> = Map::default();
    for (t, g) in pairs {
        if covered.contains(&g) {
            continue;
        }
        let better = match best.get(&t) {
            None => true,
            Some(&b) => (wild[g], std::cmp::Reverse(templates[g])) > (wild[b], std::cmp::Reverse(templates[b])),
        };
        if better {
            best.insert(t, g);
        }
    }
    best.into_iter().map(|(t, g)| (templates[t].to_string(), templates[g].to_string())).collect()
}
