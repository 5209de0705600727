//! The offline CLI end to end: keys, CIDs, encode and decode with lost and
//! corrupted shards and shard-root lists, wrong keys, and sharing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn mosaic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(args)
        .output()
        .expect("the mosaic binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = mosaic(args);
    assert!(
        out.status.success(),
        "mosaic {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = mosaic(args);
    assert!(!out.status.success(), "mosaic {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

/// Deterministic pseudo-random bytes (xorshift32, as in the IPFS fixtures).
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as u8
        })
        .collect()
}

struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn key(&self, name: &str) -> String {
        ok(&["key", "generate", "--out", &self.arg(name)]);
        self.arg(name)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        std::fs::write(self.path(name), contents).unwrap();
        self.arg(name)
    }
}

/// 3 + 2 shards of 256 KiB segments: several segments from a small file.
const SMALL_CODING: [&str; 6] = [
    "--data-shards",
    "3",
    "--parity-shards",
    "2",
    "--segment-size",
    "262144",
];

fn shard(dir: &Path, segment: u32, index: u8) -> PathBuf {
    dir.join(format!("{segment:06}-{index:02}.shard"))
}

fn shard_roots(dir: &Path, piece: u8) -> PathBuf {
    dir.join(format!("{piece:02}.roots"))
}

fn segments(dir: &Path) -> u32 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.ends_with("-00.shard"))
        .count() as u32
}

