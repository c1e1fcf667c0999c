use std::path::PathBuf;

use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;

/// Write one self-contained HTML page of the topology: a map of sites and links, cost against
/// budgets, what survives which loss, the deployment order; with --verify a verify run's
/// checks, with --lab the lab's latest drills. The page loads nothing from the network.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// A lab directory: its latest `lab load` and drill results (measured lag, RTO, RPO).
    #[arg(long, value_name = "DIR")]
    pub lab: Option<PathBuf>,
    /// What `sovereign verify --format json` printed: each check's state.
    #[arg(long, value_name = "JSON")]
    pub verify: Option<PathBuf>,
    /// Where to write the page; `-` prints it.
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub out: PathBuf,
    /// Replace the file at --out if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let to_stdout = args.out.as_os_str() == "-";
    if !to_stdout && !args.force && args.out.exists() {
        return Err(CliError::usage(format!(
            "`{}` exists: give --force to replace it, or another --out",
            args.out.display()
        )));
    }
    let loaded = crate::input::load(args.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!(
            "cannot report: {}",
            summary(&loaded.source, diags)
        ));
        return Ok(Exit::Findings);
    };
    let verify = match &args.verify {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::io(format!("cannot read `{}`", path.display()), e))?;
            Some(
                sovereign_verify::report::JsonReport::parse(&text).map_err(|e| {
                    CliError::usage(format!(
                        "`{}` is not what `sovereign verify --format json` prints: {e}",
                        path.display()
                    ))
                })?,
            )
        }
        None => None,
    };
    let lab = match &args.lab {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(CliError::usage(format!(
                    "--lab `{}` is not a directory",
                    dir.display()
                )));
            }
            Some(sovereign_lab::results::latest(dir).map_err(crate::commands::lab::lab_error)?)
        }
        None => None,
    };
    let spinner = out.spinner("analysing the topology");
    let catalog = sovereign_catalog::Catalog::builtin();
    let planned = match crate::commands::plan::analyse(topology, catalog) {
        Ok(p) => p,
        Err(e) => {
            drop(spinner);
            out.error(&format!("cannot report: {e}"));
            return Ok(Exit::Findings);
        }
    };
    spinner.set_message("writing the page");
    let page = crate::report::html(&crate::report::Input {
        topology,
        catalog,
        planned: &planned,
        file: &loaded.source.name,
        verify: verify.as_ref(),
        lab: lab.as_ref(),
    });
    drop(spinner);
    if to_stdout {
        out.print(&page);
    } else {
        crate::commands::write_atomically(&args.out, page.as_bytes())?;
        out.status(&format!(
            "wrote `{}` ({} KiB, {} sites, {} links)",
            args.out.display(),
            page.len().div_ceil(1024),
            topology.sites.len(),
            planned.links.len()
        ));
    }
    Ok(Exit::Ok)
}
