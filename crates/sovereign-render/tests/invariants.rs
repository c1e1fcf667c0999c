//! Invariants of a deployment that works once applied, over the rendered trees of the examples.
//! No engine here can see them (storage classes, credentials that expire, the metrics API, alert
//! routing, metric names, where Cassandra is scheduled), so each is written down as a check of
//! the tree, and each check is also run on a broken tree to prove it fails when it should:
//!
//! - every volume claim (values and charts) names a storage class its own site creates, and the
//!   site module creates them encrypted, default-marked, through the EBS CSI driver;
//! - every Kubernetes and Helm provider authenticates with the `aws eks get-token` exec plugin:
//!   no static token, no `aws_eks_cluster_auth`;
//! - every site that runs the application (and its HorizontalPodAutoscaler) installs
//!   metrics-server;
//! - where Alertmanager runs, its default route goes to a receiver that notifies someone, not
//!   the chart's `null`;
//! - every metric an alert rule or a dashboard reads is exported by the pinned exporters
//!   (`tests/data/exporter-metrics.toml`), and the sites remote-write it to the global Prometheus;
//! - Cassandra pods have resources and a heap, run on on-demand nodes only, and are not evicted by
//!   the cluster autoscaler to empty a node; Medusa backs every datacenter up to one bucket that
//!   each datacenter's pods may use.
//! - every security group holds no more inbound rules than the default quota (60);
//! - the global Prometheus is watched from outside, by a CloudWatch alarm on its healthy targets;
//! - every log a service exports to CloudWatch Logs goes to a group the tree creates first, with a
//!   retention and the site's KMS key;
//! - pods keep their own addresses towards peered sites (the VPC CNI does not translate them);
//! - every Aurora member's lag is watched by CloudWatch, between regions and inside its region
//!   (postgres_exporter cannot measure lag on Aurora);
//! - the Fly.io link gateway's boot script is valid bash, and a reboot brings the link back
//!   without it (systemd restarts the tunnel, and HAProxy after it);
//! - Prometheus and Alertmanager, whose volumes are zonal, run on on-demand nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::expr::{Expression, ObjectKey};
use hcl::structure::{Block, BlockLabel, Body};
use serde_json::{Value, json};
use sovereign_catalog::{Catalog, Date};
use sovereign_render::Tree;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `examples/<name>.toml`, checked and resolved.
fn validated_example(name: &str) -> sovereign_check::ValidatedTopology {
    let path = examples_dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26))
        .validated
        .unwrap_or_else(|| panic!("{} does not validate", path.display()))
}

fn examples() -> Vec<(String, Tree)> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let v = validated_example(&name);
            let tree =
                sovereign_render::render(&v, Catalog::builtin(), &format!("examples/{name}.toml"))
                    .unwrap();
            (name, tree)
        })
        .collect()
}

fn assert_holds(what: &str, check: fn(&Tree) -> Vec<String>) {
    for (name, tree) in examples() {
        let problems = check(&tree);
        assert!(
            problems.is_empty(),
            "{name}: {what}:\n{}",
            problems.join("\n")
        );
    }
}

fn assert_catches(problems: &[String], wanted: &[&str]) {
    let all = problems.join("\n");
    for w in wanted {
        assert!(all.contains(w), "the check missed `{w}`:\n{all}");
    }
}

/// A copy of `tree` with some files replaced (and `drop` left out).
fn edited(tree: &Tree, replace: &[(&str, String)], drop: &[&str]) -> Tree {
    let mut out = Tree::new();
    for (path, bytes) in tree.files() {
        if !drop.contains(&path) {
            out.add(path, bytes);
        }
    }
    for (path, text) in replace {
        out.add(*path, text.as_bytes());
    }
    out
}

fn default_tree() -> Tree {
    examples()
        .into_iter()
        .find(|(n, _)| n == "global-sovereign")
        .map(|(_, t)| t)
        .unwrap()
}

// ---- reading the tree ------------------------------------------------------------------------

