//! Steps 1-2 of the miner (see analyzer/miner.py): the per-line key and the general masks.
//!
//! The masks were regular expressions run by Polars (Rust's regex crate: leftmost-first,
//! non-overlapping, Unicode classes). Each is written out here as the same scan: at each start
//! position, the alternatives in the regex's order, the first that matches wins, the search
//! goes on after the match. After the whitespace squeeze the only whitespace left is single
//! spaces between words, and after the key every ASCII digit run is one "0", which makes each
//! pattern short. Two approximations of the Unicode classes, on non-ASCII text only: a word
//! character (for `\b`) is alphanumeric or `_` (the regex's `\w` also counts combining marks
//! and connector punctuation), and a digit (`\d`) is any numeric character (`\d` is decimal
//! digits only).

pub const WILD: &str = "<*>";
/// Characters of a message that count: a longer one is grouped by its start (bounds memory).
pub const MAX_CHARS: usize = 4096;

/// The per-line key into `out`: the first MAX_CHARS characters, every run of ASCII digits as "0".
pub fn normalize(line: &str, out: &mut Vec<u8>) {
    out.clear();
    let mut bytes = line.as_bytes();
    if bytes.len() > MAX_CHARS {
        if let Some((i, _)) = line.char_indices().nth(MAX_CHARS) {
            bytes = &bytes[..i];
        }
    }
    // eight bytes at a time while they hold no digit (a byte b is one when b ^ 0x30 < 10)
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let t = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap()) ^ (0x30 * ONES);
            if t.wrapping_sub(10 * ONES) & !t & (0x80 * ONES) == 0 {
                out.extend_from_slice(&bytes[i..i + 8]);
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if !b.is_ascii_digit() {
            out.push(b);
        } else if i == 0 || !bytes[i - 1].is_ascii_digit() {
            out.push(b'0');
        }
        i += 1;
    }
}

#[inline]
fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c.is_alphanumeric()
    }
}

#[inline]
fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        c.is_numeric()
    }
}

const MONTHS: [&str; 24] = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sept", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 14] = [
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Mon", "Tue", "Wed", "Thu",
    "Fri", "Sat", "Sun",
];
const UNITS: [&str; 28] = [
    "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB", "B", "byte", "bytes", "s", "ms", "us", "ns",
    "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "h", "hour", "hours",
];

struct Text<'a>(&'a [char]);

impl Text<'_> {
    #[inline]
    fn at(&self, i: usize) -> Option<char> {
        self.0.get(i).copied()
    }
    #[inline]
    fn is(&self, i: usize, c: char) -> bool {
        self.at(i) == Some(c)
    }
    #[inline]
    fn word_at(&self, i: usize) -> bool {
        self.at(i).is_some_and(is_word)
    }
    /// `\b` before position i.
    #[inline]
    fn boundary(&self, i: usize) -> bool {
        (i > 0 && self.word_at(i - 1)) != self.word_at(i)
    }
    fn starts(&self, i: usize, s: &str) -> bool {
        let mut j = i;
        for c in s.chars() {
            if !self.is(j, c) {
                return false;
            }
            j += 1;
        }
        true
    }
    /// End of one of `words` (ASCII letters, capitalized) at i followed by `\b` (a word
    /// alternation ending in `\b`): the word characters from i must be one of them.
    fn one_of(&self, i: usize, words: &[&str]) -> Option<usize> {
        if !self.at(i).is_some_and(|c| c.is_ascii_uppercase()) {
            return None;
        }
        let mut z = i;
        while self.word_at(z) {
            z += 1;
        }
        let run = &self.0[i..z];
        words.iter().any(|w| w.len() == run.len() && w.chars().zip(run).all(|(a, b)| a == *b)).then_some(z)
    }
    /// End of `\d+` at i.
    fn digits(&self, i: usize) -> Option<usize> {
        let mut j = i;
        while self.at(j).is_some_and(is_digit) {
            j += 1;
        }
        (j > i).then_some(j)
    }
    /// `(?:DAY,?\s+)?` at i: where what follows it starts, with the day, then without (the
    /// regex's greedy order).
    fn day_then_space(&self, i: usize) -> Option<usize> {
        let mut j = self.one_of(i, &DAYS)?;
        if self.is(j, ',') {
            j += 1;
        }
        self.is(j, ' ').then_some(j + 1)
    }
}

