use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV130",
    name: "monitoring_site",
    severity: Severity::Error,
    summary: "the global Prometheus and Grafana placed on a site without EKS",
    doc: include_str!("monitoring_site.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let eks = cx.eks_site_ids();
    if eks.is_empty() {
        return;
    }
    let m = &cx.t.monitoring;
    if let Some(site) = &m.global_site
        && cx.known(site)
        && !eks.contains(&site.as_str())
    {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "the global Prometheus cannot run in `{}`: the site has no EKS cluster",
                    site.value
                ),
            )
            .at(site.span(), "monitoring site")
            .help(format!(
                "choose a site with EKS: {}",
                eks.iter()
                    .map(|s| format!("`\"{s}\"`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    if m.retention_days.value == 0 {
        out.push(
            Diagnostic::new(&INFO, "Prometheus retention of 0 days keeps nothing")
                .at(m.retention_days.span(), "must be at least 1")
                .help("use 15 (the kube-prometheus-stack default is 10)"),
        );
    }
}
