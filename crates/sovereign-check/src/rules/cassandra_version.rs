use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV075",
    name: "cassandra_version",
    severity: Severity::Error,
    summary: "an Apache Cassandra version outside the maintained release series",
    doc: include_str!("cassandra_version.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(c) = &cx.t.cassandra else { return };
    let v = &c.version;
    let series: Vec<String> = cx
        .catalog
        .cassandra
        .iter()
        .map(|s| format!("`{}` ({})", s.latest, s.series))
        .collect();
    match cx.catalog.cassandra_series(v) {
        None => out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "Apache Cassandra `{}` is not a maintained release series",
                    v.value.escape_debug()
                ),
            )
            .at(v.span(), "unknown or unmaintained")
            .help(format!("maintained: {}", series.join(", "))),
        ),
        Some(s) if !s.supported => out.push(
            Diagnostic::new(
                &INFO,
                format!("Apache Cassandra {} is no longer maintained", s.series),
            )
            .at(v.span(), "unmaintained")
            .help(format!("maintained: {}", series.join(", "))),
        ),
        Some(_) => {}
    }
}
