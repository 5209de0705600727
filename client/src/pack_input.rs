//! What a public put stores: a file or a directory as its IPFS DAG, laid out
//! as a [UnixFS pack](mosaic_primitives::pack).
//!
//! [`PublicInput::prepare`] walks the input once (hashing every file into
//! its DAG, [`tree`](crate::tree)) and plans the pack. A file of one chunk
//! or less is its own raw leaf and is stored as it is, without a pack.
//! [`PublicInput::reader`] then streams the pack's bytes, as often as put
//! needs them (a dry run, then each upload round): each distinct file once,
//! in the pack's data order, then the index. Every file is hashed again as
//! it streams and must still have the CID it had when planned: a file
//! changed on disk in between fails the put instead of storing bytes that do
//! not match the DAG.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cid::Cid;
use mosaic_primitives::pack::{FileSpan, Pack, PackError};
use mosaic_primitives::pipeline::PackRoot;
use mosaic_primitives::unixfs::{CidBuilder, RAW_CODEC};

use crate::tree::{self, ScanError, ScanOptions};

/// Why a public input cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file or directory could not be read.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The DAG could not be laid out (a bug if it happens: the scan built it).
    #[error("cannot lay out the DAG of {}", .path.display())]
    Pack {
        /// The input.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<PackError>,
    },
}

/// A public file or directory, ready to be streamed as many times as put
/// needs.
#[derive(Clone, Debug)]
pub struct PublicInput {
    /// The DAG's root: the CID IPFS gives the input.
    pub cid: Cid,
    /// Bytes of files the input holds (each distinct file once).
    pub data_size: u64,
    /// How the pack is named, or `None` for a single raw leaf stored as is.
    pub pack: Option<PackRoot>,
    /// The distinct files in data order, each with one path on disk.
    files: Arc<Vec<(PathBuf, FileSpan)>>,
    index: Arc<Vec<u8>>,
}

impl PublicInput {
    /// Walks `path` (a file, or a directory scanned with `options`) into
    /// its DAG and plans its pack.
    pub fn prepare(path: &Path, options: &ScanOptions) -> Result<Self, InputError> {
        let pack_error = |source| InputError::Pack {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let is_dir = std::fs::metadata(path)
            .map_err(|source| ScanError::Read {
                path: path.to_owned(),
                source,
            })?
            .is_dir();
        let (root, blocks, paths) = if is_dir {
            let tree = tree::scan(path, options)?;
            let mut paths = HashMap::new();
            for file in tree.files {
                paths.entry(file.root.cid).or_insert(file.path);
            }
            (tree.root, tree.blocks, paths)
        } else {
            let (root, blocks) = tree::scan_file(path)?;
            (root, blocks, HashMap::from([(root.cid, path.to_owned())]))
        };
        if root.cid.codec() == RAW_CODEC {
            // One chunk or less: the file's bytes are the whole object.
            let span = FileSpan {
                cid: root.cid,
                offset: 0,
                size: root.file_size,
            };
            return Ok(PublicInput {
                cid: root.cid,
                data_size: root.file_size,
                pack: None,
                files: Arc::new(vec![(path.to_owned(), span)]),
                index: Arc::default(),
            });
        }
        let (pack, index) = Pack::plan(root.cid, blocks).map_err(pack_error)?;
        let files = pack
            .files()
            .iter()
            .map(|span| {
                let path = paths
                    .get(&span.cid)
                    .cloned()
                    .ok_or(PackError::MissingBlock(span.cid))
                    .map_err(pack_error)?;
                Ok((path, *span))
            })
            .collect::<Result<Vec<_>, InputError>>()?;
        Ok(PublicInput {
            cid: root.cid,
            data_size: pack.data_size(),
            pack: Some(PackRoot {
                cid: root.cid,
                dag_index: index.len() as u64,
            }),
            files: Arc::new(files),
            index: Arc::new(index),
        })
    }

    /// The bytes to store, from the start.
    pub fn reader(&self) -> PackReader {
        PackReader {
            files: self.files.clone(),
            index: self.index.clone(),
            next: 0,
            current: None,
            index_at: 0,
        }
    }
}

/// Streams a [`PublicInput`]'s bytes, checking each file against its CID.
pub struct PackReader {
    files: Arc<Vec<(PathBuf, FileSpan)>>,
    index: Arc<Vec<u8>>,
    /// The next file to open.
    next: usize,
    current: Option<OpenFile>,
    index_at: usize,
}

struct OpenFile {
    path: PathBuf,
    span: FileSpan,
    file: File,
    left: u64,
    cid: CidBuilder,
}

fn changed(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} changed while it was being stored; put it again once it is still",
            path.display()
        ),
    )
}

impl Read for PackReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                let Some((path, span)) = self.files.get(self.next) else {
                    // Every file done: the index.
                    let n = (&self.index[self.index_at..]).read(buf)?;
                    self.index_at += n;
                    return Ok(n);
                };
                self.next += 1;
                let file = File::open(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
                })?;
                self.current = Some(OpenFile {
                    path: path.clone(),
                    span: *span,
                    file,
                    left: span.size,
                    cid: CidBuilder::new(),
                });
            }
            let open = self.current.as_mut().expect("opened above; qed");
            if open.left == 0 {
                // The file must end here and still hash to its CID.
                let mut probe = [0u8; 1];
                let done = std::mem::take(&mut open.cid);
                if open.file.read(&mut probe)? != 0 || done.finish() != open.span.cid {
                    return Err(changed(&open.path));
                }
                self.current = None;
                continue;
            }
            let want = buf
                .len()
                .min(usize::try_from(open.left).unwrap_or(usize::MAX));
            let n = open.file.read(&mut buf[..want])?;
            if n == 0 {
                return Err(changed(&open.path));
            }
            open.cid.update(&buf[..n]);
            open.left -= n as u64;
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, len: usize, seed: u8) {
        let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_directory_streams_as_its_pack_and_a_changed_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a"), 600 * 1024, 1);
        write(&dir.path().join("b"), 600 * 1024, 1);
        write(&dir.path().join("c"), 10, 2);
        let input = PublicInput::prepare(dir.path(), &ScanOptions::default()).unwrap();
        let pack = input.pack.unwrap();
        let mut bytes = Vec::new();
        input.reader().read_to_end(&mut bytes).unwrap();
        // `b` is `a`: stored once.
        assert_eq!(input.data_size, 600 * 1024 + 10);
        assert_eq!(bytes.len() as u64, input.data_size + pack.dag_index);
        let (data, index) = bytes.split_at(input.data_size as usize);
        let opened = Pack::open(pack.cid, index, data.len() as u64).unwrap();
        assert_eq!(opened.files().len(), 2);

        write(&dir.path().join("c"), 10, 3);
        let err = input.reader().read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("changed while"), "{err}");
        write(&dir.path().join("c"), 11, 2);
        assert!(input.reader().read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn a_small_file_is_stored_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small");
        write(&path, 1000, 5);
        let input = PublicInput::prepare(&path, &ScanOptions::default()).unwrap();
        assert!(input.pack.is_none());
        let mut bytes = Vec::new();
        input.reader().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, std::fs::read(&path).unwrap());
    }
}
