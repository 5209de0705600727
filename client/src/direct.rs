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
use std::path::Path;

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
/// the tail through the page cache at [`finish`](Self::finish).
pub struct DirectFile {
    path: std::path::PathBuf,
    /// Open with `O_DIRECT`, or buffered where the filesystem refused it.
    file: File,
    direct: bool,
    staged: Staged,
    filled: usize,
    offset: u64,
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
        Ok(DirectFile {
            path: path.to_owned(),
            file,
            direct,
            staged: Staged::new(Vec::new(), &[0; STAGE]),
            filled: 0,
            offset: 0,
        })
    }

    /// Writes what is staged up to `len` (a multiple of [`ALIGN`] unless
    /// the file is buffered).
    fn write_staged(&mut self, len: usize) -> io::Result<()> {
        let bytes = &self.staged.bytes()[..len];
        self.file.write_all_at(bytes, self.offset)?;
        self.offset += len as u64;
        Ok(())
    }

    /// Writes the tail and answers the file, written but not synced.
    pub fn finish(mut self) -> io::Result<File> {
        let aligned = if self.direct {
            self.filled / ALIGN * ALIGN
        } else {
            self.filled
        };
        self.write_staged(aligned)?;
        let tail = self.staged.bytes()[aligned..self.filled].to_vec();
        let file = File::options().write(true).open(&self.path)?;
        file.write_all_at(&tail, self.offset)?;
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
            self.write_staged(STAGE)?;
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
