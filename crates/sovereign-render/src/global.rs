//! The global root: every AWS resource of every site, in one state (the seed's file names).

use sovereign_check::{AuroraRole, AwsSideV, LINK_GATEWAYS, LogicalReplicaV, SiteV};
use sovereign_spec::{NatMode, RedisMode, Routing, names};

use crate::hcl::{Block, Expr, File, int, map, raw, s, strs};
use crate::{Ctx, RenderError, Tree};

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

fn vpc(cx: &Ctx, tree: &mut Tree) {
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
        let mut m = module(&format!("network_{}", site.id), "./modules/region")
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
                ("vpc_id", raw(format!("module.network_{}.vpc_id", x.id))),
                ("cidr", s(aws.vpc_cidr.to_string())),
                (
                    "route_table_ids",
                    raw(format!(
                        "concat(module.network_{0}.private_route_table_ids, [module.network_{0}.database_route_table_id])",
                        x.id
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

fn kubernetes(cx: &Ctx, tree: &mut Tree) {
    let Some(k) = &cx.t.kubernetes else { return };
    let mut f = File::new(&cx.header(
        "Kubernetes: one EKS cluster per site with its ON_DEMAND managed node group. Spot groups are in\nspot.tf; the cluster autoscaler and the application's autoscaler run from the site roots.",
    ));
    let mut spot = File::new(&cx.header(
        "Spot capacity: a SPOT managed node group per cluster, spread over interchangeable instance\ntypes; EKS drains Spot nodes when AWS reclaims them.",
    ));
    let mesh = cx.mesh_eks_sites();
    for (site, a, _) in cx.t.clusters() {
        // One range per peered VPC, not one per subnet: the rules are peers × port ranges on
        // one security group, whose default quota is 60 inbound rules (SOV046 counts them).
        let peers: Vec<String> = mesh
            .iter()
            .filter(|o| o.id != site.id && a.peering)
            .filter_map(|o| o.aws.as_ref().map(|oa| oa.vpc_cidr.to_string()))
            .collect();
        let mut groups = vec![format!("module.nodes_{}.node_group_names", site.id)];
        if k.spot.is_some() {
            groups.push(format!("module.spot_{}.node_group_names", site.id));
        }
        f.add(
            module(&format!("eks_{}", site.id), "./modules/eks")
                .attr("name", s(cx.eks_name(&site.id)))
                .attr("region", s(&a.region))
                .attr("kubernetes_version", s(&k.version))
                .attr("extended_support", Expr::Bool(k.extended_support))
                .attr(
                    "subnet_ids",
                    raw(format!("module.network_{}.private_subnet_ids", site.id)),
                )
                .attr("public_access_cidrs", api_access(cx, site))
                .attr(
                    "kms_key_arn",
                    raw(format!("module.network_{}.kms_key_arn", site.id)),
                )
                .attr("admin_principal_arns", raw("var.admin_principal_arns"))
                .attr("peer_cidrs", strs(peers))
                .attr(
                    "node_group_names",
                    raw(format!("concat({})", groups.join(", "))),
                )
                .attr("tags", site_tags(&site.id)),
        );
        // On-demand nodes run the pods with zonal volumes (Cassandra, Prometheus): one group per
        // zone, so the autoscaler can replace a node in its volume's zone. Spot nodes run
        // stateless pods and take capacity from any zone.
        let group = |label: &str, name: &str, capacity: &str, g: &sovereign_check::NodeGroupV| {
            module(&format!("{label}_{}", site.id), "./modules/node-group")
                .attr("name", s(name))
                .attr("one_group_per_zone", Expr::Bool(capacity == "ON_DEMAND"))
                .attr("region", s(&a.region))
                .attr(
                    "cluster_name",
                    raw(format!("module.eks_{}.cluster_name", site.id)),
                )
                .attr(
                    "node_role_arn",
                    raw(format!("module.eks_{}.node_role_arn", site.id)),
                )
                .attr(
                    "subnet_ids",
                    raw(format!("module.network_{}.private_subnet_ids", site.id)),
                )
                .attr("capacity_type", s(capacity))
                .attr_opt("ami_type", g.ami_type.map(s))
                .attr("instance_types", strs(g.instance_types.iter().cloned()))
                .attr("min_size", int(g.min_size))
                .attr("desired_size", int(g.desired_size))
                .attr("max_size", int(g.max_size))
                .attr("disk_size_gib", int(g.disk_size_gib))
                .attr(
                    "kms_key_arn",
                    raw(format!("module.network_{}.kms_key_arn", site.id)),
                )
                .attr("tags", site_tags(&site.id))
        };
        f.add(group("nodes", "on-demand", "ON_DEMAND", &k.on_demand));
        if let Some(g) = &k.spot {
            spot.add(group("spot", "spot", "SPOT", g));
        }
    }
    tree.add("kubernetes.tf", f.render());
    if !spot.is_empty() {
        tree.add("spot.tf", spot.render());
    }
}

/// Who may reach a cluster's public API endpoint: the operator's machines (a required
/// variable), the ranges the topology adds, and, on a Cassandra datacenter's cluster, the
/// k8ssandra control plane, whose operator calls it from its site's NAT gateways.
fn api_access(cx: &Ctx, site: &SiteV) -> Expr {
    let Some(k) = &cx.t.kubernetes else {
        return Expr::List(vec![]);
    };
    let mut parts = vec!["var.operator_cidrs".to_string()];
    if !k.public_access_cidrs.is_empty() {
        let listed: Vec<String> = k
            .public_access_cidrs
            .iter()
            .map(|c| crate::hcl::quote(c))
            .collect();
        parts.push(format!("[{}]", listed.join(", ")));
    }
    if let Some(c) = &cx.t.cassandra
        && site.has_cassandra_dc()
        && c.control_plane != site.id
    {
        parts.push(format!(
            "formatlist(\"%s/32\", module.network_{}.nat_public_ips)",
            c.control_plane
        ));
    }
    if parts.len() == 1 {
        raw(parts.remove(0))
    } else {
        raw(format!("concat({})", parts.join(", ")))
    }
}

/// Secrets Manager names, shared with the site roots.
pub(crate) fn postgres_secret_name(cx: &Ctx) -> String {
    format!("{}/postgres/master", cx.project())
}

pub(crate) fn redis_secret_name(cx: &Ctx) -> String {
    format!("{}/redis/auth", cx.project())
}

/// The PostgreSQL roles Sovereign creates besides the master user (charts/postgres-roles): the
/// logical replicas subscribe as the first, the exporters log in as the second.
pub(crate) const REPLICATOR_ROLE: &str = "sovereign_replicator";
pub(crate) const MONITOR_ROLE: &str = "sovereign_monitor";

pub(crate) fn postgres_replicator_secret_name(cx: &Ctx) -> String {
    format!("{}/postgres/replicator", cx.project())
}

pub(crate) fn postgres_monitor_secret_name(cx: &Ctx) -> String {
    format!("{}/postgres/monitor", cx.project())
}

/// The EKS site whose cluster runs the Job that creates the roles and the publication on the
/// Aurora writer (charts/postgres-roles), and whose exporter watches the writer's replication
/// slots: the primary's, or when the primary has no cluster, the first Aurora secondary with
/// one in the peering mesh (the writer's security group admits the mesh).
pub(crate) fn postgres_roles_site<'a>(cx: &'a Ctx) -> Option<&'a SiteV> {
    let pg = cx.t.postgres.as_ref()?;
    let primary = cx.t.find_site(&pg.primary)?;
    if primary.has_eks() {
        return Some(primary);
    }
    cx.mesh_eks_sites()
        .into_iter()
        .find(|s| s.aurora().is_some())
}

/// The credentials of the replication and the monitoring roles: generated by Secrets Manager
/// like the master's, in the primary's region, replicated to the regions that read them. The
/// monitoring role is read by every site's exporter and by the roles Job; the replication role
/// by the roles Job and, through fly/deploy.sh, by the logical replicas, in their `via` region.
fn postgres_role_secrets(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    let (Some(pg), Some(home), Some(job)) = (
        &t.postgres,
        t.postgres.as_ref().and_then(|p| t.find_site(&p.primary)),
        postgres_roles_site(cx),
    ) else {
        return;
    };
    let mut roles: Vec<(&str, &str, String, Vec<&SiteV>, &str)> = vec![(
        "postgres_monitor",
        MONITOR_ROLE,
        postgres_monitor_secret_name(cx),
        t.sites
            .iter()
            .filter(|x| x.id == job.id || (x.has_eks() && x.aurora().is_some()))
            .collect(),
        "PostgreSQL monitoring role (pg_monitor) the exporters log in as (JSON: username, password)",
    )];
    if !pg.logical_replicas.is_empty() {
        roles.push((
            "postgres_replicator",
            REPLICATOR_ROLE,
            postgres_replicator_secret_name(cx),
            t.sites
                .iter()
                .filter(|x| {
                    x.id == job.id
                        || pg
                            .logical_replicas
                            .iter()
                            .any(|r| r.link_sites().any(|l| *l == x.id))
                })
                .collect(),
            "PostgreSQL replication role (rds_replication, SELECT on the published tables) the Fly.io logical replicas subscribe as (JSON: username, password)",
        ));
    }
    for (label, role, name, readers, what) in roles {
        let region = cx.region(home);
        f.add(
            Block::new("data", &["aws_secretsmanager_random_password", label])
                .attr("region", s(region))
                .attr("password_length", int(40))
                .attr("exclude_punctuation", Expr::Bool(true)),
        );
        let mut sec = Block::new("resource", &["aws_secretsmanager_secret", label])
            .comment("checkov:skip=CKV2_AWS_57:the role's password is set in the database by the postgres-roles Job of the primary's site root; rotate with `aws secretsmanager put-secret-value`, then apply that site root (and run fly/deploy.sh postgres for the replication role)")
            .attr("region", s(region))
            .attr("name", s(&name))
            .attr("description", s(what))
            .attr("kms_key_id", raw(format!("module.network_{}.kms_key_arn", home.id)))
            .attr("recovery_window_in_days", int(30));
        for r in readers
            .iter()
            .filter(|r| r.id != home.id && r.aws.is_some())
        {
            sec = sec.block(
                Block::new("replica", &[])
                    .attr("region", s(cx.region(r)))
                    .attr(
                        "kms_key_id",
                        raw(format!("module.network_{}.kms_key_arn", r.id)),
                    ),
            );
        }
        f.add(sec);
        f.add(
            Block::new("resource", &["aws_secretsmanager_secret_version", label])
                .attr("region", s(region))
                .attr(
                    "secret_id",
                    raw(format!("aws_secretsmanager_secret.{label}.id")),
                )
                .attr(
                    "secret_string",
                    raw(format!(
                        "jsonencode({{ username = {}, password = data.aws_secretsmanager_random_password.{label}.random_password }})",
                        crate::hcl::quote(role)
                    )),
                )
                .block(Block::new("lifecycle", &[]).attr("ignore_changes", raw("[secret_string]"))),
        );
    }
}

fn secrets(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let mut f = File::new(&cx.header(
        "Credentials: generated once by AWS (Secrets Manager), kept in Secrets Manager with a replica in\nevery region that reads them, never written in this tree. `ignore_changes` keeps the first value.",
    ));
    let mut any = false;
    let mut secret = |label: &str,
                      name: String,
                      home: &SiteV,
                      readers: Vec<&SiteV>,
                      value: &str,
                      what: &str| {
        let region = cx.region(home);
        f.add(
            Block::new("data", &["aws_secretsmanager_random_password", label])
                .attr("region", s(region))
                .attr("password_length", int(40))
                .attr("exclude_punctuation", Expr::Bool(true)),
        );
        let mut sec = Block::new("resource", &["aws_secretsmanager_secret", label])
            .comment("checkov:skip=CKV2_AWS_57:a rotation function would have to update the running cluster too; rotate with `aws secretsmanager put-secret-value`, then apply: the cluster reads the secret's current version")
            .attr("region", s(region))
            .attr("name", s(&name))
            .attr("description", s(what))
            .attr("kms_key_id", raw(format!("module.network_{}.kms_key_arn", home.id)))
            .attr("recovery_window_in_days", int(30));
        for r in readers.iter().filter(|r| r.id != home.id) {
            sec = sec.block(
                Block::new("replica", &[])
                    .attr("region", s(cx.region(r)))
                    .attr(
                        "kms_key_id",
                        raw(format!("module.network_{}.kms_key_arn", r.id)),
                    ),
            );
        }
        f.add(sec);
        f.add(
            Block::new("resource", &["aws_secretsmanager_secret_version", label])
                .attr("region", s(region))
                .attr(
                    "secret_id",
                    raw(format!("aws_secretsmanager_secret.{label}.id")),
                )
                .attr("secret_string", raw(value))
                .block(Block::new("lifecycle", &[]).attr("ignore_changes", raw("[secret_string]"))),
        );
    };
    if let Some(pg) = &t.postgres
        && let Some(primary) = t.find_site(&pg.primary)
    {
        let readers: Vec<&SiteV> = t
            .sites
            .iter()
            // The master credentials are read in the primary's region (the global root) and by
            // the roles Job; the other Aurora regions keep a copy for a promoted writer. The
            // exporters and the logical replicas have roles of their own.
            .filter(|x| {
                x.aurora().is_some() || postgres_roles_site(cx).is_some_and(|j| j.id == x.id)
            })
            .filter(|x| x.aws.is_some())
            .collect();
        secret(
            "postgres",
            postgres_secret_name(cx),
            primary,
            readers,
            &format!(
                "jsonencode({{ username = {}, password = data.aws_secretsmanager_random_password.postgres.random_password }})",
                crate::hcl::quote(&pg.master_username)
            ),
            "Master user of the Aurora global database (JSON: username, password)",
        );
        any = true;
    }
    if let Some(r) = &t.redis
        && let Some(home) = r.sites.first().and_then(|id| t.find_site(id))
    {
        let readers: Vec<&SiteV> = t.sites.iter().filter(|x| x.has_cache()).collect();
        secret(
            "redis",
            redis_secret_name(cx),
            home,
            readers,
            "data.aws_secretsmanager_random_password.redis.random_password",
            "AUTH token of the ElastiCache groups",
        );
        any = true;
    }
    if t.postgres.is_some() {
        postgres_role_secrets(cx, &mut f);
    }
    if any {
        tree.add("secrets.tf", f.render());
    }
}

fn rds(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
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
        let mut m = module(&format!("database_{}", site.id), "./modules/database")
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
            .attr("vpc_id", raw(format!("module.network_{}.vpc_id", site.id)))
            .attr(
                "subnet_ids",
                raw(format!("module.network_{}.database_subnet_ids", site.id)),
            )
            .attr("allowed_cidrs", strs(cidrs))
            .attr(
                "kms_key_arn",
                raw(format!("module.network_{}.kms_key_arn", site.id)),
            )
            .attr("backup_retention_days", int(pg.backup_retention_days))
            .attr("deletion_protection", Expr::Bool(pg.deletion_protection))
            .attr("tags", site_tags(&site.id));
        if !is_primary {
            m = m.attr(
                "depends_on",
                raw(format!("[module.database_{}]", primary.id)),
            );
        }
        f.add(m);
    }
    tree.add("rds.tf", f.render());
    Ok(())
}

/// `data.aws_secretsmanager_secret_version.<name>_current`: the secret `name` (secrets.tf) as
/// Secrets Manager holds it now, so a value rotated with `put-secret-value` reaches its reader
/// on the next apply (the resource version keeps the first value: `ignore_changes`).
fn current_secret_version(name: &str, region: &str) -> Block {
    Block::new(
        "data",
        &[
            "aws_secretsmanager_secret_version",
            &format!("{name}_current"),
        ],
    )
    .attr("region", s(region))
    .attr(
        "secret_id",
        raw(format!("aws_secretsmanager_secret.{name}.id")),
    )
    .attr(
        "depends_on",
        raw(format!("[aws_secretsmanager_secret_version.{name}]")),
    )
}

fn redis(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
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
        let mut m = module(&format!("cache_{id}"), "./modules/cache")
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
            .attr("vpc_id", raw(format!("module.network_{id}.vpc_id")))
            .attr(
                "subnet_ids",
                raw(format!("module.network_{id}.private_subnet_ids")),
            )
            .attr("allowed_cidrs", strs(cx.private_cidrs(site)))
            .attr(
                "kms_key_arn",
                raw(format!("module.network_{id}.kms_key_arn")),
            )
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
                raw(format!("module.cache_{primary}.replication_group_id")),
            ),
        );
    }
    tree.add("redis.tf", f.render());
    Ok(())
}

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

