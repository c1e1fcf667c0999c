//! `fly.tf`: the private links of the Fly.io logical replicas (WireGuard gateways in AWS VPCs).

use super::*;

/// The gateways of every logical replica's link, one per zone of the `via` site, named as
/// modules/fly-link names them. Two: a gateway or a zone can fail without stopping replication.
pub(crate) const FLY_LINK_GATEWAYS: [&str; LINK_GATEWAYS] = ["a", "b"];

/// The gateways of the standby link, through the Aurora successor's VPC: the replica's
/// subscription lists them after `a` and `b`, so it reaches the writer when `via`'s region is
/// down. Named apart from the first link's: the output lists every gateway of a replica in one map.
pub(crate) const FLY_STANDBY_GATEWAYS: [&str; LINK_GATEWAYS] = ["c", "d"];

/// One private link of a logical replica: the site whose VPC terminates it, the module that
/// renders it (its address in the global root), its name (AWS resources and Fly.io peers
/// `<name>-<gateway>`) and its gateways.
pub(crate) struct ReplicaLink<'a> {
    pub via: &'a SiteV,
    pub module: String,
    pub name: String,
    pub gateways: &'static [&'static str],
}

/// The links of a logical replica: through `via`, then through the successor when there is one.
pub(crate) fn replica_links<'a>(cx: &Ctx<'a>, r: &LogicalReplicaV) -> Vec<ReplicaLink<'a>> {
    let t = cx.t;
    let mut links: Vec<ReplicaLink<'a>> = t
        .find_site(&r.via)
        .map(|via| ReplicaLink {
            via,
            module: format!("fly_link_{}", r.site),
            name: fly_link_name(cx, &r.site),
            gateways: &FLY_LINK_GATEWAYS,
        })
        .into_iter()
        .collect();
    if let Some(standby) = r.standby_via.as_ref().and_then(|id| t.find_site(id)) {
        links.push(ReplicaLink {
            via: standby,
            module: format!("fly_link_{}_{}", r.site, standby.id),
            name: format!("{}-{}", fly_link_name(cx, &r.site), standby.id),
            gateways: &FLY_STANDBY_GATEWAYS,
        });
    }
    links
}

pub(super) fn fly_links(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
    let Some(pg) = &t.postgres else {
        return Ok(());
    };
    if pg.logical_replicas.is_empty() {
        return Ok(());
    }
    let mut f = File::new(&cx.header(
        "Fly.io: the private links PostgreSQL logical replicas on Fly Machines use to reach the Aurora\nwriter: per replica, two gateways in two zones of the `via` site's VPC and, when the topology\nnames a successor, two more in the successor's (its link serves when `via`'s region is down);\neach gateway is its own WireGuard peer of the Fly.io network, and the replica's subscription\nlists them all. The Fly.io apps themselves are deployed by fly/deploy.sh: Fly.io has no\nmaintained Terraform provider.",
    ));
    for r in &pg.logical_replicas {
        for link in replica_links(cx, r) {
            f.add(fly_link_module(cx, r, &link)?);
        }
    }
    tree.add("fly.tf", f.render());
    Ok(())
}

/// The `fly-link` module of one link: one gateway per zone of its site, in the zones' order.
pub(super) fn fly_link_module(
    cx: &Ctx,
    r: &LogicalReplicaV,
    link: &ReplicaLink,
) -> Result<Block, RenderError> {
    let via = link.via;
    let zones = via
        .aws
        .as_ref()
        .map(|a| a.subnets.zones.as_slice())
        .unwrap_or_default();
    if zones.len() < link.gateways.len() {
        return Err(RenderError(format!(
            "the link of the logical replica in `{}` needs {} availability zones in `{}` (one gateway in each), which has {}",
            r.site,
            link.gateways.len(),
            via.id,
            zones.len()
        )));
    }
    // `private_subnet_ids` is in the zones' order.
    let gateways = link
        .gateways
        .iter()
        .zip(zones)
        .enumerate()
        .map(|(i, (name, z))| {
            (
                name.to_string(),
                map([
                    (
                        "subnet_id",
                        Expr::from(Network(&via.id).private_subnet_ids().index(i)),
                    ),
                    ("zone_id", s(&z.az)),
                ]),
            )
        })
        .collect();
    Ok(module(&link.module, "./modules/fly-link")
        .attr("name", s(&link.name))
        .attr("region", s(cx.region(via)))
        .attr("vpc_id", Expr::from(Network(&via.id).vpc_id()))
        .attr("gateways", Expr::Map(gateways))
        .attr("upstream_host", raw("aws_rds_global_cluster.this.endpoint"))
        .attr("kms_key_arn", Expr::from(Network(&via.id).kms_key_arn()))
        .attr(
            "tags",
            map([
                ("sovereign:site", s(&r.site)),
                ("sovereign:via", s(&via.id)),
            ]),
        ))
}

/// The link of a logical replica, e.g. `global-sovereign-jnb-link`; its gateways' Fly.io peers
/// are `<link>-a`, `<link>-b`.
pub(crate) fn fly_link_name(cx: &Ctx, site: &str) -> String {
    format!("{}-{site}-link", cx.project())
}

/// Every gateway of a replica's links, in one map (their names differ between links).
pub(super) fn merged_gateways(cx: &Ctx, r: &LogicalReplicaV) -> String {
    let parts: Vec<String> = replica_links(cx, r)
        .iter()
        .map(|l| format!("module.{}.gateways", l.module))
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("merge({})", parts.join(", ")),
    }
}

pub(crate) fn fly_pg_app(cx: &Ctx, site: &str) -> String {
    format!("{}-pg-{site}", cx.project())
}