#[test]
fn key_files_are_private_and_inspectable() {
    let ws = Workspace::new();
    let out = ok(&["key", "generate", "--out", &ws.arg("k")]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ws.path("k"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let inspected = ok(&["key", "inspect", &ws.arg("k")]);
    let address = inspected.lines().next().unwrap();
    assert!(address.starts_with("account address:"), "{inspected}");
    assert!(out.contains(address));
    // Never overwrites a key.
    assert!(fails(&["key", "generate", "--out", &ws.arg("k")]).contains("exists"));
    std::fs::write(ws.path("bad"), "not a key").unwrap();
    assert!(fails(&["key", "inspect", &ws.arg("bad")]).contains("hex seed"));
}

#[test]
fn cid_matches_the_ipfs_fixture() {
    // The 1 MiB + 7 case of tests/fixtures/ipfs/cids.json in the primitives.
    let ws = Workspace::new();
    let file = ws.file("f", &bytes(1_048_583, 1));
    assert_eq!(
        ok(&["cid", &file]).trim(),
        "bafybeialxphal2m4qz2wqhyzd7btqkmz735k3tg2x76nnpxxhocz5ixf3m"
    );
    assert!(fails(&["cid", &ws.arg("missing")]).contains("cannot open"));
}

/// Writes the small trees of the primitives' `trees.json` fixture (the JS
/// IPFS importer's) to disk and checks `mosaic cid DIR` against each root.
#[test]
fn directory_cids_match_the_ipfs_fixtures() {
    let trees: Vec<serde_json::Value> = serde_json::from_str(include_str!(
        "../../../primitives/tests/fixtures/ipfs/trees.json"
    ))
    .unwrap();
    let ws = Workspace::new();
    let mut checked = 0;
    for tree in &trees {
        let name = tree["name"].as_str().unwrap();
        // The generated trees and the 45 MB file are for the library tests.
        if tree.get("generated").is_some() || name == "sizes" {
            continue;
        }
        let root = ws.path(name);
        std::fs::create_dir(&root).unwrap();
        for entry in tree["entries"].as_array().unwrap() {
            let path = root.join(entry["path"].as_str().unwrap());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            match entry["type"].as_str().unwrap() {
                "file" => {
                    let size = entry["size"].as_u64().unwrap() as usize;
                    let seed = entry["seed"].as_u64().unwrap() as u32;
                    std::fs::write(&path, bytes(size, seed)).unwrap();
                }
                "dir" => std::fs::create_dir_all(&path).unwrap(),
                _ => std::os::unix::fs::symlink(entry["target"].as_str().unwrap(), &path).unwrap(),
            }
        }
        // Hidden names are skipped by default, as Kubo does.
        std::fs::write(root.join(".hidden"), b"not part of the tree").unwrap();
        let expected = tree["root"].as_str().unwrap();
        let dir = ws.arg(name);
        assert_eq!(ok(&["cid", &dir]).trim(), expected, "{name}");
        assert_ne!(ok(&["cid", "--hidden", &dir]).trim(), expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 5, "empty, nested, unicode, duplicates, symlinks");
}

#[test]
fn cid_refuses_special_files_by_path() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("d/sub")).unwrap();
    let fifo = ws.path("d/sub/pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let error = fails(&["cid", &ws.arg("d")]);
    assert!(
        error.contains(&format!("{} is a FIFO", fifo.display())),
        "{error}"
    );
}

/// Encodes `data`, damages `m` shards of every segment (half deleted, half
/// corrupted, at positions that vary by segment), decodes and compares.
fn round_trip_with_damage(data: &[u8], encrypted: bool) {
    let ws = Workspace::new();
    let key = ws.key("k");
    let input = ws.file("in", data);
    let target = ws.arg("dir");
    let mut args = vec!["encode", &input, "--to", &target];
    args.extend(SMALL_CODING);
    if encrypted {
        args.extend(["--key", &key]);
    } else {
        args.push("--public");
    }
    let manifest_cid = ok(&args);
    assert!(manifest_cid.trim().starts_with("bafkrei"), "{manifest_cid}");

    let dir = ws.path("dir");
    let count = segments(&dir);
    for segment in 0..count {
        let lost = (segment % 5) as u8;
        let corrupt = ((segment + 2) % 5) as u8;
        std::fs::remove_file(shard(&dir, segment, lost)).unwrap();
        let path = shard(&dir, segment, corrupt);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
    }
    let out = ws.arg("out");
    let mut args = vec!["decode", &target, "--to", &out];
    if encrypted {
        args.extend(["--key", &key]);
    }
    ok(&args);
    assert_eq!(std::fs::read(ws.path("out")).unwrap(), data);

    // One more loss in the last segment: it cannot be rebuilt, and no output
    // file appears.
    let last = count - 1;
    let third = (0..5u8)
        .find(|&i| i != (last % 5) as u8 && i != ((last + 2) % 5) as u8)
        .unwrap();
    std::fs::remove_file(shard(&dir, last, third)).unwrap();
    let out = ws.arg("out2");
    let mut args = vec!["decode", &target, "--to", &out];
    if encrypted {
        args.extend(["--key", &key]);
    }
    let error = fails(&args);
    assert!(
        error.contains(&format!("segment {last} cannot be rebuilt")),
        "{error}"
    );
    assert!(!ws.path("out2").exists());
    assert!(!ws.path("out2.partial").exists());
}

#[test]
fn public_files_survive_m_bad_shards_per_segment() {
    for len in [1, 262_144, 1_000_000] {
        round_trip_with_damage(&bytes(len, 3), false);
    }
}

#[test]
fn encrypted_files_survive_m_bad_shards_per_segment() {
    for len in [0, 65_519, 262_145, 1_000_000] {
        round_trip_with_damage(&bytes(len, 5), true);
    }
}

#[test]
fn damaged_shard_root_lists_cost_their_pieces() {
    let ws = Workspace::new();
    let data = bytes(1_000_000, 4);
    let input = ws.file("in", &data);
    let target = ws.arg("dir");
    let mut args = vec!["encode", &input, "--to", &target, "--public"];
    args.extend(SMALL_CODING);
    ok(&args);
    let dir = ws.path("dir");
    let count = segments(&dir);
    assert_eq!(count, 4);
    for piece in 0..5 {
        let roots = std::fs::read(shard_roots(&dir, piece)).unwrap();
        assert_eq!(roots.len(), count as usize * 32);
    }
    assert!(!shard_roots(&dir, 5).exists());

    // One list with a flipped bit, one cut short: m = 2 pieces lost, every
    // shard of them intact.
    let path = shard_roots(&dir, 0);
    let mut roots = std::fs::read(&path).unwrap();
    roots[40] ^= 1;
    std::fs::write(&path, roots).unwrap();
    let path = shard_roots(&dir, 3);
    let roots = std::fs::read(&path).unwrap();
    std::fs::write(&path, &roots[..roots.len() - 1]).unwrap();
    let out = ws.arg("out");
    ok(&["decode", &target, "--to", &out]);
    assert_eq!(std::fs::read(ws.path("out")).unwrap(), data);

    // A third piece without its list: no segment can be rebuilt.
    std::fs::remove_file(shard_roots(&dir, 1)).unwrap();
    let error = fails(&["decode", &target, "--to", &ws.arg("out2")]);
    assert!(error.contains("segment 0 cannot be rebuilt"), "{error}");
    assert!(!ws.path("out2").exists());
}

#[test]
fn public_object_cid_is_the_ipfs_cid() {
    let ws = Workspace::new();
    let input = ws.file("in", &bytes(700_000, 9));
    let cid = ok(&["cid", &input]);
    let out = mosaic(&["encode", &input, "--to", &ws.arg("dir"), "--public"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("object CID: {}", cid.trim())),
        "{stderr}"
    );
}

#[test]
fn wrong_keys_and_bad_manifests_are_refused() {
    let ws = Workspace::new();
    let owner = ws.key("owner");
    let stranger = ws.key("stranger");
    let input = ws.file("in", &bytes(100_000, 1));
    let target = ws.arg("dir");
    ok(&["encode", &input, "--to", &target, "--key", &owner]);
    let out = ws.arg("out");

    let error = fails(&["decode", &target, "--to", &out]);
    assert!(error.contains("--key"), "{error}");
    let error = fails(&["decode", &target, "--to", &out, "--key", &stranger]);
    assert!(error.contains("not wrapped to this key"), "{error}");
    assert!(!ws.path("out").exists());

    // Encoding needs a key or an explicit --public.
    assert!(!mosaic(&["encode", &input, "--to", &ws.arg("d2")])
        .status
        .success());
    // Into an occupied directory: refused.
    assert!(fails(&["encode", &input, "--to", &target, "--public"]).contains("already holds"));
    // Out-of-range coding parameters.
    let error = fails(&[
        "encode",
        &input,
        "--to",
        &ws.arg("d3"),
        "--public",
        "--data-shards",
        "0",
    ]);
    assert!(error.contains("data shards"), "{error}");

    let manifest = ws.path("dir").join("manifest.bin");
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&manifest, bytes).unwrap();
    let error = fails(&["decode", &target, "--to", &out, "--key", &owner]);
    assert!(error.contains("not a valid manifest"), "{error}");
}

/// The last line of stdout as JSON.
fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.lines().last().expect("a line of JSON")).unwrap()
}

