use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV061",
    name: "too_many_aurora_secondaries",
    severity: Severity::Error,
    summary: "more Aurora secondary regions than a global database allows",
    doc: include_str!("too_many_aurora_secondaries.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let limit = &cx.catalog.limits.aurora_global.max_secondary_regions;
    let mut n = pg
        .secondaries
        .value
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>();
    n.sort_unstable();
    n.dedup();
    if n.len() as u32 <= limit.value {
        return;
    }
    out.push(
        Diagnostic::new(
            &INFO,
            format!(
                "{} Aurora secondaries; a global database has at most {}",
                n.len(),
                limit.value
            ),
        )
        .at(pg.secondaries.span(), "too many secondary regions")
        .help("move the extra sites to logical replicas, or read from the nearest secondary")
        .note(format!(
            "limit: {} ({})",
            limit.provenance.source, limit.provenance.as_of
        )),
    );
}
