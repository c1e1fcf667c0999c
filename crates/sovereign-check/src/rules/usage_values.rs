use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV140",
    name: "usage_values",
    severity: Severity::Error,
    summary: "a billing month outside 1 to 744 hours",
    doc: include_str!("usage_values.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let h = &cx.t.project.monthly_hours;
    if !(1..=744).contains(&h.value) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("a month of {} hours is outside 1 to 744", h.value),
            )
            .at(h.span(), "hours billed per month")
            .help("730 is the average month AWS prices use"),
        );
    }
}
