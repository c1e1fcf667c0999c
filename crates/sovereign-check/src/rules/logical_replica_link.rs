use sovereign_spec::{Diagnostic, RuleInfo, Severity, Span};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV064",
    name: "logical_replica_link",
    severity: Severity::Error,
    summary: "a logical replica without a usable private link to the primary",
    doc: include_str!("logical_replica_link.md"),
};

/// Private link kinds Sovereign can render.
pub const LINKS: &[&str] = &["wireguard"];

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    for r in &pg.logical_replicas {
        let anchor: Option<Span> = r.span.clone().or(r.site.span());
        match &r.link {
            None => out.push(
                Diagnostic::new(&INFO, format!("logical replica in `{}` has no private link", r.site.value))
                    .at(anchor.clone(), "this replica")
                    .help(format!(
                        "add `link = \"wireguard\"` and `via = \"{}\"`: a WireGuard peer in that site's VPC forwards to the Aurora writer",
                        pg.primary.value
                    ))
                    .note("the subscriber connects to the Aurora writer endpoint, which is reachable only inside AWS"),
            ),
            Some(link) if !LINKS.contains(&link.as_str()) => out.push(
                Diagnostic::new(&INFO, format!("private link `{}` is not supported", link.value.escape_debug()))
                    .at(link.span(), "unknown link kind")
                    .help(format!("supported: {}", LINKS.iter().map(|l| format!("`\"{l}\"`")).collect::<Vec<_>>().join(", "))),
            ),
            Some(_) => {}
        }
        if r.link.is_some() {
            match &r.via {
                None => out.push(
                    Diagnostic::new(
                        &INFO,
                        format!(
                            "logical replica in `{}` has a link but no `via` site",
                            r.site.value
                        ),
                    )
                    .at(anchor, "this replica")
                    .help(format!(
                        "add `via = \"{}\"`: the AWS site whose VPC terminates the link",
                        pg.primary.value
                    )),
                ),
                Some(via) => {
                    if let Some(site) = cx.site(via) {
                        if !site.has_aws() {
                            out.push(
                                Diagnostic::new(
                                    &INFO,
                                    format!(
                                        "`via` site `{}` has no VPC to terminate the link",
                                        via.value
                                    ),
                                )
                                .at(via.span(), "not an AWS site")
                                .help(format!(
                                    "use an AWS site peered with the primary, e.g. `\"{}\"`",
                                    pg.primary.value
                                )),
                            );
                        } else if cx.azs(site).len() < 2 {
                            // The link has two gateways in two zones: one zone is one failure.
                            out.push(
                                Diagnostic::new(
                                    &INFO,
                                    format!(
                                        "`via` site `{}` has one availability zone; the link's two gateways need two",
                                        via.value
                                    ),
                                )
                                .at(via.span(), "one zone")
                                .help("list two or more `availability_zones` for that site, or choose another `via` site"),
                            );
                        } else if via.value != pg.primary.value && !site.peering.value {
                            out.push(
                                Diagnostic::new(&INFO, format!("`via` site `{}` is outside the peering mesh, so it cannot reach the primary", via.value))
                                    .at(via.span(), "not peered")
                                    .help(format!("use `via = \"{}\"` or set `peering = true` on `{}`", pg.primary.value, via.value)),
                            );
                        }
                    }
                }
            }
        }
    }
}
