use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV073",
    name: "control_plane_hosts_dc",
    severity: Severity::Warning,
    summary: "the k8ssandra control plane shares its cluster with a Cassandra datacenter",
    doc: include_str!("control_plane_hosts_dc.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(c) = &cx.t.cassandra else { return };
    if let Some(dc) = c
        .datacenters
        .iter()
        .find(|d| d.site.value == c.control_plane.value)
    {
        let free = cx
            .eks_site_ids()
            .into_iter()
            .find(|s| !c.datacenters.iter().any(|d| d.site.as_str() == *s));
        let mut d = Diagnostic::new(
            &INFO,
            format!("the k8ssandra control plane in `{}` also hosts a datacenter", c.control_plane.value),
        )
        .at(c.control_plane.span(), "control plane")
        .also(dc.site.span(), "datacenter in the same cluster")
        .note("the K8ssandra docs advise against running a datacenter in the control-plane cluster: losing it takes the controller and a datacenter at once");
        if let Some(free) = free {
            d = d.help(format!(
                "move the control plane to a cluster without a datacenter, e.g. `\"{free}\"`"
            ));
        }
        out.push(d);
    }
}
