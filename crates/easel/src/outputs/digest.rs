//! Recognising a file easel wrote, by its size and SHA-256, so that a save interrupted after
//! the file took its name is finished by adopting the file instead of writing it again.

use std::io::Read;
use std::path::Path;

use super::root::OutputRoot;

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl OutputRoot {
    /// Whether `path` is a regular file inside the root with exactly `bytes` bytes whose
    /// SHA-256 is `sha256`. Any doubt (unreadable, a link, another size) is a no.
    pub fn holds(&self, path: &Path, bytes: u64, sha256: &str) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return false;
        };
        if !meta.is_file() || meta.len() != bytes || !self.contains(path) {
            return false;
        }
        let Ok(mut file) = std::fs::File::open(path) else {
            return false;
        };
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => context.update(&buf[..n]),
                Err(_) => return false,
            }
        }
        hex(context.finish().as_ref()) == sha256
    }

    /// Deletes the temporary files under the root that their writers left when they were
    /// killed; returns how many (see `temp`).
    pub fn remove_abandoned_temp_files(&self) -> usize {
        super::temp::remove_abandoned(self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_recognised_only_by_its_size_and_digest() {
        let dir = tempfile::tempdir().expect("dir");
        let root = OutputRoot::new(dir.path()).expect("root");
        let path = root.path().join("cat.png");
        std::fs::write(&path, b"meow").expect("write");
        let sha = sha256_hex(b"meow");
        assert_eq!(sha.len(), 64);
        assert!(root.holds(&path, 4, &sha));
        assert!(!root.holds(&path, 5, &sha));
        assert!(!root.holds(&path, 4, &sha256_hex(b"purr")));
        assert!(!root.holds(&root.path().join("missing.png"), 4, &sha));
        let outside = tempfile::tempdir().expect("outside");
        let there = outside.path().join("cat.png");
        std::fs::write(&there, b"meow").expect("write");
        assert!(!root.holds(&there, 4, &sha), "outside the root");
    }
}