/// One replace_all pass: `rule(text, p, out)` tries a match starting at p; on a match it writes
/// the replacement to `out` and gives the match's end.
fn pass(text: &[char], rule: impl Fn(&Text, usize, &mut Vec<char>) -> Option<usize>) -> Vec<char> {
    let t = Text(text);
    let mut out = Vec::with_capacity(text.len());
    let mut p = 0;
    while p < text.len() {
        match rule(&t, p, &mut out) {
            Some(end) => p = end,
            None => {
                out.push(text[p]);
                p += 1;
            }
        }
    }
    out
}

fn wild(out: &mut Vec<char>) {
    out.extend(['<', '*', '>']);
}

/// `\b(?:DAY,?\s+)?` then `rest` -> <*>: a date, with or without its day name first.
fn dated(t: &Text, p: usize, out: &mut Vec<char>, rest: impl Fn(usize) -> Option<usize>) -> Option<usize> {
    if !t.boundary(p) {
        return None;
    }
    let e = t.day_then_space(p).and_then(&rest).or_else(|| rest(p))?;
    wild(out);
    Some(e)
}

/// `\b(?:DAY,?\s+)?MONTH\s+\d+\b` -> <*>
fn month_date(t: &Text, p: usize, out: &mut Vec<char>) -> Option<usize> {
    dated(t, p, out, |i| {
        let j = t.one_of(i, &MONTHS)?;
        let e = if t.is(j, ' ') { t.digits(j + 1)? } else { return None };
        t.boundary(e).then_some(e)
    })
}

/// `\b(?:DAY,?\s+)?\d+\s+MONTH` -> <*>
fn day_month(t: &Text, p: usize, out: &mut Vec<char>) -> Option<usize> {
    dated(t, p, out, |i| {
        let j = t.digits(i)?;
        if !t.is(j, ' ') {
            return None;
        }
        t.one_of(j + 1, &MONTHS)
    })
}

/// `\bDAY,?(\s+\d)` -> <*>${1}
fn day_number(t: &Text, p: usize, out: &mut Vec<char>) -> Option<usize> {
    if !t.boundary(p) {
        return None;
    }
    let j = t.day_then_space(p)?;
    let d = t.at(j).filter(|c| is_digit(*c))?;
    wild(out);
    out.extend([' ', d]);
    Some(j + 1)
}

/// `\b\d+(?:\.\d+)?\s?(?:UNIT\b|%)` -> <*>
fn quantity(t: &Text, p: usize, out: &mut Vec<char>) -> Option<usize> {
    if !t.at(p).is_some_and(is_digit) || !t.boundary(p) {
        return None;
    }
    let e = t.digits(p)?;
    let decimal = if t.is(e, '.') { t.digits(e + 1) } else { None };
    for x in decimal.into_iter().chain([e]) {
        let space = t.is(x, ' ').then_some(x + 1);
        for y in space.into_iter().chain([x]) {
            let mut z = y;
            while t.word_at(z) {
                z += 1;
            }
            let word = &t.0[y..z];
            let unit = |u: &&str| u.len() == word.len() && u.chars().zip(word).all(|(a, b)| a == *b);
            if z > y && UNITS.iter().any(unit) {
                wild(out);
                return Some(z);
            }
            if t.is(y, '%') {
                wild(out);
                return Some(y + 1);
            }
        }
    }
    None
}

/// `(^|[\s=(\[])(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)[^\s,;)\]]+` -> ${1}<*>
fn path(t: &Text, p: usize, out: &mut Vec<char>) -> Option<usize> {
    let rest = |s: usize| -> Option<usize> {
        let mut e = s;
        while t.at(e).is_some_and(|c| !(c.is_whitespace() || matches!(c, ',' | ';' | ')' | ']'))) {
            e += 1;
        }
        (e > s).then_some(e)
    };
    let path_at = |q: usize| -> Option<usize> {
        if t.at(q).is_some_and(|c| c.is_ascii_alphabetic()) {
            let mut r = q + 1;
            while t.at(r).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')) {
                r += 1;
            }
            if t.starts(r, "://") {
                if let Some(e) = rest(r + 3) {
                    return Some(e);
                }
            }
        }
        if t.is(q, '/') {
            return rest(q + 1);
        }
        None
    };
    if p == 0 {
        if let Some(e) = path_at(0) {
            wild(out);
            return Some(e);
        }
    }
    let c = t.at(p).filter(|c| c.is_whitespace() || matches!(c, '=' | '(' | '['))?;
    let e = path_at(p + 1)?;
    out.push(c);
    wild(out);
    Some(e)
}

