use sovereign_catalog::Support;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV063",
    name: "global_db_unconfirmed",
    severity: Severity::Warning,
    summary: "an Aurora member in a region where global database support for PostgreSQL is not confirmed",
    doc: include_str!("global_db_unconfirmed.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let mut members = vec![&pg.primary];
    members.extend(pg.secondaries.value.iter());
    for m in members {
        let Some(site) = cx.site(m) else { continue };
        let Some(region) = site.aws_region.as_ref().and_then(|r| cx.catalog.region(r)) else {
            continue;
        };
        let fact = &region.aurora_postgresql_global;
        let (severity, what) = match (fact.value, fact.provenance.status.is_confirmed()) {
            (Support::Yes, true) => continue,
            (Support::No, true) => (Severity::Error, "does not support"),
            _ => (Severity::Warning, "is not confirmed to support"),
        };
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "`{}` {what} Aurora PostgreSQL global databases",
                region.code
            ),
        )
        .severity(severity)
        .at(m.span(), format!("Aurora member in {}", region.name))
        .note(format!(
            "catalog entry: regions.toml, {} aurora_postgresql_global = {:?} ({}, {} as of {})",
            region.code,
            fact.value,
            fact.provenance.status.as_str(),
            fact.provenance.source,
            fact.provenance.as_of
        ));
        if let Some(note) = &fact.provenance.note {
            d = d.note(note.clone());
        }
        out.push(d.help("read the current table before planning this region: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.GlobalDatabase.html"));
    }
}
