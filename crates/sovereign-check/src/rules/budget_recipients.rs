use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV121",
    name: "budget_recipients",
    severity: Severity::Error,
    summary: "budget alerts with no valid recipient",
    doc: include_str!("budget_recipients.md"),
};

/// AWS Budgets: at most 10 e-mail subscribers per notification
/// (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-limits.html).
const MAX_RECIPIENTS: usize = 10;

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
        if let Some(problem) = crate::limits::email(r) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("`{}` is {problem}", r.value.escape_debug()),
                )
                .at(r.span(), "AWS Budgets sends email")
                .help("use an address like `sre@example.com`"),
            );
        }
    }
    if let Some(extra) = b.recipients.value.get(MAX_RECIPIENTS) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "{} budget recipients; AWS Budgets notifies at most {MAX_RECIPIENTS} addresses",
                    b.recipients.value.len()
                ),
            )
            .at(extra.span(), "one too many from here")
            .help("send the alerts to a mailing list, or to an SNS topic with more subscribers")
            .note("limit: https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-limits.html"),
        );
    }
}
