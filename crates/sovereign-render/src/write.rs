//! Writing a [`Tree`] into a directory that may hold files Sovereign did not write.
//!
//! The contract, in the order the writer enforces it:
//!
//! - **Only our own files are ever replaced or deleted.** Ours are the files the manifest
//!   ([`MANIFEST`]) of the previous render lists. A rendered path that already exists and is not
//!   listed belongs to someone else: the write stops before touching anything, unless the
//!   caller passed `force`, and then exactly those files are replaced and reported.
//! - **A directory without a manifest that is not empty is refused** (unless `force`), with the
//!   first entries it holds: a mistyped `--out ~` must not turn a home directory into a tree.
//! - **Each file is replaced atomically** (written beside its target, then renamed over it), and
//!   the manifest is the journal: before the first file changes, a pending manifest lists every
//!   path of the old and the new render; it becomes the manifest at the end. A render killed in
//!   between leaves the pending list, and the next render reports it and finishes the job.
//! - **No link is followed inside the tree.** The output directory itself may be a symbolic
//!   link (it is followed, and the report says where it leads); a link anywhere below it stops
//!   the write, because writing through it could reach any file on the machine.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::Tree;

/// The list of files the last render wrote, one relative path per line, itself included.
pub const MANIFEST: &str = ".sovereign-render";
/// The journal of a render under way: every path it may have written.
pub const PENDING: &str = ".sovereign-render.pending";

/// How far to trust a directory that was not rendered into before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Write into a non-empty directory without a manifest, and replace files at rendered paths
    /// that the last render did not write. Nothing outside the rendered paths is touched.
    pub force: bool,
}

/// What a write did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Where the files went: the output directory, or what its symbolic link leads to.
    pub target: PathBuf,
    /// The output directory is a symbolic link to `target`.
    pub followed_link: bool,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Files that were there, not written by an earlier render, and replaced because of `force`.
    pub replaced_foreign: Vec<String>,
    /// Files of an earlier render that are no longer rendered but were not plain files any more
    /// (someone replaced them with a directory or a link): left where they are.
    pub left_alone: Vec<String>,
    /// An earlier render into this directory was interrupted; this one finished it.
    pub recovered: bool,
}

/// Why a tree could not be written. Nothing was changed unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("`{}` exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error(
        "`{}` is not empty and was not written by `sovereign render` (it has no `{MANIFEST}`): {}{}; choose an empty or new directory, or pass `--force` to write the rendered files into it (files at the same paths are replaced, nothing else is touched)",
        dir.display(),
        listing(entries),
        more_note(*more)
    )]
    NotEmpty {
        dir: PathBuf,
        entries: Vec<String>,
        more: usize,
    },
    #[error(
        "{} in `{}` would be replaced, but the last render did not write {}: {}{}; move {} away, or pass `--force` to replace {}",
        count_files(files.len() + more),
        dir.display(),
        them(files.len() + more),
        listing(files),
        more_note(*more),
        them(files.len() + more),
        them(files.len() + more)
    )]
    Foreign {
        dir: PathBuf,
        files: Vec<String>,
        more: usize,
    },
    #[error(
        "`{}` is a symbolic link inside the output directory; Sovereign does not write through links below `{}` (replace it with a directory)",
        path.display(),
        dir.display()
    )]
    LinkInTree { dir: PathBuf, path: PathBuf },
    #[error("`{}` is in the way: a rendered {} goes there", path.display(), if *wants_dir { "directory" } else { "file" })]
    InTheWay { path: PathBuf, wants_dir: bool },
    #[error("the rendered path `{0}` is not a plain relative path")]
    BadPath(String),
    #[error("cannot {what} `{}`: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn listing(items: &[String]) -> String {
    items
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn more_note(more: usize) -> String {
    if more == 0 {
        String::new()
    } else {
        format!(" and {more} more")
    }
}

fn count_files(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

fn them(n: usize) -> &'static str {
    if n == 1 { "it" } else { "them" }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError::Io { what, path, source }
}

/// How many entries an error lists before "and N more".
const SHOWN: usize = 8;

