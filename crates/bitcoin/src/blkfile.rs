//! Bitcoin Core's block files: `blocks/blk?????.dat`, each a sequence of
//! `[network magic][u32 LE size][serialized block]` records, optionally obfuscated with the
//! 8-byte key in `blocks/xor.dat` (Core 28+: byte at file position p is XORed with key[p % 8]).
//!
//! Scanning reads only the 8-byte frame and 80-byte header of each record and jumps over the
//! rest, so indexing a directory costs one page touch per block. Block bodies are read later,
//! in chain order, through the same memory maps.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use fundtrace_core::BlockHash;
use memmap2::Mmap;

use crate::decode::Header;
use crate::hash::sha256d;
use crate::network::Network;

/// Core never writes a block larger than this (MAX_BLOCK_SERIALIZED_SIZE).
pub const MAX_BLOCK_SIZE: u32 = 4_000_000;

/// Where a block's bytes are: file index in `BlockFiles::files`, offset of the block (after the
/// frame), and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLocation {
    pub file: u32,
    pub offset: u64,
    pub size: u32,
}

/// A block seen while scanning: enough to order the chain without decoding it.
#[derive(Clone, Copy, Debug)]
pub struct ScannedBlock {
    pub hash: BlockHash,
    pub header: Header,
    pub location: BlockLocation,
}

/// Something wrong in a block file that stops reading that file but not the ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    pub offset: u64,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}: {}", self.file.display(), self.offset, self.message)
    }
}

/// A block file that cannot be read at all.
#[derive(Debug)]
pub enum BlkError {
    Io { path: PathBuf, source: std::io::Error },
    NoBlockFiles { dir: PathBuf },
    WrongMagic { file: PathBuf, offset: u64, found: [u8; 4] },
    NetworkMismatch { file: PathBuf, offset: u64, expected: Network, found: Network },
    BadFrame { file: PathBuf, offset: u64, message: String },
    BadXorKey { path: PathBuf, len: usize },
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlkError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BlkError::NoBlockFiles { dir } => {
                write!(f, "{}: no blk?????.dat files (is this Bitcoin Core's blocks/ directory?)", dir.display())
            }
            BlkError::WrongMagic { file, offset, found } => write!(
                f,
                "{} at byte {offset}: wrong magic {} (not a block file of any known network: \
                 main f9beb4d9, test 0b110907, testnet4 1c163f28, signet 0a03cf40, regtest fabfb5da)",
                file.display(),
                fundtrace_core::hex_encode(found)
            ),
            BlkError::NetworkMismatch { file, offset, expected, found } => write!(
                f,
                "{} at byte {offset}: block of network {found} among blocks of {expected}",
                file.display()
            ),
            BlkError::BadFrame { file, offset, message } => {
                write!(f, "{} at byte {offset}: {message}", file.display())
            }
            BlkError::BadXorKey { path, len } => {
                write!(f, "{}: obfuscation key must be 8 bytes, found {len}", path.display())
            }
        }
    }
}

impl std::error::Error for BlkError {}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BlkError + '_ {
    move |source| BlkError::Io { path: path.to_path_buf(), source }
}

/// A set of block files, memory-mapped, with their obfuscation key.
pub struct BlockFiles {
    pub files: Vec<PathBuf>,
    maps: Vec<Option<Mmap>>,
    xor_key: Option<[u8; 8]>,
    /// For single raw (unframed) block files: the network they belong to.
    raw: Option<Network>,
}

