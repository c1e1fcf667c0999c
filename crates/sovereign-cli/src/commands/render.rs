use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sovereign_render::{Tree, TreeDiff};

use crate::Format;
use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;

/// Lists the files the last render wrote, so the next one knows which files are its own.
pub const MANIFEST: &str = ".sovereign-render";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// Directory to write the tree into.
    #[arg(long, default_value = "terraform")]
    pub out: PathBuf,
    /// Write nothing; exit 1 with a summary when the directory differs from what would be rendered.
    #[arg(long)]
    pub check: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Renders a topology: `Ok(None)` and findings printed when it has errors.
pub fn render_tree(file: Option<&Path>, out: &Output) -> Result<Option<(String, Tree)>, CliError> {
    let loaded = crate::input::load(file)?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!(
            "cannot render: {}",
            summary(&loaded.source, diags)
        ));
        return Ok(None);
    };
    if !diags.is_empty() && !out.quiet {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
    }
    let mut tree = sovereign_render::render(
        topology,
        sovereign_catalog::Catalog::builtin(),
        &loaded.source.name,
    )
    .map_err(|e| CliError::usage(format!("cannot render `{}`: {e}", loaded.source.name)))?;
    let manifest: String = tree.files().map(|(p, _)| format!("{p}\n")).collect();
    tree.add(MANIFEST, manifest);
    Ok(Some((loaded.source.name, tree)))
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let Some((source, tree)) = render_tree(args.file.as_deref(), out)? else {
        return Ok(Exit::Findings);
    };
    let on_disk = read_generated(&args.out)?;
    let diff = tree.diff(&on_disk);
    if args.check {
        return report_check(&args, out, &tree, &on_disk, &diff);
    }
    if diff.is_empty() {
        out.status(&format!(
            "`{}` is up to date ({} files from {source})",
            args.out.display(),
            tree.len()
        ));
        return Ok(Exit::Ok);
    }
    write_tree(&args.out, &tree, &on_disk)?;
    out.status(&format!(
        "rendered {source} into `{}`: {} files ({} new, {} changed, {} removed)",
        args.out.display(),
        tree.len(),
        diff.added.len(),
        diff.changed.len(),
        diff.removed.len()
    ));
    Ok(Exit::Ok)
}

fn report_check(
    args: &Args,
    out: &Output,
    tree: &Tree,
    on_disk: &BTreeMap<String, Vec<u8>>,
    diff: &TreeDiff,
) -> Result<Exit, CliError> {
    if args.format == Format::Json {
        let v = serde_json::json!({
            "directory": args.out.display().to_string(),
            "up_to_date": diff.is_empty(),
            "added": diff.added,
            "changed": diff.changed,
            "removed": diff.removed,
        });
        out.print(&format!("{}\n", crate::commands::to_json(&v)?));
    } else if diff.is_empty() {
        out.status(&format!(
            "`{}` matches the rendered tree ({} files)",
            args.out.display(),
            tree.len()
        ));
    } else {
        let mut s = format!(
            "`{}` differs from the rendered tree: {} missing, {} changed, {} not rendered any more\n",
            args.out.display(),
            diff.added.len(),
            diff.changed.len(),
            diff.removed.len()
        );
        for p in &diff.added {
            s.push_str(&format!("  + {p}\n"));
        }
        for p in &diff.changed {
            let (plus, minus) = line_delta(
                on_disk.get(p).map(Vec::as_slice).unwrap_or(&[]),
                tree.get(p).unwrap_or(&[]),
            );
            s.push_str(&format!("  ~ {p} (+{plus} -{minus} lines)\n"));
        }
        for p in &diff.removed {
            s.push_str(&format!("  - {p}\n"));
        }
        s.push_str(&format!(
            "run `sovereign render --out {}` to update it\n",
            args.out.display()
        ));
        out.print(&s);
    }
    Ok(if diff.is_empty() {
        Exit::Ok
    } else {
        Exit::Findings
    })
}

/// Lines only in `new` and only in `old`, by multiset comparison: enough for a summary.
fn line_delta(old: &[u8], new: &[u8]) -> (usize, usize) {
    let mut counts: BTreeMap<&[u8], i64> = BTreeMap::new();
    for l in old.split(|b| *b == b'\n') {
        *counts.entry(l).or_default() -= 1;
    }
    for l in new.split(|b| *b == b'\n') {
        *counts.entry(l).or_default() += 1;
    }
    let plus = counts
        .values()
        .filter(|v| **v > 0)
        .map(|v| *v as usize)
        .sum();
    let minus = counts
        .values()
        .filter(|v| **v < 0)
        .map(|v| (-*v) as usize)
        .sum();
    (plus, minus)
}

