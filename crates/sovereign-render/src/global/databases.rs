//! `rds.tf` and `redis.tf`: the Aurora global database and the ElastiCache replication groups.

use super::*;

pub(super) fn rds(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
    let Some(pg) = &t.postgres else { return Ok(()) };
    let primary = t.site(&pg.primary);
    let mut f = File::new(&cx.header(
        "PostgreSQL: an Aurora global database, one member cluster per region with its own instances.\nCredentials only on the primary, from Secrets Manager. Logical replicas on Fly.io are in fly.tf.",
    ));
    // The master credentials as Secrets Manager holds them now (AWSCURRENT).
    f.add(current_secret_version("postgres", cx.region(primary)));
    f.add(
        Block::new("resource", &["aws_rds_global_cluster", "this"])
            .attr("region", s(cx.region(primary)))
            .attr(
                "global_cluster_identifier",
                s(names::rds_global_cluster(cx.project())),
            )
            .attr("engine", s("aurora-postgresql"))
            .attr("engine_version", s(&pg.engine_version))
            .attr("database_name", s(&pg.database_name))
            .attr("storage_encrypted", Expr::Bool(true))
            .attr("deletion_protection", Expr::Bool(pg.deletion_protection)),
    );
    let mut allowed: Vec<String> = cx
        .mesh_eks_sites()
        .iter()
        .flat_map(|x| cx.private_cidrs(x))
        .collect();
    for r in &pg.logical_replicas {
        for link in replica_links(cx, r) {
            for c in cx.private_cidrs(link.via) {
                if !allowed.contains(&c) {
                    allowed.push(c);
                }
            }
        }
    }
    for member in pg.members() {
        let site = t.site(member);
        let is_primary = site.aurora() == Some(AuroraRole::Primary);
        let own: Vec<String> = cx.private_cidrs(site);
        let mut cidrs = allowed.clone();
        if !site.aws.as_ref().is_some_and(|a| a.peering) {
            cidrs = own;
        }
        let mut m = module(&Database(&site.id).label(), "./modules/database")
            .attr("name", s(names::rds_cluster(cx.project(), &site.id)))
            .attr("region", s(cx.region(site)))
            .attr("role", s(if is_primary { "primary" } else { "secondary" }))
            .attr(
                "global_cluster_identifier",
                raw("aws_rds_global_cluster.this.id"),
            )
            .attr("engine_version", s(&pg.engine_version))
            .attr("instance_class", s(&pg.instance_class))
            .attr(
                "instance_count",
                int(pg.instances.get(member).copied().unwrap_or(1)),
            );
        if is_primary {
            m = m
                .attr("database_name", s(&pg.database_name))
                // The secret's current version, not the one Terraform wrote: a password rotated
                // with `put-secret-value` reaches the cluster on the next apply.
                .attr("master_username", raw("jsondecode(data.aws_secretsmanager_secret_version.postgres_current.secret_string).username"))
                .attr("master_password", raw("jsondecode(data.aws_secretsmanager_secret_version.postgres_current.secret_string).password"));
        }
        // Every member, not only today's writer: after a switchover the new writer must be able
        // to serve the logical replicas' subscriptions.
        m = m
            .attr(
                "logical_replication",
                Expr::Bool(!pg.logical_replicas.is_empty()),
            )
            .attr("vpc_id", Expr::from(Network(&site.id).vpc_id()))
            .attr(
                "subnet_ids",
                Expr::from(Network(&site.id).database_subnet_ids()),
            )
            .attr("allowed_cidrs", strs(cidrs))
            .attr("kms_key_arn", Expr::from(Network(&site.id).kms_key_arn()))
            .attr("backup_retention_days", int(pg.backup_retention_days))
            .attr("deletion_protection", Expr::Bool(pg.deletion_protection))
            .attr("tags", site_tags(&site.id));
        if !is_primary {
            m = m.attr(
                "depends_on",
                raw(format!("[module.{}]", Database(&primary.id).label())),
            );
        }
        f.add(m);
    }
    tree.add("rds.tf", f.render());
    Ok(())
}

pub(super) fn redis(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
    let Some(r) = &t.redis else { return Ok(()) };
    let global = r.mode == RedisMode::Global;
    let mut f = File::new(&cx.header(if global {
        "Cache: an ElastiCache global datastore: the primary replication group, the global group, and\nsecondaries that replicate from it (at most two other regions)."
    } else {
        "Cache: an independent ElastiCache replication group per site (Multi-AZ, encrypted, AUTH).\nThe application treats each cache as local."
    }));
    // The AUTH token as Secrets Manager holds it now (AWSCURRENT), as for Aurora: a token
    // rotated with `put-secret-value` reaches every group on the next apply, and ROTATE keeps the
    // old token valid beside the new one while clients move over.
    if let Some(home) = r.sites.first().map(|id| t.site(id)) {
        f.add(current_secret_version("redis", cx.region(home)));
    }
    // The global datastore's primary; `None` in regional mode.
    let primary = r.primary.as_ref().filter(|_| global);
    for id in &r.sites {
        let site = t.site(id);
        let mut m = module(&Cache(id).label(), "./modules/cache")
            .attr("name", s(names::elasticache_group(cx.project(), id)))
            .attr("region", s(cx.region(site)))
            .attr("engine_version", s(&r.engine_version))
            .attr("node_type", s(&r.node_type))
            .attr("replicas", int(r.replicas_per_site))
            .attr("maxmemory_policy", s(&r.maxmemory_policy));
        if primary.is_some_and(|p| p != id) {
            m = m.attr("global_secondary", Expr::Bool(true)).attr(
                "global_replication_group_id",
                raw("aws_elasticache_global_replication_group.this.global_replication_group_id"),
            );
        }
        m = m
            .attr(
                "auth_token",
                raw("data.aws_secretsmanager_secret_version.redis_current.secret_string"),
            )
            .attr("vpc_id", Expr::from(Network(id).vpc_id()))
            .attr("subnet_ids", Expr::from(Network(id).private_subnet_ids()))
            .attr("allowed_cidrs", strs(cx.private_cidrs(site)))
            .attr("kms_key_arn", Expr::from(Network(id).kms_key_arn()))
            .attr("tags", site_tags(id));
        f.add(m);
    }
    if let Some(primary) = primary {
        let p = t.site(primary);
        f.add(
            Block::new(
                "resource",
                &["aws_elasticache_global_replication_group", "this"],
            )
            .attr("region", s(cx.region(p)))
            .attr("global_replication_group_id_suffix", s(cx.project()))
            .attr(
                "global_replication_group_description",
                s(format!("{} cache", cx.project())),
            )
            .attr(
                "primary_replication_group_id",
                Expr::from(Cache(primary).replication_group_id()),
            ),
        );
    }
    tree.add("redis.tf", f.render());
    Ok(())
}