fn edge(cx: &Ctx, tree: &mut Tree) {
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
            module(&format!("edge_{}", site.id), "./modules/edge")
                .attr("name", s(names::load_balancer(cx.project(), &site.id)))
                .attr("region", s(&a.region))
                .attr("vpc_id", raw(format!("module.network_{}.vpc_id", site.id)))
                .attr("vpc_cidr", s(a.vpc_cidr.to_string()))
                .attr(
                    "public_subnet_ids",
                    raw(format!("module.network_{}.public_subnet_ids", site.id)),
                )
                .attr(
                    "target_security_group_id",
                    raw(format!("module.eks_{}.cluster_security_group_id", site.id)),
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
                .attr(
                    "kms_key_arn",
                    raw(format!("module.network_{}.kms_key_arn", site.id)),
                )
                .attr("tags", site_tags(&site.id)),
        );
    }
    tree.add("loadbalancer.tf", f.render());
}

fn dns(cx: &Ctx, tree: &mut Tree) {
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
            raw(format!(
                "module.edge_{}.domain_validation_options",
                first.id
            )),
        )];
        for x in &edges {
            domains.push((
                cx.site_fqdn(&x.id).unwrap_or_default(),
                raw(format!("module.edge_{}.domain_validation_options", x.id)),
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
                .attr("name", raw(format!("module.edge_{}.dns_name", site.id)))
                .attr("zone_id", raw(format!("module.edge_{}.zone_id", site.id)))
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
                        .attr("name", raw(format!("module.edge_{target}.dns_name")))
                        .attr("zone_id", raw(format!("module.edge_{target}.zone_id")))
                        .attr("evaluate_target_health", Expr::Bool(true)),
                ),
        );
    }

    tree.add("dns.tf", f.render());
}