/// The files of an earlier render in `dir` (those its manifest lists, plus any that are in the
/// way of the new tree). Nothing else in the directory is read: it belongs to the user.
fn read_generated(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, CliError> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "`{}` exists and is not a directory",
            dir.display()
        )));
    }
    let mut listed: Vec<String> = match std::fs::read_to_string(dir.join(MANIFEST)) {
        Ok(m) => m.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    };
    listed.push(MANIFEST.to_string());
    for rel in listed {
        let p = dir.join(&rel);
        if p.is_file() {
            let bytes = std::fs::read(&p)
                .map_err(|e| CliError::io(format!("cannot read `{}`", p.display()), e))?;
            out.insert(rel, bytes);
        }
    }
    // Without a manifest (a directory written by hand or by an older version), every file that
    // looks like ours counts, so --check reports it instead of ignoring it.
    if !dir.join(MANIFEST).exists() {
        walk(dir, dir, &mut out)?;
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::io(format!("cannot read `{}`", dir.display()), e))?;
    for e in entries {
        let e = e.map_err(|e| CliError::io(format!("cannot read `{}`", dir.display()), e))?;
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != ".terraform" {
                walk(root, &p, out)?;
            }
        } else if !is_user_file(&name) {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&p)
                .map_err(|e| CliError::io(format!("cannot read `{}`", p.display()), e))?;
            out.insert(rel, bytes);
        }
    }
    Ok(())
}

/// Files Terraform and the flyctl plan create next to the rendered ones.
fn is_user_file(name: &str) -> bool {
    name.contains(".tfstate")
        || name == ".terraform.lock.hcl"
        || name.ends_with(".tfvars")
        || name.ends_with(".tfvars.json")
        || name.ends_with(".tfplan")
}

/// Writes the tree into `dir` without ever leaving it half-written: the new tree is built in a
/// temporary sibling directory, the user's own files (state, `.terraform/`, tfvars) are carried
/// over, then the directories are swapped with renames.
fn write_tree(
    dir: &Path,
    tree: &Tree,
    old_generated: &BTreeMap<String, Vec<u8>>,
) -> Result<(), CliError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| CliError::io(format!("cannot create `{}`", parent.display()), e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{name}.render-{}", std::process::id()));
    let old = parent.join(format!(".{name}.previous-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> Result<(), CliError> {
        for (rel, bytes) in tree.files() {
            let p = tmp.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)
                    .map_err(|e| CliError::io(format!("cannot create `{}`", d.display()), e))?;
            }
            std::fs::write(&p, bytes)
                .map_err(|e| CliError::io(format!("cannot write `{}`", p.display()), e))?;
            if tree.is_executable(rel) {
                set_executable(&p)?;
            }
        }
        if dir.exists() {
            carry_over(dir, dir, &tmp, tree, old_generated)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            CliError::io(format!("cannot move `{}` aside", dir.display()), e)
        })?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        let _ = std::fs::rename(&old, dir);
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(CliError::io(format!("cannot write `{}`", dir.display()), e));
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Moves into the new tree every file of the old directory that is not generated.
fn carry_over(
    root: &Path,
    dir: &Path,
    tmp: &Path,
    tree: &Tree,
    old_generated: &BTreeMap<String, Vec<u8>>,
) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::io(format!("cannot read `{}`", dir.display()), e))?;
    for e in entries {
        let e = e.map_err(|e| CliError::io(format!("cannot read `{}`", dir.display()), e))?;
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        let ft = e
            .file_type()
            .map_err(|e| CliError::io(format!("cannot read `{}`", p.display()), e))?;
        if ft.is_dir() && !ft.is_symlink() {
            if e.file_name() == ".terraform" {
                copy_dir(&p, &tmp.join(&rel))?;
            } else {
                carry_over(root, &p, tmp, tree, old_generated)?;
            }
            continue;
        }
        if tree.get(&rel).is_some() || old_generated.contains_key(&rel) {
            continue;
        }
        let target = tmp.join(&rel);
        if let Some(d) = target.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| CliError::io(format!("cannot create `{}`", d.display()), e))?;
        }
        std::fs::copy(&p, &target)
            .map_err(|e| CliError::io(format!("cannot keep `{}`", p.display()), e))?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(to)
        .map_err(|e| CliError::io(format!("cannot create `{}`", to.display()), e))?;
    for e in std::fs::read_dir(from)
        .map_err(|e| CliError::io(format!("cannot read `{}`", from.display()), e))?
    {
        let e = e.map_err(|e| CliError::io(format!("cannot read `{}`", from.display()), e))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e
            .file_type()
            .map_err(|e| CliError::io(format!("cannot read `{}`", src.display()), e))?;
        if ft.is_symlink() {
            #[cfg(unix)]
            if let Ok(target) = std::fs::read_link(&src) {
                let _ = std::os::unix::fs::symlink(target, &dst);
            }
        } else if ft.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .map_err(|e| CliError::io(format!("cannot keep `{}`", src.display()), e))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_executable(p: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| CliError::io(format!("cannot make `{}` executable", p.display()), e))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<(), CliError> {
    Ok(())
}
