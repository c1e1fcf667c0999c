use sovereign_catalog::SupportPhase;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV090",
    name: "eks_version",
    severity: Severity::Error,
    summary: "a Kubernetes version EKS does not offer, or offers only in paid extended support",
    doc: include_str!("eks_version.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    if cx.eks_site_ids().is_empty() {
        return;
    }
    let v = &cx.t.kubernetes.version;
    let newest = cx.catalog.newest_standard_eks(cx.today);
    let upgrade = newest.map(|n| {
        format!(
            "use `version = \"{}\"` (standard support until {})",
            n.version,
            n.end_of_standard.map(|d| d.to_string()).unwrap_or_default()
        )
    });
    let Some(entry) = cx.catalog.eks_version(v) else {
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "unknown EKS Kubernetes version `{}`",
                v.value.escape_debug()
            ),
        )
        .at(v.span(), "not in the catalog");
        if let Some(u) = upgrade {
            d = d.help(u);
        }
        out.push(d);
        return;
    };
    let clusters = cx.eks_site_ids().len();
    let p = &cx.catalog.prices.global;
    match entry.phase(cx.today) {
        SupportPhase::Standard => {}
        SupportPhase::Unknown => out.push(
            Diagnostic::new(
                &INFO,
                format!("the support dates of EKS {} are not known", entry.version),
            )
            .severity(Severity::Warning)
            .at(v.span(), "dates unknown")
            .note(format!(
                "catalog: versions.toml ({}): {}",
                entry.provenance.status.as_str(),
                entry.provenance.source
            )),
        ),
        SupportPhase::Extended => {
            let extra = p.eks_extended_hour.usd - p.eks_standard_hour.usd;
            let hours = f64::from(cx.t.project.monthly_hours.value);
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "EKS {} is in extended support since {}: ${extra:.2} more per cluster-hour (${:.0} a month for {clusters} clusters)",
                    entry.version,
                    entry.end_of_standard.map(|d| d.to_string()).unwrap_or_default(),
                    extra * hours * clusters as f64
                ),
            )
            .severity(Severity::Warning)
            .at(v.span(), format!("extended support until {}", entry.end_of_extended.map(|d| d.to_string()).unwrap_or_default()));
            if let Some(u) = upgrade {
                d = d.help(u);
            }
            out.push(d.note(format!(
                "prices: {} (as of {})",
                p.eks_extended_hour.provenance.source, p.eks_extended_hour.provenance.as_of
            )));
        }
        SupportPhase::Unsupported => {
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "EKS {} is past all support (extended support ended {})",
                    entry.version,
                    entry
                        .end_of_extended
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                ),
            )
            .at(v.span(), "EKS no longer creates clusters at this version");
            if let Some(u) = upgrade {
                d = d.help(u);
            }
            out.push(d.note("at the end of extended support, EKS upgrades existing control planes automatically"));
        }
    }
}
