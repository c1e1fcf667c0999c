//! `sites/<site>/`: one root per EKS site for the cluster's workloads, with its own state.

use sovereign_check::SiteV;

use crate::global::{
    AWS_PROVIDER, HELM_PROVIDER, K8S_PROVIDER, aws_provider, postgres_monitor_secret_name,
    postgres_replicator_secret_name, postgres_roles_site, postgres_secret_name, redis_secret_name,
    tags_locals, terraform_block,
};
use crate::hcl::{Block, Expr, File, int, map, raw, s, strs};
use crate::{CHART_VERSIONS, Ctx, RenderError, Tree};

/// `data "terraform_remote_state" "<label>"` reading another root's state, from the bucket and
/// region in `var.state_bucket` and `var.state_region` ([`state_variables`]): the state bucket
/// by default, its replica when its region is down (the break-glass path in the tree's README).
pub(crate) fn remote_state(cx: &Ctx, label: &str, root: &str) -> Block {
    Block::new("data", &["terraform_remote_state", label])
        .attr("backend", s("s3"))
        .attr(
            "config",
            map([
                ("bucket", raw("var.state_bucket")),
                ("key", s(cx.state_key(root))),
                ("region", raw("var.state_region")),
            ]),
        )
}

/// The variables [`remote_state`] reads, declared in every root that reads another's state.
pub(crate) fn state_variables(cx: &Ctx) -> Vec<Block> {
    vec![
        Block::new("variable", &["state_bucket"])
            .attr("type", raw("string"))
            .attr("description", s("Bucket the other roots' states are read from: the state bucket, or its replica `<bucket>-replica` when the state's region is down (the tree's README, \"Break glass\")."))
            .attr("default", s(&cx.t.state.bucket)),
        Block::new("variable", &["state_region"])
            .attr("type", raw("string"))
            .attr("description", s("Region of state_bucket."))
            .attr("default", s(&cx.t.state.region)),
    ]
}

/// The StorageClass every EKS site creates and marks default: gp3, encrypted with the site's KMS
/// key through the EBS CSI driver. Every volume claim the tree writes names it (or Cassandra's
/// own class, which the same site creates).
pub(crate) const SITE_STORAGE_CLASS: &str = "gp3";

/// How Terraform reaches one EKS cluster: the `aws_eks_cluster` data source (endpoint and CA) and
/// the connection settings for the Kubernetes and Helm providers.
pub(crate) struct ClusterAccess {
    pub data: Block,
    label: String,
    region: String,
    cluster: String,
}

impl ClusterAccess {
    pub fn new(label: &str, region: &str, cluster: &str) -> ClusterAccess {
        ClusterAccess {
            data: Block::new("data", &["aws_eks_cluster", label])
                .attr("region", s(region))
                .attr("name", s(cluster)),
            label: label.to_string(),
            region: region.to_string(),
            cluster: cluster.to_string(),
        }
    }

    fn host(&self) -> Expr {
        raw(format!("data.aws_eks_cluster.{}.endpoint", self.label))
    }

    fn ca(&self) -> Expr {
        raw(format!(
            "base64decode(data.aws_eks_cluster.{}.certificate_authority[0].data)",
            self.label
        ))
    }

    /// The exec credential plugin: a fresh token from `aws eks get-token` whenever the provider
    /// needs one. A token read once at plan time (`aws_eks_cluster_auth`) expires after 15
    /// minutes, before long Helm releases and the keyspace job finish.
    fn exec(&self) -> [(&'static str, Expr); 3] {
        [
            ("api_version", s(EXEC_API_VERSION)),
            ("command", s("aws")),
            (
                "args",
                strs([
                    "eks",
                    "get-token",
                    "--cluster-name",
                    self.cluster.as_str(),
                    "--region",
                    self.region.as_str(),
                ]),
            ),
        ]
    }

    /// `provider "kubernetes"` (2.x): connection attributes and an `exec {}` block.
    pub fn kubernetes_provider(&self, alias: Option<&str>) -> Block {
        let mut b = Block::new("provider", &["kubernetes"]);
        if let Some(a) = alias {
            b = b.attr("alias", s(a));
        }
        let mut exec = Block::new("exec", &[]);
        for (k, v) in self.exec() {
            exec = exec.attr(k, v);
        }
        b.attr("host", self.host())
            .attr("cluster_ca_certificate", self.ca())
            .block(exec)
    }

    /// `provider "helm"` (3.x): `kubernetes` and its `exec` are attributes, not blocks.
    pub fn helm_provider(&self, alias: Option<&str>) -> Block {
        let mut b = Block::new("provider", &["helm"]);
        if let Some(a) = alias {
            b = b.attr("alias", s(a));
        }
        b.attr(
            "kubernetes",
            map([
                ("host", self.host()),
                ("cluster_ca_certificate", self.ca()),
                ("exec", map(self.exec())),
            ]),
        )
    }
}

const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    for site in cx.t.eks_sites() {
        render_site(cx, site, tree)?;
    }
    Ok(())
}

