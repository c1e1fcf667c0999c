//! `cassandra/`: the K8ssandraCluster (on the control-plane cluster) and the application keyspace,
//! applied after every site root.

use serde_json::json;

use crate::global::{
    AWS_PROVIDER, HELM_PROVIDER, K8S_PROVIDER, aws_provider, tags_locals, terraform_block,
};
use crate::hcl::{Block, Expr, File, map, raw, s};
use crate::monitoring::CAPACITY_LABEL;
use crate::site_root::{ClusterAccess, remote_state, to_yaml};
use crate::{Ctx, RenderError, Tree};

/// The service account Cassandra pods run as on every datacenter's cluster; its Pod Identity role
/// lets their Medusa containers use the backup bucket (`modules/site/medusa.tf`).
pub(crate) const CASSANDRA_SERVICE_ACCOUNT: &str = "cassandra";

/// Days Medusa keeps a backup; it purges older ones itself.
const BACKUP_RETENTION_DAYS: u32 = 14;

/// When each datacenter is backed up (cron, UTC): a differential backup every night.
pub(crate) const BACKUP_SCHEDULE: &str = "0 3 * * *";

/// Medusa's bucket: `<prefix>-<account id>`, in the region of the first datacenter's site, which
/// creates it. (k8ssandra configures Medusa storage per cluster, not per datacenter.)
pub(crate) fn medusa_bucket_prefix(cx: &Ctx) -> String {
    format!("{}-medusa", cx.project())
}

pub(crate) fn medusa_bucket_site(t: &sovereign_check::ValidatedTopology) -> Option<&str> {
    t.cassandra
        .as_ref()
        .and_then(|c| c.datacenters.first())
        .map(|d| d.site.as_str())
}

/// One rack per availability zone of the site (by zone id), at most one per node.
pub(crate) fn cassandra_racks(
    t: &sovereign_check::ValidatedTopology,
    site: &str,
    nodes: u32,
) -> Vec<String> {
    t.find_site(site)
        .and_then(|s| s.aws.as_ref())
        .map(|a| a.azs.iter().take(nodes as usize).cloned().collect())
        .unwrap_or_default()
}

/// What each Cassandra pod asks for, from the smallest on-demand instance type (Cassandra runs
/// on on-demand nodes only, one pod per node): half the node's memory as request and limit, half
/// of that as JVM heap (at most 16 GiB: the rest is off-heap memory and page cache), half its
/// vCPUs as request and all of them as limit.
pub(crate) struct CassandraSize {
    pub cpu_request: u32,
    pub cpu_limit: u32,
    pub memory_gi: u32,
    pub heap_gi: u32,
}

