use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV071",
    name: "rf_below_three",
    severity: Severity::Warning,
    summary: "a Cassandra replication factor below 3, which cannot lose a node at LOCAL_QUORUM",
    doc: include_str!("rf_below_three.md"),
};

/// Replicas a quorum needs out of `rf`.
pub fn quorum(rf: u32) -> u32 {
    rf / 2 + 1
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(c) = &cx.t.cassandra else { return };
    for dc in &c.datacenters {
        let rf = dc.replication_factor.value;
        if rf == 0 || rf >= 3 || rf > dc.nodes.value {
            continue;
        }
        let q = quorum(rf);
        out.push(
            Diagnostic::new(
                &INFO,
                format!("datacenter `{}` has replication factor {rf}: LOCAL_QUORUM needs {q} of {rf} replicas and survives {} node losses", dc.site.value, rf - q),
            )
            .at(dc.replication_factor.span(), format!("RF {rf}"))
            .help(format!("use `replication_factor = 3` (LOCAL_QUORUM needs 2 of 3 and survives 1 node loss){}", if dc.nodes.value < 3 { " with at least 3 nodes" } else { "" }))
            .note("a rolling restart or one failed node makes LOCAL_QUORUM reads and writes in this datacenter fail"),
        );
    }
}
