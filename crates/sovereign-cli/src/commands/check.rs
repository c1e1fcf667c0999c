use std::path::PathBuf;

use crate::Format;
use crate::diagnostics::{json_report, render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let loaded = crate::input::load(args.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    match args.format {
        Format::Json => {
            let report = json_report(&loaded.source, diags);
            out.print(&format!("{}\n", crate::commands::to_json(&report)?));
        }
        Format::Human => {
            out.print(&render_human(&loaded.source, diags, out.color_stdout));
            out.status(&summary(&loaded.source, diags));
        }
    }
    Ok(if loaded.report.errors() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    })
}
