use ipnet::Ipv4Net;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::cidr::{plan, small_prefix};
use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV044",
    name: "cidr_too_small",
    severity: Severity::Error,
    summary: "a VPC range too small for the subnet plan, or outside AWS's /16 to /28",
    doc: include_str!("cidr_too_small.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let prefix = cx.t.network.subnet_prefix.value;
    for site in cx.aws_sites() {
        let Some(cidr) = &site.vpc_cidr else { continue };
        let Ok(net) = cidr.parse::<Ipv4Net>() else {
            continue;
        };
        let net = net.trunc();
        if !(16..=28).contains(&net.prefix_len()) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "VPC range `{net}` of site `{}` is a /{}; AWS VPCs are /16 to /28",
                        site.id.value,
                        net.prefix_len()
                    ),
                )
                .at(cidr.span(), "outside /16 to /28")
                .help(format!(
                    "use a /16 inside it, e.g. `\"{}/16\"`",
                    net.network()
                )),
            );
            continue;
        }
        let azs = cx.azs(site);
        if azs.is_empty() {
            continue;
        }
        if let Err(e) = plan(net, &azs, prefix) {
            let n = azs.len();
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "VPC range `{net}` of site `{}` cannot hold {n} private /{prefix} and {} public and database /{} subnets",
                    site.id.value,
                    2 * n,
                    small_prefix(prefix)
                ),
            )
            .at(cidr.span(), "too small");
            if let Some(p) = e.max_vpc_prefix.filter(|p| *p >= 16) {
                d = d.help(format!(
                    "use at least a /{p} (e.g. `\"{}/{p}\"`), or a longer `network.subnet_prefix`",
                    net.network()
                ));
            } else {
                d = d.help("use a longer `network.subnet_prefix` (smaller subnets) or fewer zones");
            }
            out.push(d.also(cx.t.network.subnet_prefix.span(), "subnet size set here"));
        }
    }
}
