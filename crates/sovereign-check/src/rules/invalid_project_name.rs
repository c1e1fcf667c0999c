use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV014",
    name: "invalid_project_name",
    severity: Severity::Error,
    summary: "a project name that cannot prefix AWS resource names",
    doc: include_str!("invalid_project_name.md"),
};

/// Whether a project name can be used to build names (other name rules skip when it cannot).
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let name = &cx.t.project.name;
    if name.is_empty() || is_valid(name) {
        return;
    }
    let fixed: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let mut d = Diagnostic::new(
        &INFO,
        format!(
            "project name `{}` cannot prefix AWS resource names",
            name.value.escape_debug()
        ),
    )
    .at(
        name.span(),
        "lowercase letters, digits and single hyphens only, starting with a letter",
    );
    if !fixed.is_empty() && fixed.starts_with(|c: char| c.is_ascii_lowercase()) {
        d = d.help(format!("use `name = \"{fixed}\"`"));
    }
    out.push(d);
}
