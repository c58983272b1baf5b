//! Fixed-width column files: a record's id is its position; files are little-endian arrays
//! of plain values, memory-mapped for reading, appended with ordinary writes, and (for the few
//! mutable columns) updated in place through a writable map.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut};

use crate::error::StoreError;

#[cfg(not(target_endian = "little"))]
compile_error!("the store's column files are little-endian and mapped directly");

/// Plain values that can be viewed directly in a mapped file.
///
/// # Safety
/// Implementors must have no padding, no invalid bit patterns, and alignment <= 8 (maps are
/// page-aligned and every record size is a multiple of its alignment).
pub unsafe trait Plain: Copy + 'static {}
unsafe impl Plain for u8 {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u64 {}
unsafe impl Plain for [u8; 32] {}

pub fn as_bytes<T: Plain>(v: &[T]) -> &[u8] {
    // SAFETY: Plain types have no padding.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn cast<T: Plain>(b: &[u8]) -> &[T] {
    let n = b.len() / std::mem::size_of::<T>();
    assert_eq!(b.as_ptr() as usize % std::mem::align_of::<T>(), 0, "mapped column misaligned");
    // SAFETY: alignment checked, Plain values accept any bit pattern, length rounded down.
    unsafe { std::slice::from_raw_parts(b.as_ptr() as *const T, n) }
}

fn cast_mut<T: Plain>(b: &mut [u8]) -> &mut [T] {
    let n = b.len() / std::mem::size_of::<T>();
    assert_eq!(b.as_ptr() as usize % std::mem::align_of::<T>(), 0, "mapped column misaligned");
    // SAFETY: as in `cast`, and the borrow is unique.
    unsafe { std::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut T, n) }
}

/// Names `path` in an I/O error.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io { path: path.to_path_buf(), source: e }
}

/// Writes `values` as a whole column file and syncs it (files built in one go and then
/// renamed into place: cluster generations, the exposure index).
pub fn write_file<T: Plain>(path: &Path, values: &[T]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, File::create(path).map_err(io(path))?);
    f.write_all(as_bytes(values)).map_err(io(path))?;
    f.into_inner().map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e.into_error() })?.sync_all().map_err(io(path))
}

/// A read-only mapping of the first `len` records of a column file.
pub struct Column<T: Plain> {
    map: Option<Mmap>,
    len: usize,
    _t: std::marker::PhantomData<T>,
}

impl<T: Plain> Column<T> {
    /// Maps `path`, exposing only `len` records (the committed ones; the file may be longer
    /// after an interrupted write). A file shorter than `len` means the store is damaged.
    pub fn open(path: &Path, len: u64) -> Result<Column<T>, StoreError> {
        let size = std::mem::size_of::<T>() as u64;
        if len == 0 {
            return Ok(Column { map: None, len: 0, _t: Default::default() });
        }
        let f = File::open(path).map_err(io(path))?;
        let file_len = f.metadata().map_err(io(path))?.len();
        if file_len < len * size {
            return Err(StoreError::Damaged(format!(
                "{} holds {} records, the manifest commits {len}",
                path.display(),
                file_len / size
            )));
        }
        // SAFETY: committed records are never rewritten except the mutable columns, whose
        // readers tolerate concurrent in-place updates (see `ledger`).
        let map = unsafe { Mmap::map(&f) }.map_err(io(path))?;
        Ok(Column { map: Some(map), len: len as usize, _t: Default::default() })
    }

    pub fn as_slice(&self) -> &[T] {
        match &self.map {
            Some(m) => &cast::<T>(&m[..])[..self.len],
            None => &[],
        }
    }

    /// Every whole record the file held when mapped, committed or not.
    pub fn as_full_slice(&self) -> &[T] {
        match &self.map {
            Some(m) => cast::<T>(&m[..]),
            None => &[],
        }
    }
}

/// A writable mapping of the committed part of a mutable column.
pub struct MutColumn<T: Plain> {
    map: Option<MmapMut>,
    len: usize,
    _t: std::marker::PhantomData<T>,
}

impl<T: Plain> MutColumn<T> {
    pub fn open(path: &Path, len: u64) -> Result<MutColumn<T>, StoreError> {
        if len == 0 {
            return Ok(MutColumn { map: None, len: 0, _t: Default::default() });
        }
        let f = OpenOptions::new().read(true).write(true).open(path).map_err(io(path))?;
        let bytes = len as usize * std::mem::size_of::<T>();
        // SAFETY: this process holds the store's writer lock; nobody else writes the file.
        let map = unsafe { memmap2::MmapOptions::new().len(bytes).map_mut(&f) }.map_err(io(path))?;
        Ok(MutColumn { map: Some(map), len: len as usize, _t: Default::default() })
    }

    pub fn as_slice(&self) -> &[T] {
        match &self.map {
            Some(m) => &cast::<T>(&m[..])[..self.len],
            None => &[],
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.map {
            Some(m) => &mut cast_mut::<T>(&mut m[..])[..self.len],
            None => &mut [],
        }
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        if let Some(m) = &self.map {
            m.flush().map_err(|e| StoreError::Io { path: PathBuf::from("<mapped column>"), source: e })?;
        }
        Ok(())
    }
}

/// Appends records to a column file from its committed length on.
pub struct Appender {
    path: PathBuf,
    file: std::io::BufWriter<File>,
}

impl Appender {
    /// Opens `path` for appending after its first `committed_bytes` bytes, dropping anything
    /// an interrupted run left beyond them.
    pub fn open(path: &Path, committed_bytes: u64) -> Result<Appender, StoreError> {
        let file = OpenOptions::new().create(true).read(true).write(true).truncate(false).open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        if len < committed_bytes {
            return Err(StoreError::Damaged(format!(
                "{} is {len} bytes, the manifest commits {committed_bytes}",
                path.display()
            )));
        }
        if len > committed_bytes {
            file.set_len(committed_bytes).map_err(io(path))?;
        }
        let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(committed_bytes)).map_err(io(path))?;
        Ok(Appender { path: path.to_path_buf(), file })
    }

    pub fn push<T: Plain>(&mut self, values: &[T]) -> Result<(), StoreError> {
        self.file.write_all(as_bytes(values)).map_err(io(&self.path))
    }

    /// Writes buffered records and makes them durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.file.flush().map_err(io(&self.path))?;
        self.file.get_ref().sync_data().map_err(io(&self.path))
    }
}

/// The u64 slots of a writable hash-table map.
pub(crate) fn cast_slots(b: &mut [u8]) -> &mut [u64] {
    cast_mut(b)
}