/// The files of an earlier render in a directory, as the next render sees them.
#[derive(Clone, Debug, Default)]
pub struct OnDisk {
    /// The directory has a manifest (or a pending one).
    pub has_manifest: bool,
    /// A render was interrupted here.
    pub interrupted: bool,
    /// Every path an earlier render wrote (from the manifest and the pending list).
    pub ours: BTreeSet<String>,
    /// Contents of every path that is ours or rendered now, where a plain file is there.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Reads what `tree` would be compared against in `dir`: the files the last render listed and
/// the files at the paths `tree` renders. Nothing else in the directory is read.
pub fn read(dir: &Path, tree: &Tree) -> Result<OnDisk, WriteError> {
    let mut on = OnDisk::default();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(on),
        Err(e) => return Err(io("read", dir)(e)),
    };
    if !meta.is_dir() {
        return Err(WriteError::NotADirectory(dir.to_path_buf()));
    }
    for (name, interrupted) in [(MANIFEST, false), (PENDING, true)] {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => {
                on.has_manifest = true;
                on.interrupted |= interrupted;
                on.ours.extend(
                    text.lines()
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .filter(|l| safe_relative(l))
                        .map(str::to_string),
                );
                on.ours.insert(MANIFEST.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &dir.join(name))(e)),
        }
    }
    let paths: BTreeSet<&str> = on
        .ours
        .iter()
        .map(String::as_str)
        .chain(tree.files().map(|(p, _)| p))
        .collect();
    for rel in paths {
        if !safe_relative(rel) {
            continue;
        }
        let p = dir.join(rel);
        // A link or a directory at a rendered path is not a file of ours: never read through it.
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() && !below_link(dir, rel) => {
                let bytes = std::fs::read(&p).map_err(io("read", &p))?;
                on.files.insert(rel.to_string(), bytes);
            }
            _ => {}
        }
    }
    Ok(on)
}

/// Whether a directory between `dir` and `rel` is a symbolic link.
fn below_link(dir: &Path, rel: &str) -> bool {
    let mut p = dir.to_path_buf();
    let comps: Vec<&str> = rel.split('/').collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        p.push(c);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return true;
        }
    }
    false
}

/// A path the tree may hold: relative, `/`-separated, no `.`/`..`, no empty component.
pub fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains('\\')
        && !rel.contains('\0')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Writes `tree` into `dir` under the contract in the module documentation. The manifest is
/// written by this function: `tree` must not contain it.
pub fn write(dir: &Path, tree: &Tree, opts: WriteOptions) -> Result<WriteReport, WriteError> {
    for (rel, _) in tree.files() {
        if !safe_relative(rel) || rel == MANIFEST || rel == PENDING {
            return Err(WriteError::BadPath(rel.to_string()));
        }
    }
    let mut report = WriteReport {
        target: dir.to_path_buf(),
        ..WriteReport::default()
    };
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        report.target = std::fs::canonicalize(dir).map_err(io("follow the link", dir))?;
        report.followed_link = true;
    }
    let on = read(dir, tree)?;
    report.recovered = on.interrupted;
    let target = report.target.clone();
    if !target.exists() {
        std::fs::create_dir_all(&target).map_err(io("create", &target))?;
    } else if !on.has_manifest && !opts.force {
        let entries = entries(&target)?;
        if !entries.is_empty() {
            let more = entries.len().saturating_sub(SHOWN);
            return Err(WriteError::NotEmpty {
                dir: dir.to_path_buf(),
                entries: entries.into_iter().take(SHOWN).collect(),
                more,
            });
        }
    }

    // Check every path before changing anything.
    let mut foreign = Vec::new();
    for (rel, _) in tree.files() {
        preflight_path(&target, rel)?;
        let p = target.join(rel);
        if std::fs::symlink_metadata(&p).is_ok() && !on.ours.contains(rel) {
            foreign.push(rel.to_string());
        }
    }
    if !foreign.is_empty() && !opts.force {
        let more = foreign.len().saturating_sub(SHOWN);
        foreign.truncate(SHOWN);
        return Err(WriteError::Foreign {
            dir: dir.to_path_buf(),
            files: foreign,
            more,
        });
    }

    // The journal: every path this render may create or delete.
    let mut listed: BTreeSet<String> = on.ours.clone();
    listed.extend(tree.files().map(|(p, _)| p.to_string()));
    listed.insert(MANIFEST.to_string());
    atomic_write(&target, PENDING, manifest_text(&listed).as_bytes(), false)?;

    for (rel, bytes) in tree.files() {
        let exec = tree.is_executable(rel);
        match on.files.get(rel) {
            Some(old) if old.as_slice() == bytes && mode_ok(&target.join(rel), exec) => continue,
            Some(_) => report.changed.push(rel.to_string()),
            None => report.added.push(rel.to_string()),
        }
        if foreign.iter().any(|f| f == rel) {
            report.replaced_foreign.push(rel.to_string());
        }
        ensure_dirs(&target, rel)?;
        atomic_write(&target, rel, bytes, exec)?;
    }

    let mut emptied = BTreeSet::new();
    for rel in &on.ours {
        if rel == MANIFEST || tree.get(rel).is_some() || !safe_relative(rel) {
            continue;
        }
        let p = target.join(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() && !below_link(&target, rel) => {
                std::fs::remove_file(&p).map_err(io("remove", &p))?;
                report.removed.push(rel.clone());
                let mut d = Path::new(rel).parent();
                while let Some(x) = d.filter(|x| !x.as_os_str().is_empty()) {
                    emptied.insert(x.to_path_buf());
                    d = x.parent();
                }
            }
            Ok(_) => report.left_alone.push(rel.clone()),
            Err(_) => {}
        }
    }
    // Directories a removed file leaves empty go too; `remove_dir` refuses any that is not.
    let mut emptied: Vec<PathBuf> = emptied.into_iter().collect();
    emptied.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in emptied {
        let _ = std::fs::remove_dir(target.join(d));
    }

    let mut manifest: BTreeSet<String> = tree.files().map(|(p, _)| p.to_string()).collect();
    manifest.insert(MANIFEST.to_string());
    atomic_write(
        &target,
        MANIFEST,
        manifest_text(&manifest).as_bytes(),
        false,
    )?;
    let pending = target.join(PENDING);
    std::fs::remove_file(&pending).map_err(io("remove", &pending))?;
    Ok(report)
}

