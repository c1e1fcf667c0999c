use ipnet::Ipv4Net;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV045",
    name: "public_endpoint_open",
    severity: Severity::Warning,
    summary: "the Kubernetes API's public endpoint is open to the whole internet",
    doc: include_str!("public_endpoint_open.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for cidr in &cx.t.kubernetes.public_access_cidrs.value {
        let Ok(net) = cidr.parse::<Ipv4Net>() else {
            continue;
        };
        if net.prefix_len() <= 8 {
            out.push(
                Diagnostic::new(&INFO, format!("`{}` opens the Kubernetes API's public endpoint to {}", cidr.value, if net.prefix_len() == 0 { "the whole internet".to_string() } else { format!("a /{} of the internet", net.prefix_len()) }))
                    .at(cidr.span(), "too wide")
                    .help("list the ranges your operators and CI come from, or `[]` to keep the API private"),
            );
        }
    }
}
