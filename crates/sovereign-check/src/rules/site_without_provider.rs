use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV022",
    name: "site_without_provider",
    severity: Severity::Error,
    summary: "a site with neither an AWS side nor a Fly.io side",
    doc: include_str!("site_without_provider.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.sites() {
        if site.has_aws() || site.has_fly() {
            continue;
        }
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "site `{}` has no AWS region and no Fly.io region",
                    site.id.value
                ),
            )
            .at(site.id.span().or(site.span.clone()), "nothing can run here")
            .help("add `aws_region = \"...\"` with `vpc_cidr`, or `fly_region = \"...\"`, or both"),
        );
    }
}
