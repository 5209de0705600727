//! A directory on disk as the IPFS DAG `ipfs add -r --cid-version=1` makes
//! of it with Kubo's defaults.
//!
//! [`scan`] walks the directory once: every regular file is streamed through
//! [`CidBuilder`] (bounded memory whatever its size), symlinks become UnixFS
//! symlinks (never followed), sub-directories are scanned in turn, and each
//! directory's entries go to a [`DirBuilder`] (basic, or a HAMT past Kubo's
//! threshold). Names starting with `.` are skipped unless asked for, as
//! Kubo's `--hidden` does; sockets, FIFOs and devices are refused.
//!
//! The result is what `put DIR` needs: the root, every dag-pb block (the
//! directories', the symlinks' and the files' inner nodes, each once), and
//! the regular files in the order a depth-first walk of the DAG meets them.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cid::Cid;
use mosaic_primitives::unixfs::{symlink, Block, CidBuilder, DirBuilder, DirError, Root};

/// What to include when scanning.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanOptions {
    /// Include files and directories whose names start with `.`.
    pub hidden: bool,
}

/// One regular file of a scanned tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFile {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its path inside the DAG: names from the root, joined by `/`.
    pub dag_path: String,
    /// Its size in bytes (as read).
    pub size: u64,
    /// Its DAG's root.
    pub root: Root,
}

/// A scanned directory tree.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The root directory's DAG root: its CID is `ipfs add -r`'s.
    pub root: Root,
    /// Every dag-pb block of the DAG, each once, children before parents
    /// (raw leaves are the files' bytes and are not included).
    pub blocks: Vec<Block>,
    /// The regular files, depth-first in DAG order (each directory's entries
    /// in the order of its links).
    pub files: Vec<TreeFile>,
}

/// Why a tree or file cannot be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A file or directory could not be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Only regular files, directories and symlinks have a UnixFS form.
    #[error("{} is a {kind}: only files, directories and symlinks can be added", .path.display())]
    Special {
        /// The special file.
        path: PathBuf,
        /// What it is: socket, FIFO, block or character device.
        kind: &'static str,
    },
    /// UnixFS names are UTF-8 strings.
    #[error("{}: the name is not UTF-8; rename it", .path.display())]
    NameNotUtf8 {
        /// The entry with the name.
        path: PathBuf,
    },
    /// The directory could not take an entry (see [`DirError`]).
    #[error("{}: {source}", .path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the directory builder said.
        source: DirError,
    },
}

/// Scans the directory `dir` (see the module docs).
pub fn scan(dir: &Path, options: &ScanOptions) -> Result<Tree, ScanError> {
    let mut scanner = Scanner {
        options: *options,
        blocks: Vec::new(),
        seen: HashSet::new(),
    };
    let (root, files) = scanner.dir(dir, "")?;
    Ok(Tree {
        root,
        blocks: scanner.blocks,
        files,
    })
}

/// Streams the file at `path` into its DAG root and inner dag-pb blocks,
/// a MiB at a time.
pub fn scan_file(path: &Path) -> Result<(Root, Vec<Block>), ScanError> {
    let read_error = |source| ScanError::Read {
        path: path.to_owned(),
        source,
    };
    let mut input = File::open(path).map_err(read_error)?;
    let mut builder = CidBuilder::keeping_blocks();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        builder.update(&buf[..n]);
    }
    Ok(builder.finish_dag())
}

struct Scanner {
    options: ScanOptions,
    blocks: Vec<Block>,
    /// CIDs already in `blocks`: equal files and empty directories share
    /// blocks.
    seen: HashSet<Cid>,
}

impl Scanner {
    fn keep(&mut self, blocks: impl IntoIterator<Item = Block>) {
        for block in blocks {
            if self.seen.insert(block.cid) {
                self.blocks.push(block);
            }
        }
    }

