//! logscan's template miner core: the algorithm of analyzer/miner.py (which documents it),
//! compiled, behind a C ABI that analyzer/miner.py loads with ctypes. Columns cross as Arrow
//! arrays (no copy in, one out); the miner's state lives here behind an opaque pointer.
//! Rust's standard library only, so the install builds it without fetching crates.

mod arrow;
mod blake2b;
mod hash;
mod mask;
mod mine;
mod miner;

use arrow::{ArrowArray, ArrowArrayStream, ArrowSchema, Column, Strings, Views};
use miner::Miner;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// 0 on success; 1 for an unusable column, 2 for an internal error (a panic).
fn guard(f: impl FnOnce() -> Result<(), String>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => 0,
        Ok(Err(_)) => 1,
        Err(_) => 2,
    }
}

#[no_mangle]
pub extern "C" fn mc_new(max_templates: u64, split_max: u64, max_keys: u64) -> *mut Miner {
    Box::into_raw(Box::new(Miner::new(max_templates as usize, split_max as usize, max_keys as usize)))
}

/// # Safety
/// `m` came from this library and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mc_free(m: *mut Miner) {
    if !m.is_null() {
        drop(Box::from_raw(m));
    }
}

/// Mine a batch of strings; out: template_id (u64) and template (text) per line.
///
/// # Safety
/// Pointers valid: a miner, an Arrow stream, 2 schemas and 2 arrays to fill.
#[no_mangle]
pub unsafe extern "C" fn mc_add(m: *mut Miner, lines: *mut ArrowArrayStream, schemas: *mut ArrowSchema, arrays: *mut ArrowArray) -> i32 {
    guard(|| {
        let m = &mut *m;
        let batch = arrow::Batch::take(lines)?;
        let (per_line, of_key) = m.add(batch.strings()?.into_iter());
        let key_ids: Vec<u64> = of_key.iter().map(|t| m.id(*t)).collect();
        let ids: Vec<u64> = per_line.iter().map(|k| key_ids[*k as usize]).collect();
        let mut texts = Views::default();
        for t in &of_key {
            texts.push(*t, m.text(*t));
        }
        let texts = texts.gather(&per_line);
        arrow::export(Column::U64(ids), None, schemas, arrays);
        arrow::export(texts, None, schemas.add(1), arrays.add(1));
        Ok(())
    })
}

/// The current template_id and template of ids handed out earlier (nulls when unknown).
///
/// # Safety
/// As mc_add.
#[no_mangle]
pub unsafe extern "C" fn mc_resolve(m: *const Miner, ids: *mut ArrowArrayStream, schemas: *mut ArrowSchema, arrays: *mut ArrowArray) -> i32 {
    guard(|| {
        let m = &*m;
        let found = m.resolve(arrow::Batch::take(ids)?.numbers()?.into_iter());
        let ids: Vec<u64> = found.iter().map(|t| t.filter(|t| m.in_table(*t)).map_or(0, |t| m.id(t))).collect();
        let id_ok: Vec<bool> = found.iter().map(|t| t.is_some_and(|t| m.in_table(t))).collect();
        let text_ok: Vec<bool> = found.iter().map(Option::is_some).collect();
        let mut texts = Strings::default();
        for t in &found {
            texts.push(t.map_or("", |t| m.text(t)));
        }
        arrow::export(Column::U64(ids), Some(&id_ok), schemas, arrays);
        arrow::export(texts.done(), Some(&text_ok), schemas.add(1), arrays.add(1));
        Ok(())
    })
}

/// The template table: template_id, template, count, last_seen (4 schemas and arrays).
///
/// # Safety
/// As mc_add.
#[no_mangle]
pub unsafe extern "C" fn mc_templates(m: *const Miner, schemas: *mut ArrowSchema, arrays: *mut ArrowArray) -> i32 {
    guard(|| {
        let rows = (*m).templates();
        let mut texts = Strings::default();
        for r in &rows {
            texts.push(r.1);
        }
        arrow::export(Column::U64(rows.iter().map(|r| r.0).collect()), None, schemas, arrays);
        arrow::export(texts.done(), None, schemas.add(1), arrays.add(1));
        arrow::export(Column::U64(rows.iter().map(|r| r.2).collect()), None, schemas.add(2), arrays.add(2));
        arrow::export(Column::I64(rows.iter().map(|r| r.3).collect()), None, schemas.add(3), arrays.add(3));
        Ok(())
    })
}

/// # Safety
/// Both miners from this library.
#[no_mangle]
pub unsafe extern "C" fn mc_merge(a: *const Miner, b: *const Miner) -> *mut Miner {
    match catch_unwind(AssertUnwindSafe(|| (*a).merge(&*b))) {
        Ok(m) => Box::into_raw(Box::new(m)),
        Err(_) => std::ptr::null_mut(),
    }
}

/// Sizes: templates, cached keys, aliases, and the batch clock.
///
/// # Safety
/// `out` holds 4 numbers.
#[no_mangle]
pub unsafe extern "C" fn mc_sizes(m: *const Miner, out: *mut i64) {
    let [t, k, a] = (*m).sizes();
    for (i, v) in [t as i64, k as i64, a as i64, (*m).clock].into_iter().enumerate() {
        *out.add(i) = v;
    }
}

/// The state as bytes; free them with mc_free_bytes(ptr, len).
///
/// # Safety
/// `len` points to a number.
#[no_mangle]
pub unsafe extern "C" fn mc_dump(m: *const Miner, len: *mut u64) -> *mut u8 {
    let bytes = (*m).dump().into_boxed_slice();
    *len = bytes.len() as u64;
    Box::into_raw(bytes) as *mut u8
}

/// # Safety
/// `p`, `len` from mc_dump.
#[no_mangle]
pub unsafe extern "C" fn mc_free_bytes(p: *mut u8, len: u64) {
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len as usize)));
}

/// A miner from mc_dump's bytes; null when they are not such bytes.
///
/// # Safety
/// `p` holds `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_load(p: *const u8, len: u64) -> *mut Miner {
    let bytes = std::slice::from_raw_parts(p, len as usize);
    match catch_unwind(|| Miner::load(bytes)) {
        Ok(Some(m)) => Box::into_raw(Box::new(m)),
        _ => std::ptr::null_mut(),
    }
}

/// The mask of one text (for tests): written to `out` (capacity `cap`), its length returned.
///
/// # Safety
/// `p` holds `len` bytes of UTF-8; `out` holds `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_mask(p: *const u8, len: u64, out: *mut u8, cap: u64) -> u64 {
    let text = std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, len as usize));
    let mut key = Vec::new();
    mask::normalize(text, &mut key);
    let masked = mask::mask(std::str::from_utf8_unchecked(&key));
    let n = masked.len().min(cap as usize);
    std::ptr::copy_nonoverlapping(masked.as_ptr(), out, n);
    masked.len() as u64
}
