//! The order in which a rendered tree is applied, with the exact commands.
//!
//! One list serves both readers: `sovereign plan` prints each step's `commands` for a person,
//! `sovereign deploy` runs each step's [`Action`] in this order, honouring `after` (the steps it
//! needs) so that independent steps (the site roots) can run side by side and a failed step
//! holds back only the steps that need it.

use serde::Serialize;
use sovereign_check::ValidatedTopology;

/// One step of the deployment.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// What the step creates and why it comes here.
    pub why: String,
    /// The commands a person types for this step (for a root: `init` and `apply`).
    pub commands: Vec<String>,
    /// What `sovereign deploy` does for this step.
    pub action: Action,
    /// The names of the steps that must have succeeded before this one starts.
    pub after: Vec<String>,
    /// The sites this step deploys (empty for steps shared by every site).
    pub sites: Vec<String>,
}

/// What a step does, as data `sovereign deploy` runs.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// `init`, `plan` and `apply` in one root of the tree.
    Root {
        /// The root's directory relative to the tree (`.` for the global root).
        root: String,
        /// The root requires `TF_VAR_operator_cidrs` (the applying machine's public ranges).
        operator_cidrs: bool,
        /// This root's `output -json` is the outputs file `sovereign verify` reads.
        verify_outputs: bool,
    },
    /// The functions of the tree's `fly/deploy.sh`, in order.
    Fly {
        /// The script, relative to the tree.
        script: String,
        functions: Vec<String>,
    },
    /// Programs run as they are (each an argument vector), in order.
    Run { argv: Vec<Vec<String>> },
    /// Work a person does outside any tool here; `commands` hold the instructions.
    Manual { check: Option<ManualCheck> },
}

/// How `sovereign deploy` can tell that a person has done a manual step.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ManualCheck {
    /// The zone's NS records answer with the name servers of a root's output.
    Delegation {
        zone: String,
        /// The root (relative to the tree) whose output lists the name servers.
        root: String,
        /// The output: an object with an `ns` list (and the `ds` record).
        output: String,
    },
    /// Cost allocation tags are active (`aws ce list-cost-allocation-tags`).
    CostTags { keys: Vec<String> },
}

fn root_dir(dir: &str, root: &str) -> String {
    if root == "." {
        dir.to_string()
    } else {
        format!("{dir}/{root}")
    }
}

fn root_step(dir: &str, name: &str, why: String, root: &str, after: &[&str]) -> Step {
    let d = root_dir(dir, root);
    Step {
        name: name.into(),
        why,
        commands: vec![
            format!("terraform -chdir={d} init"),
            format!("terraform -chdir={d} apply"),
        ],
        action: Action::Root {
            root: root.into(),
            operator_cidrs: false,
            verify_outputs: false,
        },
        after: after.iter().map(|s| s.to_string()).collect(),
        sites: Vec::new(),
    }
}

