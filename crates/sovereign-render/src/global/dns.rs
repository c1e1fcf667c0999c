//! `dns.tf`: the API records (latency or geolocation routing), health checks and the Fly.io
//! records.

use super::*;

pub(super) fn dns(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let Some(d) = &t.dns else { return };
    let mut f = File::new(&cx.header(&format!(
        "DNS: {} records for the API name with a health check per site so a failed site drops out, a\nname per site, and the certificates' validation records. The zone is the dns root's.",
        match d.routing {
            Routing::Latency => "latency",
            Routing::Geolocation => "geolocation",
        }
    )));
    // The zone itself lives in the dns root, applied (and delegated) before this one: the
    // certificates below validate through it.
    f.add(crate::site_root::remote_state(cx, "dns", "dns"));
    f.add(Block::new("locals", &[]).attr(
        "public_zone_id",
        raw("data.terraform_remote_state.dns.outputs.zone_id"),
    ));
    // Certificate validation: ACM asks every certificate of an account for one domain to prove
    // it with the same CNAME (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html),
    // so each domain's record is created once here and every region's certificate waits on it.
    // The keys are the domain names, known when rendering; only the records' contents wait for
    // the certificates (Terraform cannot plan a for_each whose keys are unknown).
    let edges: Vec<&SiteV> = edge_sites(cx).into_iter().map(|(s, _)| s).collect();
    if let (Some(first), true) = (edges.first(), t.application.is_some()) {
        let mut domains: Vec<(String, Expr)> = vec![(
            d.api_fqdn(),
            Expr::from(Edge(&first.id).domain_validation_options()),
        )];
        for x in &edges {
            domains.push((
                cx.site_fqdn(&x.id).unwrap_or_default(),
                Expr::from(Edge(&x.id).domain_validation_options()),
            ));
        }
        let pick = |field: &str| {
            raw(format!(
                "one([for o in each.value : o.{field} if o.domain_name == each.key])"
            ))
        };
        f.add(
            Block::new(
                "resource",
                &["aws_route53_record", "certificate_validation"],
            )
            .attr("for_each", Expr::Map(domains))
            .blank()
            .attr("zone_id", raw("local.public_zone_id"))
            .attr("name", pick("resource_record_name"))
            .attr("type", pick("resource_record_type"))
            .attr("ttl", int(300))
            .attr("records", Expr::List(vec![pick("resource_record_value")])),
        );
    }

    let api = d.api_fqdn();
    let mut taken_continents: Vec<&str> = Vec::new();
    let routing = |b: Block, region: &str, taken: &mut Vec<&'static str>| -> Option<Block> {
        match d.routing {
            Routing::Latency => {
                Some(b.block(Block::new("latency_routing_policy", &[]).attr("region", s(region))))
            }
            Routing::Geolocation => {
                let c = continent(region);
                if taken.contains(&c) {
                    return None;
                }
                taken.push(c);
                Some(b.block(Block::new("geolocation_routing_policy", &[]).attr("continent", s(c))))
            }
        }
    };
    let mut default_target: Option<String> = None;
    for (site, _) in edge_sites(cx) {
        let fqdn = cx.site_fqdn(&site.id).unwrap_or_default();
        let with_check = site.health_check;
        if with_check {
            f.add(
                Block::new("resource", &["aws_route53_health_check", &site.id])
                    .attr("fqdn", s(&fqdn))
                    .attr("type", s("HTTPS"))
                    .attr("port", int(443))
                    .attr(
                        "resource_path",
                        s(cx.t
                            .application
                            .as_ref()
                            .map(|a| a.health_path.clone())
                            .unwrap_or_default()),
                    )
                    .attr("request_interval", int(d.health_check_interval_seconds))
                    .attr("failure_threshold", int(d.health_check_failure_threshold))
                    .attr("measure_latency", Expr::Bool(true))
                    .attr(
                        "tags",
                        map([
                            ("Name", s(format!("{}-{}", cx.project(), site.id))),
                            ("sovereign:site", s(&site.id)),
                        ]),
                    ),
            );
        }
        let alias = || {
            Block::new("alias", &[])
                .attr("name", Expr::from(Edge(&site.id).dns_name()))
                .attr("zone_id", Expr::from(Edge(&site.id).zone_id()))
                .attr("evaluate_target_health", Expr::Bool(true))
        };
        f.add(
            Block::new(
                "resource",
                &["aws_route53_record", &format!("site_{}", site.id)],
            )
            .attr("zone_id", raw("local.public_zone_id"))
            .attr("name", s(&fqdn))
            .attr("type", s("A"))
            .block(alias()),
        );
        let region = cx.region(site).to_string();
        let mut rec = Block::new(
            "resource",
            &["aws_route53_record", &format!("api_{}", site.id)],
        )
        .attr("zone_id", raw("local.public_zone_id"))
        .attr("name", s(&api))
        .attr("type", s("A"))
        .attr("set_identifier", s(&site.id));
        if with_check {
            rec = rec.attr(
                "health_check_id",
                raw(format!("aws_route53_health_check.{}.id", site.id)),
            );
        }
        if let Some(rec) = routing(rec.block(alias()), &region, &mut taken_continents) {
            f.add(rec);
        }
        if default_target.is_none() || site.aurora() == Some(AuroraRole::Primary) {
            default_target = Some(site.id.to_string());
        }
    }
    fly_records(cx, &mut f, &routing, &mut taken_continents);
    if d.routing == Routing::Geolocation
        && let Some(target) = default_target
    {
        f.add(
            Block::new("resource", &["aws_route53_record", "api_default"])
                .comment("Geolocation needs a default for places no continent record covers.")
                .attr("zone_id", raw("local.public_zone_id"))
                .attr("name", s(&api))
                .attr("type", s("A"))
                .attr("set_identifier", s("default"))
                .block(Block::new("geolocation_routing_policy", &[]).attr("country", s("*")))
                .block(
                    Block::new("alias", &[])
                        .attr("name", Expr::from(Edge(&target).dns_name()))
                        .attr("zone_id", Expr::from(Edge(&target).zone_id()))
                        .attr("evaluate_target_health", Expr::Bool(true)),
                ),
        );
    }

    tree.add("dns.tf", f.render());
}

