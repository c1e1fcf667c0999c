use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV083",
    name: "cache_replicas",
    severity: Severity::Error,
    summary: "a cache without the replica Multi-AZ failover needs, or with more than ElastiCache allows",
    doc: include_str!("cache_replicas.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(r) = &cx.t.redis else { return };
    let n = &r.replicas_per_site;
    if (1..=5).contains(&n.value) {
        return;
    }
    let mut d = Diagnostic::new(
        &INFO,
        format!("{} replicas per cache is outside 1 to 5", n.value),
    )
    .at(n.span(), "replicas per site");
    d = if n.value == 0 {
        d.help("use 1: every cache is Multi-AZ with automatic failover, which needs a replica in another zone")
            .note("without a replica, losing the node's zone loses the cache of that site")
    } else {
        d.help("a replication group has at most 5 replicas")
    };
    out.push(d);
}
