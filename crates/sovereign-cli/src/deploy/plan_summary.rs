//! What a saved plan would do, read from `terraform show -json PLANFILE` (the same document
//! under OpenTofu): counts of adds, changes and destroys, and every stateful resource (a
//! database, a cluster, a network, a bucket, a key) that the plan replaces or destroys, by address.

use serde::{Deserialize, Serialize};

/// Resource types whose loss loses data or takes a site down: a plan that destroys or
/// replaces one is called out by name and needs `--allow-destroy`.
pub const STATEFUL_TYPES: &[&str] = &[
    "aws_rds_global_cluster",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_db_instance",
    "aws_eks_cluster",
    "aws_eks_node_group",
    "aws_vpc",
    "aws_subnet",
    "aws_elasticache_replication_group",
    "aws_elasticache_global_replication_group",
    "aws_s3_bucket",
    "aws_kms_key",
    "aws_route53_zone",
    "aws_secretsmanager_secret",
    "aws_ebs_volume",
    "kubernetes_persistent_volume_claim",
    "kubernetes_persistent_volume_claim_v1",
    "kubernetes_namespace",
    "kubernetes_namespace_v1",
];

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanSummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Replaced resources (destroy and create) are counted in `add` and `destroy` too.
    pub replace: usize,
    /// Outputs the apply would add, change or remove.
    pub output_changes: usize,
    /// Stateful resources the plan replaces: `address (type)`.
    pub stateful_replaced: Vec<String>,
    /// Stateful resources the plan destroys without creating again.
    pub stateful_destroyed: Vec<String>,
}

impl PlanSummary {
    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.add == 0 && self.change == 0 && self.destroy == 0 && self.output_changes == 0
    }

    /// True when the plan loses a stateful resource (destroyed or replaced).
    pub fn loses_state(&self) -> bool {
        !self.stateful_replaced.is_empty() || !self.stateful_destroyed.is_empty()
    }

    /// `3 to add, 1 to change, 0 to destroy` with the stateful losses named.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        );
        if self.replace > 0 {
            s.push_str(&format!(" ({} replaced)", self.replace));
        }
        if self.add + self.change + self.destroy == 0 && self.output_changes > 0 {
            s.push_str(&format!(", {} output(s) change", self.output_changes));
        }
        if !self.stateful_replaced.is_empty() {
            s.push_str(&format!("; REPLACES {}", self.stateful_replaced.join(", ")));
        }
        if !self.stateful_destroyed.is_empty() {
            s.push_str(&format!(
                "; DESTROYS {}",
                self.stateful_destroyed.join(", ")
            ));
        }
        s
    }

    /// Reads the JSON of `terraform show -json PLANFILE`.
    pub fn from_show_json(text: &str) -> Result<PlanSummary, String> {
        let doc: ShowJson =
            serde_json::from_str(text).map_err(|e| format!("not a JSON plan: {e}"))?;
        let mut s = PlanSummary::default();
        for rc in &doc.resource_changes {
            if rc.mode.as_deref() == Some("data") {
                continue;
            }
            let a: Vec<&str> = rc.change.actions.iter().map(String::as_str).collect();
            let stateful = STATEFUL_TYPES.contains(&rc.kind.as_str());
            let named = format!("{} ({})", rc.address, rc.kind);
            match a.as_slice() {
                ["create"] => s.add += 1,
                ["update"] => s.change += 1,
                ["delete"] => {
                    s.destroy += 1;
                    if stateful {
                        s.stateful_destroyed.push(named);
                    }
                }
                ["delete", "create"] | ["create", "delete"] => {
                    s.add += 1;
                    s.destroy += 1;
                    s.replace += 1;
                    if stateful {
                        s.stateful_replaced.push(named);
                    }
                }
                // no-op, read, forget (OpenTofu and Terraform 1.7+ `removed` blocks keep the
                // object in the cloud).
                _ => {}
            }
        }
        s.output_changes = doc
            .output_changes
            .values()
            .filter(|c| c.actions.iter().any(|a| a != "no-op"))
            .count();
        Ok(s)
    }
}

#[derive(Deserialize)]
struct ShowJson {
    #[serde(default)]
    resource_changes: Vec<ResourceChange>,
    #[serde(default)]
    output_changes: std::collections::BTreeMap<String, Change>,
}

#[derive(Deserialize)]
struct ResourceChange {
    address: String,
    #[serde(rename = "type")]
    kind: String,
    mode: Option<String>,
    change: Change,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    actions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(address: &str, kind: &str, actions: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "address": address, "type": kind, "mode": "managed", "name": "x",
            "change": {"actions": actions}
        })
    }

    #[test]
    fn counts_and_names_stateful_replacements() {
        let doc = serde_json::json!({
            "format_version": "1.2",
            "resource_changes": [
                rc("aws_vpc.this", "aws_vpc", &["create"]),
                rc("aws_security_group.a", "aws_security_group", &["update"]),
                rc("module.db.aws_rds_cluster.primary", "aws_rds_cluster", &["delete", "create"]),
                rc("aws_iam_role.r", "aws_iam_role", &["create", "delete"]),
                rc("aws_eks_cluster.this", "aws_eks_cluster", &["delete"]),
                rc("aws_instance.n", "aws_instance", &["no-op"]),
                {"address": "data.aws_region.x", "type": "aws_region", "mode": "data", "change": {"actions": ["read"]}},
            ],
            "output_changes": {"a": {"actions": ["create"]}, "b": {"actions": ["no-op"]}}
        });
        let s = PlanSummary::from_show_json(&doc.to_string()).unwrap();
        assert_eq!((s.add, s.change, s.destroy, s.replace), (3, 1, 3, 2));
        assert_eq!(s.output_changes, 1);
        assert_eq!(
            s.stateful_replaced,
            ["module.db.aws_rds_cluster.primary (aws_rds_cluster)"]
        );
        assert_eq!(
            s.stateful_destroyed,
            ["aws_eks_cluster.this (aws_eks_cluster)"]
        );
        assert!(s.loses_state());
        let line = s.line();
        assert!(line.starts_with("3 to add, 1 to change, 3 to destroy (2 replaced)"));
        assert!(line.contains("REPLACES module.db.aws_rds_cluster.primary"));
        assert!(line.contains("DESTROYS aws_eks_cluster.this"));
    }

    #[test]
    fn an_empty_plan_is_empty() {
        let s = PlanSummary::from_show_json(r#"{"format_version":"1.2"}"#).unwrap();
        assert!(s.is_empty());
        assert!(!s.loses_state());
        assert!(PlanSummary::from_show_json("Error: no plan").is_err());
    }
}
