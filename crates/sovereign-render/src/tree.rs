//! A rendered tree: relative paths to bytes, in a stable order.

use std::collections::BTreeMap;

/// Files to write under an output directory. Paths use `/` and are relative.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    files: BTreeMap<String, Vec<u8>>,
    executable: Vec<String>,
}

/// How a directory on disk differs from a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl TreeDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    pub fn add(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), bytes.into());
    }

    /// Adds a file that should be executable (scripts).
    pub fn add_executable(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        let path = path.into();
        self.executable.push(path.clone());
        self.files.insert(path, bytes.into());
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn is_executable(&self, path: &str) -> bool {
        self.executable.iter().any(|p| p == path)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Compares with what an earlier render left in a directory: rendered paths missing or
    /// different there, and paths the earlier render wrote that are not rendered any more.
    pub fn diff(&self, on_disk: &crate::write::OnDisk) -> TreeDiff {
        let mut d = TreeDiff::default();
        for (path, bytes) in &self.files {
            match on_disk.files.get(path) {
                None => d.added.push(path.clone()),
                Some(b) if b != bytes => d.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        for path in &on_disk.ours {
            if path != crate::write::MANIFEST
                && !self.files.contains_key(path)
                && on_disk.files.contains_key(path)
            {
                d.removed.push(path.clone());
            }
        }
        d
    }
}