/// The entries of a directory, sorted, directories with a trailing `/`.
fn entries(dir: &Path) -> Result<Vec<String>, WriteError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io("read", dir))? {
        let e = e.map_err(io("read", dir))?;
        let mut name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        v.push(name);
    }
    v.sort();
    Ok(v)
}

fn manifest_text(paths: &BTreeSet<String>) -> String {
    paths.iter().map(|p| format!("{p}\n")).collect()
}

/// Every directory on the way to `rel` is a real directory (or missing), and `rel` itself is a
/// file (or missing).
fn preflight_path(target: &Path, rel: &str) -> Result<(), WriteError> {
    let mut p = target.to_path_buf();
    let comps: Vec<&str> = rel.split('/').collect();
    for (i, c) in comps.iter().enumerate() {
        p.push(c);
        let last = i + 1 == comps.len();
        match std::fs::symlink_metadata(&p) {
            Err(_) => return Ok(()),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(WriteError::LinkInTree {
                    dir: target.to_path_buf(),
                    path: p,
                });
            }
            Ok(m) if last && !m.is_file() => {
                return Err(WriteError::InTheWay {
                    path: p,
                    wants_dir: false,
                });
            }
            Ok(m) if !last && !m.is_dir() => {
                return Err(WriteError::InTheWay {
                    path: p,
                    wants_dir: true,
                });
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

fn ensure_dirs(target: &Path, rel: &str) -> Result<(), WriteError> {
    if let Some(parent) = Path::new(rel)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        let d = target.join(parent);
        std::fs::create_dir_all(&d).map_err(io("create", &d))?;
    }
    Ok(())
}

#[cfg(unix)]
fn mode_ok(p: &Path, exec: bool) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| (m.permissions().mode() & 0o111 != 0) == exec)
}

#[cfg(not(unix))]
fn mode_ok(_: &Path, _: bool) -> bool {
    true
}

