use sovereign_spec::{Diagnostic, RuleInfo, Severity, Sp};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV050",
    name: "service_needs_aws",
    severity: Severity::Error,
    summary: "an AWS service placed on a site without an AWS side",
    doc: include_str!("service_needs_aws.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut check = |r: &Sp<String>, service: &str| {
        let Some(site) = cx.site(r) else { return };
        if site.has_aws() {
            return;
        }
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "{service} cannot run in site `{}`: it has no AWS side",
                site.id.value
            ),
        )
        .at(r.span(), format!("{service} placed here"))
        .also(site.id.span(), "this site has no `aws_region`");
        if site.has_fly() && service.starts_with("an Aurora") {
            d = d.help(format!(
                "Aurora cannot stream outside AWS: make `{}` a logical replica instead (`[[postgres.logical_replicas]] site = \"{}\"`)",
                site.id.value, site.id.value
            ));
        } else {
            d = d.help(
                "give the site an `aws_region` and `vpc_cidr`, or place the service elsewhere",
            );
        }
        out.push(d);
    };
    if let Some(list) = &cx.t.kubernetes.sites {
        for s in &list.value {
            check(s, "an EKS cluster");
        }
    }
    if let Some(pg) = &cx.t.postgres {
        for s in &pg.secondaries.value {
            check(s, "an Aurora secondary");
        }
    }
    if let Some(r) = &cx.t.redis
        && let Some(list) = &r.sites
    {
        for s in &list.value {
            check(s, "an ElastiCache replication group");
        }
    }
}
