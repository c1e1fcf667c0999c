use crate::exit::{CliError, Exit};
use crate::output::Output;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule code (`SOV043`) or name (`overlapping_cidrs`); without it, the list of rules.
    pub rule: Option<String>,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let Some(key) = args.rule else {
        let mut text = String::from("Rules (`sovereign explain CODE` for one):\n\n");
        for r in sovereign_check::all_rules() {
            text.push_str(&format!(
                "{}  {:<8} {:<30} {}\n",
                r.code,
                r.severity.as_str(),
                r.name,
                r.summary
            ));
        }
        out.print(&text);
        return Ok(Exit::Ok);
    };
    match sovereign_check::find_rule(key.trim()) {
        Some(rule) => {
            out.print(rule.doc);
            if !rule.doc.ends_with('\n') {
                out.print("\n");
            }
            Ok(Exit::Ok)
        }
        None => {
            let names: Vec<&str> = sovereign_check::all_rules()
                .iter()
                .map(|r| r.name)
                .collect();
            let hint = sovereign_spec::closest(&key, names.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| "; `sovereign explain` lists them".into());
            Err(CliError::usage(format!(
                "no rule `{}`{hint}",
                key.escape_debug()
            )))
        }
    }
}
