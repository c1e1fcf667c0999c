use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV067",
    name: "aurora_instance_count",
    severity: Severity::Error,
    summary: "an Aurora member with no instances, or more than the global database allows",
    doc: include_str!("aurora_instance_count.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let limits = &cx.catalog.limits.aurora_global;
    let members = cx.aurora_site_ids();
    let secondaries = members.len().saturating_sub(1) as u32;
    for (site, (key_span, _)) in &pg.instances_per_site {
        if cx.site(site).is_some() && !members.contains(&site.as_str()) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("`instances_per_site` sets `{site}`, which is not an Aurora member"),
                )
                .at(Some(key_span.clone()), "not the primary or a secondary")
                .help("remove the line, or add the site to `postgres.secondaries`"),
            );
        }
    }
    for site in &members {
        if cx.site(site).is_none() {
            continue;
        }
        let n = pg.instances_for(site);
        let span = pg
            .instances_per_site
            .get(*site)
            .map(|(_, v)| v.span())
            .unwrap_or(pg.instances.span());
        let is_primary = *site == pg.primary.as_str();
        if n == 0 {
            out.push(
                Diagnostic::new(&INFO, format!("the Aurora cluster in `{site}` has no instances"))
                    .at(span, "0 instances")
                    .help("give it at least 1 (2 survive the loss of a zone)")
                    .note("a member cluster without instances stores data but serves no reads and cannot be promoted"),
            );
            continue;
        }
        let max_total = limits.max_instances_per_cluster.value;
        let max_readers = limits.max_readers.value.saturating_sub(secondaries);
        if n > max_total {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "the Aurora cluster in `{site}` has {n} instances; the limit is {max_total}"
                    ),
                )
                .at(span, "too many instances")
                .note(format!(
                    "source: {}",
                    limits.max_instances_per_cluster.provenance.source
                )),
            );
        } else if is_primary && n - 1 > max_readers {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("the primary in `{site}` has {} readers; with {secondaries} secondary regions it may have at most {max_readers}", n - 1),
                )
                .at(span, format!("{n} instances"))
                .note("the primary's readers are limited to 15 minus the number of secondary regions")
                .note(format!("source: {}", limits.max_readers.provenance.source)),
            );
        }
    }
}
