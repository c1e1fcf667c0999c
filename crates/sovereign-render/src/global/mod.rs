//! The global root: every AWS resource of every site, in one state (the seed's file names).

use sovereign_check::{AuroraRole, AwsSideV, LINK_GATEWAYS, LogicalReplicaV, SiteV};
use sovereign_spec::{NatMode, RedisMode, Routing, names};

use crate::hcl::{Block, Expr, File, int, map, raw, s, strs};
use crate::refs::{Cache, Database, Edge, Eks, Network, Ref};
use crate::{Ctx, RenderError, Tree};

mod alerting;
mod budgets;
mod databases;
mod dns;
mod edge;
mod fly_links;
mod kubernetes;
mod network;
mod outputs;
mod secrets;

pub(crate) use alerting::*;
use budgets::*;
use databases::*;
use dns::*;
pub(crate) use edge::*;
pub(crate) use fly_links::*;
use kubernetes::*;
use network::*;
use outputs::*;
pub(crate) use secrets::*;

pub(crate) const AWS_PROVIDER: (&str, &str) = ("hashicorp/aws", "~> 6.25");
pub(crate) const HELM_PROVIDER: (&str, &str) = ("hashicorp/helm", "~> 3.1");
pub(crate) const K8S_PROVIDER: (&str, &str) = ("hashicorp/kubernetes", "~> 2.38");
pub(crate) const REQUIRED_VERSION: &str = ">= 1.10.0";

fn module(label: &str, source: &str) -> Block {
    Block::new("module", &[label]).attr("source", s(source))
}

pub(crate) fn site_tags(site: &str) -> Expr {
    map([("sovereign:site", s(site))])
}

/// `terraform { required_version, required_providers, backend "s3" }`.
pub(crate) fn terraform_block(
    cx: &Ctx,
    providers: &[(&str, (&str, &str))],
    state_key: Option<&str>,
) -> Block {
    let mut rp = Block::new("required_providers", &[]);
    for (name, (source, version)) in providers {
        rp = rp.attr(
            name,
            map([("source", s(*source)), ("version", s(*version))]),
        );
    }
    let mut b = Block::new("terraform", &[])
        .attr("required_version", s(REQUIRED_VERSION))
        .block(rp);
    if let Some(key) = state_key {
        b = b.block(
            Block::new("backend", &["s3"])
                .attr("bucket", s(&cx.t.state.bucket))
                .attr("key", s(key))
                .attr("region", s(&cx.t.state.region))
                .attr("encrypt", Expr::Bool(true))
                // The bucket's own key (bootstrap creates it under this alias), not S3's.
                .attr("kms_key_id", s(format!("alias/{}", cx.t.state.bucket)))
                .attr("use_lockfile", Expr::Bool(true)),
        );
    }
    b
}

pub(crate) fn aws_provider(region: &str) -> Block {
    Block::new("provider", &["aws"])
        .attr("region", s(region))
        .block(Block::new("default_tags", &[]).attr("tags", raw("local.tags")))
}

pub(crate) fn tags_locals(cx: &Ctx) -> Block {
    let mut tags: Vec<(String, Expr)> =
        cx.t.project
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), s(v)))
            .collect();
    tags.push(("sovereign:project".into(), s(cx.project())));
    tags.push(("sovereign:environment".into(), s(&cx.t.project.environment)));
    Block::new("locals", &[]).attr("tags", Expr::Map(tags))
}

/// The Route 53 latency region of a site: its AWS region, or the AWS region whose latency stands
/// for its Fly.io region.
pub(crate) fn latency_region(cx: &Ctx, s: &SiteV) -> Option<String> {
    if let Some(a) = &s.aws {
        return Some(a.region.clone());
    }
    let fly = s.fly_region()?;
    cx.catalog
        .fly_region(fly)?
        .latency_proxy
        .as_ref()
        .map(|p| p.region.clone())
}

/// Route 53 continent code of an AWS region, for geolocation routing.
pub(crate) fn continent(region: &str) -> &'static str {
    match region {
        r if r.starts_with("eu-") => "EU",
        r if r.starts_with("us-") || r.starts_with("ca-") || r.starts_with("mx-") => "NA",
        r if r.starts_with("sa-") => "SA",
        r if r.starts_with("af-") => "AF",
        "ap-southeast-2" | "ap-southeast-4" | "ap-southeast-6" => "OC",
        _ => "AS",
    }
}

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
    let primary_region = t.state.region.clone();

    // main.tf
    let mut main = File::new(&cx.header(
        "Global root: every AWS resource of every site. Regional resources set `region` themselves\n(hashicorp/aws 6.x), so one provider serves all regions.",
    ));
    main.add(terraform_block(
        cx,
        &[("aws", AWS_PROVIDER)],
        Some(&cx.state_key("global")),
    ));
    main.add(aws_provider(&primary_region));
    main.add(tags_locals(cx));
    tree.add("main.tf", main.render());

    // variables.tf
    let mut vars = File::new(
        &cx.header("Inputs of the global root; every other value comes from the topology."),
    );
    if t.kubernetes.is_some() && t.eks_sites().next().is_some() {
        vars.add(
            Block::new("variable", &["operator_cidrs"])
                .attr("type", raw("list(string)"))
                .attr("description", s("Public ranges (CIDR) of the machines that apply the site and cassandra roots: their Helm and Kubernetes providers talk to every cluster's public API endpoint. Required: there is no range that works for everyone. Example: [\"198.51.100.7/32\"]."))
                .block(
                    Block::new("validation", &[])
                        .attr("condition", raw("length(var.operator_cidrs) > 0 && alltrue([for c in var.operator_cidrs : can(cidrhost(c, 0)) && !startswith(c, \"0.0.0.0/\")])"))
                        .attr("error_message", s("operator_cidrs needs at least one CIDR (not 0.0.0.0/0): the ranges of the machines that run terraform for the site roots.")),
                ),
        );
    }
    vars.add(
        Block::new("variable", &["admin_principal_arns"])
            .attr("type", raw("list(string)"))
            .attr("description", s("IAM roles or users given cluster-admin on every EKS cluster, besides the identity that applies."))
            .attr("default", Expr::List(vec![])),
    );
    for v in fly_variables() {
        vars.add(v);
    }
    if t.dns.is_some() {
        // The dns root's state is read here (the zone id).
        for v in crate::site_root::state_variables(cx) {
            vars.add(v);
        }
    }
    tree.add("variables.tf", vars.render());

    vpc(cx, tree);
    kubernetes(cx, tree);
    secrets(cx, tree);
    rds(cx, tree)?;
    redis(cx, tree)?;
    edge(cx, tree);
    dns(cx, tree);
    monitoring(cx, tree);
    budgets(cx, tree);
    fly_links(cx, tree)?;
    outputs(cx, tree);
    Ok(())
}