fn render_site(cx: &Ctx, site: &SiteV, tree: &mut Tree) -> Result<(), RenderError> {
    let id = &site.id;
    let region = cx.region(site).to_string();
    let dir = format!("sites/{id}");
    let mut f = File::new(&cx.header(&format!(
        "Site root of {id} ({}): the workloads of its EKS cluster, with their own state, so a failed\napply or an outage here blocks no other site. Apply after the global root.",
        site.name
    )));
    f.add(terraform_block(
        cx,
        &[
            ("aws", AWS_PROVIDER),
            ("helm", HELM_PROVIDER),
            ("kubernetes", K8S_PROVIDER),
        ],
        Some(&cx.state_key(&format!("sites/{id}"))),
    ));
    f.add(aws_provider(&region));
    f.add(tags_locals(cx));
    for v in state_variables(cx) {
        f.add(v);
    }
    f.add(remote_state(cx, "global", "global"));
    let access = ClusterAccess::new("this", &region, &cx.eks_name(id));
    f.add(access.data.clone());
    f.add(access.kubernetes_provider(None));
    f.add(access.helm_provider(None));

    let global = site_outputs(id);
    let versions = Expr::Map(
        CHART_VERSIONS
            .iter()
            .map(|(k, _, v)| (k.to_string(), s(*v)))
            .collect(),
    );
    f.add(
        Block::new("module", &["site"])
            .attr("source", s("../../modules/site"))
            .attr("site", s(id))
            .attr("region", s(&region))
            .attr("cluster_name", s(cx.eks_name(id)))
            .attr("vpc_id", raw(format!("{global}.vpc_id")))
            .attr("kms_key_arn", raw(format!("{global}.kms_key_arn")))
            .attr("charts_dir", raw("\"${path.root}/../../charts\""))
            .attr("chart_versions", versions)
            .attr("application", application_input(cx, site)?)
            .attr(
                "cost_tags",
                crate::hcl::map([
                    ("sovereign:project", s(cx.project())),
                    ("sovereign:site", s(id)),
                ]),
            )
            .attr("storage_classes", storage_classes_input(cx, site))
            .attr("cassandra", cassandra_input(cx, site))
            .attr("monitoring", monitoring_input(site))
            .attr("global_monitoring", global_monitoring_input(cx, site))
            .attr("postgres", postgres_input(cx, site))
            .attr("redis", redis_input(cx, site)),
    );
    tree.add(format!("{dir}/main.tf"), f.render());

    let mut o = File::new(
        &cx.header("Outputs of the site root; the cassandra root reads `control_plane_access`."),
    );
    o.add(
        Block::new("output", &["control_plane_access"])
            .attr("description", s("How the k8ssandra control plane reaches this cluster: API server, CA, service account token. Null without a remote datacenter here."))
            .attr(
                "value",
                raw(
                    "module.site.control_plane_token == null ? null : {\n    server  = data.aws_eks_cluster.this.endpoint\n    ca_data = data.aws_eks_cluster.this.certificate_authority[0].data\n    token   = module.site.control_plane_token\n  }",
                ),
            )
            .attr("sensitive", Expr::Bool(true)),
    );
    tree.add(format!("{dir}/outputs.tf"), o.render());

    tree.add(
        format!("{dir}/values/kube-prometheus-stack.yaml"),
        crate::monitoring::kps_values(cx, site)?,
    );
    Ok(())
}

/// The global root's outputs for one site.
fn site_outputs(id: &str) -> String {
    format!("data.terraform_remote_state.global.outputs.sites[\"{id}\"]")
}

