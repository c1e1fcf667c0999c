use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV051",
    name: "service_needs_fly",
    severity: Severity::Error,
    summary: "a Fly.io workload on a site without a Fly.io region, or an application site with nowhere to run",
    doc: include_str!("service_needs_fly.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    if let Some(pg) = &cx.t.postgres {
        for r in &pg.logical_replicas {
            let Some(site) = cx.site(&r.site) else {
                continue;
            };
            if site.has_fly() {
                continue;
            }
            let mut d = Diagnostic::new(
                &INFO,
                format!("logical replica in `{}` runs on Fly Machines, but the site has no `fly_region`", site.id.value),
            )
            .at(r.site.span(), "placed here")
            .also(site.id.span(), "this site has no Fly.io side");
            if site.has_aws() {
                d = d.help(format!("an AWS site reads from Aurora directly: add `\"{}\"` to `postgres.secondaries` instead", site.id.value));
            } else {
                d = d.help("add `fly_region` to the site");
            }
            out.push(d);
        }
    }
    if let Some(app) = &cx.t.application
        && let Some(list) = &app.sites
    {
        for s in &list.value {
            let Some(site) = cx.site(s) else { continue };
            if cx.is_eks(&site.id) || site.has_fly() {
                continue;
            }
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("the application cannot run in `{}`: the site has no EKS cluster and no Fly.io region", site.id.value),
                )
                .at(s.span(), "serving site")
                .help("run EKS there (`kubernetes.sites`) or give it a `fly_region`"),
            );
        }
    }
}
