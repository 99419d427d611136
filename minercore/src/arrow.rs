//! The Arrow C data interface: columns in (a Polars Series' `__arrow_c_stream__`, no copy) and
//! out (arrays Polars imports through `__arrow_c_array__`).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;

#[repr(C)]
pub struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

#[repr(C)]
pub struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

#[repr(C)]
pub struct ArrowArrayStream {
    get_schema: Option<unsafe extern "C" fn(*mut ArrowArrayStream, *mut ArrowSchema) -> c_int>,
    get_next: Option<unsafe extern "C" fn(*mut ArrowArrayStream, *mut ArrowArray) -> c_int>,
    get_last_error: Option<unsafe extern "C" fn(*mut ArrowArrayStream) -> *const c_char>,
    release: Option<unsafe extern "C" fn(*mut ArrowArrayStream)>,
    private_data: *mut c_void,
}

impl ArrowSchema {
    fn empty() -> ArrowSchema {
        ArrowSchema {
            format: ptr::null(),
            name: ptr::null(),
            metadata: ptr::null(),
            flags: 0,
            n_children: 0,
            children: ptr::null_mut(),
            dictionary: ptr::null_mut(),
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

impl ArrowArray {
    fn empty() -> ArrowArray {
        ArrowArray {
            length: 0,
            null_count: 0,
            offset: 0,
            n_buffers: 0,
            n_children: 0,
            buffers: ptr::null_mut(),
            children: ptr::null_mut(),
            dictionary: ptr::null_mut(),
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

unsafe fn valid(a: &ArrowArray, i: usize) -> bool {
    let bits = *a.buffers as *const u8;
    let j = a.offset as usize + i;
    bits.is_null() || (*bits.add(j / 8) >> (j % 8)) & 1 == 1
}

unsafe fn slice<'a>(p: *const u8, start: usize, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p.add(start), len)
    }
}

/// The arrays of a stream, held (not copied) until dropped.
pub struct Batch {
    format: String,
    arrays: Vec<ArrowArray>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        for a in &mut self.arrays {
            if let Some(release) = a.release {
                unsafe { release(a) };
            }
        }
    }
}

impl Batch {
    /// Take every array of a stream (then release the stream).
    pub unsafe fn take(stream: *mut ArrowArrayStream) -> Result<Batch, String> {
        let s = &mut *stream;
        let mut schema = ArrowSchema::empty();
        let mut batch = Batch { format: String::new(), arrays: Vec::new() };
        let mut out = Ok(());
        if (s.get_schema.ok_or("no get_schema")?)(stream, &mut schema) != 0 {
            out = Err("get_schema failed".to_string());
        } else {
            batch.format = CStr::from_ptr(schema.format).to_string_lossy().into_owned();
            loop {
                let mut array = ArrowArray::empty();
                if (s.get_next.ok_or("no get_next")?)(stream, &mut array) != 0 {
                    out = Err("get_next failed".to_string());
                    break;
                }
                if array.release.is_none() {
                    break;
                }
                batch.arrays.push(array);
            }
            if let Some(release) = schema.release {
                release(&mut schema);
            }
        }
        if let Some(release) = s.release {
            release(stream);
        }
        out.map(|_| batch)
    }

    /// The strings (Utf8View, Utf8 or LargeUtf8), None for null.
    pub fn strings(&self) -> Result<Vec<Option<&str>>, String> {
        let mut out = Vec::new();
        for a in &self.arrays {
            out.reserve(a.length as usize);
            unsafe {
                let buf = |k: usize| *a.buffers.add(k) as *const u8;
                let off = a.offset as usize;
                for i in 0..a.length as usize {
                    if !valid(a, i) {
                        out.push(None);
                        continue;
                    }
                    let bytes = match self.format.as_str() {
                        "vu" => {
                            let view = buf(1).add((off + i) * 16);
                            let len = (view as *const i32).read_unaligned() as usize;
                            if len <= 12 {
                                slice(view, 4, len)
                            } else {
                                let k = (view.add(8) as *const i32).read_unaligned() as usize;
                                let start = (view.add(12) as *const i32).read_unaligned() as usize;
                                slice(buf(2 + k), start, len)
                            }
                        }
                        "u" => {
                            let o = buf(1) as *const i32;
                            let (s, e) = (*o.add(off + i) as usize, *o.add(off + i + 1) as usize);
                            slice(buf(2), s, e - s)
                        }
                        "U" => {
                            let o = buf(1) as *const i64;
                            let (s, e) = (*o.add(off + i) as usize, *o.add(off + i + 1) as usize);
                            slice(buf(2), s, e - s)
                        }
                        other => return Err(format!("a string column, not Arrow format {other:?}")),
                    };
                    out.push(Some(std::str::from_utf8_unchecked(bytes)));
                }
            }
        }
        Ok(out)
    }

    /// The numbers (UInt64 or Int64, as u64), None for null.
    pub fn numbers(&self) -> Result<Vec<Option<u64>>, String> {
        if self.format != "L" && self.format != "l" {
            return Err(format!("a 64-bit integer column, not Arrow format {:?}", self.format));
        }
        let mut out = Vec::new();
        for a in &self.arrays {
            unsafe {
                let values = *a.buffers.add(1) as *const u64;
                for i in 0..a.length as usize {
                    out.push(valid(a, i).then(|| *values.add(a.offset as usize + i)));
                }
            }
        }
        Ok(out)
    }
}

/// A column to hand out.
pub enum Column {
    U64(Vec<u64>),
    I64(Vec<i64>),
    Str(Vec<i64>, Vec<u8>),
    /// Utf8View: 16-byte views into one data buffer (rows of one text share its bytes), and
    /// that buffer's size.
    View(Vec<[u8; 16]>, Vec<u8>, Vec<i64>),
}

/// Builds a string column of views: a text given again under the same number is stored once.
#[derive(Default)]
pub struct Views {
    views: Vec<[u8; 16]>,
    data: Vec<u8>,
    made: crate::hash::Map<u32, [u8; 16]>,
}

impl Views {
    pub fn push(&mut self, number: u32, text: &str) {
        let view = match self.made.get(&number) {
            Some(v) => *v,
            None => {
                let b = text.as_bytes();
                let mut v = [0u8; 16];
                v[..4].copy_from_slice(&(b.len() as i32).to_le_bytes());
                if b.len() <= 12 {
                    v[4..4 + b.len()].copy_from_slice(b);
                } else {
                    v[4..8].copy_from_slice(&b[..4]);
                    v[12..].copy_from_slice(&(self.data.len() as i32).to_le_bytes());
                    self.data.extend_from_slice(b);
                }
                self.made.insert(number, v);
                v
            }
        };
        self.views.push(view);
    }
    /// The column of views[i] for each i of `rows`.
    pub fn gather(self, rows: &[u32]) -> Column {
        let views = rows.iter().map(|i| self.views[*i as usize]).collect();
        Views { views, ..self }.done()
    }
    pub fn done(self) -> Column {
        let size = vec![self.data.len() as i64];
        Column::View(self.views, self.data, size)
    }
}

/// Builds a string column.
#[derive(Default)]
pub struct Strings {
    offsets: Vec<i64>,
    data: Vec<u8>,
}

impl Strings {
    pub fn push(&mut self, s: &str) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.data.extend_from_slice(s.as_bytes());
        self.offsets.push(self.data.len() as i64);
    }
    pub fn done(mut self) -> Column {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        Column::Str(self.offsets, self.data)
    }
}

struct Held {
    _column: Column,
    _validity: Option<Vec<u8>>,
    buffers: Vec<*const c_void>,
}

unsafe extern "C" fn release_schema(s: *mut ArrowSchema) {
    (*s).release = None;
}

unsafe extern "C" fn release_array(a: *mut ArrowArray) {
    drop(Box::from_raw((*a).private_data as *mut Held));
    (*a).release = None;
}

/// Hand `column` out through `schema`/`array` (caller-owned structs); `valid[i]` false is a null.
pub unsafe fn export(column: Column, valid: Option<&[bool]>, schema: *mut ArrowSchema, array: *mut ArrowArray) {
    let (format, len, data): (&'static [u8], usize, Vec<*const c_void>) = match &column {
        Column::U64(v) => (b"L\0", v.len(), vec![v.as_ptr() as *const c_void]),
        Column::I64(v) => (b"l\0", v.len(), vec![v.as_ptr() as *const c_void]),
        Column::Str(o, d) => (b"U\0", o.len() - 1, vec![o.as_ptr() as *const c_void, d.as_ptr() as *const c_void]),
        Column::View(v, d, size) => (
            b"vu\0",
            v.len(),
            vec![v.as_ptr() as *const c_void, d.as_ptr() as *const c_void, size.as_ptr() as *const c_void],
        ),
    };
    let mut nulls = 0;
    let validity = valid.map(|v| {
        let mut bits = vec![0u8; v.len().div_ceil(8)];
        for (i, ok) in v.iter().enumerate() {
            if *ok {
                bits[i / 8] |= 1 << (i % 8);
            } else {
                nulls += 1;
            }
        }
        bits
    });
    let mut buffers = vec![validity.as_ref().map_or(ptr::null(), |b| b.as_ptr() as *const c_void)];
    buffers.extend(data);
    let mut held = Box::new(Held { _column: column, _validity: validity, buffers });
    *schema = ArrowSchema {
        format: format.as_ptr() as *const c_char,
        name: b"\0".as_ptr() as *const c_char,
        flags: 2, // nullable
        release: Some(release_schema),
        ..ArrowSchema::empty()
    };
    *array = ArrowArray {
        length: len as i64,
        null_count: nulls,
        n_buffers: held.buffers.len() as i64,
        buffers: held.buffers.as_mut_ptr(),
        release: Some(release_array),
        private_data: Box::into_raw(held) as *mut c_void,
        ..ArrowArray::empty()
    };
}