fn label(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Identifier(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

fn parse(tree: &Tree, path: &str) -> Body {
    hcl::parse(tree.text(path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `.tf` file of a directory (not below it), parsed.
fn dir_bodies(tree: &Tree, dir: &str) -> Vec<(String, Body)> {
    tree.files()
        .filter(|(p, _)| {
            let rest = if dir.is_empty() {
                Some(*p)
            } else {
                p.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
            };
            rest.is_some_and(|r| !r.contains('/') && r.ends_with(".tf"))
        })
        .map(|(p, _)| (p.to_string(), parse(tree, p)))
        .collect()
}

fn blocks<'a>(body: &'a Body, kind: &str, first: Option<&str>) -> Vec<&'a Block> {
    body.blocks()
        .filter(|b| b.identifier.as_str() == kind)
        .filter(|b| first.is_none_or(|f| b.labels.first().map(label) == Some(f)))
        .collect()
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|a| a.key.as_str() == key)
        .map(|a| &a.expr)
}

fn text(e: &Expression) -> String {
    hcl::format::to_string(e).unwrap_or_default()
}

/// An HCL expression as JSON: literals as they are, anything computed as its source text.
fn to_json(e: &Expression) -> Value {
    match e {
        Expression::Null => Value::Null,
        Expression::Bool(b) => json!(b),
        Expression::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Expression::String(s) => json!(s),
        Expression::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Expression::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let k = match k {
                        ObjectKey::Identifier(i) => i.to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.clone(),
                        ObjectKey::Expression(other) => text(other),
                        other => format!("{other:?}"),
                    };
                    (k, to_json(v))
                })
                .collect(),
        ),
        other => json!(text(other)),
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn yaml(tree: &Tree, path: &str) -> Option<Value> {
    tree.text(path)
        .map(|t| serde_saphyr::from_str(t).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// A site root and the literal arguments of its `module "site"` call.
struct SiteRoot {
    id: String,
    call: BTreeMap<String, Expression>,
    module_dir: String,
}

impl SiteRoot {
    fn arg(&self, key: &str) -> Option<Value> {
        self.call.get(key).map(to_json)
    }

    fn is_set(&self, key: &str) -> bool {
        self.call
            .get(key)
            .is_some_and(|e| !matches!(e, Expression::Null))
    }
}

fn site_roots(tree: &Tree) -> Vec<SiteRoot> {
    let mut out = Vec::new();
    for (path, _) in tree.files() {
        let Some(id) = path
            .strip_prefix("sites/")
            .and_then(|r| r.strip_suffix("/main.tf"))
        else {
            continue;
        };
        let body = parse(tree, path);
        for b in blocks(&body, "module", Some("site")) {
            let call: BTreeMap<String, Expression> = b
                .body
                .attributes()
                .map(|a| (a.key.to_string(), a.expr.clone()))
                .collect();
            let source = match call.get("source") {
                Some(Expression::String(s)) => s.clone(),
                _ => String::new(),
            };
            out.push(SiteRoot {
                id: id.to_string(),
                module_dir: join(&format!("sites/{id}"), &source),
                call,
            });
        }
    }
    out
}

fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Every resource of a module directory: (type, name, body).
fn resources(tree: &Tree, dir: &str) -> Vec<(String, String, Body)> {
    let mut out = Vec::new();
    for (_, body) in dir_bodies(tree, dir) {
        for b in blocks(&body, "resource", None) {
            let l: Vec<&str> = b.labels.iter().map(label).collect();
            if l.len() == 2 {
                out.push((l[0].to_string(), l[1].to_string(), b.body.clone()));
            }
        }
    }
    out
}

fn kps_values(tree: &Tree, site: &str) -> Value {
    yaml(
        tree,
        &format!("sites/{site}/values/kube-prometheus-stack.yaml"),
    )
    .unwrap_or(Value::Null)
}

// ---- 1. storage classes ----------------------------------------------------------------------

/// Every claim in a values document: (where, storage class named or `None`).
fn claims_in(v: &Value, at: &str, out: &mut Vec<(String, Option<String>)>) {
    match v {
        Value::Object(m) => {
            let class = |spec: Option<&Value>| {
                spec.and_then(|s| s.get("storageClassName"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            if let Some(t) = m.get("volumeClaimTemplate") {
                out.push((format!("{at}.volumeClaimTemplate"), class(t.get("spec"))));
            }
            if m.get("kind").and_then(Value::as_str) == Some("PersistentVolumeClaim") {
                out.push((at.to_string(), class(m.get("spec"))));
            }
            if let Some(p) = m.get("persistence")
                && p.get("enabled").and_then(Value::as_bool) == Some(true)
            {
                out.push((format!("{at}.persistence"), class(Some(p))));
            }
            for (k, v) in m {
                if k != "volumeClaimTemplate" {
                    claims_in(v, &format!("{at}.{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                claims_in(v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn storage_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let mut classes_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for root in site_roots(tree) {
        // The module creates exactly the classes the root lists, as the EBS CSI driver's
        // encrypted gp3 volumes with the site's key, bound where the pod lands.
        let creates = resources(tree, &root.module_dir)
            .into_iter()
            .filter(|(ty, _, _)| ty == "kubernetes_storage_class_v1")
            .any(|(_, _, body)| {
                let meta = blocks(&body, "metadata", None);
                // The volume settings; a `merge(...)` adds the cost tags to them.
                let params = match attr(&body, "parameters") {
                    Some(Expression::FuncCall(f)) if f.name.name.as_str() == "merge" => {
                        f.args.first().map(to_json).unwrap_or_default()
                    }
                    Some(e) => to_json(e),
                    None => Value::Null,
                };
                attr(&body, "for_each").is_some_and(|e| text(e).contains("var.storage_classes"))
                    && meta.iter().any(|m| {
                        attr(&m.body, "name").map(text).as_deref() == Some("each.key")
                            && attr(&m.body, "annotations").is_some_and(|a| {
                                text(a).contains("storageclass.kubernetes.io/is-default-class")
                            })
                    })
                    && attr(&body, "storage_provisioner").map(to_json)
                        == Some(json!("ebs.csi.aws.com"))
                    && attr(&body, "volume_binding_mode").map(to_json)
                        == Some(json!("WaitForFirstConsumer"))
                    && params.get("type") == Some(&json!("gp3"))
                    && params.get("encrypted") == Some(&json!("true"))
                    && params.get("kmsKeyId") == Some(&json!("var.kms_key_arn"))
            });
        if !creates {
            out.push(format!(
                "{}: no encrypted gp3 StorageClass (EBS CSI, site key, WaitForFirstConsumer, default annotation) per `var.storage_classes`",
                root.module_dir
            ));
        }
        let listed = root.arg("storage_classes").unwrap_or_default();
        let listed = listed.as_array().cloned().unwrap_or_default();
        let defaults = listed
            .iter()
            .filter(|c| c.get("default") == Some(&json!(true)))
            .count();
        if defaults != 1 {
            out.push(format!(
                "sites/{}: {defaults} default storage classes, want exactly one",
                root.id
            ));
        }
        let names: BTreeSet<String> = listed
            .iter()
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let path = format!("sites/{}/values/kube-prometheus-stack.yaml", root.id);
        let mut claims = Vec::new();
        claims_in(&kps_values(tree, &root.id), "", &mut claims);
        for (at, class) in claims {
            match class {
                Some(c) if names.contains(&c) => {}
                Some(c) => out.push(format!(
                    "{path}{at}: storage class `{c}` is not created on site {}",
                    root.id
                )),
                None => out.push(format!(
                    "{path}{at}: names no storage class (EKS has no default class)"
                )),
            }
        }
        classes_of.insert(root.id.clone(), names);
    }
    // Cassandra's claims are in the k8ssandra-cluster chart; their class comes from its values.
    if let Some(v) = yaml(tree, "cassandra/values/k8ssandra-cluster.yaml") {
        let class = v.get("storageClass").and_then(Value::as_str).unwrap_or("");
        for dc in v
            .get("datacenters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let site = dc.get("name").and_then(Value::as_str).unwrap_or("");
            if !classes_of.get(site).is_some_and(|c| c.contains(class)) {
                out.push(format!(
                    "cassandra/values/k8ssandra-cluster.yaml: datacenter {site} claims storage class `{class}`, which site {site} does not create"
                ));
            }
        }
    }
    out.extend(chart_claim_problems(tree));
    out
}

/// In chart templates, every claim names its class from the chart's `storageClass` value.
fn chart_claim_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in tree.files() {
        if !(path.starts_with("charts/") && path.contains("/templates/")) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let claim = t.starts_with("volumeClaimTemplate")
                || t.contains("VolumeClaimSpec:")
                || t.starts_with("kind: PersistentVolumeClaim");
            if !claim {
                continue;
            }
            let indent = line.len() - t.len();
            let inside = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent);
            let named = inside
                .clone()
                .any(|l| l.contains("storageClassName:") && l.contains(".Values.storageClass"));
            if !named {
                out.push(format!(
                    "{path}:{}: a claim without `storageClassName` from `.Values.storageClass`",
                    i + 1
                ));
            }
        }
    }
    out
}

#[test]
fn every_volume_claim_names_a_class_its_site_creates() {
    assert_holds("storage classes", storage_problems);
}

#[test]
fn the_storage_check_can_fail() {
    let tree = default_tree();
    let values = tree
        .text("sites/iad/values/kube-prometheus-stack.yaml")
        .unwrap()
        .replace("storageClassName: gp3\n", "");
    let cassandra = tree
        .text("cassandra/values/k8ssandra-cluster.yaml")
        .unwrap()
        .replace("storageClass: gp3", "storageClass: io2");
    let chart = tree
        .text("charts/k8ssandra-cluster/templates/k8ssandracluster.yaml")
        .unwrap()
        .replace("storageClassName:", "storageClassNam:");
    let storage = tree
        .text("modules/site/storage.tf")
        .unwrap()
        .replace("\"true\"", "\"false\"");
    let broken = edited(
        &tree,
        &[
            ("sites/iad/values/kube-prometheus-stack.yaml", values),
            ("cassandra/values/k8ssandra-cluster.yaml", cassandra),
            (
                "charts/k8ssandra-cluster/templates/k8ssandracluster.yaml",
                chart,
            ),
            ("modules/site/storage.tf", storage),
        ],
        &[],
    );
    assert_catches(
        &storage_problems(&broken),
        &[
            "modules/site: no encrypted gp3 StorageClass",
            "sites/iad/values/kube-prometheus-stack.yaml.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate: names no storage class",
            "datacenter ams claims storage class `io2`",
            "k8ssandracluster.yaml:",
        ],
    );
}

// ---- 2. exec authentication ------------------------------------------------------------------

fn exec_problem(exec: &Value) -> Option<String> {
    let args: Vec<&str> = exec
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let ok = exec.get("command") == Some(&json!("aws"))
        && exec.get("api_version") == Some(&json!("client.authentication.k8s.io/v1beta1"))
        && args.windows(2).any(|w| w == ["eks", "get-token"])
        && args.contains(&"--cluster-name")
        && args.contains(&"--region");
    (!ok)
        .then(|| format!("exec is not `aws eks get-token --cluster-name ... --region ...`: {exec}"))
}

fn auth_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, _) in tree.files() {
        if !path.ends_with(".tf") {
            continue;
        }
        let body = parse(tree, path);
        for b in blocks(&body, "data", Some("aws_eks_cluster_auth")) {
            out.push(format!(
                "{path}: data.aws_eks_cluster_auth.{}: a token that expires after 15 minutes",
                b.labels.get(1).map(label).unwrap_or("")
            ));
        }
        for p in blocks(&body, "provider", Some("kubernetes")) {
            if attr(&p.body, "token").is_some() {
                out.push(format!("{path}: provider kubernetes has a static token"));
            }
            let exec: Vec<Value> = blocks(&p.body, "exec", None)
                .iter()
                .map(|e| {
                    Value::Object(
                        e.body
                            .attributes()
                            .map(|a| (a.key.to_string(), to_json(&a.expr)))
                            .collect(),
                    )
                })
                .collect();
            match exec.as_slice() {
                [e] => {
                    out.extend(exec_problem(e).map(|m| format!("{path}: provider kubernetes: {m}")))
                }
                _ => out.push(format!("{path}: provider kubernetes without an exec block")),
            }
        }
        for p in blocks(&body, "provider", Some("helm")) {
            let k = attr(&p.body, "kubernetes").map(to_json).unwrap_or_default();
            if k.get("token").is_some() {
                out.push(format!("{path}: provider helm has a static token"));
            }
            match k.get("exec") {
                Some(e) => {
                    out.extend(exec_problem(e).map(|m| format!("{path}: provider helm: {m}")))
                }
                None => out.push(format!("{path}: provider helm without kubernetes.exec")),
            }
        }
    }
    out
}

#[test]
fn every_cluster_provider_uses_exec_auth() {
    assert_holds("provider authentication", auth_problems);
}

#[test]
fn the_auth_check_can_fail() {
    let mut tree = Tree::new();
    tree.add(
        "sites/x/main.tf",
        r#"data "aws_eks_cluster_auth" "this" {
  name = "c"
}

provider "kubernetes" {
  host  = "h"
  token = data.aws_eks_cluster_auth.this.token
}

provider "helm" {
  kubernetes = {
    host = "h"
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "kubectl"
      args        = []
    }
  }
}
"#,
    );
    assert_catches(
        &auth_problems(&tree),
        &[
            "data.aws_eks_cluster_auth.this",
            "provider kubernetes has a static token",
            "provider kubernetes without an exec block",
            "provider helm: exec is not",
        ],
    );
}

// ---- 3. metrics-server -----------------------------------------------------------------------

fn metrics_server_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for root in site_roots(tree) {
        if !root.is_set("application") {
            continue;
        }
        let installs = resources(tree, &root.module_dir)
            .into_iter()
            .filter(|(ty, _, _)| ty == "helm_release")
            .any(|(_, _, body)| {
                attr(&body, "chart").map(to_json) == Some(json!("metrics-server"))
                    && attr(&body, "repository").map(to_json)
                        == Some(json!("https://kubernetes-sigs.github.io/metrics-server"))
                    && attr(&body, "version").map(text).as_deref()
                        == Some("var.chart_versions.metrics_server")
                    // Unconditional: a count or for_each could leave it out.
                    && attr(&body, "count").is_none()
                    && attr(&body, "for_each").is_none()
            });
        let pinned = root
            .arg("chart_versions")
            .and_then(|v| v.get("metrics_server").cloned())
            .and_then(|v| v.as_str().map(str::to_string))
            .is_some_and(|v| !v.is_empty());
        if !installs || !pinned {
            out.push(format!(
                "sites/{}: runs the application (HorizontalPodAutoscaler on CPU) but installs no pinned metrics-server",
                root.id
            ));
        }
    }
    out
}

#[test]
fn every_site_with_an_hpa_installs_metrics_server() {
    assert_holds("metrics-server", metrics_server_problems);
}

#[test]
fn the_metrics_server_check_can_fail() {
    let tree = default_tree();
    let autoscaling = tree.text("modules/site/autoscaling.tf").unwrap();
    let cut = autoscaling
        .find("resource \"helm_release\" \"metrics_server\"")
        .unwrap();
    let broken = edited(
        &tree,
        &[(
            "modules/site/autoscaling.tf",
            autoscaling[..cut].to_string(),
        )],
        &[],
    );
    assert_catches(
        &metrics_server_problems(&broken),
        &[
            "sites/ams: runs the application",
            "sites/sfo: runs the application",
        ],
    );
}

// ---- 4. alert routing ------------------------------------------------------------------------

/// Objects passed to `yamlencode` anywhere in a module that configure Alertmanager.
fn alertmanager_overrides(tree: &Tree, dir: &str) -> Vec<Value> {
    fn walk(e: &Expression, out: &mut Vec<Value>) {
        match e {
            Expression::FuncCall(f) => {
                if f.name.to_string() == "yamlencode"
                    && let Some(arg) = f.args.first()
                {
                    let v = to_json(arg);
                    if get(&v, &["alertmanager", "config"]).is_some() {
                        out.push(v);
                    }
                }
                f.args.iter().for_each(|a| walk(a, out));
            }
            Expression::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Expression::Object(o) => o.iter().for_each(|(_, v)| walk(v, out)),
            Expression::Conditional(c) => {
                walk(&c.true_expr, out);
                walk(&c.false_expr, out);
            }
            Expression::Parenthesis(p) => walk(p, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (_, body) in dir_bodies(tree, dir) {
        for b in body.blocks() {
            for a in b.body.attributes() {
                walk(&a.expr, &mut out);
            }
        }
    }
    out
}

/// Helm's merge: maps merge key by key, anything else is replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn alert_routing_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for root in site_roots(tree) {
        let values = kps_values(tree, &root.id);
        let enabled = get(&values, &["alertmanager", "enabled"])
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if !enabled {
            continue;
        }
        // kube-prometheus-stack's own default: everything to the receiver named `null`.
        let mut config =
            json!({ "route": { "receiver": "null" }, "receivers": [{ "name": "null" }] });
        if let Some(c) = get(&values, &["alertmanager", "config"]) {
            merge(&mut config, c);
        }
        // The module's receivers name the topic it creates; it adds them with global_monitoring.
        if root.is_set("global_monitoring") {
            for o in alertmanager_overrides(tree, &root.module_dir) {
                if let Some(c) = get(&o, &["alertmanager", "config"]) {
                    merge(&mut config, c);
                }
            }
        }
        let at = format!("sites/{}", root.id);
        let receiver = get(&config, &["route", "receiver"])
            .and_then(Value::as_str)
            .unwrap_or("");
        if receiver.is_empty() || receiver == "null" {
            out.push(format!(
                "{at}: Alertmanager's default route goes to `{receiver}`: alerts reach no one"
            ));
            continue;
        }
        let def = config
            .get("receivers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("name").and_then(Value::as_str) == Some(receiver));
        let notifies = def.is_some_and(|r| {
            r.as_object().is_some_and(|m| {
                m.iter().any(|(k, v)| {
                    k.ends_with("_configs") && v.as_array().is_some_and(|a| !a.is_empty())
                })
            })
        });
        if !notifies {
            out.push(format!(
                "{at}: receiver `{receiver}` of the default route has no notifier"
            ));
        }
        for sns in def
            .and_then(|r| r.get("sns_configs"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let topic = sns.get("topic_arn").and_then(Value::as_str).unwrap_or("");
            let region = get(sns, &["sigv4", "region"]).and_then(Value::as_str);
            if topic.is_empty() || region.is_none() {
                out.push(format!(
                    "{at}: an SNS receiver without a topic or a sigv4 region"
                ));
            }
        }
    }
    out
}

#[test]
fn alertmanager_routes_to_people() {
    assert_holds("alert routing", alert_routing_problems);
}

#[test]
fn the_alert_routing_check_can_fail() {
    let tree = default_tree();
    // Without the module's receivers, the chart's `null` receiver is the default again.
    let alerting = tree.text("modules/site/alerting.tf").unwrap().replace(
        "yamlencode({\n    alertmanager",
        "yamlencode({\n    nothing",
    );
    let broken = edited(&tree, &[("modules/site/alerting.tf", alerting)], &[]);
    assert_catches(
        &alert_routing_problems(&broken),
        &["sites/ams: Alertmanager's default route goes to `null`"],
    );
    let values = format!(
        "{}alertmanager:\n  enabled: true\n  config:\n    route:\n      receiver: pager\n    receivers:\n    - name: pager\n",
        tree.text("sites/iad/values/kube-prometheus-stack.yaml")
            .unwrap()
            .replace("alertmanager:\n  enabled: false\n", "")
    );
    let broken = edited(
        &tree,
        &[("sites/iad/values/kube-prometheus-stack.yaml", values)],
        &[],
    );
    assert_catches(
        &alert_routing_problems(&broken),
        &["sites/iad: receiver `pager` of the default route has no notifier"],
    );
}

// ---- 5. metric names -------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct Allowlist {
    exporter: Vec<Exporter>,
}

#[derive(serde::Deserialize)]
struct Exporter {
    name: String,
    chart: String,
    chart_version: String,
    version: String,
    source: String,
    metrics: Vec<String>,
}

fn allowlist() -> Allowlist {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/exporter-metrics.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Metric names a PromQL expression reads: identifiers outside label matchers, strings and
/// ranges that are neither functions, keywords nor label lists of `by`/`without`/`on`/`ignoring`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "atan2",
        "inf",
        "nan",
    ];
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let c: Vec<char> = expr.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    let skip_to = |i: usize, close: char| {
        let mut j = i + 1;
        while j < c.len() && c[j] != close {
            if c[j] == '\\' {
                j += 1;
            }
            j += 1;
        }
        j + 1
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            i = skip_to(i, ch);
        } else if ch == '{' {
            i = skip_to(i, '}');
        } else if ch == '[' {
            i = skip_to(i, ']');
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let mut j = i;
            while j < c.len() && c[j].is_whitespace() {
                j += 1;
            }
            let call = c.get(j) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) && call {
                i = skip_to(j, ')');
            } else if !call
                && !KEYWORDS.contains(&word.to_lowercase().as_str())
                && !AGGREGATIONS.contains(&word.as_str())
            {
                out.insert(word);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// (file, what, expression) of every rule and dashboard query.
fn queries(tree: &Tree) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, _) in tree.files() {
        if path.starts_with("monitoring/rules/") {
            let v = yaml(tree, path).unwrap_or_default();
            for g in v
                .get("groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for r in g
                    .get("rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = r
                        .get("alert")
                        .or_else(|| r.get("record"))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    if let Some(e) = r.get("expr").and_then(Value::as_str) {
                        out.push((path.to_string(), name.to_string(), e.to_string()));
                    }
                }
            }
        } else if path.starts_with("monitoring/dashboards/") && path.ends_with(".json") {
            let v: Value = serde_json::from_str(tree.text(path).unwrap()).unwrap();
            for p in v
                .get("panels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let title = p.get("title").and_then(Value::as_str).unwrap_or("?");
                for t in p
                    .get("targets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(e) = t.get("expr").and_then(Value::as_str) {
                        out.push((path.to_string(), title.to_string(), e.to_string()));
                    }
                }
            }
        }
    }
    out
}

fn metric_problems(tree: &Tree) -> Vec<String> {
    let list = allowlist();
    let mut out = Vec::new();
    // The list is only as good as the versions it was read at.
    for e in &list.exporter {
        let pinned = sovereign_render::CHART_VERSIONS
            .iter()
            .find(|(k, _, _)| *k == e.chart)
            .map(|(_, _, v)| *v);
        if pinned != Some(e.chart_version.as_str()) {
            out.push(format!(
                "exporter-metrics.toml: {} {} was read for chart {} {}, the tree pins {:?}: read {} again ({})",
                e.name, e.version, e.chart, e.chart_version, pinned, e.name, e.source
            ));
        }
    }
    let known: BTreeSet<&str> = list
        .exporter
        .iter()
        .flat_map(|e| e.metrics.iter().map(String::as_str))
        .collect();
    let mut used = BTreeSet::new();
    for (path, what, expr) in queries(tree) {
        for m in metric_names(&expr) {
            if !known.contains(m.as_str()) {
                out.push(format!(
                    "{path}: `{what}` reads `{m}`, which no pinned exporter exports"
                ));
            }
            used.insert(m);
        }
    }
    // Sites other than the global one forward exactly these series.
    for root in site_roots(tree) {
        let values = kps_values(tree, &root.id);
        for rw in get(&values, &["prometheus", "prometheusSpec", "remoteWrite"])
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let keep: Vec<&Value> = rw
                .get("writeRelabelConfigs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| {
                    r.get("action") == Some(&json!("keep"))
                        && r.get("sourceLabels") == Some(&json!(["__name__"]))
                })
                .collect();
            let [k] = keep.as_slice() else {
                out.push(format!(
                    "sites/{}: remote write without one `keep` on `__name__`: every series crosses regions",
                    root.id
                ));
                continue;
            };
            let names: BTreeSet<&str> = k
                .get("regex")
                .and_then(Value::as_str)
                .unwrap_or("")
                .split('|')
                .collect();
            for m in &used {
                if !names.contains(m.as_str()) {
                    out.push(format!(
                        "sites/{}: remote write drops `{m}`, which the global rules or dashboards read",
                        root.id
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn rules_and_dashboards_read_metrics_the_pinned_exporters_export() {
    assert_holds("metric names", metric_problems);
}

#[test]
fn the_metric_check_can_fail() {
    let tree = default_tree();
    let rules = format!(
        "{}- name: extra\n  rules:\n  - alert: Lag\n    expr: max by (site) (pg_replication_lag{{role=\"x\"}}) > 5\n  - alert: Cost\n    expr: sum(rate(aws_billing_estimated_charges_maximum[5m])) > 1\n",
        tree.text("monitoring/rules/sovereign.rules.yml").unwrap()
    );
    let values = tree
        .text("sites/iad/values/kube-prometheus-stack.yaml")
        .unwrap()
        .replace("|redis_up|", "|");
    let broken = edited(
        &tree,
        &[
            ("monitoring/rules/sovereign.rules.yml", rules),
            ("sites/iad/values/kube-prometheus-stack.yaml", values),
        ],
        &[],
    );
    assert_catches(
        &metric_problems(&broken),
        &[
            "`Lag` reads `pg_replication_lag`",
            "`Cost` reads `aws_billing_estimated_charges_maximum`",
            "sites/iad: remote write drops `redis_up`",
        ],
    );
}

#[test]
fn promql_metric_names() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            "sum by (site, statefulset) (kube_statefulset_replicas{namespace=\"k8ssandra\"} - kube_statefulset_status_replicas_ready{namespace=\"k8ssandra\"}) > 0"
        ),
        [
            "kube_statefulset_replicas",
            "kube_statefulset_status_replicas_ready"
        ]
    );
    assert_eq!(
        names("avg by (site) (1 - rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))"),
        ["node_cpu_seconds_total"]
    );
    assert_eq!(names("absent(up{site=\"ams\"})"), ["up"]);
    assert_eq!(
        names("a / on(x) group_left(y) b offset 5m and vector(1.5e3)"),
        ["a", "b"]
    );
}

// ---- 6. Cassandra pods -----------------------------------------------------------------------

const CAPACITY: &str = "sovereign.dev/capacity";

/// The capacity label values of on-demand and Spot node groups, from the node-group module and
/// the global root's calls: (on-demand values, Spot values).
fn capacity_labels(tree: &Tree) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut label = None;
    for (_, _, body) in resources(tree, "modules/node-group") {
        if let Some(l) = attr(&body, "labels").map(to_json) {
            label = l.get(CAPACITY).and_then(Value::as_str).map(str::to_string);
        }
    }
    let (mut on_demand, mut spot) = (BTreeSet::new(), BTreeSet::new());
    for (_, body) in dir_bodies(tree, "") {
        for m in blocks(&body, "module", None) {
            if attr(&m.body, "source").map(to_json) != Some(json!("./modules/node-group")) {
                continue;
            }
            let ty = attr(&m.body, "capacity_type")
                .map(to_json)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let value = match label.as_deref() {
                Some("lower(var.capacity_type)") => ty.to_lowercase(),
                Some(other) => other.to_string(),
                None => continue,
            };
            if ty == "SPOT" {
                spot.insert(value);
            } else {
                on_demand.insert(value);
            }
        }
    }
    (on_demand, spot)
}

fn gibibytes(q: &str) -> Option<f64> {
    let (n, unit) = q.split_at(q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len()));
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "Gi" => n,
        "Mi" => n / 1024.0,
        "G" => n * 1e9 / 1024f64.powi(3),
        "M" => n * 1e6 / 1024f64.powi(3),
        _ => return None,
    })
}

fn cassandra_problems(tree: &Tree) -> Vec<String> {
    let Some(v) = yaml(tree, "cassandra/values/k8ssandra-cluster.yaml") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let at = "cassandra/values/k8ssandra-cluster.yaml";
    let (on_demand, spot) = capacity_labels(tree);
    let wanted = v
        .get("nodeLabels")
        .and_then(|l| l.get(CAPACITY))
        .and_then(Value::as_str);
    match wanted {
        Some(w) if on_demand.contains(w) && !spot.contains(w) => {}
        other => out.push(format!(
            "{at}: nodeLabels.{CAPACITY} is {other:?}, not the on-demand groups' label ({on_demand:?}; Spot: {spot:?})"
        )),
    }
    for dc in v
        .get("datacenters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = dc.get("name").and_then(Value::as_str).unwrap_or("?");
        let q = |path: &[&str]| get(dc, path).and_then(Value::as_str).map(str::to_string);
        for path in [
            ["resources", "requests", "cpu"],
            ["resources", "requests", "memory"],
            ["resources", "limits", "memory"],
        ] {
            if q(&path).is_none() {
                out.push(format!("{at}: datacenter {name} has no {}", path.join(".")));
            }
        }
        let heap = q(&["heap"]).and_then(|h| gibibytes(&h));
        let limit = q(&["resources", "limits", "memory"]).and_then(|m| gibibytes(&m));
        match (heap, limit) {
            (Some(h), Some(l)) if h > 0.0 && h <= l / 2.0 => {}
            _ => out.push(format!(
                "{at}: datacenter {name}: heap {heap:?} GiB must be set and at most half the memory limit {limit:?} GiB"
            )),
        }
    }
    out.extend(rendered_cassandra_problems(tree));
    out
}

/// helm, where `scripts/fetch-tools` builds it or on the PATH.
fn helm() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let built = cache.join("sovereign/tools/bin/helm");
    if built.is_file() {
        return Some(built);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("helm"))
            .find(|h| h.is_file())
    })
}