/// Continents a geolocation record set already answers.
pub(super) type Taken = Vec<&'static str>;

/// Adds the topology's routing policy to an API record for a region (None: the continent is
/// answered already).
pub(super) type RoutingPolicy<'a> = &'a dyn Fn(Block, &str, &mut Taken) -> Option<Block>;

/// The records of the Fly.io-served sites, created once `fly/deploy.sh apps` has written the
/// app's addresses and certificate validation records (fly.auto.tfvars.json):
///
/// - per site, a health check of the site's own name over HTTPS with SNI, through the app's
///   address: it passes only while Fly.io serves that name with a certificate and the
///   application answers, so a failing site leaves the API name's answers (Route 53 does not
///   validate certificates, but Fly.io refuses the handshake for a name it has none for).
///   Fly.io's anycast routes each checker to the closest healthy machine of the app, so the check
///   watches the app and its certificate; Fly.io's own machine checks (fly.toml) keep traffic
///   away from a failed machine inside a region;
/// - the site's name, A and AAAA; the API name's A answer for the site, with the health check;
///   its AAAA answer only when no load balancer shares the API name: they answer IPv4 only, and
///   a lone AAAA answer would send every IPv6 client to Fly.io whatever its latency;
/// - the certificates' validation records Fly.io reported: `_acme-challenge.<name>` CNAMEs
///   (DNS-01, so issuance does not wait for traffic) and the ownership TXT records.
pub(super) fn fly_records(
    cx: &Ctx,
    f: &mut File,
    routing: RoutingPolicy,
    taken_continents: &mut Taken,
) {
    let Some(d) = &cx.t.dns else { return };
    let api = d.api_fqdn();
    let health_path =
        cx.t.application
            .as_ref()
            .map(|a| a.health_path.clone())
            .unwrap_or_default();
    let api_aaaa = edge_sites(cx).is_empty();
    let mut taken_v6: Taken = Vec::new();
    let when_v4 = || raw("var.fly_ipv4 == \"\" ? 0 : 1");
    let when_v6 = || raw("var.fly_ipv6 == \"\" ? 0 : 1");
    let skip = "checkov:skip=CKV2_AWS_23:points at the Fly.io application's anycast address; Fly.io is outside AWS";
    for site in fly_serving_sites(cx) {
        let Some(fqdn) = cx.site_fqdn(&site.id) else {
            continue;
        };
        let Some(region) = latency_region(cx, site) else {
            continue;
        };
        f.add(
            Block::new("resource", &["aws_route53_health_check", &site.id])
                .comment("Fly.io site: probes the name it serves, over HTTPS with SNI (see fly_records in the renderer).")
                .attr("count", when_v4())
                .attr("ip_address", raw("var.fly_ipv4"))
                .attr("fqdn", s(&fqdn))
                .attr("type", s("HTTPS"))
                .attr("port", int(443))
                .attr("enable_sni", Expr::Bool(true))
                .attr("resource_path", s(&health_path))
                .attr("request_interval", int(d.health_check_interval_seconds))
                .attr("failure_threshold", int(d.health_check_failure_threshold))
                .attr("measure_latency", Expr::Bool(true))
                .attr(
                    "tags",
                    map([
                        ("Name", s(format!("{}-{}", cx.project(), site.id))),
                        ("sovereign:site", s(&site.id)),
                    ]),
                ),
        );
        for (kind, var, when) in [
            ("A", "fly_ipv4", when_v4()),
            ("AAAA", "fly_ipv6", when_v6()),
        ] {
            let label = if kind == "A" {
                format!("site_{}", site.id)
            } else {
                format!("site_{}_ipv6", site.id)
            };
            f.add(
                Block::new("resource", &["aws_route53_record", &label])
                    .comment(skip)
                    .attr("count", when)
                    .attr("zone_id", raw("local.public_zone_id"))
                    .attr("name", s(&fqdn))
                    .attr("type", s(kind))
                    .attr("ttl", int(d.ttl_seconds))
                    .attr("records", raw(format!("[var.{var}]"))),
            );
        }
        let api_record = |label: String, kind: &str, var: &str, when: Expr| {
            Block::new("resource", &["aws_route53_record", &label])
                .comment(skip)
                .attr("count", when)
                .attr("zone_id", raw("local.public_zone_id"))
                .attr("name", s(&api))
                .attr("type", s(kind))
                .attr("ttl", int(d.ttl_seconds))
                .attr("records", raw(format!("[var.{var}]")))
                .attr("set_identifier", s(&site.id))
                .attr(
                    "health_check_id",
                    raw(format!("aws_route53_health_check.{}[0].id", site.id)),
                )
        };
        // The AAAA answer needs the health check, which exists with the IPv4 address.
        if let Some(rec) = routing(
            api_record(format!("api_{}", site.id), "A", "fly_ipv4", when_v4()),
            &region,
            taken_continents,
        ) {
            f.add(rec);
        }
        if api_aaaa
            && let Some(rec) = routing(
                api_record(
                    format!("api_{}_ipv6", site.id),
                    "AAAA",
                    "fly_ipv6",
                    raw("var.fly_ipv4 == \"\" || var.fly_ipv6 == \"\" ? 0 : 1"),
                ),
                &region,
                &mut taken_v6,
            )
        {
            f.add(rec);
        }
    }
    let names = fly_served_names(cx);
    if names.is_empty() {
        return;
    }
    let list = format!(
        "[{}]",
        names
            .iter()
            .map(|n| crate::hcl::quote(n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    f.add(
        Block::new("resource", &["aws_route53_record", "fly_acme_challenge"])
            .comment("Fly.io's DNS-01 challenge of each Fly.io-served name: a CNAME to the target `fly certs show` reports.")
            .attr(
                "for_each",
                raw(format!(
                    "{{ for name in {list} : name => var.fly_certificates[name].acme_challenge_target if try(var.fly_certificates[name].acme_challenge_target, \"\") != \"\" }}"
                )),
            )
            .blank()
            .attr("zone_id", raw("local.public_zone_id"))
            .attr("name", raw("\"_acme-challenge.${each.key}\""))
            .attr("type", s("CNAME"))
            .attr("ttl", int(300))
            .attr("records", raw("[each.value]")),
    );
    f.add(
        Block::new("resource", &["aws_route53_record", "fly_ownership"])
            .comment("Fly.io's ownership check of each Fly.io-served name: the TXT record `fly certs show` reports (under the name itself).")
            .attr(
                "for_each",
                raw(format!(
                    "{{ for name in {list} : name => var.fly_certificates[name] if try(var.fly_certificates[name].ownership_value, \"\") != \"\" && endswith(try(var.fly_certificates[name].ownership_name, \"\"), \".${{name}}\") }}"
                )),
            )
            .blank()
            .attr("zone_id", raw("local.public_zone_id"))
            .attr("name", raw("each.value.ownership_name"))
            .attr("type", s("TXT"))
            .attr("ttl", int(300))
            .attr("records", raw("[each.value.ownership_value]")),
    );
}

/// The Fly.io inputs of the global root: the app's addresses and its certificates' validation
/// records, which `fly/deploy.sh apps` writes to fly.auto.tfvars.json.
pub(super) fn fly_variables() -> Vec<Block> {
    vec![
        Block::new("variable", &["fly_ipv4"])
            .attr("type", raw("string"))
            .attr("description", s("IPv4 address of the Fly.io application; `fly/deploy.sh apps` writes it to fly.auto.tfvars.json. Empty: no DNS records for Fly.io sites yet."))
            .attr("default", s("")),
        Block::new("variable", &["fly_ipv6"])
            .attr("type", raw("string"))
            .attr(
                "description",
                s("IPv6 address of the Fly.io application, written by `fly/deploy.sh apps`. Empty: no AAAA records for Fly.io sites yet."),
            )
            .attr("default", s("")),
        Block::new("variable", &["fly_certificates"])
            .attr("type", raw("map(object({\n    acme_challenge_target = string\n    ownership_name        = string\n    ownership_value       = string\n  }))"))
            .attr("description", s("Per Fly.io-served name, the records that validate its Fly.io certificate, as `fly certs show --json` reports them (`dns_requirements.acme_challenge.target`, `dns_requirements.ownership.name` and `.app_value`); `fly/deploy.sh apps` writes them to fly.auto.tfvars.json. Names the topology does not point at Fly.io are ignored; empty values create no record."))
            .attr("default", raw("{}"))
            .block(
                Block::new("validation", &[])
                    .attr("condition", raw("alltrue([for name, c in var.fly_certificates : can(regex(\"^([A-Za-z0-9_-]+\\\\.)+[A-Za-z0-9_-]+\\\\.?$\", c.acme_challenge_target)) || c.acme_challenge_target == \"\"])"))
                    .attr("error_message", s("fly_certificates: an acme_challenge_target is not a DNS name.")),
            ),
    ]
}
