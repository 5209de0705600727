//! Writing new files without copying them through the page cache: shard
//! files ([`DirectWriter`]) and decoded outputs ([`DirectFile`]).
//!
//! Buffered writes of shard files cost the encoding core more than the
//! encoding itself (the kernel copies every byte into fresh page-cache
//! pages: half of a pinned `mosaic encode`'s time, measured in the README).
//! With `O_DIRECT` the device reads the bytes from our buffer. `O_DIRECT`
//! wants the buffer address, file offset and length aligned to the
//! device's block: the bytes are staged once in an aligned buffer
//! ([`Staged`]), the aligned prefix goes out direct and the short tail
//! through the page cache. A filesystem that refuses `O_DIRECT` (tmpfs,
//! some network filesystems) gets buffered writes from then on.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Alignment of buffer, offset and length: the largest logical block size
/// in common use.
const ALIGN: usize = 4096;

/// Bytes copied to an aligned address inside a reusable buffer.
pub(crate) struct Staged {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Staged {
    /// Stages `bytes` in `buf` (grown if needed).
    pub(crate) fn new(mut buf: Vec<u8>, bytes: &[u8]) -> Self {
        if buf.len() < bytes.len() + ALIGN {
            buf = vec![0; bytes.len() + ALIGN];
        }
        let start = buf.as_ptr().align_offset(ALIGN);
        buf[start..start + bytes.len()].copy_from_slice(bytes);
        Staged {
            buf,
            start,
            len: bytes.len(),
        }
    }

    /// `len` zero bytes at an aligned address, to be filled in place.
    fn zeroed(len: usize) -> Self {
        let buf = vec![0; len + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        Staged { buf, start, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// The buffer, for the next file.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

/// Writes new files direct where the filesystem allows it.
pub(crate) struct DirectWriter {
    /// Whether `O_DIRECT` still works here.
    direct: bool,
}

impl DirectWriter {
    pub(crate) fn new() -> Self {
        DirectWriter { direct: true }
    }

    /// Creates `path` (truncating it) holding the staged bytes; answers the
    /// file, written but not synced.
    pub(crate) fn write(&mut self, path: &Path, staged: &Staged) -> io::Result<File> {
        let bytes = staged.bytes();
        let aligned = bytes.len() / ALIGN * ALIGN;
        if self.direct && aligned > 0 {
            match write_direct(path, &bytes[..aligned]) {
                Ok(()) => {
                    let file = File::options().write(true).open(path)?;
                    file.write_all_at(&bytes[aligned..], aligned as u64)?;
                    return Ok(file);
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.direct = false,
                Err(e) => return Err(e),
            }
        }
        let mut file = File::create(path)?;
        file.write_all(bytes)?;
        Ok(file)
    }
}

/// Size of the staging buffer of a [`DirectFile`].
const STAGE: usize = 8 << 20;

/// A new file written as a stream: whole staged blocks go out `O_DIRECT`,
/// the tail through the page cache at [`finish`](Self::finish). Full
/// stages are written by a thread of its own, in order, while the caller
/// fills the next one (an `O_DIRECT` write returns only once the device
/// has the bytes): at most three stages exist at once.
pub struct DirectFile {
    path: PathBuf,
    direct: bool,
    staged: Staged,
    filled: usize,
    /// Full stages to the writing thread, which sends each buffer back.
    full: Option<SyncSender<Staged>>,
    spare: Receiver<Staged>,
    /// Answers the file and the length written, or the first error.
    writer: Option<JoinHandle<io::Result<(File, u64)>>>,
}

impl DirectFile {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let direct = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(path);
        let (file, direct) = match direct {
            Ok(file) => (file, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (File::create(path)?, false),
            Err(e) => return Err(e),
        };
        let (full, stages) = sync_channel::<Staged>(1);
        let (spare_tx, spare) = sync_channel(2);
        let writer = std::thread::Builder::new()
            .name("mosaic-write".into())
            .spawn(move || {
                let mut offset = 0;
                for staged in stages {
                    file.write_all_at(staged.bytes(), offset)?;
                    offset += staged.len as u64;
                    let _ = spare_tx.try_send(staged);
                }
                Ok((file, offset))
            })?;
        Ok(DirectFile {
            path: path.to_owned(),
            direct,
            staged: Staged::zeroed(STAGE),
            filled: 0,
            full: Some(full),
            spare,
            writer: Some(writer),
        })
    }

    /// Hands the first `len` staged bytes (a multiple of [`ALIGN`] unless
    /// the file is buffered) to the writing thread; the next stage is a
    /// buffer it gave back, or a new one.
    fn send_staged(&mut self, len: usize) -> io::Result<()> {
        let next = match self.spare.try_recv() {
            Ok(mut spare) => {
                spare.len = STAGE;
                spare
            }
            Err(_) => Staged::zeroed(STAGE),
        };
        let mut staged = std::mem::replace(&mut self.staged, next);
        staged.len = len;
        let full = self.full.as_ref().expect("only finish takes it; qed");
        if full.send(staged).is_err() {
            // The thread stopped at an error: say it.
            return self.join().map(|_| ());
        }
        Ok(())
    }

    /// Stops the writing thread and answers what it wrote.
    fn join(&mut self) -> io::Result<(File, u64)> {
        self.full = None;
        let writer = self.writer.take().ok_or_else(|| {
            io::Error::other("the file's writing thread stopped at an earlier error")
        })?;
        writer
            .join()
            .expect("the writing thread does not panic; qed")
    }

    /// Writes the tail and answers the file, written but not synced.
    pub fn finish(mut self) -> io::Result<File> {
        let aligned = if self.direct {
            self.filled / ALIGN * ALIGN
        } else {
            self.filled
        };
        let tail = self.staged.bytes()[aligned..self.filled].to_vec();
        if aligned > 0 {
            self.send_staged(aligned)?;
        }
        let (_, offset) = self.join()?;
        let file = File::options().write(true).open(&self.path)?;
        file.write_all_at(&tail, offset)?;
        Ok(file)
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let take = data.len().min(STAGE - self.filled);
        let start = self.filled;
        self.staged.bytes_mut()[start..start + take].copy_from_slice(&data[..take]);
        self.filled += take;
        if self.filled == STAGE {
            self.send_staged(STAGE)?;
            self.filled = 0;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `bytes` (aligned in address and length) to a new `path` with
/// `O_DIRECT`.
fn write_direct(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    file.write_all_at(bytes, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_any_length_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = DirectWriter::new();
        let mut buf = Vec::new();
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, 3 * ALIGN + 17, 1 << 20] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let path = dir.path().join(format!("{len}"));
            std::fs::write(&path, b"older and longer contents than some").unwrap();
            let staged = Staged::new(buf, &bytes);
            writer.write(&path, &staged).unwrap().sync_all().unwrap();
            buf = staged.into_buffer();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{len} bytes");

            // The same bytes as a stream, in odd-sized writes.
            let mut file = DirectFile::create(&path).unwrap();
            for part in bytes.chunks(ALIGN * 3 + 5) {
                file.write_all(part).unwrap();
            }
            file.finish().unwrap().sync_all().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{len} bytes streamed");
        }
        // Past one staging buffer.
        let bytes: Vec<u8> = (0..STAGE * 2 + 77).map(|i| (i % 251) as u8).collect();
        let path = dir.path().join("large");
        let mut file = DirectFile::create(&path).unwrap();
        file.write_all(&bytes).unwrap();
        file.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
