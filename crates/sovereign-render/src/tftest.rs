//! `terraform test` files: invariants of the deployment stated as assertions on an apply with
//! mocked providers (nothing is created, no credential is needed). Each root that has them keeps
//! them in `tests/`; `terraform test` (or `tofu test`) in the root runs them.
//!
//! Mocks give computed values arbitrary content; where the configuration decodes or indexes a
//! computed value (a certificate's validation options, a cluster's CA, a secret's JSON), the
//! file sets it to something of the right shape, as the real service would.

use sovereign_check::{AuroraRole, SiteV};

use crate::global::{continent, edge_sites, latency_region};
use crate::hcl::{Block, Expr, File, map, raw, s, strs};
use crate::{Ctx, Tree};

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) {
    global(cx, tree);
    bootstrap(cx, tree);
}

fn assert(condition: String, message: String) -> Block {
    Block::new("assert", &[])
        .attr("condition", raw(condition))
        .attr("error_message", s(message))
}

fn global(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let mut f = File::new(&cx.header(
        "Invariants of the global root, asserted on an apply with mocked providers: `terraform test`\nin the root (no credentials, nothing created).",
    ));
    let edges: Vec<&SiteV> = edge_sites(cx).into_iter().map(|(s, _)| s).collect();
    let mut domains: Vec<String> = Vec::new();
    if let (Some(d), false) = (&t.dns, edges.is_empty()) {
        domains.push(d.api_fqdn());
        domains.extend(edges.iter().filter_map(|x| cx.site_fqdn(&x.id)));
    }
    let mut mock = Block::new("mock_provider", &["aws"]);
    if !domains.is_empty() {
        // What ACM asks of each name: every certificate's options, the test picks its own.
        let options: Vec<Expr> = domains
            .iter()
            .map(|d| {
                map([
                    ("domain_name", s(d)),
                    ("resource_record_name", s(format!("_mock.{d}."))),
                    ("resource_record_type", s("CNAME")),
                    ("resource_record_value", s("_mock.acm-validations.aws.")),
                ])
            })
            .collect();
        mock = mock.block(Block::new("mock_resource", &["aws_acm_certificate"]).attr(
            "defaults",
            map([("domain_validation_options", Expr::List(options))]),
        ));
    }
    if t.eks_sites().next().is_some() {
        mock = mock.block(Block::new("mock_resource", &["aws_eks_cluster"]).attr(
            "defaults",
            map([
                (
                    "certificate_authority",
                    Expr::List(vec![map([("data", s("bW9jaw=="))])]),
                ),
                (
                    "identity",
                    Expr::List(vec![map([(
                        "oidc",
                        Expr::List(vec![map([(
                            "issuer",
                            s("https://oidc.eks.eu-west-1.amazonaws.com/id/MOCK"),
                        )])]),
                    )])]),
                ),
            ]),
        ));
    }
    if t.postgres.is_some() {
        mock = mock.block(
            Block::new("mock_data", &["aws_secretsmanager_secret_version"]).attr(
                "defaults",
                map([(
                    "secret_string",
                    s(r#"{"username":"mock","password":"mock-password"}"#),
                )]),
            ),
        );
    }
    f.add(mock);
    if t.dns.is_some() {
        f.add(
            Block::new("override_data", &[])
                .attr("target", raw("data.terraform_remote_state.dns"))
                .attr(
                    "values",
                    map([(
                        "outputs",
                        map([
                            ("zone_id", s("Z00000000000000000000")),
                            ("name_servers", strs(["ns-1.example.net"])),
                        ]),
                    )]),
                ),
        );
    }
    if t.eks_sites().next().is_some() {
        f.add(Block::new("variables", &[]).attr("operator_cidrs", strs(["198.51.100.7/32"])));
    }

    let mut run = Block::new("run", &["deployment"]).attr("command", raw("apply"));
    if let Some(pg) = &t.postgres {
        run = run.block(assert(
            "length([for id, s in output.sites : id if try(s.postgres.role, null) == \"primary\"]) == 1".into(),
            "the global database has exactly one writer".into(),
        ));
        for member in pg.members() {
            run = run.block(assert(
                format!("aws_cloudwatch_metric_alarm.replication_lag_{member}.treat_missing_data == \"notBreaching\""),
                format!("{member}'s lag alarm stays quiet while {member} is the writer (only secondaries report lag)"),
            ));
        }
        let secondaries = t
            .sites
            .iter()
            .filter(|x| x.aurora() == Some(AuroraRole::Secondary))
            .count();
        run = run.block(assert(
            format!(
                "length([for id, s in output.sites : id if try(s.postgres.role, null) == \"secondary\"]) == {secondaries}"
            ),
            format!("the global database has {secondaries} secondary region(s)"),
        ));
    }
    if let Some(k) = &t.kubernetes {
        for site in t.eks_sites() {
            let id = &site.id;
            let zones = site.aws.as_ref().map_or(0, |a| a.subnets.zones.len());
            let names: Vec<String> = (1..=zones).map(|i| format!("\"on-demand-{i}\"")).collect();
            run = run.block(assert(
                format!(
                    "module.nodes_{id}.node_group_names == [{}]",
                    names.join(", ")
                ),
                format!("{id} has one on-demand node group in each of its {zones} zones"),
            ));
            if k.spot.is_some() {
                run = run.block(assert(
                    format!("module.spot_{id}.node_group_names == [\"spot\"]"),
                    format!("{id} has its Spot node group"),
                ));
            }
        }
    }
    if let (Some(d), true) = (&t.dns, t.application.is_some()) {
        // The API records `dns.tf` writes: every edge site under latency routing; the first
        // site of each continent under geolocation routing.
        let mut continents: Vec<&str> = Vec::new();
        for site in &edges {
            let id = &site.id;
            let region = latency_region(cx, site).unwrap_or_default();
            let has_record = match d.routing {
                sovereign_spec::Routing::Latency => true,
                sovereign_spec::Routing::Geolocation => {
                    let c = continent(&region);
                    let first = !continents.contains(&c);
                    continents.push(c);
                    first
                }
            };
            if !has_record {
                continue;
            }
            if site.health_check {
                run = run.block(assert(
                    format!("aws_route53_record.api_{id}.health_check_id == aws_route53_health_check.{id}.id"),
                    format!("the API record of {id} is withdrawn when {id}'s health check fails"),
                ));
            }
            if d.routing == sovereign_spec::Routing::Latency {
                run = run.block(assert(
                    format!("aws_route53_record.api_{id}.latency_routing_policy[0].region == \"{region}\""),
                    format!("users nearest {region} are answered with {id}"),
                ));
            }
        }
        if !domains.is_empty() {
            run = run.block(assert(
                format!(
                    "length(aws_route53_record.certificate_validation) == {}",
                    domains.len()
                ),
                "one validation record per certificate name, owned once".into(),
            ));
        }
    }
    f.add(run);
    tree.add("tests/deployment.tftest.hcl", f.render());
}

fn bootstrap(cx: &Ctx, tree: &mut Tree) {
    // A plan: the buckets cannot be destroyed (prevent_destroy), so a test cannot apply them.
    let mut f = File::new(&cx.header(
        "Invariants of the bootstrap root, asserted on a plan with mocked providers: `terraform test`\nin bootstrap/.",
    ));
    f.add(Block::new("mock_provider", &["aws"]));
    let mut run = Block::new("run", &["state"]).attr("command", raw("plan"));
    let bucket = &cx.t.state.bucket;
    run = run.block(assert(
        format!(
            "module.state_bucket.bucket == {}",
            crate::hcl::quote(bucket)
        ),
        "the state bucket is the one every backend names".into(),
    ));
    run = run.block(match crate::bootstrap::replica_region(cx) {
        Some(_) => assert(
            format!(
                "module.state_bucket.replica_bucket == {}",
                crate::hcl::quote(&sovereign_spec::names::state_replica_bucket(bucket))
            ),
            "the state is replicated to the failover region".into(),
        ),
        None => assert(
            "module.state_bucket.replica_bucket == null".into(),
            "one region: no replica".into(),
        ),
    });
    f.add(run);
    tree.add("bootstrap/tests/state.tftest.hcl", f.render());
}
