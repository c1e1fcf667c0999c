use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV072",
    name: "cassandra_placement",
    severity: Severity::Error,
    summary: "a Cassandra datacenter or the k8ssandra control plane on a site without EKS, or two datacenters in one site",
    doc: include_str!("cassandra_placement.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(c) = &cx.t.cassandra else { return };
    if c.datacenters.is_empty() {
        out.push(
            Diagnostic::new(&INFO, "`[cassandra]` has no datacenters")
                .at(c.span.clone(), "no `[[cassandra.datacenters]]`")
                .help("add `[[cassandra.datacenters]]` tables, or remove `[cassandra]`"),
        );
    }
    for (i, dc) in c.datacenters.iter().enumerate() {
        if let Some(first) = c.datacenters[..i]
            .iter()
            .find(|d| d.site.value == dc.site.value)
        {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("site `{}` has two Cassandra datacenters", dc.site.value),
                )
                .at(dc.site.span(), "second datacenter")
                .also(first.site.span(), "first datacenter")
                .help("one datacenter per site; size it with `nodes`"),
            );
        }
        if cx.known(&dc.site) && !cx.is_eks(&dc.site) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "Cassandra datacenter in `{}` has no EKS cluster to run on",
                        dc.site.value
                    ),
                )
                .at(dc.site.span(), "datacenter here")
                .help("k8ssandra runs Cassandra as pods: the site needs EKS (`kubernetes.sites`)"),
            );
        }
    }
    if cx.known(&c.control_plane) && !cx.is_eks(&c.control_plane) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "the k8ssandra control plane in `{}` has no EKS cluster to run on",
                    c.control_plane.value
                ),
            )
            .at(c.control_plane.span(), "control plane here")
            .help("choose a site with EKS"),
        );
    }
}
