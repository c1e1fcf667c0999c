//! `vpc.tf`: one VPC per AWS site (subnets in every zone) and the peering mesh.

use super::*;

pub(super) fn vpc(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let mut f = File::new(&cx.header(
        "Network: one VPC per AWS site with public, private and database subnets in every zone, and\nthe peering mesh between them with routes both ways.",
    ));
    for (site, a) in t.aws_sites() {
        let zones = Expr::List(
            a.subnets
                .zones
                .iter()
                .map(|z| {
                    map([
                        ("az_id", s(&z.az)),
                        ("public", s(z.public.to_string())),
                        ("private", s(z.private.to_string())),
                        ("database", s(z.database.to_string())),
                    ])
                })
                .collect(),
        );
        let mut m = module(&Network(&site.id).label(), "./modules/region")
            .attr("name", s(cx.prefix(&site.id)))
            .attr("region", s(&a.region))
            .attr("vpc_cidr", s(a.vpc_cidr.to_string()))
            .attr(
                "single_nat_gateway",
                Expr::Bool(t.network.nat_gateways == NatMode::Single),
            )
            .attr(
                "flow_log_retention_days",
                int(t.network.flow_log_retention_days),
            );
        if site.has_eks() {
            m = m.attr("cluster_name", s(cx.eks_name(&site.id)));
        }
        f.add(m.attr("zones", zones).attr("tags", site_tags(&site.id)));
    }
    for ((a, a_aws), (b, b_aws)) in t.peering_pairs() {
        let side = |x: &SiteV, aws: &AwsSideV| {
            map([
                ("region", s(&aws.region)),
                ("vpc_id", Expr::from(Network(&x.id).vpc_id())),
                ("cidr", s(aws.vpc_cidr.to_string())),
                (
                    "route_table_ids",
                    raw(format!(
                        "concat({}, [{}])",
                        Network(&x.id).private_route_table_ids(),
                        Network(&x.id).database_route_table_id()
                    )),
                ),
            ])
        };
        f.add(
            module(&format!("peering_{}_{}", a.id, b.id), "./modules/peering")
                .attr("name", s(format!("{}-{}-{}", cx.project(), a.id, b.id)))
                .attr("requester", side(a, a_aws))
                .attr("accepter", side(b, b_aws))
                .attr(
                    "tags",
                    map([("sovereign:peering", s(format!("{}-{}", a.id, b.id)))]),
                ),
        );
    }
    tree.add("vpc.tf", f.render());
}
