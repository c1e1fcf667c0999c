use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV123",
    name: "budget_split",
    severity: Severity::Warning,
    summary: "per-site budgets that add up to more than the total budget",
    doc: include_str!("budget_split.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(b) = &cx.t.budgets else { return };
    let sum: f64 = b.per_site.values().map(|(_, v)| v.value).sum();
    let total = b.monthly_total_usd.value;
    if b.per_site.is_empty() || total <= 0.0 || sum <= total + 0.005 {
        return;
    }
    out.push(
        Diagnostic::new(&INFO, format!("per-site budgets add up to ${sum:.0}, more than the total of ${total:.0}"))
            .at(b.monthly_total_usd.span(), "total")
            .help("raise the total or lower the per-site amounts; the total alert would fire before any site's")
            .note("costs not tied to a site (Route 53, cross-region transfer) also count toward the total"),
    );
}