/// The application and its autoscaling where the site serves it; null elsewhere.
fn application_input(cx: &Ctx, site: &SiteV) -> Result<Expr, RenderError> {
    let t = cx.t;
    let Some(app) = t.application.as_ref().filter(|_| site.serves()) else {
        return Ok(Expr::Null);
    };
    let k = t
        .kubernetes
        .as_ref()
        .ok_or_else(|| RenderError("EKS site without kubernetes settings".into()))?;
    let tg = if crate::global::edge_sites(cx)
        .iter()
        .any(|(e, _)| e.id == site.id)
    {
        raw(format!(
            "{}.load_balancer.target_group_arn",
            site_outputs(&site.id)
        ))
    } else {
        s("")
    };
    Ok(map([
        ("name", s(&app.name)),
        ("image", s(&app.image)),
        ("port", int(app.port)),
        ("health_path", s(&app.health_path)),
        ("replicas", int(app.replicas)),
        ("max_replicas", int(app.replicas.saturating_mul(10).max(1))),
        ("cpu_target_percent", int(k.scaling.cpu_target_percent)),
        ("scale_up_pods", int(k.scaling.step)),
        ("cooldown_seconds", int(k.scaling.cooldown_seconds)),
        ("target_group_arn", tg),
    ]))
}

/// k8ssandra-operator's role here. The operators run where a datacenter or the control plane
/// does, nowhere else: null on other sites.
fn cassandra_input(cx: &Ctx, site: &SiteV) -> Expr {
    if cx.t.cassandra.is_none() || !(site.has_cassandra_dc() || site.is_cassandra_control_plane()) {
        return Expr::Null;
    }
    map([
        (
            "control_plane",
            Expr::Bool(site.is_cassandra_control_plane()),
        ),
        ("datacenter", Expr::Bool(site.has_cassandra_dc())),
        (
            "remote_access",
            Expr::Bool(site.has_cassandra_dc() && !site.is_cassandra_control_plane()),
        ),
        ("medusa", medusa_input(cx, site)),
    ])
}

/// Where a datacenter runs: Medusa's bucket (created by the first datacenter's site) and the
/// Cassandra pods' service account.
fn medusa_input(cx: &Ctx, site: &SiteV) -> Expr {
    use crate::cassandra_root::{
        BACKUP_SCHEDULE, CASSANDRA_SERVICE_ACCOUNT, medusa_bucket_prefix, medusa_bucket_site,
    };
    let Some(owner) = medusa_bucket_site(cx.t).and_then(|id| cx.t.find_site(id)) else {
        return Expr::Null;
    };
    if !site.has_cassandra_dc() {
        return Expr::Null;
    }
    map([
        ("bucket_prefix", s(medusa_bucket_prefix(cx))),
        ("bucket_region", s(cx.region(owner))),
        (
            "bucket_kms_key_arn",
            raw(format!("{}.kms_key_arn", site_outputs(&owner.id))),
        ),
        ("create_bucket", Expr::Bool(owner.id == site.id)),
        ("service_account", s(CASSANDRA_SERVICE_ACCOUNT)),
        ("schedule", s(BACKUP_SCHEDULE)),
    ])
}

fn storage_classes_input(cx: &Ctx, site: &SiteV) -> Expr {
    Expr::List(
        storage_classes(cx, site)
            .into_iter()
            .map(|c| {
                map([
                    ("name", s(c.name)),
                    ("default", Expr::Bool(c.default)),
                    ("reclaim_policy", s(c.reclaim_policy)),
                ])
            })
            .collect(),
    )
}

/// kube-prometheus-stack's values and, on the global site, Sovereign's rules (only the global
/// Prometheus evaluates them: it holds every site's series, each with its `site` label, and it
/// has the Alertmanager), the dashboards and the remote-write target group.
fn monitoring_input(site: &SiteV) -> Expr {
    let global = site.is_monitoring_global();
    map([
        ("global", Expr::Bool(global)),
        (
            "values",
            raw("file(\"${path.root}/values/kube-prometheus-stack.yaml\")"),
        ),
        (
            "rules",
            if global {
                raw("file(\"${path.root}/../../monitoring/rules/sovereign.rules.yml\")")
            } else {
                s("")
            },
        ),
        (
            "dashboards",
            if global {
                raw(
                    "{ for f in fileset(\"${path.root}/../../monitoring/dashboards\", \"*.json\") : trimsuffix(f, \".json\") => file(\"${path.root}/../../monitoring/dashboards/${f}\") }",
                )
            } else {
                map(Vec::<(String, Expr)>::new())
            },
        ),
        (
            "prometheus_target_group_arn",
            if global {
                raw(
                    "data.terraform_remote_state.global.outputs.monitoring.prometheus_target_group_arn",
                )
            } else {
                s("")
            },
        ),
    ])
}

