use sovereign_spec::{Diagnostic, RedisMode, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV080",
    name: "global_datastore_secondaries",
    severity: Severity::Error,
    summary: "an ElastiCache global datastore with more secondary regions than allowed",
    doc: include_str!("global_datastore_secondaries.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(r) = &cx.t.redis else { return };
    if r.mode.value != RedisMode::Global {
        return;
    }
    let limit = &cx.catalog.limits.elasticache_global.max_secondary_regions;
    let sites = cx.redis_site_ids();
    let mut regions: Vec<&str> = sites
        .iter()
        .filter_map(|s| cx.site(s)?.aws_region.as_ref().map(|r| r.as_str()))
        .collect();
    regions.sort_unstable();
    regions.dedup();
    let secondaries = regions.len().saturating_sub(1) as u32;
    if secondaries <= limit.value {
        return;
    }
    let span = r.sites.as_ref().and_then(|s| s.span()).or(r.mode.span());
    out.push(
        Diagnostic::new(
            &INFO,
            format!("a global datastore over {} regions has {secondaries} secondaries; ElastiCache allows {}", regions.len(), limit.value),
        )
        .at(span, format!("{} cache regions", regions.len()))
        .help(format!("use `mode = \"regional\"` (independent caches per site), or limit `redis.sites` to {} regions", limit.value + 1))
        .note(format!("source: {}", limit.provenance.source)),
    );
}
