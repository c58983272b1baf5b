//! Output files written past the page cache, by a background thread.
//!
//! A simulation writes tens of gigabytes (block files, the address ground truth) that nothing
//! reads back during the run. Through the page cache every byte costs a kernel copy plus page
//! allocation and reclaim: measured here, buffered `write` cost 2.5 s of system time per GB,
//! a quarter of the simulator's CPU. With `O_DIRECT` the device reads our buffers itself
//! (0.1 s per GB), and a writer thread keeps the simulation from waiting on the disk.
//!
//! `O_DIRECT` needs buffer addresses, lengths and file offsets aligned to the device's block
//! size; full buffers are, and the unaligned tail of a file is written at the end through an
//! ordinary descriptor. Filesystems without direct I/O (tmpfs) get ordinary writes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Alignment that satisfies every block device's logical block size (512 or 4096).
const ALIGN: usize = 4096;
/// Bytes handed to the writer thread at a time.
const CHUNK: usize = 4 << 20;

/// A `CHUNK`-byte buffer starting at an `ALIGN`ed address (an over-allocated `Vec`, so no
/// unsafe code; moving it between threads does not move its heap block).
struct AlignedBuf {
    v: Vec<u8>,
    off: usize,
}

impl AlignedBuf {
    fn new() -> AlignedBuf {
        let v = vec![0u8; CHUNK + ALIGN];
        let off = (ALIGN - v.as_ptr() as usize % ALIGN) % ALIGN;
        AlignedBuf { v, off }
    }
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + CHUNK]
    }
}

enum Job {
    /// A full buffer (`CHUNK` bytes).
    Full(AlignedBuf),
    /// The last `len` bytes of the file.
    Last(AlignedBuf, usize),
}

/// A file being written sequentially, from its start. `finish` writes the last bytes and
/// reports errors; dropping the writer without it (on an error path) stops the thread and
/// leaves the file holding whole chunks only.
pub struct DirectWriter {
    buf: AlignedBuf,
    len: usize,
    jobs: Option<SyncSender<Job>>,
    spare: Receiver<AlignedBuf>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

fn open_direct(path: &Path) -> io::Result<(File, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let direct = OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path);
        match direct {
            Ok(f) => return Ok((f, true)),
            // EINVAL: this filesystem has no direct I/O.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((File::create(path)?, false))
}

/// Writes `data` at the file's current position (`at`). A filesystem that opened the file
/// with O_DIRECT but refuses our alignment (EINVAL) gets the rest through ordinary writes.
fn write_at(path: &Path, file: &mut File, direct: &mut bool, at: u64, data: &[u8]) -> io::Result<()> {
    match file.write_all(data) {
        #[cfg(target_os = "linux")]
        Err(e) if *direct && e.raw_os_error() == Some(libc::EINVAL) => {
            use std::io::Seek;
            *file = OpenOptions::new().write(true).open(path)?;
            file.seek(io::SeekFrom::Start(at))?;
            *direct = false;
            file.write_all(data)
        }
        r => r,
    }
}

/// The writer thread: writes buffers in order and hands them back for reuse.
fn write_all(path: PathBuf, mut file: File, mut direct: bool, jobs: Receiver<Job>, spare: SyncSender<AlignedBuf>) -> io::Result<()> {
    let mut at = 0u64;
    for job in jobs {
        match job {
            Job::Full(mut b) => {
                #[cfg(test)]
                std::thread::sleep(std::time::Duration::from_millis(tests::SLOW_DISK_MS.load(std::sync::atomic::Ordering::Relaxed)));
                write_at(&path, &mut file, &mut direct, at, b.bytes())?;
                at += CHUNK as u64;
                // Never block here: at `finish` nobody takes spares any more. A buffer the
                // queue has no room for is freed.
                let _ = spare.try_send(b);
            }
            Job::Last(mut b, len) => {
                let aligned = if direct { len / ALIGN * ALIGN } else { len };
                write_at(&path, &mut file, &mut direct, at, &b.bytes()[..aligned])?;
                if aligned < len {
                    // The unaligned tail goes through an ordinary descriptor.
                    let mut tail = OpenOptions::new().append(true).open(&path)?;
                    tail.write_all(&b.bytes()[aligned..len])?;
                    tail.sync_all()?;
                }
                file.sync_all()?;
                return Ok(());
            }
        }
    }
    Ok(())
}

impl DirectWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<DirectWriter> {
        let (file, direct) = open_direct(path)?;
        DirectWriter::with_file(path, file, direct)
    }