    /// Scans one directory: its root and its files in DAG order.
    fn dir(&mut self, path: &Path, dag_path: &str) -> Result<(Root, Vec<TreeFile>), ScanError> {
        let read_error = |path: &Path| {
            let path = path.to_owned();
            move |source| ScanError::Read { path, source }
        };
        let mut dir = DirBuilder::new();
        // Files under each entry, to put in DAG order once all are known.
        let mut files: HashMap<String, Vec<TreeFile>> = HashMap::new();
        for entry in fs::read_dir(path).map_err(read_error(path))? {
            let entry = entry.map_err(read_error(path))?;
            let child = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| ScanError::NameNotUtf8 {
                    path: child.clone(),
                })?;
            if name.starts_with('.') && !self.options.hidden {
                continue;
            }
            let child_dag = match dag_path {
                "" => name.clone(),
                _ => format!("{dag_path}/{name}"),
            };
            // The entry's own type: a symlink is not followed.
            let kind = entry.file_type().map_err(read_error(&child))?;
            let root = if kind.is_dir() {
                let (root, under) = self.dir(&child, &child_dag)?;
                files.insert(name.clone(), under);
                root
            } else if kind.is_file() {
                let (root, blocks) = scan_file(&child)?;
                self.keep(blocks);
                let file = TreeFile {
                    path: child,
                    dag_path: child_dag,
                    size: root.file_size,
                    root,
                };
                files.insert(name.clone(), vec![file]);
                root
            } else if kind.is_symlink() {
                let target = fs::read_link(&child).map_err(read_error(&child))?;
                let (root, block) = symlink(target.as_os_str().as_encoded_bytes());
                self.keep([block]);
                root
            } else {
                return Err(ScanError::Special {
                    kind: special_kind(&kind),
                    path: child,
                });
            };
            dir.add(name, root).map_err(|source| ScanError::Dir {
                path: path.to_owned(),
                source,
            })?;
        }
        let mut ordered = Vec::new();
        for name in dir.names_in_dag_order() {
            ordered.extend(files.remove(name).unwrap_or_default());
        }
        let (root, blocks) = dir.finish().map_err(|source| ScanError::Dir {
            path: path.to_owned(),
            source,
        })?;
        self.keep(blocks);
        Ok((root, ordered))
    }
}

#[cfg(unix)]
fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match () {
        _ if kind.is_socket() => "socket",
        _ if kind.is_fifo() => "FIFO",
        _ if kind.is_block_device() => "block device",
        _ if kind.is_char_device() => "character device",
        _ => "special file",
    }
}

#[cfg(not(unix))]
fn special_kind(_: &fs::FileType) -> &'static str {
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_come_in_dag_order_and_hidden_ones_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/c")).unwrap();
        fs::write(root.join("b/c/z"), b"z").unwrap();
        fs::write(root.join("b/a"), b"a").unwrap();
        fs::write(root.join("B"), b"B").unwrap();
        fs::write(root.join(".hidden"), b"h").unwrap();
        fs::write(root.join("same"), b"a").unwrap();
        let tree = scan(root, &ScanOptions::default()).unwrap();
        let paths: Vec<_> = tree.files.iter().map(|f| f.dag_path.as_str()).collect();
        assert_eq!(paths, ["B", "b/a", "b/c/z", "same"]);
        assert_eq!(tree.files[1].root, tree.files[3].root);
        assert_eq!(tree.files[1].path, root.join("b/a"));
        assert_eq!(tree.blocks.last().unwrap().cid, tree.root.cid);
        let with_hidden = scan(root, &ScanOptions { hidden: true }).unwrap();
        assert_eq!(with_hidden.files.len(), 5);
        assert_ne!(with_hidden.root.cid, tree.root.cid);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_kept_and_fifos_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink("nowhere", root.join("link")).unwrap();
        let tree = scan(root, &ScanOptions::default()).unwrap();
        assert!(tree.files.is_empty());
        assert_eq!(tree.blocks.len(), 2, "the symlink and the directory");
        let fifo = root.join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let error = scan(root, &ScanOptions::default()).unwrap_err();
        assert!(matches!(error, ScanError::Special { kind: "FIFO", .. }));
        assert!(error.to_string().contains("pipe is a FIFO"), "{error}");
    }
}
