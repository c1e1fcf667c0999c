//! `loadbalancer.tf`: the public edge of every serving AWS site (load balancer, certificate, WAF),
//! and the Fly.io names that serve.

use super::*;

/// Sites with a public load balancer: serving EKS sites, when DNS (and so TLS) is configured.
pub(crate) fn edge_sites<'a>(cx: &'a Ctx) -> Vec<(&'a SiteV, &'a AwsSideV)> {
    cx.t.api_sites()
        .into_iter()
        .filter(|s| s.has_eks())
        .filter_map(|s| Some((s, s.aws.as_ref()?)))
        .collect()
}

/// Serving sites reached through Fly.io: serving, with a Fly region, without EKS.
pub(crate) fn fly_serving_sites<'a>(cx: &'a Ctx) -> Vec<&'a SiteV> {
    if cx.t.application.is_none() {
        return Vec::new();
    }
    cx.t.sites
        .iter()
        .filter(|s| s.serves() && !s.has_eks() && s.fly_region().is_some())
        .collect()
}

/// The names DNS points at Fly.io: the API name (one of its latency or geolocation answers) and
/// the name of every Fly.io-served site. Fly.io must hold a certificate for each
/// (`fly/deploy.sh apps` asks for it, `fly/deploy.sh certs` waits for it).
pub(crate) fn fly_served_names(cx: &Ctx) -> Vec<String> {
    let (Some(d), sites) = (&cx.t.dns, fly_serving_sites(cx)) else {
        return Vec::new();
    };
    if sites.is_empty() {
        return Vec::new();
    }
    std::iter::once(d.api_fqdn())
        .chain(sites.iter().filter_map(|x| cx.site_fqdn(&x.id)))
        .collect()
}

pub(super) fn edge(cx: &Ctx, tree: &mut Tree) {
    let (Some(app), Some(dns)) = (&cx.t.application, &cx.t.dns) else {
        return;
    };
    let sites = edge_sites(cx);
    if sites.is_empty() {
        return;
    }
    let mut f = File::new(&cx.header(
        "Traffic: an Application Load Balancer per serving site, with TLS, WAF and access logs; the\napplication's pods are bound to its target group from the site root.",
    ));
    for (site, a) in sites {
        f.add(
            module(&Edge(&site.id).label(), "./modules/edge")
                .attr("name", s(names::load_balancer(cx.project(), &site.id)))
                .attr("region", s(&a.region))
                .attr("vpc_id", Expr::from(Network(&site.id).vpc_id()))
                .attr("vpc_cidr", s(a.vpc_cidr.to_string()))
                .attr(
                    "public_subnet_ids",
                    Expr::from(Network(&site.id).public_subnet_ids()),
                )
                .attr(
                    "target_security_group_id",
                    Expr::from(Eks(&site.id).cluster_security_group_id()),
                )
                .attr("app_port", int(app.port))
                .attr("health_path", s(&app.health_path))
                .attr(
                    "domain_names",
                    strs([dns.api_fqdn(), cx.site_fqdn(&site.id).unwrap_or_default()]),
                )
                .attr(
                    "validation_record_fqdns",
                    Expr::List(
                        [dns.api_fqdn(), cx.site_fqdn(&site.id).unwrap_or_default()]
                            .iter()
                            .map(|d| {
                                raw(format!(
                                    "aws_route53_record.certificate_validation[{}].fqdn",
                                    crate::hcl::quote(d)
                                ))
                            })
                            .collect(),
                    ),
                )
                .attr(
                    "log_bucket_name",
                    s(names::log_bucket(cx.project(), &site.id)),
                )
                .attr("kms_key_arn", Expr::from(Network(&site.id).kms_key_arn()))
                .attr("tags", site_tags(&site.id)),
        );
    }
    tree.add("loadbalancer.tf", f.render());
}

pub(crate) fn fly_app_name(cx: &Ctx, app: &str) -> String {
    format!("{}-{app}", cx.project())
}