#[test]
fn each_cipher_suite_is_recorded_and_decoded() {
    let ws = Workspace::new();
    let owner = ws.key("owner");
    let data = bytes(300_000, 4);
    let input = ws.file("in", &data);
    for suite in ["aes-256-gcm", "chacha20-poly1305"] {
        let target = ws.arg(suite);
        let mut args = vec!["encode", &input, "--to", &target, "--key", &owner];
        args.extend(["--cipher", suite, "--json"]);
        args.extend(SMALL_CODING);
        let report = json(&ok(&args));
        assert_eq!(report["cipher"], suite);
        assert_eq!(report["size"], data.len());

        let out = ws.arg(&format!("{suite}.out"));
        let report = json(&ok(&[
            "decode", &target, "--to", &out, "--key", &owner, "--json",
        ]));
        assert_eq!(report["cipher"], suite);
        assert_eq!(std::fs::read(&out).unwrap(), data);
    }

    // By default the CPU decides; a public file has no suite.
    let report = json(&ok(&[
        "encode",
        &input,
        "--to",
        &ws.arg("default"),
        "--key",
        &owner,
        "--json",
    ]));
    assert!(["aes-256-gcm", "chacha20-poly1305"].contains(&report["cipher"].as_str().unwrap()));
    let report = json(&ok(&[
        "encode",
        &input,
        "--to",
        &ws.arg("public"),
        "--public",
        "--json",
    ]));
    assert!(report["cipher"].is_null());

    let error = fails(&[
        "encode",
        &input,
        "--to",
        &ws.arg("x"),
        "--key",
        &owner,
        "--cipher",
        "rot13",
    ]);
    assert!(
        error.contains("aes-256-gcm or chacha20-poly1305"),
        "{error}"
    );
    let error = fails(&[
        "encode",
        &input,
        "--to",
        &ws.arg("y"),
        "--public",
        "--cipher",
        "aes-256-gcm",
    ]);
    assert!(error.contains("--public"), "{error}");
}

#[test]
fn sharing_adds_a_reader_without_touching_shards() {
    let ws = Workspace::new();
    let owner = ws.key("owner");
    let friend = ws.key("friend");
    let data = bytes(300_000, 2);
    let input = ws.file("in", &data);
    let target = ws.arg("dir");
    ok(&["encode", &input, "--to", &target, "--key", &owner]);
    let shard_before = std::fs::read(shard(&ws.path("dir"), 0, 0)).unwrap();

    let inspected = ok(&["key", "inspect", &friend]);
    let friend_public = inspected
        .lines()
        .find_map(|l| l.strip_prefix("encryption public key:"))
        .unwrap()
        .trim()
        .to_owned();
    let error = fails(&["share", &target, "--key", &friend, "--with", &friend_public]);
    assert!(error.contains("cannot read"), "{error}");
    ok(&["share", &target, "--key", &owner, "--with", &friend_public]);

    assert_eq!(
        std::fs::read(shard(&ws.path("dir"), 0, 0)).unwrap(),
        shard_before
    );
    for reader in [&owner, &friend] {
        let out = ws.arg("out");
        ok(&["decode", &target, "--to", &out, "--key", reader]);
        assert_eq!(std::fs::read(ws.path("out")).unwrap(), data);
    }
}
