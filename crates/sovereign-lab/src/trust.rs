//! What the lab trusts on a shared machine, and why.
//!
//! A lab runs as root on most of our machines, and root's `lab down` signals the PIDs in
//! `lab.json`. Another local user who could write that file, or swap the directory under it,
//! could make root kill any process. So:
//!
//! - a lab directory must belong to the user running the command and be writable by nobody
//!   else, and so must every directory above it unless it is sticky (like `/tmp`), where nobody
//!   can rename what is not theirs;
//! - `lab.json` must belong to the caller and be readable and writable by the caller alone;
//! - secrets live in `credentials/`, mode 0700, each file 0600 ([`write_private`]);
//! - a PID is only signalled after checking it is still the process the lab started
//!   ([`crate::process::Proc::is_running`]).

use std::path::{Path, PathBuf};

use crate::LabError;

/// The effective user id of this process.
pub fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).and_then(|u| u.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}

#[cfg(unix)]
fn owner_and_mode(p: &Path) -> Result<(u32, u32), LabError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p)
        .map_err(|e| LabError::io(format!("cannot read {}", p.display()), e))?;
    Ok((m.uid(), m.mode()))
}

/// A lab directory the caller may trust: owned by the caller, writable by nobody else, below
/// directories nobody else can rename it in. `dir` must exist.
#[cfg(unix)]
pub fn check_dir(dir: &Path) -> Result<(), LabError> {
    let me = euid();
    let real = dir
        .canonicalize()
        .map_err(|e| LabError::io(format!("cannot resolve {}", dir.display()), e))?;
    let (uid, mode) = owner_and_mode(&real)?;
    if uid != me {
        return Err(LabError::Invalid(format!(
            "{} belongs to user {uid}, not to you (user {me}): a lab directory must be your own, since `lab down` signals the processes it lists. Choose another --dir",
            real.display()
        )));
    }
    if mode & 0o022 != 0 {
        return Err(LabError::Invalid(format!(
            "{} can be written by other users (mode {:o}): they could change what `lab down` stops. Run `chmod go-w {}` or choose another --dir",
            real.display(),
            mode & 0o7777,
            real.display()
        )));
    }
    let mut up: Option<&Path> = real.parent();
    while let Some(p) = up {
        let (uid, mode) = owner_and_mode(p)?;
        let sticky = mode & 0o1000 != 0;
        if (uid != 0 && uid != me) || (mode & 0o022 != 0 && !sticky) {
            return Err(LabError::Invalid(format!(
                "{} is inside {}, which {} (mode {:o}): another user could replace the lab directory. Choose a --dir under a directory only you or root can change",
                real.display(),
                p.display(),
                if uid != 0 && uid != me {
                    format!("belongs to user {uid}")
                } else {
                    "other users can write to and is not sticky".to_string()
                },
                mode & 0o7777
            )));
        }
        up = p.parent();
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_dir(_dir: &Path) -> Result<(), LabError> {
    Ok(())
}

/// A file only the caller can have written: owned by the caller, no access for anyone else.
#[cfg(unix)]
pub fn check_private_file(p: &Path) -> Result<(), LabError> {
    let (uid, mode) = owner_and_mode(p)?;
    let me = euid();
    if uid != me || mode & 0o077 != 0 {
        return Err(LabError::Invalid(format!(
            "{} is {} with mode {:o}: it must be yours and private (0600) before the lab trusts what it says. Remove the lab directory by hand",
            p.display(),
            if uid == me {
                "yours".to_string()
            } else {
                format!("user {uid}'s")
            },
            mode & 0o7777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private_file(_p: &Path) -> Result<(), LabError> {
    Ok(())
}

/// Writes a file only its owner can read, replacing any file there (through a new file and a
/// rename, so a link planted at `path` is replaced, not followed).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), LabError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let write = || -> std::io::Result<()> {
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        LabError::io(format!("cannot write {}", path.display()), e)
    })
}

/// Creates a directory only its owner can enter (or tightens an existing one).
pub fn private_dir(path: &Path) -> Result<PathBuf, LabError> {
    std::fs::create_dir_all(path)
        .map_err(|e| LabError::io(format!("cannot create {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| LabError::io(format!("cannot protect {}", path.display()), e))?;
    }
    Ok(path.to_path_buf())
}

/// The first directory from `dir` upwards (the nearest that exists, then its parents) that
/// `user` cannot enter, tried as that user; `None` when it can reach `dir`'s nearest existing
/// ancestor. Only meaningful as root (otherwise the lab runs PostgreSQL as the caller).
pub fn unreachable_for(user: &str, dir: &Path) -> Option<PathBuf> {
    let mut existing = dir.to_path_buf();
    while !existing.exists() {
        existing = existing.parent()?.to_path_buf();
    }
    let existing = existing.canonicalize().ok()?;
    let enters = |p: &Path| {
        std::process::Command::new("runuser")
            .args(["-u", user, "--", "test", "-x"])
            .arg(p)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if enters(&existing) {
        return None;
    }
    // The outermost directory it cannot enter is the one to fix.
    let mut blocking = existing.clone();
    for p in existing.ancestors() {
        if !enters(p) {
            blocking = p.to_path_buf();
        }
    }
    Some(blocking)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_are_owner_only_and_replace_links() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let p = tmp.path().join("secret");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        write_private(&p, b"s3cret").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        check_private_file(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check_private_file(&p).is_err());
    }

    #[test]
    fn a_directory_others_can_write_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("lab");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_dir(&d).unwrap_err().to_string();
        assert!(e.contains("can be written by other users"), "{e}");
        // Inside a world-writable directory that is not sticky.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let inner = d.join("lab");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = check_dir(&inner).unwrap_err().to_string();
        assert!(e.contains("not sticky"), "{e}");
        // Sticky, like /tmp: fine.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        check_dir(&inner).unwrap();
    }
}