/// Length of a `key=` / `key:` prefix (`[(\[{"']*[A-Za-z_][A-Za-z_.-]*[=:]`) at the start of `w`
/// (in characters; they are ASCII, so also in bytes).
pub fn key_prefix(w: impl IntoIterator<Item = char>) -> Option<usize> {
    let mut w = w.into_iter().peekable();
    let mut i = 0;
    while w.next_if(|c| matches!(c, '(' | '[' | '{' | '"' | '\'')).is_some() {
        i += 1;
    }
    w.next_if(|c| c.is_ascii_alphabetic() || *c == '_')?;
    i += 1;
    while w.next_if(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-')).is_some() {
        i += 1;
    }
    w.next_if(|c| matches!(c, '=' | ':')).map(|_| i + 1)
}

/// `(^|\s)((?:KEY)?)\S*?\d\S*?([)\]}"',;:.]*)(\s|$)` -> ${1}${2}<*>${3}${4}: a word holding a
/// digit, keeping its key= prefix and closing punctuation. The match takes the space after the
/// word, so the next word needs a second pass.
fn digit_word(t: &Text, p: usize, out: &mut Vec<char>) -> Option<usize> {
    let q = if p == 0 {
        0
    } else if t.at(p).is_some_and(char::is_whitespace) {
        p + 1
    } else {
        return None;
    };
    let mut e = q;
    while t.at(e).is_some_and(|c| !c.is_whitespace()) {
        e += 1;
    }
    let w = &t.0[q..e];
    if !w.iter().any(|c| is_digit(*c)) {
        return None;
    }
    let key = key_prefix(w.iter().copied()).unwrap_or(0);
    let mut close = w.len();
    while close > 0 && matches!(w[close - 1], ')' | ']' | '}' | '"' | '\'' | ',' | ';' | ':' | '.') {
        close -= 1;
    }
    out.extend(t.0[p..q].iter().chain(&w[..key]));
    wild(out);
    out.extend(&w[close..]);
    match t.at(e) {
        Some(c) => {
            out.push(c);
            Some(e + 1)
        }
        None => Some(e),
    }
}

/// Whether the text holds a month name, a day name (as whole words).
fn names(text: &[char]) -> (bool, bool) {
    let t = Text(text);
    let (mut month, mut day) = (false, false);
    for i in 0..text.len() {
        if text[i].is_ascii_uppercase() && t.boundary(i) {
            month |= t.one_of(i, &MONTHS).is_some();
            day |= t.one_of(i, &DAYS).is_some();
        }
    }
    (month, day)
}

/// A key with whitespace squeezed and variable-looking parts replaced by <*>.
pub fn mask(key: &str) -> String {
    let mut text: Vec<char> = Vec::with_capacity(key.len());
    for c in key.trim().chars() {
        if c.is_whitespace() {
            if text.last() != Some(&' ') {
                text.push(' ');
            }
        } else {
            text.push(c);
        }
    }
    // Every rule but the path one needs a digit; the date rules need a month or day name.
    let digit = text.iter().any(|c| is_digit(*c));
    let (month, day) = if digit { names(&text) } else { (false, false) };
    if month {
        text = pass(&text, month_date);
        text = pass(&text, day_month);
    }
    if day {
        text = pass(&text, day_number);
    }
    if digit {
        text = pass(&text, quantity);
    }
    if text.contains(&'/') {
        text = pass(&text, path); // a path or URL holds a slash
    }
    if digit {
        text = pass(&text, digit_word);
        text = pass(&text, digit_word);
    }
    text.into_iter().collect()
}