/// Replaces `target/rel` with `bytes` through a temporary file beside it and a rename.
fn atomic_write(target: &Path, rel: &str, bytes: &[u8], exec: bool) -> Result<(), WriteError> {
    let p = target.join(rel);
    let dir = p.parent().unwrap_or(target);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.sovereign-{}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if exec { 0o755 } else { 0o644 });
        }
        let mut f = opts.open(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("write", &tmp))?;
        drop(f);
        #[cfg(unix)]
        {
            // The umask may have taken bits away; a script must be executable.
            use std::os::unix::fs::PermissionsExt;
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
                .map_err(io("set the mode of", &tmp))?;
        }
        std::fs::rename(&tmp, &p).map_err(io("write", &p))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        let mut t = Tree::new();
        for (p, b) in files {
            t.add(*p, *b);
        }
        t
    }

    fn read_manifest(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join(MANIFEST))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_new_directory_gets_the_tree_and_a_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let r = write(
            &dir,
            &tree(&[("a.tf", "a"), ("m/b.tf", "b")]),
            WriteOptions::default(),
        )
        .unwrap();
        assert_eq!(r.added, ["a.tf", "m/b.tf"]);
        assert_eq!(read_manifest(&dir), [MANIFEST, "a.tf", "m/b.tf"]);
        assert!(!dir.join(PENDING).exists());
    }

    #[test]
    fn a_non_empty_directory_without_a_manifest_is_refused_and_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir(dir.join(".ssh")).unwrap();
        std::fs::write(dir.join(".ssh/id_ed25519"), "secret").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let err = write(dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, WriteError::NotEmpty { .. }), "{msg}");
        assert!(
            msg.contains("`.ssh/`") && msg.contains("`notes.txt`"),
            "{msg}"
        );
        assert!(!dir.join("a.tf").exists());
        assert_eq!(
            std::fs::read_to_string(dir.join(".ssh/id_ed25519")).unwrap(),
            "secret"
        );
    }

    #[test]
    fn force_writes_beside_user_files_and_reports_what_it_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("backend_override.tf"), "mine").unwrap();
        std::fs::write(dir.join("a.tf"), "theirs").unwrap();
        let r = write(dir, &tree(&[("a.tf", "a")]), WriteOptions { force: true }).unwrap();
        assert_eq!(r.replaced_foreign, ["a.tf"]);
        assert_eq!(
            std::fs::read_to_string(dir.join("backend_override.tf")).unwrap(),
            "mine"
        );
        // A later render removes only what the manifest lists.
        let r = write(dir, &tree(&[("b.tf", "b")]), WriteOptions::default()).unwrap();
        assert_eq!(r.removed, ["a.tf"]);
        assert!(dir.join("backend_override.tf").exists());
    }

    #[test]
    fn a_file_at_a_new_rendered_path_is_not_replaced_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        std::fs::create_dir(dir.join("sites")).unwrap();
        std::fs::write(dir.join("sites/x.tf"), "mine").unwrap();
        let err = write(
            dir,
            &tree(&[("a.tf", "a2"), ("sites/x.tf", "x")]),
            WriteOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, WriteError::Foreign { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join("a.tf")).unwrap(), "a");
        assert_eq!(
            std::fs::read_to_string(dir.join("sites/x.tf")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn files_no_longer_rendered_go_and_user_files_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(
            dir,
            &tree(&[("a.tf", "a"), ("sites/x/main.tf", "x")]),
            WriteOptions::default(),
        )
        .unwrap();
        std::fs::write(dir.join("sites/x/terraform.tfstate"), "state").unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        let r = write(dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        assert_eq!(r.removed, ["sites/x/main.tf"]);
        assert!(dir.join("sites/x/terraform.tfstate").exists());
        assert!(dir.join(".git").is_dir());
        // An unchanged render changes nothing.
        let r = write(dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        assert!(r.added.is_empty() && r.changed.is_empty() && r.removed.is_empty());
    }

    #[test]
    fn an_emptied_directory_is_removed_but_a_used_one_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(
            dir,
            &tree(&[("sites/x/main.tf", "x"), ("sites/y/main.tf", "y")]),
            WriteOptions::default(),
        )
        .unwrap();
        std::fs::write(dir.join("sites/y/notes"), "mine").unwrap();
        write(dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        assert!(!dir.join("sites/x").exists());
        assert!(dir.join("sites/y/notes").exists());
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_the_tree_are_refused_and_the_output_link_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("main.tf"), "precious").unwrap();
        write(&real, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        std::os::unix::fs::symlink(&outside, real.join("sites")).unwrap();
        let err = write(
            &real,
            &tree(&[("a.tf", "a"), ("sites/main.tf", "x")]),
            WriteOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, WriteError::LinkInTree { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(outside.join("main.tf")).unwrap(),
            "precious"
        );

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        std::fs::remove_file(real.join("sites")).unwrap();
        let r = write(&link, &tree(&[("a.tf", "b")]), WriteOptions::default()).unwrap();
        assert!(r.followed_link);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(real.join("a.tf")).unwrap(), "b");
    }

    #[test]
    fn an_interrupted_render_is_finished_by_the_next() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(
            dir,
            &tree(&[("a.tf", "a"), ("old.tf", "o")]),
            WriteOptions::default(),
        )
        .unwrap();
        // As a render killed after its journal and its first file would leave it.
        std::fs::write(dir.join(PENDING), "a.tf\nold.tf\nnew.tf\n").unwrap();
        std::fs::write(dir.join("new.tf"), "half").unwrap();
        let r = write(
            dir,
            &tree(&[("a.tf", "a"), ("new.tf", "n")]),
            WriteOptions::default(),
        )
        .unwrap();
        assert!(r.recovered);
        assert_eq!(r.removed, ["old.tf"]);
        assert_eq!(std::fs::read_to_string(dir.join("new.tf")).unwrap(), "n");
        assert!(!dir.join(PENDING).exists());
    }

    #[test]
    fn manifest_lines_that_leave_the_directory_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        write(&dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        std::fs::write(dir.join(MANIFEST), "a.tf\n../victim\n/etc/passwd\n").unwrap();
        write(&dir, &tree(&[("a.tf", "a")]), WriteOptions::default()).unwrap();
        assert!(victim.exists());
    }

    #[test]
    fn paths_are_plain_and_relative() {
        assert!(safe_relative("sites/ams/main.tf"));
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(!safe_relative(bad), "{bad}");
        }
    }
}