    /// A writer over an open `file` (`direct`: opened with O_DIRECT).
    fn with_file(path: &Path, file: File, direct: bool) -> io::Result<DirectWriter> {
        let (jobs, job_rx) = sync_channel(1);
        let (spare_tx, spare) = sync_channel(2);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("sim-writer".into())
            .spawn(move || write_all(path, file, direct, job_rx, spare_tx))?;
        Ok(DirectWriter { buf: AlignedBuf::new(), len: 0, jobs: Some(jobs), spare, thread: Some(thread) })
    }

    /// Closes the job queue and waits for the thread: what it wrote ended with this.
    fn join(&mut self) -> io::Result<()> {
        self.jobs = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the writer thread panicked")),
            None => Ok(()),
        }
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        match self.jobs.as_ref().map(|j| j.send(job)) {
            Some(Ok(())) => Ok(()),
            // The thread has stopped: its error says why.
            _ => Err(self.join().err().unwrap_or_else(|| io::Error::other("the writer thread stopped"))),
        }
    }

    /// Writes everything and waits until it is on the device.
    pub fn finish(mut self) -> io::Result<()> {
        let last = std::mem::replace(&mut self.buf, AlignedBuf { v: Vec::new(), off: 0 });
        self.send(Job::Last(last, self.len))?;
        self.join()
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.len);
        self.buf.bytes()[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == CHUNK {
            // Reuse a buffer the thread has finished with, or make one (at most four exist:
            // one being written, one queued, one being sent, one being filled).
            let next = self.spare.try_recv().unwrap_or_else(|_| AlignedBuf::new());
            let full = std::mem::replace(&mut self.buf, next);
            self.len = 0;
            self.send(Job::Full(full))?;
        }
        Ok(n)
    }

    /// Data reaches the file in whole chunks and at `finish`; there is nothing to flush early.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Milliseconds the writer thread waits before each chunk: a disk slower than the
    /// simulation.
    pub(super) static SLOW_DISK_MS: AtomicU64 = AtomicU64::new(0);

    /// With the disk behind, all four buffers come into use; `finish` must still return (it
    /// once deadlocked: the thread blocked handing back a buffer nobody would take again).
    #[test]
    fn finish_returns_when_the_disk_is_slower_than_the_writer() {
        let path = std::env::temp_dir().join(format!("ft-direct-slow-{}", std::process::id()));
        let data: Vec<u8> = (0..12 * CHUNK + 5).map(|i| (i % 253) as u8).collect();
        let (done, wait) = std::sync::mpsc::channel();
        let (p, d) = (path.clone(), data.clone());
        SLOW_DISK_MS.store(40, Ordering::Relaxed);
        std::thread::spawn(move || {
            let mut w = DirectWriter::create(&p).unwrap();
            w.write_all(&d).unwrap();
            done.send(w.finish()).unwrap();
        });
        let result = wait.recv_timeout(std::time::Duration::from_secs(60));
        SLOW_DISK_MS.store(0, Ordering::Relaxed);
        result.expect("finish returned within a minute").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn writes_every_byte_in_order_for_aligned_and_unaligned_lengths() {
        let dir = std::env::temp_dir().join(format!("ft-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [0, 1, ALIGN - 1, ALIGN, CHUNK, CHUNK + 1, 2 * CHUNK + 3 * ALIGN + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            // Direct I/O where the filesystem has it, and the ordinary-write fallback.
            for direct in [true, false] {
                let path = dir.join(format!("f{len}-{direct}"));
                let mut w = if direct {
                    DirectWriter::create(&path).unwrap()
                } else {
                    DirectWriter::with_file(&path, File::create(&path).unwrap(), false).unwrap()
                };
                // Uneven pieces, as blocks and lines arrive.
                for piece in data.chunks(1_000_003) {
                    w.write_all(piece).unwrap();
                }
                w.finish().unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), data, "length {len}, direct {direct}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
