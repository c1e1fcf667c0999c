use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV121",
    name: "budget_recipients",
    severity: Severity::Error,
    summary: "budget alerts with no valid recipient",
    doc: include_str!("budget_recipients.md"),
};

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(b) = &cx.t.budgets else { return };
    if b.recipients.value.is_empty() {
        out.push(
            Diagnostic::new(&INFO, "budget alerts have no recipients")
                .at(
                    b.recipients.span().or(b.span.clone()),
                    "nobody would be told",
                )
                .help("add `recipients = [\"sre@example.com\"]`"),
        );
    }
    for r in &b.recipients.value {
        if !looks_like_email(r) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("`{}` is not an email address", r.value.escape_debug()),
                )
                .at(r.span(), "AWS Budgets sends email")
                .help("use an address like `sre@example.com`"),
            );
        }
    }
}
