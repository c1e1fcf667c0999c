use sovereign_spec::{Diagnostic, RuleInfo, Severity, Sp};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV140",
    name: "usage_values",
    severity: Severity::Error,
    summary: "a negative usage assumption, or a billing month outside 1 to 744 hours",
    doc: include_str!("usage_values.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let u = &cx.t.usage;
    let figures: [(&str, &Sp<f64>); 7] = [
        ("aurora_storage_gb", &u.aurora_storage_gb),
        ("aurora_io_millions", &u.aurora_io_millions),
        ("aurora_write_io_millions", &u.aurora_write_io_millions),
        ("replication_transfer_gb", &u.replication_transfer_gb),
        ("nat_processed_gb_per_site", &u.nat_processed_gb_per_site),
        ("load_balancer_lcu", &u.load_balancer_lcu),
        ("cassandra_replication_gb", &u.cassandra_replication_gb),
    ];
    for (key, v) in figures {
        if v.value < 0.0 {
            out.push(
                Diagnostic::new(&INFO, format!("`usage.{key}` is negative ({})", v.value))
                    .at(v.span(), "must be 0 or more"),
            );
        }
    }
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
