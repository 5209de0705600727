//! Writing out what a path of a [UnixFS pack](mosaic_primitives::pack)
//! names: one file, a symlink, or a whole directory tree.
//!
//! [`Extraction::plan`] walks the entry and lists the directories to make,
//! the symlinks to create and the distinct files to read, each with every
//! path it goes to. Files are read in runs of adjacent bytes
//! ([`Extraction::runs`]) so a directory of small files costs a few ranged
//! reads, not one per file; [`RunWriter`] splits a run's bytes into its
//! files, each through a [`LeafCheck`] so that nothing is written that does
//! not hash to its leaf's CID. Names come from untrusted blocks: one that
//! is empty, `.`, `..` or holds a `/` or NUL is refused, so nothing is ever
//! written outside the output directory.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use mosaic_primitives::pack::{Entry, FileSpan, LeafCheck, Pack, PackError};

/// A distinct file and every path it goes to.
pub type Placed = (FileSpan, Vec<PathBuf>);

/// A file being written: its leaf check, bytes still to come, its paths.
type Writing<'a> = (LeafCheck<BufWriter<File>>, u64, &'a [PathBuf]);

/// What to make to write one entry of a pack at `output`.
#[derive(Debug, Default)]
pub struct Extraction {
    /// Directories to create, parents first.
    pub dirs: Vec<PathBuf>,
    /// Symlinks to create last, and their targets.
    pub symlinks: Vec<(PathBuf, Vec<u8>)>,
    /// Each distinct file in data order, with every path it goes to.
    pub files: Vec<Placed>,
}

/// Why an entry cannot be written out.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The DAG could not be walked.
    #[error(transparent)]
    Pack(#[from] Box<PackError>),
    /// A name that would write outside the output.
    #[error("the DAG has an entry named {0:?}, which cannot be a file name")]
    BadName(String),
}

impl Extraction {
    /// Plans writing `entry` of `pack` at `output`.
    pub fn plan(pack: &Pack, entry: &Entry, output: &Path) -> Result<Self, ExtractError> {
        let mut plan = Extraction::default();
        plan.add(pack, entry, output.to_owned(), 0)?;
        plan.files.sort_by_key(|(span, _)| span.offset);
        Ok(plan)
    }

    fn add(
        &mut self,
        pack: &Pack,
        entry: &Entry,
        at: PathBuf,
        depth: usize,
    ) -> Result<(), ExtractError> {
        if depth > mosaic_primitives::pack::MAX_DEPTH {
            return Err(Box::new(PackError::TooDeep).into());
        }
        match entry {
            Entry::File(span) => match self.files.iter_mut().find(|(s, _)| s.cid == span.cid) {
                Some((_, paths)) => paths.push(at),
                None => self.files.push((*span, vec![at])),
            },
            Entry::Symlink { target, .. } => self.symlinks.push((at, target.clone())),
            Entry::Directory(cid) => {
                self.dirs.push(at.clone());
                for (name, child) in pack.list(*cid).map_err(Box::new)? {
                    let bad = name.is_empty()
                        || name == "."
                        || name == ".."
                        || name.contains(['/', '\0']);
                    if bad {
                        return Err(ExtractError::BadName(name));
                    }
                    self.add(pack, &child, at.join(&name), depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// The byte ranges to read: the files' spans, adjacent ones merged.
    pub fn runs(&self) -> Vec<(Range<u64>, &[Placed])> {
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=self.files.len() {
            let adjacent = self.files.get(i).is_some_and(|(next, _)| {
                let (last, _) = &self.files[i - 1];
                next.offset == last.offset + last.size
            });
            if !adjacent {
                let first = self.files[start].0.offset;
                let (last, _) = &self.files[i - 1];
                runs.push((first..last.offset + last.size, &self.files[start..i]));
                start = i;
            }
        }
        runs
    }
}

/// Splits the bytes of one run into its files, each checked leaf by leaf
/// and written to its first path; [`finish`](Self::finish) syncs them and
/// copies each to its other paths.
pub struct RunWriter<'a> {
    pack: &'a Pack,
    files: std::slice::Iter<'a, Placed>,
    current: Option<Writing<'a>>,
}

impl<'a> RunWriter<'a> {
    /// A writer for the files of one run.
    pub fn new(pack: &'a Pack, files: &'a [Placed]) -> Self {
        RunWriter {
            pack,
            files: files.iter(),
            current: None,
        }
    }

    /// Opens the next file that still needs bytes, finishing empty ones.
    fn next_file(&mut self) -> io::Result<bool> {
        while self.current.is_none() {
            let Some((span, paths)) = self.files.next() else {
                return Ok(false);
            };
            let leaves = self
                .pack
                .leaves(span.cid)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&paths[0])?;
            let check = LeafCheck::new(BufWriter::new(file), leaves);
            if span.size == 0 {
                close(check, paths)?;
            } else {
                self.current = Some((check, span.size, paths));
            }
        }
        Ok(true)
    }

    /// Checks that every file of the run was written whole.
    pub fn finish(mut self) -> io::Result<()> {
        if self.current.is_some() || self.next_file()? {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the run ended before its last file",
            ));
        }
        Ok(())
    }
}

/// Ends one file: every leaf checked, synced, copied to its other paths.
fn close(check: LeafCheck<BufWriter<File>>, paths: &[PathBuf]) -> io::Result<()> {
    let file = check.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    for other in &paths[1..] {
        std::fs::copy(&paths[0], other)?;
        File::open(other)?.sync_all()?;
    }
    Ok(())
}

impl Write for RunWriter<'_> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let written = data.len();
        while !data.is_empty() {
            if !self.next_file()? {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "more bytes than the run's files",
                ));
            }
            let (check, left, _) = self.current.as_mut().expect("opened above; qed");
            let take = data.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
            check.write_all(&data[..take])?;
            *left -= take as u64;
            data = &data[take..];
            if *left == 0 {
                let (check, _, paths) = self.current.take().expect("just used; qed");
                close(check, paths)?;
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
