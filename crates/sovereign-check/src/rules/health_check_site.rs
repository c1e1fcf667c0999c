use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV131",
    name: "health_check_site",
    severity: Severity::Error,
    summary: "a DNS health check for a site with no endpoint to check",
    doc: include_str!("health_check_site.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(dns) = &cx.t.dns else { return };
    let Some(list) = &dns.health_checks else {
        return;
    };
    let serving = cx.serving_site_ids();
    for s in &list.value {
        if !cx.known(s) || serving.contains(&s.as_str()) {
            continue;
        }
        let mut d = Diagnostic::new(
            &INFO,
            format!("site `{}` has no endpoint for a DNS health check", s.value),
        )
        .at(s.span(), "health check here");
        if cx.t.application.is_none() {
            d = d.help("health checks probe the application's endpoints: add an `[application]`");
        } else {
            d = d.help("the application does not serve from this site: add it to `application.sites`, or remove the check");
        }
        out.push(
            d.note("a health check needs a load balancer (EKS sites) or a Fly.io app to probe"),
        );
    }
}