/// On the global monitoring site: the site's alert topic (the global root's, with the topology's
/// recipients subscribed), Alertmanager's service account, Grafana's admin secret. Null
/// elsewhere.
fn global_monitoring_input(cx: &Ctx, site: &SiteV) -> Expr {
    if !site.is_monitoring_global() {
        return Expr::Null;
    }
    map([
        (
            "alert_topic_arn",
            raw(format!("{}.alerts_topic_arn", site_outputs(&site.id))),
        ),
        (
            "alertmanager_service_account",
            s(crate::monitoring::ALERTMANAGER_SERVICE_ACCOUNT),
        ),
        (
            "grafana_admin_secret",
            s(crate::monitoring::GRAFANA_ADMIN_SECRET),
        ),
        (
            "grafana_admin_secret_name",
            s(format!("{}/grafana/admin", cx.project())),
        ),
    ])
}

/// The site's exporter logs in as the monitoring role; the site that creates the roles
/// ([`postgres_roles_site`]) also gets the master and replication credentials, for the Job.
fn postgres_input(cx: &Ctx, site: &SiteV) -> Expr {
    let (Some(pg), Some(_)) = (&cx.t.postgres, site.aurora()) else {
        return Expr::Null;
    };
    let roles = if postgres_roles_site(cx).is_some_and(|r| r.id == site.id) {
        let publication = !pg.logical_replicas.is_empty();
        map([
            (
                "writer_endpoint",
                raw("data.terraform_remote_state.global.outputs.postgres.global_writer_endpoint"),
            ),
            ("master_secret_arn", s(postgres_secret_name(cx))),
            (
                "replicator_secret_arn",
                s(if publication {
                    postgres_replicator_secret_name(cx)
                } else {
                    String::new()
                }),
            ),
            ("publication", Expr::Bool(publication)),
            ("image", s(postgres_client_image(pg.major))),
        ])
    } else {
        Expr::Null
    };
    map([
        (
            "endpoint",
            raw(format!(
                "{}.postgres.reader_endpoint",
                site_outputs(&site.id)
            )),
        ),
        ("database", s(&pg.database_name)),
        ("secret_arn", s(postgres_monitor_secret_name(cx))),
        ("roles", roles),
    ])
}

/// The image of the roles Job: the server's major, at least 15 (the script reads its values
/// with psql's `\getenv`, new in 15; psql talks to older servers).
pub(crate) fn postgres_client_image(major: u32) -> String {
    format!("postgres:{}", major.max(15))
}

fn redis_input(cx: &Ctx, site: &SiteV) -> Expr {
    if !site.has_cache() {
        return Expr::Null;
    }
    map([
        (
            "endpoint",
            raw(format!("{}.redis.primary_endpoint", site_outputs(&site.id))),
        ),
        ("secret_arn", s(redis_secret_name(cx))),
    ])
}

/// A StorageClass a site creates.
pub(crate) struct StorageClass {
    pub name: String,
    pub default: bool,
    pub reclaim_policy: &'static str,
}

/// The storage classes of a site: the default encrypted gp3 class on every EKS site, and where a
/// Cassandra datacenter runs, the topology's `cassandra.storage_class` when it names another
/// class. A class that holds Cassandra data keeps its volumes when a claim is deleted (`Retain`):
/// a deleted claim must not take a node's data with it.
pub(crate) fn storage_classes(cx: &Ctx, site: &SiteV) -> Vec<StorageClass> {
    let cassandra =
        cx.t.cassandra
            .as_ref()
            .filter(|_| site.has_cassandra_dc())
            .map(|c| c.storage_class.as_str());
    let policy = |name: &str| {
        if cassandra == Some(name) {
            "Retain"
        } else {
            "Delete"
        }
    };
    let mut out = vec![StorageClass {
        name: SITE_STORAGE_CLASS.to_string(),
        default: true,
        reclaim_policy: policy(SITE_STORAGE_CLASS),
    }];
    if let Some(name) = cassandra
        && name != SITE_STORAGE_CLASS
    {
        out.push(StorageClass {
            name: name.to_string(),
            default: false,
            reclaim_policy: policy(name),
        });
    }
    out
}

/// JSON value → YAML text (Helm reads YAML 1.1: ambiguous strings are quoted).
pub(crate) fn to_yaml(header: &str, value: &serde_json::Value) -> Result<String, RenderError> {
    let body = serde_saphyr::to_string(value)
        .map_err(|e| RenderError(format!("cannot write YAML: {e}")))?;
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}
