use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV070",
    name: "rf_exceeds_nodes",
    severity: Severity::Error,
    summary: "a Cassandra replication factor larger than the datacenter's node count",
    doc: include_str!("rf_exceeds_nodes.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(c) = &cx.t.cassandra else { return };
    for dc in &c.datacenters {
        let (rf, nodes) = (dc.replication_factor.value, dc.nodes.value);
        if rf == 0 {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("datacenter `{}` has replication factor 0", dc.site.value),
                )
                .at(dc.replication_factor.span(), "no replicas")
                .help("use 3, or remove the datacenter"),
            );
        } else if rf > nodes {
            out.push(
                Diagnostic::new(&INFO, format!("datacenter `{}` has replication factor {rf} but only {nodes} node{}", dc.site.value, if nodes == 1 { "" } else { "s" }))
                    .at(dc.replication_factor.span(), format!("RF {rf}"))
                    .also(dc.nodes.span(), format!("{nodes} nodes"))
                    .help(format!("raise `nodes` to at least {rf}, or lower `replication_factor` to {nodes}"))
                    .note("each replica needs its own node: writes at LOCAL_QUORUM would fail from the start"),
            );
        }
    }
}