pub(crate) fn cassandra_size(cx: &Ctx) -> Result<CassandraSize, RenderError> {
    let k =
        cx.t.kubernetes
            .as_ref()
            .ok_or_else(|| RenderError("Cassandra without kubernetes settings".into()))?;
    let smallest = k
        .on_demand
        .instance_types
        .iter()
        .map(|n| {
            cx.catalog.ec2_type(n).ok_or_else(|| {
                RenderError(format!(
                    "instance type `{n}` has no known shape (vCPU, memory) in the catalog"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .min_by(|a, b| a.memory_gib.total_cmp(&b.memory_gib))
        .ok_or_else(|| RenderError("no on-demand instance type".into()))?;
    let memory_gi = ((smallest.memory_gib / 2.0).floor() as u32).max(2);
    Ok(CassandraSize {
        cpu_request: (smallest.vcpu / 2).max(1),
        cpu_limit: smallest.vcpu.max(1),
        memory_gi,
        heap_gi: (memory_gi / 2).clamp(1, 16),
    })
}

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
    let Some(c) = &t.cassandra else { return Ok(()) };
    let cp = t.find_site(&c.control_plane).ok_or_else(|| {
        RenderError(format!(
            "control-plane site `{}` is missing",
            c.control_plane
        ))
    })?;
    let first_dc = c
        .datacenters
        .first()
        .and_then(|d| t.find_site(&d.site))
        .ok_or_else(|| RenderError("Cassandra has no datacenter".into()))?;
    let name = cx.cassandra_cluster_name();

    let mut f = File::new(&cx.header(&format!(
        "Cassandra root: the K8ssandraCluster `{name}` on the control plane ({}) with one datacenter per\nsite, and the keyspace `{}` with NetworkTopologyStrategy. Apply after cassandra-access, once the\noperator has restarted with its ClientConfigs: the operator's webhook refuses a datacenter whose\ncluster it cannot reach.",
        cp.id, c.keyspace
    )));
    f.add(terraform_block(
        cx,
        &[("aws", AWS_PROVIDER), ("helm", HELM_PROVIDER)],
        Some(&cx.state_key("cassandra")),
    ));
    f.add(aws_provider(cx.region(cp)));
    f.add(tags_locals(cx));
    f.add(Block::new("data", &["aws_caller_identity", "current"]));
    let remote: Vec<&str> = c
        .datacenters
        .iter()
        .map(|d| d.site.as_str())
        .filter(|s| *s != cp.id)
        .collect();
    let access = ClusterAccess::new("control_plane", cx.region(cp), &cx.eks_name(&cp.id));
    f.add(access.data.clone());
    f.add(access.helm_provider(None));
    if first_dc.id != cp.id {
        let access =
            ClusterAccess::new("keyspace", cx.region(first_dc), &cx.eks_name(&first_dc.id));
        f.add(access.data.clone());
        f.add(access.helm_provider(Some("keyspace")));
    }
    tree.add("cassandra/main.tf", f.render());

    let mut k = File::new(&cx.header(
        "The cluster definition and the keyspace, from Sovereign's local charts (values in values/).",
    ));
    let mut set = Vec::new();
    let mut cluster = Block::new("resource", &["helm_release", "cluster"])
        .attr("name", s("k8ssandra-cluster"))
        .attr("namespace", s("k8ssandra"))
        .attr("chart", raw("\"${path.root}/../charts/k8ssandra-cluster\""))
        .attr(
            "values",
            raw("[file(\"${path.root}/values/k8ssandra-cluster.yaml\")]"),
        )
        .attr("wait", Expr::Bool(true))
        .attr("timeout", Expr::Int(1800));
    // The backup bucket's name ends with the account id, known only when applying.
    set.push(map([
        ("name", s("medusa.bucketName")),
        (
            "value",
            Expr::Raw(format!(
                "join(\"-\", [{}, data.aws_caller_identity.current.account_id])",
                crate::hcl::quote(&medusa_bucket_prefix(cx))
            )),
        ),
    ]));
    cluster = cluster.attr("set", Expr::List(set));
    k.add(cluster);
    let mut ks = Block::new("resource", &["helm_release", "keyspace"]);
    if first_dc.id != cp.id {
        ks = ks.attr("provider", raw("helm.keyspace"));
    }
    k.add(
        ks.attr(
            "name",
            s(format!("{}-keyspace", c.keyspace.replace('_', "-"))),
        )
        .attr("namespace", s("k8ssandra"))
        .attr(
            "chart",
            raw("\"${path.root}/../charts/cassandra-keyspace\""),
        )
        .attr(
            "values",
            raw("[file(\"${path.root}/values/keyspace.yaml\")]"),
        )
        .attr("wait", Expr::Bool(true))
        .attr("wait_for_jobs", Expr::Bool(true))
        .attr("timeout", Expr::Int(3600))
        .attr("depends_on", raw("[helm_release.cluster]")),
    );
    tree.add("cassandra/cassandra.tf", k.render());

    let size = cassandra_size(cx)?;
    let bucket_region = medusa_bucket_site(t)
        .and_then(|id| t.find_site(id))
        .map(|s| cx.region(s).to_string())
        .unwrap_or_default();
    let resources = json!({
        "requests": { "cpu": size.cpu_request.to_string(), "memory": format!("{}Gi", size.memory_gi) },
        "limits": { "cpu": size.cpu_limit.to_string(), "memory": format!("{}Gi", size.memory_gi) },
    });
    let datacenters: Vec<serde_json::Value> = c
        .datacenters
        .iter()
        .map(|d| {
            json!({
                "name": d.site,
                "k8sContext": if d.site == cp.id { String::new() } else { d.site.to_string() },
                "size": d.nodes,
                "storage": format!("{}Gi", d.storage_size_gi),
                "racks": cassandra_racks(t, &d.site, d.nodes),
                "resources": resources,
                "heap": format!("{}Gi", size.heap_gi),
            })
        })
        .collect();
    tree.add(
        "cassandra/values/k8ssandra-cluster.yaml",
        to_yaml(
            &cx.header("Values of charts/k8ssandra-cluster; the Medusa bucket's name is set by cassandra.tf. Cassandra runs on\non-demand nodes only (`nodeLabels`), sized from the smallest on-demand type."),
            &json!({
                "clusterName": name,
                "serverVersion": c.version,
                "storageClass": c.storage_class,
                "nodeLabels": { CAPACITY_LABEL: "on_demand" },
                "serviceAccount": CASSANDRA_SERVICE_ACCOUNT,
                "medusa": {
                    "bucketRegion": bucket_region,
                    "maxBackupAgeDays": BACKUP_RETENTION_DAYS,
                },
                "datacenters": datacenters,
            }),
        )?,
    );
    let replication: serde_json::Map<String, serde_json::Value> = c
        .datacenters
        .iter()
        .map(|d| (d.site.to_string(), json!(d.replication_factor)))
        .collect();
    access_root(cx, cp, &remote, tree);
    tree.add(
        "cassandra/values/keyspace.yaml",
        to_yaml(
            &cx.header("Values of charts/cassandra-keyspace: the keyspace and its replication factor per datacenter."),
            &json!({
                "clusterName": name,
                "datacenter": first_dc.id,
                "keyspace": c.keyspace,
                "serverVersion": c.version,
                "replication": replication,
            }),
        )?,
    );
    Ok(())
}

/// `cassandra-access/`: what the control plane needs to reach every remote datacenter's cluster
/// (a kubeconfig secret and a ClientConfig per cluster, from the tokens the data-plane site roots
/// created), then a rolling restart of the operator, which loads ClientConfigs when it starts.
/// A root of its own, applied before `cassandra/`: the K8ssandraCluster's datacenters name these
/// ClientConfigs, and the operator's webhook refuses one it has not loaded.
fn access_root(cx: &Ctx, cp: &sovereign_check::SiteV, remote: &[&str], tree: &mut Tree) {
    if remote.is_empty() {
        return;
    }
    let mut f = File::new(&cx.header(&format!(
        "Cassandra access root: the ClientConfigs of the k8ssandra control plane ({}) for every remote\ndatacenter, then a rolling restart of the operator so it loads them. Apply after every site root\nand before the cassandra root.",
        cp.id
    )));
    f.add(terraform_block(
        cx,
        &[
            ("aws", AWS_PROVIDER),
            ("helm", HELM_PROVIDER),
            ("kubernetes", K8S_PROVIDER),
        ],
        Some(&cx.state_key("cassandra-access")),
    ));
    f.add(aws_provider(cx.region(cp)));
    f.add(tags_locals(cx));
    for v in crate::site_root::state_variables(cx) {
        f.add(v);
    }
    for site in remote {
        f.add(remote_state(
            cx,
            &format!("site_{site}"),
            &format!("sites/{site}"),
        ));
    }
    let access = ClusterAccess::new("control_plane", cx.region(cp), &cx.eks_name(&cp.id));
    f.add(access.data.clone());
    f.add(access.helm_provider(None));
    f.add(access.kubernetes_provider(None));
    tree.add("cassandra-access/main.tf", f.render());

    let mut k = File::new(
        &cx.header("The ClientConfigs, from Sovereign's local chart, and the operator's restart."),
    );
    let mut set = Vec::new();
    let mut sensitive = Vec::new();
    let mut public = Vec::new();
    for (i, site) in remote.iter().enumerate() {
        let out = format!("data.terraform_remote_state.site_{site}.outputs.control_plane_access");
        set.push(map([
            ("name", s(format!("clientConfigs[{i}].name"))),
            ("value", s(*site)),
        ]));
        set.push(map([
            ("name", s(format!("clientConfigs[{i}].server"))),
            ("value", raw(format!("{out}.server"))),
        ]));
        set.push(map([
            ("name", s(format!("clientConfigs[{i}].caData"))),
            ("value", raw(format!("{out}.ca_data"))),
        ]));
        sensitive.push(map([
            ("name", s(format!("clientConfigs[{i}].token"))),
            ("value", raw(format!("{out}.token"))),
        ]));
        public.push(format!("{out}.server"));
        public.push(format!("{out}.ca_data"));
    }
    k.add(
        Block::new("resource", &["helm_release", "client_configs"])
            .attr("name", s("k8ssandra-client-configs"))
            .attr("namespace", s("k8ssandra"))
            .attr(
                "chart",
                raw("\"${path.root}/../charts/k8ssandra-client-configs\""),
            )
            .attr("wait", Expr::Bool(true))
            .attr("set", Expr::List(set))
            .attr("set_sensitive", Expr::List(sensitive)),
    );
    k.add(
        Block::new("resource", &["kubernetes_annotations", "operator_restart"])
            .comment("A rolling restart of the operator whenever the ClientConfigs change (what `kubectl rollout")
            .comment("restart` does): it loads ClientConfigs only when it starts.")
            .attr("api_version", s("apps/v1"))
            .attr("kind", s("Deployment"))
            .block(
                Block::new("metadata", &[])
                    .attr("name", s("k8ssandra-operator"))
                    .attr("namespace", s("k8ssandra")),
            )
            .attr(
                "template_annotations",
                map([(
                    "sovereign.dev/client-configs",
                    raw(format!("sha256(jsonencode([{}]))", public.join(", "))),
                )]),
            )
            .attr("force", Expr::Bool(true))
            .attr("depends_on", raw("[helm_release.client_configs]")),
    );
    tree.add("cassandra-access/client_configs.tf", k.render());
}
