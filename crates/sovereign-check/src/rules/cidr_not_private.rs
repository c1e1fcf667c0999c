use ipnet::Ipv4Net;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::cidr::is_private;
use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV042",
    name: "cidr_not_private",
    severity: Severity::Error,
    summary: "a VPC range outside the RFC 1918 private ranges",
    doc: include_str!("cidr_not_private.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.sites() {
        let Some(cidr) = &site.vpc_cidr else { continue };
        let Ok(net) = cidr.parse::<Ipv4Net>() else {
            continue;
        };
        if is_private(&net.trunc()) {
            continue;
        }
        out.push(
            Diagnostic::new(&INFO, format!("VPC range `{}` of site `{}` is not a private range", cidr.value, site.id.value))
                .at(cidr.span(), "not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
                .help("use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, different for every site")
                .note("a public range inside a VPC hides the real owners of those addresses from every workload in it"),
        );
    }
}