/// Continents a geolocation record set already answers.
type Taken = Vec<&'static str>;

/// Adds the topology's routing policy to an API record for a region (None: the continent is
/// answered already).
type RoutingPolicy<'a> = &'a dyn Fn(Block, &str, &mut Taken) -> Option<Block>;

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
fn fly_records(cx: &Ctx, f: &mut File, routing: RoutingPolicy, taken_continents: &mut Taken) {
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
fn fly_variables() -> Vec<Block> {
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

pub(crate) fn fly_app_name(cx: &Ctx, app: &str) -> String {
    format!("{}-{app}", cx.project())
}

fn monitoring(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let mut f = File::new(&cx.header(
        "Monitoring, AWS side: the internal load balancer every site's Prometheus remote-writes to, the\nprivate zone with its name, and CloudWatch alarms on Aurora replication lag and on the global\nPrometheus itself, with email notifications.",
    ));
    let mut any = false;
    if let Some((gs, a, _)) = t.monitoring_cluster() {
        let sources: Vec<String> = cx
            .mesh_eks_sites()
            .iter()
            .flat_map(|x| cx.private_cidrs(x))
            .collect();
        let region = a.region.clone();
        f.add(
            Block::new("resource", &["aws_security_group", "prometheus"])
                .attr("region", s(&region))
                .attr("name_prefix", s(format!("{}-prometheus-", cx.project())))
                .attr(
                    "description",
                    s("global Prometheus remote-write receiver: the sites' private ranges"),
                )
                .attr("vpc_id", raw(format!("module.network_{}.vpc_id", gs.id)))
                .attr("tags", site_tags(&gs.id))
                .block(
                    Block::new("lifecycle", &[]).attr("create_before_destroy", Expr::Bool(true)),
                ),
        );
        f.add(
            Block::new(
                "resource",
                &["aws_vpc_security_group_ingress_rule", "prometheus"],
            )
            .attr(
                "for_each",
                Expr::Raw(format!("toset({})", list_text(&sources))),
            )
            .attr("region", s(&region))
            .attr("security_group_id", raw("aws_security_group.prometheus.id"))
            .attr("description", raw("\"remote write from ${each.value}\""))
            .attr("cidr_ipv4", raw("each.value"))
            .attr("ip_protocol", s("tcp"))
            .attr("from_port", int(9090))
            .attr("to_port", int(9090)),
        );
        f.add(
            Block::new(
                "resource",
                &["aws_vpc_security_group_egress_rule", "prometheus"],
            )
            .attr("region", s(&region))
            .attr("security_group_id", raw("aws_security_group.prometheus.id"))
            .attr("description", s("to the Prometheus pods"))
            .attr("cidr_ipv4", s(a.vpc_cidr.to_string()))
            .attr("ip_protocol", s("tcp"))
            .attr("from_port", int(9090))
            .attr("to_port", int(9090)),
        );
        f.add(
            Block::new(
                "resource",
                &["aws_vpc_security_group_ingress_rule", "prometheus_pods"],
            )
            .attr("region", s(&region))
            .attr(
                "security_group_id",
                raw(format!("module.eks_{}.cluster_security_group_id", gs.id)),
            )
            .attr(
                "description",
                s("Prometheus from its internal load balancer"),
            )
            .attr(
                "referenced_security_group_id",
                raw("aws_security_group.prometheus.id"),
            )
            .attr("ip_protocol", s("tcp"))
            .attr("from_port", int(9090))
            .attr("to_port", int(9090)),
        );
        f.add(
            Block::new("resource", &["aws_lb", "prometheus"])
                .comment("checkov:skip=CKV_AWS_91:network load balancers log only TLS listeners; this one forwards plain TCP inside the peering mesh")
                .attr("region", s(&region))
                .attr("name", s(format!("{}-prom", truncate(cx.project(), 27))))
                .attr("load_balancer_type", s("network"))
                .attr("internal", Expr::Bool(true))
                .attr("subnets", raw(format!("module.network_{}.private_subnet_ids", gs.id)))
                .attr("security_groups", raw("[aws_security_group.prometheus.id]"))
                .attr("enable_deletion_protection", Expr::Bool(true))
                .attr("enable_cross_zone_load_balancing", Expr::Bool(true))
                .attr("tags", site_tags(&gs.id)),
        );
        f.add(
            Block::new("resource", &["aws_lb_target_group", "prometheus"])
                .attr("region", s(&region))
                .attr("name_prefix", s("prom-"))
                .attr("target_type", s("ip"))
                .attr("protocol", s("TCP"))
                .attr("port", int(9090))
                .attr("vpc_id", raw(format!("module.network_{}.vpc_id", gs.id)))
                .attr("tags", site_tags(&gs.id))
                .block(
                    Block::new("health_check", &[])
                        .attr("protocol", s("HTTP"))
                        .attr("path", s("/-/ready"))
                        .attr("port", s("traffic-port")),
                )
                .block(
                    Block::new("lifecycle", &[]).attr("create_before_destroy", Expr::Bool(true)),
                ),
        );
        f.add(
            Block::new("resource", &["aws_lb_listener", "prometheus"])
                .comment("checkov:skip=CKV_AWS_2:remote write stays on the VPC peering mesh, which AWS encrypts between regions; Prometheus speaks plain HTTP to its receiver")
                .attr("region", s(&region))
                .attr("load_balancer_arn", raw("aws_lb.prometheus.arn"))
                .attr("port", int(9090))
                .attr("protocol", s("TCP"))
                .block(
                    Block::new("default_action", &[])
                        .attr("type", s("forward"))
                        .attr("target_group_arn", raw("aws_lb_target_group.prometheus.arn")),
                ),
        );
        // The private zone every VPC resolves internal names in: the global Prometheus's name.
        let mut zone = Block::new("resource", &["aws_route53_zone", "internal"])
            .attr("name", s(cx.internal_zone()))
            .attr(
                "comment",
                s("internal names of the sites (global Prometheus)"),
            );
        for (site, a) in t.aws_sites() {
            zone = zone.block(
                Block::new("vpc", &[])
                    .attr("vpc_id", raw(format!("module.network_{}.vpc_id", site.id)))
                    .attr("vpc_region", s(&a.region)),
            );
        }
        f.add(zone);
        f.add(
            Block::new("resource", &["aws_route53_record", "prometheus"])
                .attr("zone_id", raw("aws_route53_zone.internal.zone_id"))
                .attr("name", s(format!("prometheus.{}", cx.internal_zone())))
                .attr("type", s("A"))
                .block(
                    Block::new("alias", &[])
                        .attr("name", raw("aws_lb.prometheus.dns_name"))
                        .attr("zone_id", raw("aws_lb.prometheus.zone_id"))
                        .attr("evaluate_target_health", Expr::Bool(false)),
                ),
        );
        any = true;
    }
    // An alert topic in every AWS site with a cluster or a database: CloudWatch alarms and the
    // site's Alertmanager publish to it; the budget recipients are subscribed.
    let recipients = t
        .budgets
        .as_ref()
        .map(|b| b.recipients.clone())
        .unwrap_or_default();
    for site in alert_sites(cx) {
        let id = &site.id;
        let region = cx.region(site).to_string();
        f.add(
            Block::new("resource", &["aws_sns_topic", &format!("alerts_{id}")])
                .attr("region", s(&region))
                .attr("name", s(format!("{}-alerts", cx.project())))
                .attr(
                    "kms_master_key_id",
                    raw(format!("module.network_{id}.kms_key_arn")),
                )
                .attr("tags", site_tags(id)),
        );
        for (i, email) in recipients.iter().enumerate() {
            f.add(
                Block::new(
                    "resource",
                    &[
                        "aws_sns_topic_subscription",
                        &format!("alerts_{id}_{}", i + 1),
                    ],
                )
                .attr("region", s(&region))
                .attr("topic_arn", raw(format!("aws_sns_topic.alerts_{id}.arn")))
                .attr("protocol", s("email"))
                .attr("endpoint", s(email)),
            );
        }
        any = true;
    }
    // The watcher of the watchers: the global Prometheus evaluates every rule and its
    // Alertmanager sends every notification, so its own death would be silent. CloudWatch
    // watches the load balancer in front of it: no healthy target (Prometheus not ready) for
    // five minutes, or no data at all, notifies the monitoring site's topic.
    if let Some((gs, a, _)) = t.monitoring_cluster() {
        f.add(
            Block::new("resource", &["aws_cloudwatch_metric_alarm", "prometheus_unhealthy"])
                .attr("region", s(&a.region))
                .attr("alarm_name", s(format!("{}-prometheus-unhealthy", cx.project())))
                .attr(
                    "alarm_description",
                    s(format!(
                        "The global Prometheus in {} has had no ready target behind its load balancer for 5 minutes: no rule is evaluated and Alertmanager may be down with it",
                        gs.id
                    )),
                )
                .attr("namespace", s("AWS/NetworkELB"))
                .attr("metric_name", s("HealthyHostCount"))
                .attr(
                    "dimensions",
                    map([
                        ("LoadBalancer", raw("aws_lb.prometheus.arn_suffix")),
                        ("TargetGroup", raw("aws_lb_target_group.prometheus.arn_suffix")),
                    ]),
                )
                .attr("statistic", s("Minimum"))
                .attr("period", int(60))
                .attr("evaluation_periods", int(5))
                .attr("threshold", int(1))
                .attr("comparison_operator", s("LessThanThreshold"))
                .attr("treat_missing_data", s("breaching"))
                .attr("alarm_actions", raw(format!("[aws_sns_topic.alerts_{}.arn]", gs.id)))
                .attr("ok_actions", raw(format!("[aws_sns_topic.alerts_{}.arn]", gs.id)))
                .attr("tags", site_tags(&gs.id)),
        );
    }
    if let Some(pg) = &t.postgres {
        // Two lag alarms per member, today's writer included. Between regions: AWS publishes
        // AuroraGlobalDBReplicationLag only for secondaries, so after a switchover the new
        // writer's alarm goes quiet (missing data is not breaching) and the old writer's, now a
        // secondary, starts measuring. Inside the region: AuroraReplicaLagMaximum, the cluster's
        // most-behind reader, which serves the site's reads. postgres_exporter cannot measure
        // either on Aurora (its lag query calls pg_last_xact_replay_timestamp(), which Aurora
        // does not support), so these alarms, not a Prometheus rule, watch Aurora's lag.
        // Metrics: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html
        for member in pg.members() {
            let Some(site) = t.find_site(member) else {
                continue;
            };
            let region = cx.region(site);
            let cluster = names::rds_cluster(cx.project(), member);
            let lag = pg.max_lag_seconds;
            f.add(lag_alarm(
                member,
                region,
                ("replication_lag", format!("{cluster}-aurora-replication-lag")),
                "AuroraGlobalDBReplicationLag",
                format!("Aurora global replication lag into {member} above {lag} s (measured only while {member} is a secondary)"),
                lag,
            ));
            f.add(lag_alarm(
                member,
                region,
                ("reader_lag", format!("{cluster}-aurora-reader-lag")),
                "AuroraReplicaLagMaximum",
                format!("The most-behind Aurora reader in {member} is more than {lag} s behind its writer: reads there are stale"),
                lag,
            ));
            any = true;
        }
    }
    if any {
        tree.add("monitoring.tf", f.render());
    }
}

/// A CloudWatch alarm on one of an Aurora member's lag metrics (milliseconds), to the site's
/// alert topic: `(label prefix, alarm name)`, metric, description, threshold in seconds.
fn lag_alarm(
    member: &str,
    region: &str,
    (label, name): (&str, String),
    metric: &str,
    description: String,
    max_lag_seconds: f64,
) -> Block {
    let topic = raw(format!("[aws_sns_topic.alerts_{member}.arn]"));
    Block::new(
        "resource",
        &["aws_cloudwatch_metric_alarm", &format!("{label}_{member}")],
    )
    .attr("region", s(region))
    .attr("alarm_name", s(name))
    .attr("alarm_description", s(description))
    .attr("namespace", s("AWS/RDS"))
    .attr("metric_name", s(metric))
    .attr(
        "dimensions",
        map([(
            "DBClusterIdentifier",
            raw(format!("module.database_{member}.cluster_identifier")),
        )]),
    )
    .attr("statistic", s("Maximum"))
    .attr("period", int(60))
    .attr("evaluation_periods", int(3))
    .attr("threshold", Expr::Num(max_lag_seconds * 1000.0))
    .attr("comparison_operator", s("GreaterThanThreshold"))
    .attr("treat_missing_data", s("notBreaching"))
    .attr("alarm_actions", topic.clone())
    .attr("ok_actions", topic)
    .attr("tags", site_tags(member))
}

/// AWS sites with an alert topic: those with a cluster or an Aurora member.
pub(crate) fn alert_sites<'a>(cx: &'a Ctx) -> Vec<&'a SiteV> {
    cx.t.sites
        .iter()
        .filter(|s| s.aws.is_some() && (s.has_eks() || s.aurora().is_some()))
        .collect()
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s[..i].trim_end_matches('-'),
        None => s,
    }
}