/// The steps for a tree rendered into `dir` (as the user will type it, e.g. `terraform`).
pub fn steps(t: &ValidatedTopology, dir: &str) -> Vec<Step> {
    let mut out = vec![root_step(
        dir,
        "bootstrap",
        format!(
            "the S3 bucket `{}` in {} that holds every other state (local state; keep bootstrap/terraform.tfstate safe)",
            t.state.bucket, t.state.region
        ),
        "bootstrap",
        &[],
    )];
    // What the global root waits for.
    let mut before_global = vec!["bootstrap".to_string()];
    if let Some(d) = &t.dns {
        out.push(root_step(
            dir,
            "dns",
            format!(
                "the public zone `{}` with DNSSEC signing and query logging; the certificates of the global root validate through it",
                d.zone
            ),
            "dns",
            &["bootstrap"],
        ));
        out.push(Step {
            name: "delegate the zone".into(),
            why: format!(
                "by hand, at the parent zone's DNS host: NS records for `{zone}` pointing at the name servers this command prints, and the DS record for DNSSEC; the global root's certificates wait for the delegation (check: `dig +short NS {zone}` lists them)",
                zone = d.zone
            ),
            commands: vec![format!("terraform -chdir={dir}/dns output delegation")],
            action: Action::Manual {
                check: Some(ManualCheck::Delegation {
                    zone: d.zone.clone(),
                    root: "dns".into(),
                    output: "delegation".into(),
                }),
            },
            after: vec!["dns".into()],
            sites: Vec::new(),
        });
        before_global.push("delegate the zone".into());
    }
    let fly_app = t.application.is_some()
        && t.sites
            .iter()
            .any(|s| s.serves() && s.fly_region().is_some());
    let fly_pg = t
        .postgres
        .as_ref()
        .is_some_and(|p| !p.logical_replicas.is_empty());
    let fly_sites: Vec<String> = t
        .sites
        .iter()
        .filter(|s| s.fly.is_some())
        .map(|s| s.id.to_string())
        .collect();
    // Names DNS points at Fly.io (sites served by Fly.io alone): Fly.io holds their certificates.
    let fly_names = t.dns.is_some()
        && t.application.is_some()
        && t.sites
            .iter()
            .any(|s| s.serves() && !s.has_eks() && s.fly_region().is_some());
    if fly_app {
        out.push(Step {
            name: "fly apps".into(),
            why: if fly_names {
                "create the Fly.io apps, their addresses and the certificates of the names DNS points at Fly.io; writes fly.auto.tfvars.json (addresses, the certificates' validation records) for the global root's DNS records".into()
            } else {
                "create the Fly.io apps and their addresses; writes fly.auto.tfvars.json so DNS can point at them".into()
            },
            commands: vec![format!("{dir}/fly/deploy.sh apps")],
            action: Action::Fly {
                script: "fly/deploy.sh".into(),
                functions: vec!["apps".into()],
            },
            after: vec!["bootstrap".into()],
            sites: fly_sites.clone(),
        });
        before_global.push("fly apps".into());
    }
    let mut global = root_step(
        dir,
        "global",
        "networks, peering mesh, EKS clusters and node groups, the Aurora global database, caches, load balancers, DNS records, budgets, Fly.io link gateways".into(),
        ".",
        &[],
    );
    global.after = before_global;
    let eks = t.eks_sites().next().is_some();
    if eks {
        // The clusters' public endpoints answer only the operator's ranges: a required variable.
        global.commands.insert(
            0,
            "export TF_VAR_operator_cidrs='[\"<public IP of this machine>/32\"]'".to_string(),
        );
    }
    global.action = Action::Root {
        root: ".".into(),
        operator_cidrs: eks,
        verify_outputs: true,
    };
    out.push(global);
    if t.budgets.is_some() {
        out.push(Step {
            name: "activate the cost tags".into(),
            why: "by hand, once AWS has seen the tags (up to 24 hours after the global root): the budgets filter on `sovereign:project` and `sovereign:site`, which count only once activated as cost allocation tags. Fly.io's costs are billed by Fly.io and are in no AWS budget".into(),
            commands: vec![
                "aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=sovereign:project,Status=Active TagKey=sovereign:site,Status=Active".into(),
            ],
            action: Action::Manual {
                check: Some(ManualCheck::CostTags {
                    keys: vec!["sovereign:project".into(), "sovereign:site".into()],
                }),
            },
            after: vec!["global".into()],
            sites: Vec::new(),
        });
    }
    let mut sites: Vec<&str> = t.eks_sites().map(|s| s.id.as_str()).collect();
    // The global monitoring site first: the others remote-write to it (they retry until it
    // answers, so it is an order, not a dependency).
    if let Some(g) = &t.monitoring.global_site {
        sites.sort_by_key(|s| *s != g.as_str());
    }
    let site_step = |s: &str| format!("site {s}");
    for s in &sites {
        let mut step = root_step(
            dir,
            &site_step(s),
            format!(
                "workloads of {s}'s cluster: operators, monitoring, autoscaler, the application (own state: a failure here blocks no other site)"
            ),
            &format!("sites/{s}"),
            &["global"],
        );
        step.sites = vec![s.to_string()];
        out.push(step);
    }
    if let Some(c) = &t.cassandra {
        let mut dc_sites: Vec<String> = c.datacenters.iter().map(|d| d.site.to_string()).collect();
        if !dc_sites.contains(&c.control_plane.to_string()) {
            dc_sites.push(c.control_plane.to_string());
        }
        let site_steps: Vec<String> = dc_sites.iter().map(|s| site_step(s)).collect();
        let remote = c.datacenters.iter().any(|d| d.site != c.control_plane);
        let mut cassandra_after = site_steps.clone();
        if remote {
            let mut access = root_step(
                dir,
                "cassandra access",
                format!(
                    "the ClientConfigs that let the k8ssandra control plane in {} reach every remote datacenter's cluster, then a rolling restart of the operator (it loads them when it starts)",
                    c.control_plane
                ),
                "cassandra-access",
                &[],
            );
            access.after = site_steps.clone();
            access.sites = dc_sites.clone();
            out.push(access);
            let region = t.site(&c.control_plane).aws_region().unwrap_or_default();
            let cluster = sovereign_spec::names::eks_cluster(&t.project.name, &c.control_plane);
            let argv: Vec<Vec<String>> = [
                vec![
                    "aws",
                    "eks",
                    "update-kubeconfig",
                    "--region",
                    &region,
                    "--name",
                    &cluster,
                    "--alias",
                    &cluster,
                ],
                vec![
                    "kubectl",
                    "--context",
                    &cluster,
                    "-n",
                    "k8ssandra",
                    "rollout",
                    "status",
                    "deployment/k8ssandra-operator",
                    "--timeout=10m",
                ],
            ]
            .iter()
            .map(|a| a.iter().map(|s| s.to_string()).collect())
            .collect();
            out.push(Step {
                name: "wait for the k8ssandra operator".into(),
                why: "the restarted operator must be running before the K8ssandraCluster is applied: its webhook refuses datacenters in clusters it has not loaded".into(),
                commands: argv.iter().map(|a| a.join(" ")).collect(),
                action: Action::Run { argv },
                after: vec!["cassandra access".into()],
                sites: dc_sites.clone(),
            });
            cassandra_after.push("wait for the k8ssandra operator".into());
        }
        let mut cass = root_step(
            dir,
            "cassandra",
            "the K8ssandraCluster on the control plane (it needs every site's operator and service account) and the keyspace".into(),
            "cassandra",
            &[],
        );
        cass.after = cassandra_after;
        cass.sites = dc_sites;
        out.push(cass);
    }
    // After the site roots: the primary's creates the replication role and the publication the
    // logical replicas subscribe to, and the global root has published the records Fly.io
    // validates its certificates with.
    if fly_app || fly_pg {
        let mut commands = Vec::new();
        let mut functions = Vec::new();
        let mut why = Vec::new();
        let mut after = vec!["global".to_string()];
        if fly_app {
            functions.push("machines");
            why.push("the application's machines in every Fly.io site");
            after.insert(0, "fly apps".into());
        }
        if fly_app && fly_names {
            functions.push("certs");
            why.push("wait until Fly.io has issued the certificates (validated through the global root's records)");
        }
        if fly_pg {
            functions.push("postgres");
            why.push("PostgreSQL logical replicas: a WireGuard peer per link gateway, schema copy and subscription as the replication role the primary's site root created");
            if let Some(primary) = t.postgres.as_ref().map(|p| p.primary.clone())
                && sites.contains(&primary.as_str())
            {
                after.push(site_step(&primary));
            }
        }
        for f in &functions {
            commands.push(format!("{dir}/fly/deploy.sh {f}"));
        }
        out.push(Step {
            name: "fly machines".into(),
            why: why.join("; "),
            commands,
            action: Action::Fly {
                script: "fly/deploy.sh".into(),
                functions: functions.iter().map(|f| f.to_string()).collect(),
            },
            after,
            sites: fly_sites,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_steps() -> Vec<Step> {
        let text = sovereign_spec::Template::GlobalSovereign.text();
        let v = sovereign_check::check_text(
            text,
            sovereign_catalog::Catalog::builtin(),
            sovereign_catalog::Date::new(2026, 11, 26),
        )
        .validated
        .expect("the default validates");
        steps(&v, "terraform")
    }

    #[test]
    fn every_step_needs_only_earlier_steps() {
        let steps = default_steps();
        for (i, s) in steps.iter().enumerate() {
            for a in &s.after {
                let at = steps.iter().position(|o| &o.name == a);
                assert!(
                    at.is_some_and(|at| at < i),
                    "`{}` needs `{a}`, which is not an earlier step",
                    s.name
                );
            }
        }
    }

    #[test]
    fn site_roots_need_only_the_global_root() {
        let steps = default_steps();
        let sites: Vec<&Step> = steps
            .iter()
            .filter(|s| s.name.starts_with("site "))
            .collect();
        assert_eq!(sites.len(), 5);
        assert!(
            sites[0].name == "site ams",
            "the monitoring site comes first"
        );
        for s in sites {
            assert_eq!(s.after, vec!["global".to_string()]);
            assert_eq!(s.sites.len(), 1);
        }
    }

    #[test]
    fn commands_follow_the_actions() {
        for s in default_steps() {
            if let Action::Root { root, .. } = &s.action {
                let d = root_dir("terraform", root);
                assert!(
                    s.commands
                        .iter()
                        .any(|c| c == &format!("terraform -chdir={d} apply")),
                    "{}: {:?}",
                    s.name,
                    s.commands
                );
            }
            if let Action::Fly { functions, .. } = &s.action {
                let want: Vec<String> = functions
                    .iter()
                    .map(|f| format!("terraform/fly/deploy.sh {f}"))
                    .collect();
                assert_eq!(s.commands, want);
            }
        }
    }
}
