use ipnet::Ipv4Net;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV041",
    name: "cidr_host_bits",
    severity: Severity::Error,
    summary: "a CIDR block with host bits set",
    doc: include_str!("cidr_host_bits.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for (cidr, key) in super::malformed_cidr::cidrs(cx) {
        let Ok(net) = cidr.parse::<Ipv4Net>() else {
            continue;
        };
        let fixed = net.trunc();
        if fixed == net {
            continue;
        }
        out.push(
            Diagnostic::new(
                &INFO,
                format!("`{key}` value `{}` has host bits set", cidr.value),
            )
            .at(
                cidr.span(),
                format!("the network of this range is `{fixed}`"),
            )
            .help(format!("write `\"{fixed}\"`")),
        );
    }
}
