use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sovereign_render::write::{self, OnDisk, WriteOptions};
use sovereign_render::{Tree, TreeDiff};

use crate::Format;
use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;

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
    /// Write into a non-empty directory that `sovereign render` did not write before, replacing
    /// files at rendered paths; nothing else in it is touched.
    #[arg(long, conflicts_with = "check")]
    pub force: bool,
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
    let tree = sovereign_render::render(
        topology,
        sovereign_catalog::Catalog::builtin(),
        &loaded.source.name,
    )
    .map_err(|e| CliError::usage(format!("cannot render `{}`: {e}", loaded.source.name)))?;
    Ok(Some((loaded.source.name, tree)))
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let Some((source, tree)) = render_tree(args.file.as_deref(), out)? else {
        return Ok(Exit::Findings);
    };
    let on_disk = write::read(&args.out, &tree).map_err(write_error)?;
    let diff = tree.diff(&on_disk);
    if args.check {
        return report_check(&args, out, &tree, &on_disk, &diff);
    }
    warn_leftovers(&args.out, out);
    let report =
        write::write(&args.out, &tree, WriteOptions { force: args.force }).map_err(write_error)?;
    if report.recovered {
        out.status(&format!(
            "note: an earlier render into `{}` was interrupted; this one finished it",
            args.out.display()
        ));
    }
    if report.followed_link {
        out.status(&format!(
            "note: `{}` is a symbolic link; the tree was written to `{}`",
            args.out.display(),
            report.target.display()
        ));
    }
    if !report.replaced_foreign.is_empty() {
        out.status(&format!(
            "replaced {} file(s) that an earlier render did not write (--force): {}",
            report.replaced_foreign.len(),
            report.replaced_foreign.join(", ")
        ));
    }
    if !report.left_alone.is_empty() {
        out.status(&format!(
            "left alone (no longer rendered, but no longer plain files either): {}",
            report.left_alone.join(", ")
        ));
    }
    if report.added.is_empty() && report.changed.is_empty() && report.removed.is_empty() {
        out.status(&format!(
            "`{}` is up to date ({} files from {source})",
            args.out.display(),
            tree.len()
        ));
    } else {
        out.status(&format!(
            "rendered {source} into `{}`: {} files ({} new, {} changed, {} removed)",
            args.out.display(),
            tree.len(),
            report.added.len(),
            report.changed.len(),
            report.removed.len()
        ));
    }
    Ok(Exit::Ok)
}

fn write_error(e: write::WriteError) -> CliError {
    CliError::usage(e.to_string())
}

/// Earlier versions swapped whole directories through hidden siblings; one killed half-way left
/// the previous tree in `.<dir>.previous-<pid>`. Say so: it may hold the user's files.
fn warn_leftovers(dir: &Path, out: &Output) {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!(".{name}.previous-"))
            || n.starts_with(&format!(".{name}.render-"))
        {
            out.status(&format!(
                "warning: `{}` was left by an interrupted render of an earlier Sovereign version; it may hold files of `{}` that are not in it now. Nothing was changed in it: look through it, then remove it",
                parent.join(&n).display(),
                dir.display()
            ));
        }
    }
}

fn report_check(
    args: &Args,
    out: &Output,
    tree: &Tree,
    on_disk: &OnDisk,
    diff: &TreeDiff,
) -> Result<Exit, CliError> {
    if args.format == Format::Json {
        let v = serde_json::json!({
            "directory": args.out.display().to_string(),
            "manifest": on_disk.has_manifest,
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
                on_disk.files.get(p).map(Vec::as_slice).unwrap_or(&[]),
                tree.get(p).unwrap_or(&[]),
            );
            s.push_str(&format!("  ~ {p} (+{plus} -{minus} lines)\n"));
        }
        for p in &diff.removed {
            s.push_str(&format!("  - {p}\n"));
        }
        if !on_disk.has_manifest {
            s.push_str(&format!(
                "`{}` has no `{}`: files an earlier render wrote and no longer renders cannot be told apart from yours\n",
                args.out.display(),
                write::MANIFEST
            ));
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
