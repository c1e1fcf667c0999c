use std::path::PathBuf;

use sovereign_spec::Template;

use crate::exit::{CliError, Exit};
use crate::output::Output;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which topology to start from.
    #[arg(long, default_value = "global-sovereign", value_parser = ["global-sovereign", "minimal"])]
    pub template: String,
    /// Where to write it; `-` prints it.
    #[arg(default_value = "sovereign.toml")]
    pub path: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let template = Template::from_name(&args.template)
        .ok_or_else(|| CliError::usage(format!("unknown template `{}`", args.template)))?;
    if args.path.as_os_str() == "-" {
        out.print(template.text());
        return Ok(Exit::Ok);
    }
    if args.path.exists() && !args.force {
        return Err(CliError::usage(format!(
            "`{}` already exists; pass --force to replace it",
            args.path.display()
        )));
    }
    crate::commands::write_atomically(&args.path, template.text().as_bytes())?;
    out.status(&format!(
        "wrote the `{}` topology to `{}`; next: `sovereign check {}`",
        template.name(),
        args.path.display(),
        args.path.display()
    ));
    Ok(Exit::Ok)
}