fn list_text(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| crate::hcl::quote(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn budgets(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let Some(b) = &t.budgets else { return };
    let mut f = File::new(&cx.header(
        "Cost: AWS Budgets for the whole deployment and per site (by the `sovereign:site` tag, which must\nbe activated as a cost allocation tag), email alerts at each threshold, actual and forecast.",
    ));
    let budget = |label: &str, name: String, amount: f64, site: Option<&str>| {
        let mut blk = Block::new("resource", &["aws_budgets_budget", label])
            .attr("name", s(name))
            .attr("budget_type", s("COST"))
            .attr("limit_amount", s(format!("{amount:.2}")))
            .attr("limit_unit", s("USD"))
            .attr("time_unit", s("MONTHLY"));
        let mut filter = vec![format!("user:sovereign:project${}", cx.project())];
        if let Some(site) = site {
            filter = vec![format!("user:sovereign:site${site}")];
        }
        blk = blk.block(
            Block::new("cost_filter", &[])
                .attr("name", s("TagKeyValue"))
                .attr("values", strs(filter)),
        );
        for th in &b.alert_thresholds_percent {
            for kind in ["ACTUAL", "FORECASTED"] {
                blk = blk.block(
                    Block::new("notification", &[])
                        .attr("comparison_operator", s("GREATER_THAN"))
                        .attr("threshold", Expr::Num(*th))
                        .attr("threshold_type", s("PERCENTAGE"))
                        .attr("notification_type", s(kind))
                        .attr(
                            "subscriber_email_addresses",
                            strs(b.recipients.iter().cloned()),
                        ),
                );
            }
        }
        blk
    };
    f.add(budget(
        "total",
        format!("{}-total", cx.project()),
        b.monthly_total_usd,
        None,
    ));
    for (site, amount) in &b.per_site {
        f.add(budget(
            &format!("site_{site}"),
            format!("{}-{site}", cx.project()),
            *amount,
            Some(site),
        ));
    }
    tree.add("budgets.tf", f.render());
}

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

fn fly_links(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
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
fn fly_link_module(
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
                        raw(format!("module.network_{}.private_subnet_ids[{i}]", via.id)),
                    ),
                    ("zone_id", s(&z.az)),
                ]),
            )
        })
        .collect();
    Ok(module(&link.module, "./modules/fly-link")
        .attr("name", s(&link.name))
        .attr("region", s(cx.region(via)))
        .attr("vpc_id", raw(format!("module.network_{}.vpc_id", via.id)))
        .attr("gateways", Expr::Map(gateways))
        .attr("upstream_host", raw("aws_rds_global_cluster.this.endpoint"))
        .attr(
            "kms_key_arn",
            raw(format!("module.network_{}.kms_key_arn", via.id)),
        )
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
fn merged_gateways(cx: &Ctx, r: &LogicalReplicaV) -> String {
    let parts: Vec<String> = replica_links(cx, r)
        .iter()
        .map(|l| format!("module.{}.gateways", l.module))
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("merge({})", parts.join(", ")),
    }
}

