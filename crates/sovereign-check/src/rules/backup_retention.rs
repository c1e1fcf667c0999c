use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV122",
    name: "backup_retention",
    severity: Severity::Error,
    summary: "an Aurora backup retention outside 1 to 35 days",
    doc: include_str!("backup_retention.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let days = &pg.backup_retention_days;
    let max = i64::from(cx.catalog.limits.aurora.max_backup_retention_days.value);
    if (1..=max).contains(&days.value) {
        return;
    }
    out.push(
        Diagnostic::new(
            &INFO,
            format!(
                "backup retention of {} days is outside 1 to {max}",
                days.value
            ),
        )
        .at(days.span(), "out of range")
        .help(format!(
            "use a value from 1 to {max}; keep longer history with AWS Backup or snapshot exports"
        )),
    );
}
