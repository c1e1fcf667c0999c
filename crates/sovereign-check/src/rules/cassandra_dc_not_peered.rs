use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV074",
    name: "cassandra_dc_not_peered",
    severity: Severity::Error,
    summary: "a Cassandra datacenter or the control plane on a site outside the VPC peering mesh",
    doc: include_str!("cassandra_dc_not_peered.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(c) = &cx.t.cassandra else { return };
    let mut refs: Vec<(&sovereign_spec::Sp<String>, &str)> = c
        .datacenters
        .iter()
        .map(|d| (&d.site, "datacenter"))
        .collect();
    refs.push((&c.control_plane, "control plane"));
    if refs.len() < 2 {
        return;
    }
    for (r, what) in refs {
        let Some(site) = cx.site(r) else { continue };
        if !site.has_aws() || site.peering.value {
            continue;
        }
        out.push(
            Diagnostic::new(&INFO, format!("Cassandra {what} in `{}` is outside the peering mesh", site.id.value))
                .at(r.span(), format!("{what} here"))
                .also(site.peering.span(), "peering turned off here")
                .help(format!("set `peering = true` on `{}`", site.id.value))
                .note("pod addresses must be routable between clusters: datacenters gossip node to node, and the control plane calls every data-plane API server"),
        );
    }
}