/// The K8ssandraCluster as `helm template` renders it: every datacenter has resources and a
/// heap, every rack requires the on-demand capacity label.
fn rendered_cassandra_problems(tree: &Tree) -> Vec<String> {
    let Some(helm) = helm() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "helm is needed to render the k8ssandra-cluster chart: run scripts/fetch-tools"
        );
        eprintln!("skipping the rendered K8ssandraCluster check: no helm (scripts/fetch-tools)");
        return Vec::new();
    };
    let dir = std::env::temp_dir().join(format!(
        "sovereign-invariants-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, bytes) in tree.files() {
        if let Some(rel) = path
            .strip_prefix("charts/k8ssandra-cluster/")
            .map(|r| format!("chart/{r}"))
            .or_else(|| {
                (path == "cassandra/values/k8ssandra-cluster.yaml").then(|| "values.yaml".into())
            })
        {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    let o = std::process::Command::new(helm)
        .arg("template")
        .arg("x")
        .arg(dir.join("chart"))
        .arg("-f")
        .arg(dir.join("values.yaml"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if !o.status.success() {
        return vec![format!(
            "helm template charts/k8ssandra-cluster: {}",
            String::from_utf8_lossy(&o.stderr)
        )];
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let mut out = Vec::new();
    let mut found = false;
    for doc in text.split("\n---") {
        let Ok(v) = serde_saphyr::from_str::<Value>(doc) else {
            continue;
        };
        if v.get("kind").and_then(Value::as_str) != Some("K8ssandraCluster") {
            continue;
        }
        found = true;
        let evictable = get(
            &v,
            &[
                "spec",
                "cassandra",
                "metadata",
                "pods",
                "annotations",
                "cluster-autoscaler.kubernetes.io/safe-to-evict",
            ],
        )
        .and_then(Value::as_str)
            != Some("false");
        if evictable {
            out.push(
                "K8ssandraCluster: the cluster autoscaler may evict Cassandra pods to empty a node"
                    .into(),
            );
        }
        for dc in get(&v, &["spec", "cassandra", "datacenters"])
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = get(dc, &["metadata", "name"])
                .and_then(Value::as_str)
                .unwrap_or("?");
            if get(dc, &["resources", "requests", "memory"]).is_none()
                || get(dc, &["resources", "limits", "memory"]).is_none()
            {
                out.push(format!(
                    "K8ssandraCluster: datacenter {name} without resources"
                ));
            }
            if get(dc, &["config", "jvmOptions", "heap_max_size"]).is_none() {
                out.push(format!(
                    "K8ssandraCluster: datacenter {name} without a heap"
                ));
            }
            let racks: Vec<&Value> = dc
                .get("racks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            if racks.is_empty()
                || racks.iter().any(|r| {
                    get(r, &["nodeAffinityLabels", CAPACITY]).and_then(Value::as_str)
                        != Some("on_demand")
                })
            {
                out.push(format!(
                    "K8ssandraCluster: datacenter {name} has a rack that may schedule on Spot nodes"
                ));
            }
        }
    }
    if !found {
        out.push("helm template charts/k8ssandra-cluster: no K8ssandraCluster".into());
    }
    out
}

#[test]
fn cassandra_pods_have_resources_and_stay_off_spot() {
    assert_holds("Cassandra pods", cassandra_problems);
}

#[test]
fn the_cassandra_check_can_fail() {
    let tree = default_tree();
    let values = tree
        .text("cassandra/values/k8ssandra-cluster.yaml")
        .unwrap()
        .replace("on_demand", "spot")
        .replacen("heap:", "heep:", 1);
    let broken = edited(
        &tree,
        &[("cassandra/values/k8ssandra-cluster.yaml", values)],
        &[],
    );
    assert_catches(
        &cassandra_problems(&broken),
        &[
            "nodeLabels.sovereign.dev/capacity is Some(\"spot\")",
            "datacenter ams: heap None",
        ],
    );
    // A chart that drops what the values say: only `helm template` shows it.
    let chart = tree
        .text("charts/k8ssandra-cluster/templates/k8ssandracluster.yaml")
        .unwrap()
        .replace(
            "resources:\n          {{- toYaml",
            "resourcez:\n          {{- toYaml",
        )
        .replace("$.Values.nodeLabels", "$.Values.nodeLabelz")
        .replace("safe-to-evict: \"false\"", "safe-to-evict: \"true\"");
    let broken = edited(
        &tree,
        &[(
            "charts/k8ssandra-cluster/templates/k8ssandracluster.yaml",
            chart,
        )],
        &[],
    );
    let problems = cassandra_problems(&broken);
    if helm().is_some() {
        assert_catches(
            &problems,
            &[
                "datacenter ams without resources",
                "datacenter ams has a rack that may schedule on Spot nodes",
                "the cluster autoscaler may evict Cassandra pods",
            ],
        );
    }
}

/// Medusa: the cluster's backup bucket is created by exactly one datacenter's site, in the region
/// the K8ssandraCluster names; every datacenter's pods run as the service account its site grants
/// the bucket to, and every datacenter's site schedules its backups.
fn backup_problems(tree: &Tree) -> Vec<String> {
    let Some(v) = yaml(tree, "cassandra/values/k8ssandra-cluster.yaml") else {
        return Vec::new();
    };
    let at = "cassandra/values/k8ssandra-cluster.yaml";
    let mut out = Vec::new();
    let region = get(&v, &["medusa", "bucketRegion"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let account = v
        .get("serviceAccount")
        .and_then(Value::as_str)
        .unwrap_or("");
    if region.is_empty() || account.is_empty() {
        out.push(format!(
            "{at}: no Medusa bucket region or no service account for the Cassandra pods"
        ));
    }
    if !tree
        .text("cassandra/cassandra.tf")
        .is_some_and(|t| t.contains("\"medusa.bucketName\""))
    {
        out.push("cassandra/cassandra.tf: the K8ssandraCluster gets no Medusa bucket name".into());
    }
    let roots = site_roots(tree);
    let mut owners = Vec::new();
    for dc in v
        .get("datacenters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let site = dc.get("name").and_then(Value::as_str).unwrap_or("?");
        let Some(root) = roots.iter().find(|r| r.id == site) else {
            out.push(format!("datacenter {site} has no site root"));
            continue;
        };
        let medusa = root
            .arg("cassandra")
            .and_then(|c| c.get("medusa").cloned())
            .unwrap_or(Value::Null);
        if medusa.is_null() {
            out.push(format!("sites/{site}: a datacenter without Medusa access"));
            continue;
        }
        if medusa.get("service_account").and_then(Value::as_str) != Some(account) {
            out.push(format!(
                "sites/{site}: grants the bucket to service account {:?}, the pods run as `{account}`",
                medusa.get("service_account")
            ));
        }
        if medusa.get("create_bucket") == Some(&json!(true)) {
            owners.push(site.to_string());
            if root.arg("region").as_ref().and_then(Value::as_str) != Some(region) {
                out.push(format!(
                    "sites/{site}: creates the bucket outside `{region}`, the region Medusa uses"
                ));
            }
        }
        let module = resources(tree, &root.module_dir);
        for (ty, name) in [
            ("aws_s3_bucket", "medusa"),
            ("aws_iam_role_policy", "medusa"),
            ("helm_release", "backup_schedule"),
        ] {
            if !module.iter().any(|(t, n, _)| t == ty && n == name) {
                out.push(format!("{}: no {ty}.{name}", root.module_dir));
            }
        }
    }
    if owners.len() != 1 {
        out.push(format!(
            "the backup bucket is created by {owners:?}, not exactly one site"
        ));
    }
    out
}

#[test]
fn cassandra_backs_up_to_one_bucket_every_datacenter_reaches() {
    assert_holds("Medusa backups", backup_problems);
}

#[test]
fn the_backup_check_can_fail() {
    let tree = default_tree();
    let iad = tree
        .text("sites/iad/main.tf")
        .unwrap()
        .replace("create_bucket      = false", "create_bucket      = true")
        .replace(
            "service_account    = \"cassandra\"",
            "service_account    = \"default\"",
        );
    let broken = edited(&tree, &[("sites/iad/main.tf", iad)], &[]);
    assert_catches(
        &backup_problems(&broken),
        &[
            "sites/iad: grants the bucket to service account Some(String(\"default\"))",
            "sites/iad: creates the bucket outside `eu-west-1`",
            "the backup bucket is created by [\"ams\", \"iad\"]",
        ],
    );
}

// ---- node volumes and the Auto Scaling role ----------------------------------------------------

/// Every node group encrypts its volumes with its site's key, and that key's policy lets EC2
/// Auto Scaling's service-linked role use it and create grants: without both, no node starts.
fn node_key_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let region = parse(tree, "modules/region/main.tf");
    let kms_doc = blocks(&region, "data", Some("aws_iam_policy_document"))
        .into_iter()
        .find(|b| b.labels.get(1).map(label) == Some("kms"));
    let Some(doc) = kms_doc else {
        return vec!["modules/region: no KMS key policy document".into()];
    };
    let statements: Vec<String> = blocks(&doc.body, "statement", None)
        .iter()
        .map(|s| hcl::format::to_string(&s.body).unwrap_or_default())
        .collect();
    let grants_role = |action: &str| {
        statements
            .iter()
            .any(|s| s.contains(action) && s.contains("local.autoscaling_role_arn"))
    };
    for action in ["kms:GenerateDataKey*", "kms:Decrypt", "kms:CreateGrant"] {
        if !grants_role(action) {
            out.push(format!(
                "modules/region: the node volumes' key does not give the Auto Scaling role `{action}`"
            ));
        }
    }
    let locals = blocks(&region, "locals", None)
        .iter()
        .filter_map(|b| attr(&b.body, "autoscaling_role_arn").map(text))
        .collect::<Vec<_>>();
    if !locals.iter().any(|l| {
        l.contains("aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    }) {
        out.push(
            "modules/region: autoscaling_role_arn is not the Auto Scaling service-linked role"
                .into(),
        );
    }
    for (path, body) in dir_bodies(tree, "") {
        for m in blocks(&body, "module", None) {
            let source = attr(&m.body, "source").map(text).unwrap_or_default();
            if !source.contains("modules/node-group") {
                continue;
            }
            let name = m.labels.first().map(label).unwrap_or_default();
            let site = name.split('_').next_back().unwrap_or_default();
            let key = attr(&m.body, "kms_key_arn").map(text).unwrap_or_default();
            if key != format!("module.network_{site}.kms_key_arn") {
                out.push(format!(
                    "{path}: module {name} encrypts node volumes with `{key}`, not its site's key"
                ));
            }
        }
    }
    out
}

#[test]
fn node_volume_keys_let_auto_scaling_launch_nodes() {
    assert_holds("node volume keys", node_key_problems);
}

#[test]
fn the_node_key_check_can_fail() {
    let tree = default_tree();
    let region = tree.text("modules/region/main.tf").unwrap();
    let broken = region.replace("kms:CreateGrant", "kms:ListGrants");
    let problems = node_key_problems(&edited(&tree, &[("modules/region/main.tf", broken)], &[]));
    assert_catches(&problems, &["`kms:CreateGrant`"]);
    let k = tree.text("kubernetes.tf").unwrap();
    let broken = k.replacen(
        "module.network_ams.kms_key_arn",
        "module.network_iad.kms_key_arn",
        2,
    );
    let problems = node_key_problems(&edited(&tree, &[("kubernetes.tf", broken)], &[]));
    assert_catches(&problems, &["not its site's key"]);
}

// ---- what the budgets count ---------------------------------------------------------------------

/// The budgets filter on the `sovereign:project` and `sovereign:site` tags. What costs most is not
/// created by Terraform: instances and volumes a launch template starts (provider default tags do
/// not reach them) and volumes the EBS CSI driver creates. Each must carry both tags.
fn cost_tag_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let ng = parse(tree, "modules/node-group/main.tf");
    for lt in blocks(&ng, "resource", Some("aws_launch_template")) {
        for spec in blocks(&lt.body, "tag_specifications", None) {
            let kind = attr(&spec.body, "resource_type")
                .map(text)
                .unwrap_or_default();
            let tags = attr(&spec.body, "tags").map(text).unwrap_or_default();
            if !tags.contains("local.launched_tags") {
                out.push(format!(
                    "modules/node-group: {kind} tags `{tags}` leave out the provider's default tags"
                ));
            }
        }
    }
    let launched = blocks(&ng, "locals", None)
        .iter()
        .filter_map(|b| attr(&b.body, "launched_tags").map(text))
        .collect::<Vec<_>>()
        .join(" ");
    if !launched.contains("data.aws_default_tags.current.tags") || !launched.contains("var.tags") {
        out.push(format!(
            "modules/node-group: launched_tags is `{launched}`, not the default tags and the site's"
        ));
    }
    let storage = parse(tree, "modules/site/storage.tf");
    for sc in blocks(&storage, "resource", Some("kubernetes_storage_class_v1")) {
        let params = attr(&sc.body, "parameters").map(text).unwrap_or_default();
        if !params.contains("tagSpecification_") || !params.contains("var.cost_tags") {
            out.push("modules/site: the storage classes put no cost tags on their volumes".into());
        }
    }
    for root in site_roots(tree) {
        let tags = root.call.get("cost_tags").map(text).unwrap_or_default();
        for key in ["sovereign:project", "sovereign:site"] {
            if !tags.contains(key) {
                out.push(format!(
                    "sites/{}: the site module's cost_tags lack `{key}`",
                    root.id
                ));
            }
        }
    }
    out
}

#[test]
fn everything_that_costs_money_carries_the_budget_tags() {
    assert_holds("cost tags", cost_tag_problems);
}

#[test]
fn the_cost_tag_check_can_fail() {
    let tree = default_tree();
    let ng = tree.text("modules/node-group/main.tf").unwrap().replace(
        "tags          = local.launched_tags",
        "tags          = var.tags",
    );
    let site = tree
        .text("sites/ams/main.tf")
        .unwrap()
        .replace("\"sovereign:site\"", "\"sovereign:place\"");
    let problems = cost_tag_problems(&edited(
        &tree,
        &[
            ("modules/node-group/main.tf", ng),
            ("sites/ams/main.tf", site),
        ],
        &[],
    ));
    assert_catches(
        &problems,
        &[
            "leave out the provider's default tags",
            "lack `sovereign:site`",
        ],
    );
}

// ---- order across roots ---------------------------------------------------------------------------

/// The zone the certificates validate through is created by a root applied before the one that
/// waits for validation, and every certificate waits on a record owned once.
fn dns_order_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let global: Vec<(String, Body)> = dir_bodies(tree, "");
    let zone_in_global = global.iter().any(|(_, b)| {
        !blocks(b, "resource", Some("aws_route53_zone")).is_empty()
            && blocks(b, "resource", Some("aws_route53_zone"))
                .iter()
                .any(|z| z.labels.get(1).map(label) == Some("public"))
    });
    if zone_in_global {
        out.push("the public zone is created by the global root, which also waits for certificates validated through it".into());
    }
    let edge = parse(tree, "modules/edge/main.tf");
    if !blocks(&edge, "resource", Some("aws_route53_record")).is_empty() {
        out.push(
            "modules/edge creates validation records: every edge would own the same record".into(),
        );
    }
    if tree.text("loadbalancer.tf").is_some() && tree.text("dns/main.tf").is_none() {
        out.push("load balancers with certificates, but no dns root".into());
    }
    out
}

#[test]
fn certificates_validate_through_a_zone_applied_before_them() {
    assert_holds("dns order", dns_order_problems);
}

#[test]
fn the_dns_order_check_can_fail() {
    let tree = default_tree();
    let zone =
        "resource \"aws_route53_zone\" \"public\" {\n  name = \"x.example.com\"\n}\n".to_string();
    let problems = dns_order_problems(&edited(&tree, &[("zone.tf", zone)], &["dns/main.tf"]));
    assert_catches(&problems, &["created by the global root", "no dns root"]);
}

/// The clusters' public endpoints answer the operator's machines (a required variable, no
/// default), and a remote Cassandra datacenter's cluster answers the control plane's NAT.
fn endpoint_access_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let vars = parse(tree, "variables.tf");
    let op = blocks(&vars, "variable", Some("operator_cidrs"));
    let Some(op) = op.first() else {
        return if tree.text("kubernetes.tf").is_some() {
            vec!["no operator_cidrs variable".into()]
        } else {
            Vec::new()
        };
    };
    if attr(&op.body, "default").is_some() {
        out.push(
            "operator_cidrs has a default: a range that works for everyone does not exist".into(),
        );
    }
    let k = parse(tree, "kubernetes.tf");
    for m in blocks(&k, "module", None) {
        let name = m.labels.first().map(label).unwrap_or_default();
        if !name.starts_with("eks_") {
            continue;
        }
        let cidrs = attr(&m.body, "public_access_cidrs")
            .map(text)
            .unwrap_or_default();
        if !cidrs.contains("var.operator_cidrs") {
            out.push(format!(
                "{name}: its endpoint does not answer the operator's machines"
            ));
        }
    }
    out
}

#[test]
fn cluster_endpoints_answer_the_operator() {
    assert_holds("endpoint access", endpoint_access_problems);
}

#[test]
fn the_endpoint_access_check_can_fail() {
    let tree = default_tree();
    let k = tree.text("kubernetes.tf").unwrap().replacen(
        "var.operator_cidrs",
        "[\"203.0.113.0/24\"]",
        1,
    );
    let problems = endpoint_access_problems(&edited(&tree, &[("kubernetes.tf", k)], &[]));
    assert_catches(&problems, &["does not answer the operator's machines"]);
}

// ---- PostgreSQL roles and the Fly.io side ------------------------------------------------------

/// The project name a tree was rendered for, from the global root's tags.
fn project(tree: &Tree) -> String {
    let main = parse(tree, "main.tf");
    blocks(&main, "locals", None)
        .iter()
        .find_map(|l| attr(&l.body, "tags"))
        .map(to_json)
        .and_then(|t| t["sovereign:project"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Secrets Manager names of the master, monitoring and replication credentials.
fn pg_secret(tree: &Tree, role: &str) -> String {
    format!("{}/postgres/{role}", project(tree))
}

/// Every file under `fly/`, as text.
fn fly_files(tree: &Tree) -> Vec<(String, String)> {
    tree.files()
        .filter(|(p, _)| p.starts_with("fly/"))
        .map(|(p, b)| (p.to_string(), String::from_utf8_lossy(b).into_owned()))
        .collect()
}

/// The body of a `cmd_<name>() { ... }` function of deploy.sh.
fn deploy_step(script: &str, name: &str) -> String {
    let start = format!("cmd_{name}() {{\n");
    script
        .find(&start)
        .map(|i| {
            let rest = &script[i + start.len()..];
            rest[..rest.find("\n}\n").unwrap_or(rest.len())].to_string()
        })
        .unwrap_or_default()
}

/// The master credentials never reach the Fly.io side: no file it reads (fly/) names the master
/// secret or the outputs that lead to it, every secret deploy.sh reads is the replication role's
/// or a link gateway's, and nothing sets the old PRIMARY_* machine secrets. In the site roots,
/// only the site that runs the roles Job receives the master secret.
fn fly_credential_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let master = pg_secret(tree, "master");
    let replicator = pg_secret(tree, "replicator");
    for (path, text) in fly_files(tree) {
        if text.contains(&master) {
            out.push(format!("{path}: names the master secret `{master}`"));
        }
        if text.contains("tf_output postgres") || text.contains("credentials_secret") {
            out.push(format!(
                "{path}: reads the postgres output, which leads to the master secret"
            ));
        }
        for line in text.lines() {
            if let Some(i) = line.find("--secret-id ") {
                let id = line[i + "--secret-id ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_matches('\'');
                if id != replicator && id != "\"$secret\"" {
                    out.push(format!(
                        "{path}: reads the secret `{id}`, neither the replication role's nor a link gateway's"
                    ));
                }
            }
            let sets = line.contains("fly secrets set") || line.contains("secrets import");
            if (sets || line.contains("PRIMARY_PASSWORD="))
                && line.contains("PRIMARY_")
                && !line.contains("unset")
            {
                out.push(format!(
                    "{path}: gives the replica the primary's credentials: `{}`",
                    line.trim()
                ));
            }
        }
    }
    let mut with_master = Vec::new();
    for root in site_roots(tree) {
        if let Some(pg) = root.arg("postgres").filter(|v| !v.is_null())
            && pg["roles"]["master_secret_arn"].as_str() == Some(master.as_str())
        {
            with_master.push(root.id.clone());
        }
    }
    if with_master.len() > 1 {
        out.push(format!(
            "the master secret reaches the site roots of {with_master:?}: only the one running the roles Job needs it"
        ));
    }
    out
}

#[test]
fn the_fly_side_never_reads_the_master_credentials() {
    assert_holds("credentials on Fly.io", fly_credential_problems);
}

#[test]
fn the_fly_credential_check_can_fail() {
    let tree = default_tree();
    let script = tree.text("fly/deploy.sh").unwrap().replacen(
        "  links=$(tf_output fly_links)\n",
        "  links=$(tf_output fly_links)\n  master=$(aws secretsmanager get-secret-value --region eu-west-1 --secret-id global-sovereign/postgres/master --query SecretString --output text)\n  fly secrets set -a x --stage PRIMARY_USER=\"$(jq -r .username <<<\"$master\")\"\n",
        1,
    );
    let iad = tree.text("sites/iad/main.tf").unwrap().replacen(
        "    secret_arn = \"global-sovereign/postgres/monitor\"\n    roles      = null\n",
        "    secret_arn = \"global-sovereign/postgres/monitor\"\n    roles = {\n      master_secret_arn = \"global-sovereign/postgres/master\"\n    }\n",
        1,
    );
    assert_ne!(iad, tree.text("sites/iad/main.tf").unwrap());
    let problems = fly_credential_problems(&edited(
        &tree,
        &[("fly/deploy.sh", script), ("sites/iad/main.tf", iad)],
        &[],
    ));
    assert_catches(
        &problems,
        &[
            "names the master secret",
            "reads the secret `global-sovereign/postgres/master`",
            "gives the replica the primary's credentials",
            "the master secret reaches the site roots",
        ],
    );
}

/// The PostgreSQL exporters log in as the monitoring role: every site root hands the site module
/// the monitoring role's secret, the module builds the exporters' credentials from that input
/// alone, and the secret holds `sovereign_monitor`. The roles Job creates that role with
/// pg_monitor, and the slot alerts read the exporter the module labels `pg_endpoint="writer"`.
fn exporter_role_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let monitor = pg_secret(tree, "monitor");
    let mut any = false;
    for root in site_roots(tree) {
        let Some(pg) = root.arg("postgres").filter(|v| !v.is_null()) else {
            continue;
        };
        any = true;
        if pg["secret_arn"].as_str() != Some(monitor.as_str()) {
            out.push(format!(
                "sites/{}: the exporter logs in with `{}`, not the monitoring role's secret",
                root.id, pg["secret_arn"]
            ));
        }
    }
    if !any {
        return out;
    }
    let module = parse(tree, "modules/site/monitoring.tf");
    let data = blocks(&module, "data", Some("aws_secretsmanager_secret_version"))
        .into_iter()
        .find(|b| b.labels.get(1).map(label) == Some("postgres"));
    match data.and_then(|d| attr(&d.body, "secret_id")).map(text) {
        Some(id) if id == "var.postgres.secret_arn" => {}
        other => out.push(format!(
            "modules/site: the exporters' credentials come from {other:?}, not var.postgres.secret_arn"
        )),
    }
    for (ty, name, body) in resources(tree, "modules/site") {
        if ty == "kubernetes_secret_v1" && name == "postgres_exporter" {
            let data = attr(&body, "data").map(text).unwrap_or_default();
            if data.contains("postgres_master") || !data.contains("secret_version.postgres[0]") {
                out.push(format!(
                    "modules/site: the exporter's secret is not built from the monitoring role's: {data}"
                ));
            }
        }
    }
    let secrets = parse(tree, "secrets.tf");
    let version = blocks(
        &secrets,
        "resource",
        Some("aws_secretsmanager_secret_version"),
    )
    .into_iter()
    .find(|b| b.labels.get(1).map(label) == Some("postgres_monitor"))
    .and_then(|b| attr(&b.body, "secret_string"))
    .map(text)
    .unwrap_or_default();
    if !version.contains("\"sovereign_monitor\"") {
        out.push(format!(
            "secrets.tf: the monitoring secret does not hold sovereign_monitor: `{version}`"
        ));
    }
    let sql = tree
        .text("charts/postgres-roles/files/roles.sql")
        .unwrap_or_default();
    if !sql.contains("\\set monitor sovereign_monitor")
        || !sql.contains("GRANT pg_monitor TO :\"monitor\"")
    {
        out.push(
            "charts/postgres-roles: the roles script does not make sovereign_monitor a pg_monitor"
                .into(),
        );
    }
    let writer_label = tree.text("modules/site/monitoring.tf").is_some_and(|t| {
        t.contains("targetLabel = \"pg_endpoint\"") && t.contains("endpoint = \"writer\" }")
    });
    for (path, what, expr) in queries(tree) {
        if what.starts_with("SovereignPostgresSlot")
            && !(expr.contains("pg_endpoint=\"writer\"") && writer_label)
        {
            out.push(format!(
                "{path}: `{what}` does not read the writer's exporter (`pg_endpoint=\"writer\"`, set by modules/site)"
            ));
        }
    }
    out
}

#[test]
fn exporters_log_in_as_the_monitoring_role() {
    assert_holds("exporter credentials", exporter_role_problems);
}

#[test]
fn the_exporter_role_check_can_fail() {
    let tree = default_tree();
    let syd = tree.text("sites/syd/main.tf").unwrap().replace(
        "global-sovereign/postgres/monitor",
        "global-sovereign/postgres/master",
    );
    let module = tree
        .text("modules/site/monitoring.tf")
        .unwrap()
        .replace(
            "secret_id = var.postgres.secret_arn",
            "secret_id = var.postgres.roles.master_secret_arn",
        )
        .replace("endpoint = \"writer\"", "endpoint = \"reader\"");
    let problems = exporter_role_problems(&edited(
        &tree,
        &[
            ("sites/syd/main.tf", syd),
            ("modules/site/monitoring.tf", module),
        ],
        &[],
    ));
    assert_catches(
        &problems,
        &[
            "sites/syd: the exporter logs in with",
            "the exporters' credentials come from",
            "`SovereignPostgresSlotRetention` does not read the writer's exporter",
        ],
    );
}

/// The names DNS points at Fly.io: every record whose answer is the app's address.
fn fly_records(tree: &Tree) -> Vec<(String, String, Body)> {
    let dns = parse(tree, "dns.tf");
    blocks(&dns, "resource", Some("aws_route53_record"))
        .into_iter()
        .filter(|b| {
            attr(&b.body, "records")
                .map(text)
                .is_some_and(|r| r.contains("var.fly_ipv"))
        })
        .map(|b| {
            let name = attr(&b.body, "name")
                .map(to_json)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let ty = attr(&b.body, "type")
                .map(to_json)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            (name, ty, b.body.clone())
        })
        .collect()
}

/// Every name DNS points at Fly.io has a certificate: deploy.sh asks for it (`apps`) and waits
/// for it (`certs`), and the global root publishes its DNS-01 CNAME; each has an AAAA record
/// beside its A record, except the API name while load balancers (IPv4 only) answer it too: a
/// lone AAAA answer would send every IPv6 client to Fly.io. The deployment steps run `certs`
/// after the global root.
fn fly_certificate_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let records = fly_records(tree);
    if records.is_empty() {
        return out;
    }
    let script = tree.text("fly/deploy.sh").unwrap_or_default();
    let (apps, certs) = (deploy_step(script, "apps"), deploy_step(script, "certs"));
    let dns = parse(tree, "dns.tf");
    let acme = blocks(&dns, "resource", Some("aws_route53_record"))
        .into_iter()
        .find(|b| b.labels.get(1).map(label) == Some("fly_acme_challenge"))
        .and_then(|b| attr(&b.body, "for_each"))
        .map(text)
        .unwrap_or_default();
    let names: BTreeSet<String> = records.iter().map(|(n, _, _)| n.clone()).collect();
    for name in &names {
        let host_list = |step: &str| {
            step.lines().any(|l| {
                l.trim_start().starts_with("for host in ")
                    && l.split_whitespace()
                        .any(|w| w.trim_end_matches(';').trim_matches('\'') == name)
            })
        };
        if !(host_list(&apps) && apps.contains("fly certs add \"$host\"")) {
            out.push(format!(
                "{name}: `deploy.sh apps` asks Fly.io for no certificate"
            ));
        }
        if !(host_list(&certs) && certs.contains("fly certs show \"$host\"")) {
            out.push(format!(
                "{name}: `deploy.sh certs` does not wait for its certificate"
            ));
        }
        if !acme.contains(&format!("\"{name}\"")) {
            out.push(format!(
                "{name}: no `_acme-challenge` CNAME for Fly.io's DNS-01 challenge"
            ));
        }
        let aaaa = records.iter().any(|(n, t, _)| n == name && t == "AAAA");
        // Load balancers answer a name through alias records.
        let shared = blocks(&dns, "resource", Some("aws_route53_record"))
            .into_iter()
            .any(|b| {
                attr(&b.body, "name").map(to_json) == Some(json!(name))
                    && !blocks(&b.body, "alias", None).is_empty()
            });
        if !aaaa && !shared {
            out.push(format!(
                "{name}: points at Fly.io over IPv4 only (no AAAA record)"
            ));
        }
        if aaaa && shared {
            out.push(format!(
                "{name}: an AAAA answer beside IPv4-only load balancers sends every IPv6 client to Fly.io"
            ));
        }
    }
    let steps = sovereign_render::deploy::steps(&tree_topology(tree), "terraform");
    let at = |cmd: &str| {
        steps
            .iter()
            .position(|s| s.commands.iter().any(|c| c.ends_with(cmd)))
    };
    match (at("fly/deploy.sh apps"), at("terraform -chdir=terraform apply"), at("fly/deploy.sh certs")) {
        (Some(a), Some(g), Some(c)) if a < g && g < c => {}
        other => out.push(format!(
            "deployment steps: `deploy.sh apps`, the global root, `deploy.sh certs` are not in that order: {other:?}"
        )),
    }
    out
}

/// The validated topology a tree was rendered from (the examples' trees carry their source in
/// their headers).
fn tree_topology(tree: &Tree) -> sovereign_check::ValidatedTopology {
    let header = tree.text("main.tf").unwrap_or_default();
    let source = header
        .split("from ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or("examples/global-sovereign.toml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(source);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    sovereign_check::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26))
        .validated
        .unwrap()
}

#[test]
fn every_fly_served_name_has_a_certificate_and_ipv6() {
    assert_holds("Fly.io certificates", fly_certificate_problems);
}

#[test]
fn the_fly_certificate_check_can_fail() {
    let tree = default_tree();
    let script = tree.text("fly/deploy.sh").unwrap().replace(
        "for host in api.global-sovereign.example.com jnb.api.global-sovereign.example.com; do",
        "for host in api.global-sovereign.example.com; do",
    );
    let dns = tree.text("dns.tf").unwrap().replace(
        "resource \"aws_route53_record\" \"site_jnb_ipv6\"",
        "resource \"aws_route53_record\" \"site_jnb_unused\"",
    );
    let dns = dns.replacen("records = [var.fly_ipv6]", "records = [\"192.0.2.1\"]", 1);
    let problems = fly_certificate_problems(&edited(
        &tree,
        &[("fly/deploy.sh", script), ("dns.tf", dns)],
        &[],
    ));
    assert_catches(
        &problems,
        &[
            "jnb.api.global-sovereign.example.com: `deploy.sh apps` asks Fly.io for no certificate",
            "jnb.api.global-sovereign.example.com: `deploy.sh certs` does not wait",
            "jnb.api.global-sovereign.example.com: points at Fly.io over IPv4 only",
        ],
    );
}

/// Every Route 53 health check behind a Fly.io answer probes the name Fly.io serves there, over
/// HTTPS with SNI: not `*.fly.dev`, which has a certificate whether or not the served name does.
fn fly_health_check_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let dns = parse(tree, "dns.tf");
    let checks: BTreeMap<String, Body> = blocks(&dns, "resource", Some("aws_route53_health_check"))
        .into_iter()
        .map(|b| {
            (
                b.labels.get(1).map(label).unwrap_or_default().to_string(),
                b.body.clone(),
            )
        })
        .collect();
    let served: BTreeSet<String> = fly_records(tree)
        .iter()
        .map(|(n, _, _)| n.clone())
        .collect();
    for (name, _, body) in fly_records(tree) {
        let Some(id) = attr(&body, "health_check_id").map(text) else {
            continue;
        };
        let check = id
            .strip_prefix("aws_route53_health_check.")
            .and_then(|r| r.split('[').next())
            .unwrap_or_default();
        let Some(c) = checks.get(check) else {
            out.push(format!("{name}: health check `{id}` does not exist"));
            continue;
        };
        let fqdn = attr(c, "fqdn")
            .map(to_json)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if !served.contains(&fqdn) {
            out.push(format!(
                "{check}: probes `{fqdn}`, not a name Fly.io serves for the site"
            ));
        }
        if attr(c, "type").map(to_json) != Some(json!("HTTPS"))
            || attr(c, "enable_sni").map(to_json) != Some(json!(true))
        {
            out.push(format!("{check}: not HTTPS with SNI"));
        }
    }
    out
}

#[test]
fn fly_health_checks_probe_the_served_name() {
    assert_holds("Fly.io health checks", fly_health_check_problems);
}

#[test]
fn the_fly_health_check_check_can_fail() {
    let tree = default_tree();
    let dns = tree
        .text("dns.tf")
        .unwrap()
        .replace(
            "  fqdn              = \"jnb.api.global-sovereign.example.com\"\n",
            "  fqdn              = \"global-sovereign-phoenix-api.fly.dev\"\n",
        )
        .replace("enable_sni        = true", "enable_sni        = false");
    let problems = fly_health_check_problems(&edited(&tree, &[("dns.tf", dns)], &[]));
    assert_catches(
        &problems,
        &[
            "jnb: probes `global-sovereign-phoenix-api.fly.dev`",
            "jnb: not HTTPS with SNI",
        ],
    );
}

/// Every logical replica's link has two gateways in two zones: the module call names two or
/// more gateways, each in a private subnet of the `via` site (one per zone) with its zone, all
/// zones and subnets different; the module runs one instance per gateway and refuses gateways
/// that share a zone; deploy.sh creates a peer for each; the subscription lists every gateway
/// (libpq multi-host, any session).
fn fly_link_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    if tree.text("fly.tf").is_none() {
        return out;
    }
    let fly = parse(tree, "fly.tf");
    for m in blocks(&fly, "module", None) {
        let name = m.labels.first().map(label).unwrap_or_default();
        let gateways = attr(&m.body, "gateways").map(to_json).unwrap_or_default();
        let Some(gateways) = gateways.as_object() else {
            out.push(format!("{name}: no gateways map"));
            continue;
        };
        let zones: BTreeSet<&str> = gateways
            .values()
            .filter_map(|g| g["zone_id"].as_str())
            .collect();
        let subnets: BTreeSet<&str> = gateways
            .values()
            .filter_map(|g| g["subnet_id"].as_str())
            .collect();
        if gateways.len() < 2 || zones.len() != gateways.len() || subnets.len() != gateways.len() {
            out.push(format!(
                "{name}: {} gateway(s) in {} zone(s) and {} subnet(s): a single point of failure",
                gateways.len(),
                zones.len(),
                subnets.len()
            ));
        }
        if subnets.iter().any(|s| !s.contains(".private_subnet_ids[")) {
            out.push(format!(
                "{name}: a gateway outside the private subnets (one per zone): {subnets:?}"
            ));
        }
    }
    let module = tree.text("modules/fly-link/main.tf").unwrap_or_default();
    let vars = tree
        .text("modules/fly-link/variables.tf")
        .unwrap_or_default();
    let instance = module
        .split("resource \"aws_instance\" \"gateway\"")
        .nth(1)
        .unwrap_or_default();
    if !instance.contains("for_each = var.gateways")
        || !vars.contains(
            "length(distinct([for g in values(var.gateways) : g.zone_id])) == length(var.gateways)",
        )
    {
        out.push(
            "modules/fly-link: not one instance per gateway, or gateways sharing a zone accepted"
                .into(),
        );
    }
    let script = tree.text("fly/deploy.sh").unwrap_or_default();
    let pg = deploy_step(script, "postgres");
    let specs = pg
        .lines()
        .find_map(|l| l.trim().strip_prefix("for spec in "))
        .unwrap_or_default();
    for m in blocks(&fly, "module", None) {
        let gateways = attr(&m.body, "gateways").map(to_json).unwrap_or_default();
        for gw in gateways.as_object().into_iter().flat_map(|g| g.keys()) {
            if !specs
                .split_whitespace()
                .any(|s| s.starts_with(&format!("{gw}:")))
            {
                out.push(format!(
                    "fly/deploy.sh: does not create a WireGuard peer for gateway {gw}"
                ));
            }
        }
    }
    if !pg.contains("fly wireguard create") {
        out.push("fly/deploy.sh: does not create a WireGuard peer for each gateway".into());
    }
    for (path, text) in fly_files(tree) {
        let multi_host = text.lines().any(|l| {
            l.starts_with("publisher=")
                && l.contains("host=$hosts")
                && l.contains("target_session_attrs=any")
        });
        if path.ends_with("/subscribe.sh") && !multi_host {
            out.push(format!(
                "{path}: the subscription does not list every gateway"
            ));
        }
    }
    out
}

#[test]
fn every_logical_replica_has_two_gateways_in_two_zones() {
    assert_holds("Fly.io links", fly_link_problems);
}

#[test]
fn the_fly_link_check_can_fail() {
    let tree = default_tree();
    let fly = tree
        .text("fly.tf")
        .unwrap()
        .replace("\"euw1-az2\"", "\"euw1-az1\"");
    let vars = tree
        .text("modules/fly-link/variables.tf")
        .unwrap()
        .replace(
            "length(var.gateways) >= 2 && length(distinct([for g in values(var.gateways) : g.zone_id])) == length(var.gateways)",
            "length(var.gateways) >= 1",
        );
    let script = tree
        .text("fly/deploy.sh")
        .unwrap()
        .replace(" b:eu-west-1:global-sovereign-jnb-link-b", "");
    let sub = tree
        .text("fly/postgres-jnb/subscribe.sh")
        .unwrap()
        .replace(" target_session_attrs=any", "");
    let problems = fly_link_problems(&edited(
        &tree,
        &[
            ("fly.tf", fly),
            ("modules/fly-link/variables.tf", vars),
            ("fly/deploy.sh", script),
            ("fly/postgres-jnb/subscribe.sh", sub),
        ],
        &[],
    ));
    assert_catches(
        &problems,
        &[
            "fly_link_jnb: 2 gateway(s) in 1 zone(s)",
            "modules/fly-link: not one instance per gateway",
            "does not create a WireGuard peer for gateway b",
            "fly/postgres-jnb/subscribe.sh: the subscription does not list every gateway",
        ],
    );
}

/// Where the topology names an Aurora successor, every logical replica also has a link through
/// the successor's VPC, and deploy.sh subscribes through both: the replica reaches the writer
/// when `via`'s region is down, which is when the successor takes over.
fn standby_link_problems(name: &str, tree: &Tree) -> Vec<String> {
    let v = validated_example(name);
    let mut out = Vec::new();
    let Some(pg) = &v.postgres else {
        return out;
    };
    let Some(successor) = &pg.successor else {
        return out;
    };
    let fly = if tree.text("fly.tf").is_some() {
        parse(tree, "fly.tf")
    } else {
        Body::default()
    };
    let script = tree.text("fly/deploy.sh").unwrap_or_default();
    for r in &pg.logical_replicas {
        if r.via == *successor {
            continue;
        }
        let through: BTreeSet<String> = blocks(&fly, "module", None)
            .into_iter()
            .filter_map(|m| attr(&m.body, "tags").map(to_json))
            .filter(|tags| tags["sovereign:site"] == json!(r.site.to_string()))
            .filter_map(|tags| tags["sovereign:via"].as_str().map(str::to_string))
            .collect();
        if !through.contains(&successor.to_string()) {
            out.push(format!(
                "{}: no link through the successor {successor} (links through {through:?})",
                r.site
            ));
        }
        let region = v
            .sites
            .iter()
            .find(|x| x.id == *successor)
            .and_then(|x| x.aws.as_ref())
            .map(|a| a.region.clone())
            .unwrap_or_default();
        if !deploy_step(script, "postgres").contains(&format!(":{region}:")) {
            out.push(format!(
                "fly/deploy.sh: {} does not subscribe through {successor}'s gateways",
                r.site
            ));
        }
    }
    out
}

#[test]
fn logical_replicas_have_a_link_through_the_successor() {
    for (name, tree) in examples() {
        let problems = standby_link_problems(&name, &tree);
        assert!(problems.is_empty(), "{name}: {}", problems.join("\n"));
    }
}

#[test]
fn the_standby_link_check_can_fail() {
    let tree = default_tree();
    let fly = tree.text("fly.tf").unwrap();
    let cut = fly.find("module \"fly_link_jnb_iad\"").unwrap();
    let script = tree
        .text("fly/deploy.sh")
        .unwrap()
        .replace(":us-east-1:", ":eu-west-1:");
    let broken = edited(
        &tree,
        &[
            ("fly.tf", fly[..cut].to_string()),
            ("fly/deploy.sh", script),
        ],
        &[],
    );
    assert_catches(
        &standby_link_problems("global-sovereign", &broken),
        &[
            "jnb: no link through the successor iad",
            "fly/deploy.sh: jnb does not subscribe through iad's gateways",
        ],
    );
}

// ---- security group rules against the quota ------------------------------------------------------

/// A security group holds 60 inbound rules by default (the catalog's `vpc` limits); an apply that
/// adds the 61st fails with `RulesPerSecurityGroupLimitExceeded`, half-way through a region.
fn inbound_rule_quota() -> usize {
    Catalog::builtin()
        .limits
        .vpc
        .security_group_inbound_rules_default
        .value as usize
}

/// How many rules a `for_each` of an ingress rule makes, given the module call's arguments.
fn for_each_size(
    e: Option<&Expression>,
    args: &BTreeMap<String, Expression>,
    tree: &Tree,
    dir: &str,
) -> Result<usize, String> {
    let Some(e) = e else { return Ok(1) };
    let t = text(e);
    let len = |name: &str| match args.get(name) {
        Some(Expression::Array(items)) => Ok(items.len()),
        other => Err(format!(
            "argument `{name}` is not a literal list: {other:?}"
        )),
    };
    if let Some(var) = t
        .strip_prefix("toset(var.")
        .and_then(|r| r.strip_suffix(')'))
    {
        return len(var);
    }
    if let Expression::FuncCall(f) = e
        && f.name.name.as_str() == "toset"
        && let Some(Expression::Array(items)) = f.args.first()
    {
        return Ok(items.len());
    }
    if t == "local.peer_rules" {
        // setproduct(var.peer_cidrs, local.peer_ports)
        let ports = dir_bodies(tree, dir)
            .iter()
            .flat_map(|(_, b)| {
                blocks(b, "locals", None)
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .find_map(|b| match attr(&b.body, "peer_ports") {
                Some(Expression::Array(items)) => Some(items.len()),
                _ => None,
            })
            .ok_or("no literal `peer_ports` local")?;
        return Ok(len("peer_cidrs")? * ports);
    }
    Err(format!("cannot count `for_each = {t}`"))
}

/// Inbound rules per security group of the global root, keyed by the group's expression as the
/// root sees it; every EKS cluster group also holds the rule EKS creates for its own members.
fn inbound_rules(tree: &Tree) -> Result<BTreeMap<String, usize>, String> {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (_, body) in dir_bodies(tree, "") {
        for (ty, name, b) in blocks(&body, "resource", None).into_iter().map(|b| {
            let l: Vec<&str> = b.labels.iter().map(label).collect();
            (
                l[0].to_string(),
                l.get(1).unwrap_or(&"").to_string(),
                &b.body,
            )
        }) {
            if ty != "aws_vpc_security_group_ingress_rule" {
                continue;
            }
            let sg = attr(b, "security_group_id").map(text).unwrap_or_default();
            let n = for_each_size(attr(b, "for_each"), &BTreeMap::new(), tree, "")
                .map_err(|e| format!("{ty}.{name}: {e}"))?;
            *count.entry(sg).or_default() += n;
        }
        for m in blocks(&body, "module", None) {
            let Some(Expression::String(src)) = attr(&m.body, "source") else {
                continue;
            };
            let dir = join("", src);
            let mname = format!("module.{}", label(&m.labels[0]));
            let args: BTreeMap<String, Expression> = m
                .body
                .attributes()
                .map(|a| (a.key.to_string(), a.expr.clone()))
                .collect();
            for (ty, name, rb) in resources(tree, &dir) {
                if ty == "aws_eks_cluster" {
                    *count
                        .entry(format!("{mname}.cluster_security_group_id"))
                        .or_default() += 1;
                }
                if ty != "aws_vpc_security_group_ingress_rule" {
                    continue;
                }
                let sg = attr(&rb, "security_group_id").map(text).unwrap_or_default();
                let key = if let Some(var) = sg.strip_prefix("var.") {
                    args.get(var).map(text).ok_or(format!(
                        "{mname}: {ty}.{name} names `{sg}`, which the call does not set"
                    ))?
                } else if sg == "aws_eks_cluster.this.vpc_config[0].cluster_security_group_id" {
                    format!("{mname}.cluster_security_group_id")
                } else {
                    format!("{mname}/{sg}")
                };
                let n = for_each_size(attr(&rb, "for_each"), &args, tree, &dir)
                    .map_err(|e| format!("{mname}: {ty}.{name}: {e}"))?;
                *count.entry(key).or_default() += n;
            }
        }
    }
    Ok(count)
}

fn security_group_problems(tree: &Tree) -> Vec<String> {
    let quota = inbound_rule_quota();
    match inbound_rules(tree) {
        Err(e) => vec![e],
        Ok(count) => count
            .into_iter()
            .filter(|(_, n)| *n > quota)
            .map(|(sg, n)| format!("{sg}: {n} inbound rules, the quota is {quota}"))
            .collect(),
    }
}

#[test]
fn every_security_group_fits_the_rule_quota() {
    assert_holds("security group rules", security_group_problems);
    // The count is real: the default's clusters hold their peers' rules and EKS's own.
    let count = inbound_rules(&default_tree()).unwrap();
    let ams = count["module.eks_ams.cluster_security_group_id"];
    // 4 peered clusters (iad, syd, sin, sfo) × 5 port ranges, the load balancer, the Prometheus
    // load balancer and EKS's own rule.
    assert_eq!(ams, 4 * 5 + 3, "{count:#?}");
}

#[test]
fn the_security_group_check_can_fail() {
    let tree = default_tree();
    let eks = tree.text("modules/eks/main.tf").unwrap();
    // One rule per port instead of per range, and per subnet instead of per VPC: the shape that
    // failed on real accounts.
    let wide = eks.replace(
        "{ from = 9100, to = 9100 },",
        &(0..12)
            .map(|i| format!("{{ from = {p}, to = {p} }},", p = 9100 + i))
            .collect::<Vec<_>>()
            .join("\n    "),
    );
    assert_ne!(wide, eks);
    let broken = edited(&tree, &[("modules/eks/main.tf", wide)], &[]);
    assert_catches(
        &security_group_problems(&broken),
        &["module.eks_ams.cluster_security_group_id: 67 inbound rules"],
    );
}

// ---- the global Prometheus is watched from outside ----------------------------------------------

/// The global Prometheus evaluates every rule and its Alertmanager sends every notification:
/// something outside it must say when it is gone. Wherever the tree has the global Prometheus's
/// load balancer, a CloudWatch alarm watches its healthy targets, treats silence as a failure and
/// notifies an SNS topic.
fn watcher_problems(tree: &Tree) -> Vec<String> {
    let res = resources(tree, "");
    if !res
        .iter()
        .any(|(ty, name, _)| ty == "aws_lb_target_group" && name == "prometheus")
    {
        return Vec::new();
    }
    let watched = res.iter().any(|(ty, _, b)| {
        ty == "aws_cloudwatch_metric_alarm"
            && attr(b, "metric_name").map(to_json) == Some(json!("HealthyHostCount"))
            && attr(b, "dimensions")
                .map(text)
                .is_some_and(|d| d.contains("aws_lb_target_group.prometheus.arn_suffix"))
            && attr(b, "treat_missing_data").map(to_json) == Some(json!("breaching"))
            && attr(b, "alarm_actions")
                .map(text)
                .is_some_and(|a| a.contains("aws_sns_topic."))
    });
    if watched {
        Vec::new()
    } else {
        vec!["the global Prometheus has no CloudWatch alarm on its healthy targets".to_string()]
    }
}

#[test]
fn the_global_prometheus_is_watched() {
    assert_holds("Prometheus watcher", watcher_problems);
}

#[test]
fn the_watcher_check_can_fail() {
    let tree = default_tree();
    let monitoring = tree.text("monitoring.tf").unwrap();
    let broken = edited(
        &tree,
        &[(
            "monitoring.tf",
            monitoring.replace("\"breaching\"", "\"notBreaching\""),
        )],
        &[],
    );
    assert_catches(&watcher_problems(&broken), &["has no CloudWatch alarm"]);
}

// ---- logs are kept for a while, encrypted, in groups the tree owns ------------------------------

/// A service that exports logs (EKS control plane, Aurora) creates its log group on first use when
/// none exists: no retention, no key, no tags, and a later `aws_cloudwatch_log_group` for it fails
/// with "already exists". So every module that exports logs creates the group itself, by the name
/// the service writes to, and the exporting resource depends on it; every group the tree creates
/// has a retention and a KMS key.
fn log_group_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let dirs: BTreeSet<String> = tree
        .files()
        .filter_map(|(p, _)| p.strip_prefix("modules/"))
        .filter_map(|r| r.split_once('/').map(|(d, _)| format!("modules/{d}")))
        .collect();
    for dir in dirs {
        let res = resources(tree, &dir);
        let groups: BTreeMap<String, &str> = res
            .iter()
            .filter(|(ty, _, _)| ty == "aws_cloudwatch_log_group")
            .map(|(_, name, b)| (attr(b, "name").map(text).unwrap_or_default(), name.as_str()))
            .collect();
        for (ty, name, b) in &res {
            if ty == "aws_cloudwatch_log_group" {
                for key in ["retention_in_days", "kms_key_id"] {
                    if attr(b, key).is_none() {
                        out.push(format!("{dir}: log group {name} has no {key}"));
                    }
                }
            }
            let (exports, id_key, pattern) = match ty.as_str() {
                "aws_rds_cluster" => (
                    "enabled_cloudwatch_logs_exports",
                    "cluster_identifier",
                    "/aws/rds/cluster/{id}/{log}",
                ),
                "aws_eks_cluster" => ("enabled_cluster_log_types", "name", "/aws/eks/{id}/cluster"),
                _ => continue,
            };
            let Some(Expression::Array(logs)) = attr(b, exports) else {
                continue;
            };
            let id = attr(b, id_key).map(text).unwrap_or_default();
            let depends = attr(b, "depends_on").map(text).unwrap_or_default();
            for log in logs {
                let log = to_json(log);
                let wanted = format!(
                    "\"{}\"",
                    pattern
                        .replace("{id}", &format!("${{{id}}}"))
                        .replace("{log}", log.as_str().unwrap_or_default())
                );
                match groups.get(&wanted) {
                    None => out.push(format!(
                        "{dir}: {ty}.{name} exports {log} to {wanted}, a log group the module does not create"
                    )),
                    Some(group) if !depends.contains(&format!("aws_cloudwatch_log_group.{group}")) => {
                        out.push(format!(
                            "{dir}: {ty}.{name} does not depend on aws_cloudwatch_log_group.{group}"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    out
}

#[test]
fn exported_logs_go_to_groups_the_tree_creates() {
    assert_holds("log groups", log_group_problems);
}

#[test]
fn the_log_group_check_can_fail() {
    let tree = default_tree();
    let db = tree.text("modules/database/postgres.tf").unwrap();
    let broken = db.replace(
        "/aws/rds/cluster/${var.name}/postgresql",
        "/sovereign/${var.name}",
    );
    let problems = log_group_problems(&edited(
        &tree,
        &[("modules/database/postgres.tf", broken)],
        &[],
    ));
    assert_catches(&problems, &["exports \"postgresql\""]);
    let broken = db.replace("  depends_on = [aws_cloudwatch_log_group.postgresql]\n", "");
    let problems = log_group_problems(&edited(
        &tree,
        &[("modules/database/postgres.tf", broken)],
        &[],
    ));
    assert_catches(
        &problems,
        &["does not depend on aws_cloudwatch_log_group.postgresql"],
    );
    let eks = tree.text("modules/eks/main.tf").unwrap();
    let broken = eks.replace("  retention_in_days = var.log_retention_days\n", "");
    let problems = log_group_problems(&edited(&tree, &[("modules/eks/main.tf", broken)], &[]));
    assert_catches(
        &problems,
        &["modules/eks: log group cluster has no retention_in_days"],
    );
}

// ---- pods keep their addresses across the peering mesh ------------------------------------------

/// Cassandra datacenters and the sites' metrics talk pod to pod across VPC peering. The VPC CNI
/// translates the source of traffic leaving the VPC's own range unless the destination is listed in
/// `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`: every cluster with peers lists exactly its peers there.
fn snat_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let addon = resources(tree, "modules/eks")
        .into_iter()
        .find(|(ty, name, _)| ty == "aws_eks_addon" && name == "this");
    let config = addon
        .as_ref()
        .and_then(|(_, _, b)| attr(b, "configuration_values"))
        .map(text)
        .unwrap_or_default();
    let excludes = config.contains("\"vpc-cni\"")
        && config.contains("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS = join(\",\", var.peer_cidrs)");
    for (path, body) in dir_bodies(tree, "") {
        for m in blocks(&body, "module", None) {
            let source = attr(&m.body, "source").map(text).unwrap_or_default();
            let peers = attr(&m.body, "peer_cidrs").map(to_json);
            let has_peers = peers
                .as_ref()
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            if source.contains("modules/eks") && has_peers && !excludes {
                let name = m.labels.first().map(label).unwrap_or_default();
                out.push(format!(
                    "{path}: module {name} has peers, but the VPC CNI translates pod addresses towards them"
                ));
            }
        }
    }
    out
}

#[test]
fn pods_keep_their_addresses_towards_peers() {
    assert_holds("source translation", snat_problems);
}

#[test]
fn the_snat_check_can_fail() {
    let tree = default_tree();
    let eks = tree.text("modules/eks/main.tf").unwrap();
    let broken = eks.replace(
        "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
        "AWS_VPC_K8S_CNI_EXTERNALSNAT",
    );
    assert_ne!(broken, eks);
    let problems = snat_problems(&edited(&tree, &[("modules/eks/main.tf", broken)], &[]));
    assert_catches(&problems, &["module eks_ams has peers"]);
}

// ---- Aurora's lag is watched where it can be measured ---------------------------------------------

/// postgres_exporter computes lag with `pg_last_xact_replay_timestamp()`, which Aurora does not
/// support: on Aurora only CloudWatch measures it. Every member cluster has an alarm on
/// `AuroraGlobalDBReplicationLag` (between regions) and one on `AuroraReplicaLagMaximum` (its
/// readers), each notifying an SNS topic.
fn aurora_lag_problems(tree: &Tree) -> Vec<String> {
    let res = resources(tree, "");
    let mut out = Vec::new();
    for (path, body) in dir_bodies(tree, "") {
        for m in blocks(&body, "module", None) {
            let source = attr(&m.body, "source").map(text).unwrap_or_default();
            if !source.contains("modules/database") {
                continue;
            }
            let name = m.labels.first().map(label).unwrap_or_default();
            let cluster = format!("module.{name}.cluster_identifier");
            for metric in ["AuroraGlobalDBReplicationLag", "AuroraReplicaLagMaximum"] {
                let watched = res.iter().any(|(ty, _, b)| {
                    ty == "aws_cloudwatch_metric_alarm"
                        && attr(b, "metric_name").map(to_json) == Some(json!(metric))
                        && attr(b, "dimensions")
                            .map(text)
                            .is_some_and(|d| d.contains(&cluster))
                        && attr(b, "alarm_actions")
                            .map(text)
                            .is_some_and(|a| a.contains("aws_sns_topic."))
                });
                if !watched {
                    out.push(format!("{path}: {name} has no alarm on {metric}"));
                }
            }
        }
    }
    out
}

#[test]
fn aurora_lag_is_watched_by_cloudwatch() {
    assert_holds("Aurora lag alarms", aurora_lag_problems);
}

#[test]
fn the_aurora_lag_check_can_fail() {
    let tree = default_tree();
    let monitoring = tree.text("monitoring.tf").unwrap();
    let broken = monitoring.replace("\"AuroraReplicaLagMaximum\"", "\"ReplicaLag\"");
    assert_ne!(broken, monitoring);
    let problems = aurora_lag_problems(&edited(&tree, &[("monitoring.tf", broken)], &[]));
    assert_catches(
        &problems,
        &["database_ams has no alarm on AuroraReplicaLagMaximum"],
    );
}

// ---- the Fly.io link comes back after a reboot ----------------------------------------------------

/// The gateway's script with Terraform's template variables filled in, as cloud-init gets it.
fn gateway_script(tree: &Tree) -> String {
    let template = tree
        .text("modules/fly-link/gateway.sh.tftpl")
        .expect("the fly-link module has its boot script");
    assert!(
        !template.contains("%{") && !template.contains("$${"),
        "the boot script uses template directives this test does not fill in"
    );
    [
        ("gateway", "a"),
        ("region", "eu-west-1"),
        (
            "secret_arn",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
        ),
        ("upstream_host", "writer.example.internal"),
    ]
    .iter()
    .fold(template.to_string(), |t, (k, v)| {
        t.replace(&format!("${{{k}}}"), v)
    })
}

/// cloud-init runs the script at the first boot only: whatever the link needs after a reboot must
/// be in systemd, and HAProxy, which binds the tunnel's address, must wait for the tunnel.
fn gateway_reboot_problems(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in script.match_indices("${") {
        let name: String = script[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if script[i + 2 + name.len()..].starts_with('}') {
            out.push(format!(
                "template variable ${{{name}}} is not a module input"
            ));
        }
    }
    let parsed = std::process::Command::new("bash")
        .args(["-n", "-c", script])
        .output()
        .expect("bash runs");
    if !parsed.status.success() {
        out.push(format!(
            "bash -n rejects the boot script: {}",
            String::from_utf8_lossy(&parsed.stderr).trim()
        ));
    }
    let drop_in = |unit: &str| {
        let start = script.find(&format!(
            "/etc/systemd/system/{unit}.service.d/fly-link.conf <<'UNIT'"
        ))?;
        let body = &script[start..];
        let end = body.find("\nUNIT\n")?;
        Some(body[..end].to_string())
    };
    match drop_in("wg-quick@fly0") {
        Some(d) if d.contains("Restart=on-failure") && d.contains("StartLimitIntervalSec=0") => {}
        _ => out.push("the tunnel (wg-quick@fly0) does not retry after a reboot".into()),
    }
    match drop_in("haproxy") {
        Some(d)
            if d.contains("After=wg-quick@fly0.service")
                && d.contains("Restart=always")
                && d.contains("StartLimitIntervalSec=0") => {}
        _ => out.push("HAProxy does not start after the tunnel, retrying, after a reboot".into()),
    }
    for unit in ["wg-quick@fly0", "haproxy"] {
        if !script.contains(&format!("systemctl enable {unit}")) {
            out.push(format!("{unit} is not enabled: a reboot leaves it stopped"));
        }
    }
    if !script.contains("systemctl daemon-reload") {
        out.push("the drop-ins are written but systemd is not reloaded".into());
    }
    out
}

#[test]
fn the_fly_link_gateway_survives_a_reboot() {
    let tree = default_tree();
    let problems = gateway_reboot_problems(&gateway_script(&tree));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_gateway_reboot_check_can_fail() {
    let script = gateway_script(&default_tree());
    let problems = gateway_reboot_problems(&script.replace("After=wg-quick@fly0.service\n", ""));
    assert_catches(&problems, &["HAProxy does not start after the tunnel"]);
    let problems = gateway_reboot_problems(&script.replace("systemctl enable haproxy", "true"));
    assert_catches(&problems, &["haproxy is not enabled"]);
    let problems = gateway_reboot_problems(&script.replace("fi\n", "\n"));
    assert_catches(&problems, &["bash -n rejects the boot script"]);
    let problems = gateway_reboot_problems(&format!("{script}\necho ${{peer}}\n"));
    assert_catches(&problems, &["template variable ${peer}"]);
}

// ---- pods with zonal volumes stay on on-demand nodes ----------------------------------------------

/// Every spec in a values document that keeps a volume (`storageSpec` or `storage` with a claim
/// template): (where, its node selector's capacity, if any).
fn stateful_specs(v: &Value, at: &str, out: &mut Vec<(String, Option<String>)>) {
    match v {
        Value::Object(m) => {
            let keeps_volume = ["storageSpec", "storage"].iter().any(|k| {
                m.get(*k)
                    .and_then(|s| s.get("volumeClaimTemplate"))
                    .is_some()
            });
            if keeps_volume {
                let capacity = get(v, &["nodeSelector", "sovereign.dev/capacity"])
                    .and_then(Value::as_str)
                    .map(str::to_string);
                out.push((at.to_string(), capacity));
            }
            for (k, v) in m {
                stateful_specs(v, &format!("{at}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                stateful_specs(v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// A zonal volume needs its pod back in the same zone: the on-demand groups (one per zone) can
/// always grow there, Spot capacity can vanish, and the autoscaler's expander prefers Spot.
fn zonal_volume_problems(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, _) in tree.files() {
        if !(path.starts_with("sites/") && path.ends_with("/values/kube-prometheus-stack.yaml")) {
            continue;
        }
        let mut specs = Vec::new();
        stateful_specs(&yaml(tree, path).unwrap_or(Value::Null), "", &mut specs);
        for (at, capacity) in specs {
            if capacity.as_deref() != Some("on_demand") {
                out.push(format!(
                    "{path}: {at} keeps a volume but may run on Spot nodes"
                ));
            }
        }
    }
    out
}

#[test]
fn pods_with_zonal_volumes_run_on_on_demand_nodes() {
    assert_holds("zonal volumes", zonal_volume_problems);
}

#[test]
fn the_zonal_volume_check_can_fail() {
    let tree = default_tree();
    let path = "sites/ams/values/kube-prometheus-stack.yaml";
    let values = tree.text(path).unwrap();
    let broken = values.replacen(
        "sovereign.dev/capacity: on_demand",
        "sovereign.dev/capacity: spot",
        1,
    );
    assert_ne!(broken, values);
    let problems = zonal_volume_problems(&edited(&tree, &[(path, broken)], &[]));
    assert_catches(&problems, &["keeps a volume but may run on Spot nodes"]);
}