fn outputs(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let mut f = File::new(&cx.header(
        "Outputs: the shape `sovereign verify --outputs` reads (`terraform output -json`); the tree's\nREADME documents it.",
    ));
    let mut sites: Vec<(String, Expr)> = Vec::new();
    let cassandra_name = cx.cassandra_cluster_name();
    for site in &t.sites {
        let id = &site.id;
        let mut m: Vec<(String, Expr)> = vec![
            (
                "region".into(),
                site.aws.as_ref().map_or(Expr::Null, |a| s(&a.region)),
            ),
            ("fly_region".into(), site.fly_region().map_or(Expr::Null, s)),
            (
                "vpc_id".into(),
                if site.aws.is_some() {
                    raw(format!("module.network_{id}.vpc_id"))
                } else {
                    Expr::Null
                },
            ),
            (
                "kms_key_arn".into(),
                if site.aws.is_some() {
                    raw(format!("module.network_{id}.kms_key_arn"))
                } else {
                    Expr::Null
                },
            ),
            (
                "alerts_topic_arn".into(),
                if alert_sites(cx).iter().any(|x| x.id == *id) {
                    raw(format!("aws_sns_topic.alerts_{id}.arn"))
                } else {
                    Expr::Null
                },
            ),
        ];
        m.push((
            "eks".into(),
            if site.has_eks() {
                map([
                    ("cluster_name", raw(format!("module.eks_{id}.cluster_name"))),
                    ("endpoint", raw(format!("module.eks_{id}.cluster_endpoint"))),
                ])
            } else {
                Expr::Null
            },
        ));
        let pg = match (&t.postgres, site.aurora()) {
            (Some(pg), Some(role)) => map([
                (
                    "role",
                    s(if role == AuroraRole::Primary {
                        "primary"
                    } else {
                        "secondary"
                    }),
                ),
                (
                    "cluster_id",
                    raw(format!("module.database_{id}.cluster_identifier")),
                ),
                (
                    "writer_endpoint",
                    raw(format!("module.database_{id}.writer_endpoint")),
                ),
                (
                    "reader_endpoint",
                    raw(format!("module.database_{id}.reader_endpoint")),
                ),
                ("port", raw(format!("module.database_{id}.port"))),
                ("database", s(&pg.database_name)),
            ]),
            (Some(pg), None) if site.has_logical_replica() => map([
                ("role", s("logical_replica")),
                ("host", s(format!("{}.internal", fly_pg_app(cx, id)))),
                ("port", int(5432)),
                ("database", s(&pg.database_name)),
            ]),
            _ => Expr::Null,
        };
        m.push(("postgres".into(), pg));
        m.push((
            "redis".into(),
            if site.has_cache() {
                map([
                    (
                        "primary_endpoint",
                        raw(format!("module.cache_{id}.primary_endpoint")),
                    ),
                    (
                        "reader_endpoint",
                        raw(format!("module.cache_{id}.reader_endpoint")),
                    ),
                    ("port", raw(format!("module.cache_{id}.port"))),
                    ("tls", Expr::Bool(true)),
                ])
            } else {
                Expr::Null
            },
        ));
        m.push((
            "cassandra".into(),
            if site.has_cassandra_dc() {
                map([
                    ("datacenter", s(id)),
                    (
                        "contact_points",
                        strs([format!(
                            "{cassandra_name}-{id}-service.k8ssandra.svc.cluster.local"
                        )]),
                    ),
                    ("port", int(9042)),
                ])
            } else {
                Expr::Null
            },
        ));
        let lb = if edge_sites(cx).iter().any(|(e, _)| e.id == *id) {
            map([
                ("dns_name", raw(format!("module.edge_{id}.dns_name"))),
                (
                    "target_group_arn",
                    raw(format!("module.edge_{id}.target_group_arn")),
                ),
                (
                    "url",
                    s(format!("https://{}", cx.site_fqdn(id).unwrap_or_default())),
                ),
                (
                    "health_path",
                    s(t.application
                        .as_ref()
                        .map(|a| a.health_path.clone())
                        .unwrap_or_default()),
                ),
            ])
        } else if fly_serving_sites(cx).iter().any(|e| e.id == *id) {
            map([
                (
                    "dns_name",
                    s(format!(
                        "{}.fly.dev",
                        fly_app_name(
                            cx,
                            &t.application
                                .as_ref()
                                .map(|a| a.name.clone())
                                .unwrap_or_default()
                        )
                    )),
                ),
                ("target_group_arn", Expr::Null),
                (
                    "url",
                    s(format!("https://{}", cx.site_fqdn(id).unwrap_or_default())),
                ),
                (
                    "health_path",
                    s(t.application
                        .as_ref()
                        .map(|a| a.health_path.clone())
                        .unwrap_or_default()),
                ),
            ])
        } else {
            Expr::Null
        };
        m.push(("load_balancer".into(), lb));
        sites.push((id.to_string(), Expr::Map(m)));
    }
    f.add(
        Block::new("output", &["sites"])
            .attr("description", s("Per site: region, VPC, EKS cluster, PostgreSQL role and endpoints, cache, Cassandra contact points, load balancer."))
            .attr("value", Expr::Map(sites)),
    );
    if let Some(pg) = &t.postgres {
        let replicas: Vec<&str> = pg.replicas().map(|r| r.as_str()).collect();
        f.add(
            Block::new("output", &["postgres"])
                .attr("description", s("The Aurora global database: identifiers, the primary site, the replicas verify expects, the lag threshold, where the credentials are."))
                .attr(
                    "value",
                    map([
                        ("global_cluster_id", raw("aws_rds_global_cluster.this.id")),
                        ("global_writer_endpoint", raw("aws_rds_global_cluster.this.endpoint")),
                        ("primary_site", s(&pg.primary)),
                        ("engine_version", s(&pg.engine_version)),
                        ("database", s(&pg.database_name)),
                        ("expected_replicas", strs(replicas)),
                        ("max_lag_seconds", Expr::Num(pg.max_lag_seconds)),
                        ("backup_retention_days", int(pg.backup_retention_days)),
                        ("credentials_secret", s(postgres_secret_name(cx))),
                    ]),
                ),
        );
    }
    if let Some(r) = &t.redis {
        f.add(
            Block::new("output", &["redis"])
                .attr("description", s("Cache mode, the role verify expects per site, the eviction policy, where the AUTH token is."))
                .attr(
                    "value",
                    map([
                        ("mode", s(match r.mode {
                            RedisMode::Regional => "regional",
                            RedisMode::Global => "global",
                        })),
                        ("primary_site", r.primary.as_ref().map_or(Expr::Null, s)),
                        ("maxmemory_policy", s(&r.maxmemory_policy)),
                        ("credentials_secret", s(redis_secret_name(cx))),
                    ]),
                ),
        );
    }
    if let Some(c) = &t.cassandra {
        f.add(
            Block::new("output", &["cassandra"])
                .attr("description", s("The Cassandra cluster: name, keyspace, nodes and replication factor per datacenter."))
                .attr(
                    "value",
                    map([
                        ("cluster_name", s(&cassandra_name)),
                        ("keyspace", s(&c.keyspace)),
                        (
                            "datacenters",
                            Expr::Map(
                                c.datacenters
                                    .iter()
                                    .map(|d| {
                                        (
                                            d.site.to_string(),
                                            map([("nodes", int(d.nodes)), ("replication_factor", int(d.replication_factor))]),
                                        )
                                    })
                                    .collect(),
                            ),
                        ),
                    ]),
                ),
        );
    }
    f.add(
        Block::new("output", &["monitoring"])
            .attr("description", s("The global Prometheus every site remote-writes to, and the sites it should hear from."))
            .attr(
                "value",
                map([
                    ("global_site", t.monitoring.global_site.as_ref().map_or(Expr::Null, s)),
                    ("prometheus_url", cx.prometheus_url().map_or(Expr::Null, s)),
                    (
                        "prometheus_target_group_arn",
                        if t.monitoring.global_site.is_some() && t.aws_sites().next().is_some() {
                            raw("aws_lb_target_group.prometheus.arn")
                        } else {
                            Expr::Null
                        },
                    ),
                    ("sites", strs(t.eks_sites().map(|x| x.id.to_string()))),
                ]),
            ),
    );
    if let Some(pg) = &t.postgres
        && !pg.logical_replicas.is_empty()
    {
        f.add(
            Block::new("output", &["fly_links"])
                .attr("description", s("Per Fly.io logical replica, the gateways of its links (`a`, `b` through `via`; `c`, `d` through the successor): the secret fly/deploy.sh stores each WireGuard peer in, its region, each gateway's VPC address and zone."))
                .attr(
                    "value",
                    Expr::Map(
                        pg.logical_replicas
                            .iter()
                            .map(|r| {
                                (
                                    r.site.to_string(),
                                    map([(
                                        "gateways",
                                        raw(merged_gateways(cx, r)),
                                    )]),
                                )
                            })
                            .collect(),
                    ),
                ),
        );
    }
    if let Some(d) = &t.dns {
        f.add(
            Block::new("output", &["dns"])
                .attr("description", s("The public zone, its name servers (delegate to them), the API name and the sites it should resolve to."))
                .attr(
                    "value",
                    map([
                        ("zone_id", raw("local.public_zone_id")),
                        ("name_servers", raw("data.terraform_remote_state.dns.outputs.name_servers")),
                        ("api_name", s(d.api_fqdn())),
                        ("sites", strs(t.api_sites().iter().map(|x| x.id.to_string()))),
                    ]),
                ),
        );
    }
    tree.add("outputs.tf", f.render());
}

pub(crate) fn fly_pg_app(cx: &Ctx, site: &str) -> String {
    format!("{}-pg-{site}", cx.project())
}
