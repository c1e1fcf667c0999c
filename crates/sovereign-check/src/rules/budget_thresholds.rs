use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV120",
    name: "budget_thresholds",
    severity: Severity::Error,
    summary: "a budget amount that is not positive, or an alert threshold outside (0, 200] %",
    doc: include_str!("budget_thresholds.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(b) = &cx.t.budgets else { return };
    for t in &b.alert_thresholds_percent.value {
        if t.value <= 0.0 || t.value > 200.0 {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("alert threshold {} % is outside (0, 200]", t.value),
                )
                .at(t.span(), "out of range")
                .help("typical thresholds: 80 (forecast warning) and 100 (actual spend)"),
            );
        }
    }
    if b.alert_thresholds_percent.value.is_empty() {
        out.push(
            Diagnostic::new(&INFO, "`budgets.alert_thresholds_percent` is empty")
                .at(b.alert_thresholds_percent.span(), "no alerts")
                .help("use `[80, 100]`"),
        );
    }
    if b.monthly_total_usd.value <= 0.0 && b.monthly_total_usd.span.is_some() {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "monthly budget ${} is not positive",
                    b.monthly_total_usd.value
                ),
            )
            .at(b.monthly_total_usd.span(), "must be above 0"),
        );
    }
    for (site, (_, amount)) in &b.per_site {
        if amount.value <= 0.0 {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("budget for `{site}` ${} is not positive", amount.value),
                )
                .at(amount.span(), "must be above 0"),
            );
        }
    }
}