impl BlockFiles {
    /// Opens Bitcoin Core's `blocks/` directory: every `blk?????.dat` in numeric order, and
    /// `xor.dat` if present and non-zero.
    pub fn open_dir(dir: &Path) -> Result<BlockFiles, BlkError> {
        let mut files: Vec<(u32, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_prefix("blk")
                .and_then(|r| r.strip_suffix(".dat"))
                .filter(|n| n.len() == 5)
                .and_then(|n| n.parse::<u32>().ok())
            {
                files.push((n, entry.path()));
            }
        }
        if files.is_empty() {
            return Err(BlkError::NoBlockFiles { dir: dir.to_path_buf() });
        }
        files.sort();
        let xor_path = dir.join("xor.dat");
        let xor_key = match std::fs::read(&xor_path) {
            Ok(k) if k.len() == 8 => Some(k.try_into().unwrap()).filter(|k: &[u8; 8]| *k != [0; 8]),
            Ok(k) => return Err(BlkError::BadXorKey { path: xor_path, len: k.len() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(BlkError::Io { path: xor_path, source: e }),
        };
        Self::open_files(files.into_iter().map(|(_, p)| p).collect(), xor_key)
    }

    /// Opens the given framed block files (no obfuscation unless `xor_key` is given).
    pub fn open_files(files: Vec<PathBuf>, xor_key: Option<[u8; 8]>) -> Result<BlockFiles, BlkError> {
        Self::open(files, xor_key, None)
    }

    /// Opens files that each hold exactly one serialized block without framing (as block
    /// explorers and test suites publish them), of the given network.
    pub fn open_raw_blocks(files: Vec<PathBuf>, network: Network) -> Result<BlockFiles, BlkError> {
        Self::open(files, None, Some(network))
    }

    fn open(files: Vec<PathBuf>, xor_key: Option<[u8; 8]>, raw: Option<Network>) -> Result<BlockFiles, BlkError> {
        let mut maps = Vec::with_capacity(files.len());
        for path in &files {
            let f = File::open(path).map_err(io_err(path))?;
            let len = f.metadata().map_err(io_err(path))?.len();
            // An empty file cannot be mapped; it simply holds no blocks.
            // SAFETY: block files are append-only; Core never rewrites bytes we have scanned.
            maps.push(if len == 0 { None } else { Some(unsafe { Mmap::map(&f) }.map_err(io_err(path))?) });
        }
        Ok(BlockFiles { files, maps, xor_key, raw })
    }

    pub fn xor_key(&self) -> Option<[u8; 8]> {
        self.xor_key
    }

    fn bytes(&self, file: usize) -> &[u8] {
        self.maps[file].as_deref().unwrap_or(&[])
    }

    /// Bytes `[offset, offset+len)` of a file, de-obfuscated (borrowed when there is no key).
    fn read(&self, file: usize, offset: u64, len: usize) -> Cow<'_, [u8]> {
        let raw = &self.bytes(file)[offset as usize..offset as usize + len];
        match self.xor_key {
            None => Cow::Borrowed(raw),
            Some(key) => {
                let mut v = raw.to_vec();
                for (i, b) in v.iter_mut().enumerate() {
                    *b ^= key[(offset as usize + i) % 8];
                }
                Cow::Owned(v)
            }
        }
    }

    /// Tells the kernel the pages wholly inside block `loc` will not be read again, so a pass
    /// over gigabytes of block files does not keep them all resident in this process. (The
    /// pages stay in the page cache; a later read maps them again.)
    pub fn release(&self, loc: BlockLocation) {
        let Some(map) = &self.maps[loc.file as usize] else { return };
        const PAGE: u64 = 4096;
        let start = loc.offset.div_ceil(PAGE) * PAGE;
        let end = (loc.offset + loc.size as u64) / PAGE * PAGE;
        if end > start {
            // SAFETY: a read-only file mapping: dropped pages are re-read from the file if
            // touched again, so no data can be lost or changed.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start as usize, (end - start) as usize)
            };
        }
    }

