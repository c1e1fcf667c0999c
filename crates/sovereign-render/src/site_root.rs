//! `sites/<site>/`: one root per EKS site for the cluster's workloads, with its own state.

use sovereign_check::SiteV;

use crate::global::{
    AWS_PROVIDER, HELM_PROVIDER, K8S_PROVIDER, aws_provider, postgres_secret_name,
    redis_secret_name, tags_locals, terraform_block,
};
use crate::hcl::{Block, Expr, File, int, map, raw, s};
use crate::{CHART_VERSIONS, Ctx, RenderError, Tree};

/// `data "terraform_remote_state" "<label>"` reading another root's state.
pub(crate) fn remote_state(cx: &Ctx, label: &str, root: &str) -> Block {
    Block::new("data", &["terraform_remote_state", label])
        .attr("backend", s("s3"))
        .attr(
            "config",
            map([
                ("bucket", s(&cx.t.state.bucket)),
                ("key", s(cx.state_key(root))),
                ("region", s(&cx.t.state.region)),
            ]),
        )
}

/// The data sources and provider settings that reach one EKS cluster.
pub(crate) fn cluster_access(label: &str, region: &str, cluster: &str) -> (Vec<Block>, Expr) {
    let data = vec![
        Block::new("data", &["aws_eks_cluster", label])
            .attr("region", s(region))
            .attr("name", s(cluster)),
        Block::new("data", &["aws_eks_cluster_auth", label])
            .attr("region", s(region))
            .attr("name", s(cluster)),
    ];
    let conn = map([
        (
            "host",
            raw(format!("data.aws_eks_cluster.{label}.endpoint")),
        ),
        (
            "cluster_ca_certificate",
            raw(format!(
                "base64decode(data.aws_eks_cluster.{label}.certificate_authority[0].data)"
            )),
        ),
        (
            "token",
            raw(format!("data.aws_eks_cluster_auth.{label}.token")),
        ),
    ]);
    (data, conn)
}

/// `provider "kubernetes"` with the attributes of a connection map.
pub(crate) fn kubernetes_provider(conn: &Expr, alias: Option<&str>) -> Block {
    let mut b = Block::new("provider", &["kubernetes"]);
    if let Some(a) = alias {
        b = b.attr("alias", s(a));
    }
    if let Expr::Map(items) = conn {
        for (k, v) in items {
            b = b.attr(k, v.clone());
        }
    }
    b
}

pub(crate) fn helm_provider(conn: &Expr, alias: Option<&str>) -> Block {
    let mut b = Block::new("provider", &["helm"]);
    if let Some(a) = alias {
        b = b.attr("alias", s(a));
    }
    b.attr("kubernetes", conn.clone())
}

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    for site in cx.t.eks_sites() {
        render_site(cx, site, tree)?;
    }
    Ok(())
}

fn render_site(cx: &Ctx, site: &SiteV, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
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
    f.add(remote_state(cx, "global", "global"));
    let (data, conn) = cluster_access("this", &region, &cx.eks_name(id));
    for d in data {
        f.add(d);
    }
    f.add(kubernetes_provider(&conn, None));
    f.add(helm_provider(&conn, None));

    let global = format!("data.terraform_remote_state.global.outputs.sites[\"{id}\"]");
    let versions = Expr::Map(
        CHART_VERSIONS
            .iter()
            .map(|(k, _, v)| (k.to_string(), s(*v)))
            .collect(),
    );
    let application = match &t.application {
        Some(app) if site.serves => {
            let k = t
                .kubernetes
                .as_ref()
                .ok_or_else(|| RenderError("EKS site without kubernetes settings".into()))?;
            let tg = if crate::global::edge_sites(cx).iter().any(|e| e.id == *id) {
                raw(format!("{global}.load_balancer.target_group_arn"))
            } else {
                s("")
            };
            map([
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
            ])
        }
        _ => Expr::Null,
    };
    let cassandra = match &t.cassandra {
        Some(c) => map([
            ("control_plane", Expr::Bool(site.cassandra_control_plane)),
            ("datacenter", Expr::Bool(site.cassandra_dc)),
            ("storage_class", s(&c.storage_class)),
            (
                "remote_access",
                Expr::Bool(site.cassandra_dc && !site.cassandra_control_plane),
            ),
        ]),
        None => Expr::Null,
    };
    let dashboards = if site.monitoring_global {
        raw(
            "{ for f in fileset(\"${path.root}/../../monitoring/dashboards\", \"*.json\") : trimsuffix(f, \".json\") => file(\"${path.root}/../../monitoring/dashboards/${f}\") }",
        )
    } else {
        map(Vec::<(String, Expr)>::new())
    };
    let monitoring = map([
        ("global", Expr::Bool(site.monitoring_global)),
        (
            "values",
            raw("file(\"${path.root}/values/kube-prometheus-stack.yaml\")"),
        ),
        (
            "rules",
            raw("file(\"${path.root}/../../monitoring/rules/sovereign.rules.yml\")"),
        ),
        ("dashboards", dashboards),
        (
            "prometheus_target_group_arn",
            if site.monitoring_global {
                raw(
                    "data.terraform_remote_state.global.outputs.monitoring.prometheus_target_group_arn",
                )
            } else {
                s("")
            },
        ),
    ]);
    let postgres = match (&t.postgres, site.aurora) {
        (Some(pg), Some(_)) => map([
            (
                "endpoint",
                raw(format!("{global}.postgres.reader_endpoint")),
            ),
            ("database", s(&pg.database_name)),
            ("secret_arn", s(postgres_secret_name(cx))),
        ]),
        _ => Expr::Null,
    };
    let redis = if site.redis {
        map([
            ("endpoint", raw(format!("{global}.redis.primary_endpoint"))),
            ("secret_arn", s(redis_secret_name(cx))),
        ])
    } else {
        Expr::Null
    };
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
            .attr("application", application)
            .attr("cassandra", cassandra)
            .attr("monitoring", monitoring)
            .attr("postgres", postgres)
            .attr("redis", redis),
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
