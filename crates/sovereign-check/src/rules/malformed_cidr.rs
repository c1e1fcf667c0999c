use ipnet::Ipv4Net;
use sovereign_spec::{Diagnostic, RuleInfo, Severity, Sp};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV040",
    name: "malformed_cidr",
    severity: Severity::Error,
    summary: "a value that is not an IPv4 CIDR block",
    doc: include_str!("malformed_cidr.md"),
};

/// Every CIDR the topology holds, with the key it comes from.
pub fn cidrs<'a>(cx: &Ctx<'a>) -> Vec<(&'a Sp<String>, &'static str)> {
    let mut out: Vec<(&Sp<String>, &'static str)> = cx
        .sites()
        .filter_map(|s| s.vpc_cidr.as_ref().map(|c| (c, "vpc_cidr")))
        .collect();
    out.extend(
        cx.t.kubernetes
            .public_access_cidrs
            .value
            .iter()
            .map(|c| (c, "kubernetes.public_access_cidrs")),
    );
    out
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for (cidr, key) in cidrs(cx) {
        if cidr.parse::<Ipv4Net>().is_ok() {
            continue;
        }
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "`{key}` value `{}` is not an IPv4 CIDR block",
                cidr.value.escape_debug()
            ),
        )
        .at(cidr.span(), "expected `a.b.c.d/n`");
        if let Ok(addr) = cidr.parse::<std::net::Ipv4Addr>() {
            d = d.help(format!(
                "add a prefix length: `\"{addr}/16\"` for a VPC, `\"{addr}/32\"` for one address"
            ));
        } else if cidr.contains(':') {
            d = d.help("IPv6 ranges are not supported here; give the IPv4 range");
        } else {
            d = d.help("write four numbers from 0 to 255 and a prefix length from 0 to 32, e.g. `\"10.1.0.0/16\"`");
        }
        out.push(d);
    }
}