    /// The serialized block at `loc` (as located by `scan`).
    pub fn block(&self, loc: BlockLocation) -> Cow<'_, [u8]> {
        self.read(loc.file as usize, loc.offset, loc.size as usize)
    }

    /// Indexes every framed block in every file. The network comes from the first magic; a
    /// file whose first record is not a block of that network is an error, while a damaged
    /// tail after complete blocks (a crash while Core was writing) is a warning: the
    /// complete blocks before it are kept. Zero bytes after the last block (Core
    /// preallocates files) end a file silently.
    pub fn scan(&self) -> Result<(Network, Vec<ScannedBlock>, Vec<Warning>), BlkError> {
        if let Some(network) = self.raw {
            return self.scan_raw(network);
        }
        let mut network: Option<Network> = None;
        let mut blocks = Vec::new();
        let mut warnings = Vec::new();
        for (fi, path) in self.files.iter().enumerate() {
            let data_len = self.bytes(fi).len() as u64;
            let mut pos = 0u64;
            let mut in_file = 0usize;
            // Frame problems before the first complete block of a file are errors; after, warnings.
            let mut fail = |offset: u64, message: String, in_file: usize| {
                if in_file == 0 {
                    Err(BlkError::BadFrame { file: path.clone(), offset, message })
                } else {
                    warnings.push(Warning {
                        file: path.clone(),
                        offset,
                        message: format!("{message}; {in_file} complete blocks before it were read, the rest of the file is skipped"),
                    });
                    Ok(())
                }
            };
            while pos < data_len {
                let avail = data_len - pos;
                // Preallocated space is raw zeros on disk, never obfuscated.
                if self.bytes(fi)[pos as usize..].iter().all(|&b| b == 0) {
                    break;
                }
                let head = self.read(fi, pos, avail.min(8) as usize);
                if avail < 8 {
                    fail(pos, format!("truncated frame: {avail} bytes left"), in_file)?;
                    break;
                }
                let magic: [u8; 4] = head[..4].try_into().unwrap();
                let size = u32::from_le_bytes(head[4..8].try_into().unwrap());
                let Some(found) = Network::from_magic(magic) else {
                    if in_file == 0 {
                        return Err(BlkError::WrongMagic { file: path.clone(), offset: pos, found: magic });
                    }
                    fail(pos, format!("garbage instead of a block magic ({})", fundtrace_core::hex_encode(&magic)), in_file)?;
                    break;
                };
                match network {
                    None => network = Some(found),
                    Some(expected) if expected != found => {
                        return Err(BlkError::NetworkMismatch { file: path.clone(), offset: pos, expected, found })
                    }
                    _ => {}
                }
                if !(81..=MAX_BLOCK_SIZE).contains(&size) {
                    fail(pos + 4, format!("block size field {size} outside 81..={MAX_BLOCK_SIZE}"), in_file)?;
                    break;
                }
                if size as u64 > avail - 8 {
                    fail(pos + 4, format!("block size field {size} runs past the end of the file ({} bytes left)", avail - 8), in_file)?;
                    break;
                }
                let header_bytes: [u8; 80] = self.read(fi, pos + 8, 80).as_ref().try_into().unwrap();
                blocks.push(ScannedBlock {
                    hash: sha256d(&header_bytes),
                    header: Header::decode(&header_bytes),
                    location: BlockLocation { file: fi as u32, offset: pos + 8, size },
                });
                in_file += 1;
                pos += 8 + size as u64;
            }
        }
        let network = network.ok_or_else(|| BlkError::BadFrame {
            file: self.files[0].clone(),
            offset: 0,
            message: "no blocks in any file".into(),
        })?;
        Ok((network, blocks, warnings))
    }

    fn scan_raw(&self, network: Network) -> Result<(Network, Vec<ScannedBlock>, Vec<Warning>), BlkError> {
        let mut blocks = Vec::with_capacity(self.files.len());
        for (fi, path) in self.files.iter().enumerate() {
            let len = self.bytes(fi).len();
            if len < 81 || len > MAX_BLOCK_SIZE as usize {
                return Err(BlkError::BadFrame {
                    file: path.clone(),
                    offset: 0,
                    message: format!("a raw block file must hold one block of 81..={MAX_BLOCK_SIZE} bytes, this one has {len}"),
                });
            }
            let header_bytes: [u8; 80] = self.bytes(fi)[..80].try_into().unwrap();
            blocks.push(ScannedBlock {
                hash: sha256d(&header_bytes),
                header: Header::decode(&header_bytes),
                location: BlockLocation { file: fi as u32, offset: 0, size: len as u32 },
            });
        }
        Ok((network, blocks, Vec::new()))
    }
}
