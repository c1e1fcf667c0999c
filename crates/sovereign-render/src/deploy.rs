//! The order in which a rendered tree is applied, with the exact commands.

use serde::Serialize;
use sovereign_check::ValidatedTopology;

/// One step of the deployment.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// What the step creates and why it comes here.
    pub why: String,
    pub commands: Vec<String>,
}

fn tf(dir: &str) -> Vec<String> {
    vec![
        format!("terraform -chdir={dir} init"),
        format!("terraform -chdir={dir} apply"),
    ]
}

/// The steps for a tree rendered into `dir` (as the user will type it, e.g. `terraform`).
pub fn steps(t: &ValidatedTopology, dir: &str) -> Vec<Step> {
    let mut out = vec![Step {
        name: "bootstrap".into(),
        why: format!(
            "the S3 bucket `{}` in {} that holds every other state (local state; keep bootstrap/terraform.tfstate safe)",
            t.state.bucket, t.state.region
        ),
        commands: tf(&format!("{dir}/bootstrap")),
    }];
    if let Some(d) = &t.dns {
        out.push(Step {
            name: "dns".into(),
            why: format!(
                "the public zone `{}` with DNSSEC signing and query logging; the certificates of the global root validate through it",
                d.zone
            ),
            commands: tf(&format!("{dir}/dns")),
        });
        out.push(Step {
            name: "delegate the zone".into(),
            why: format!(
                "by hand, at the parent zone's DNS host: NS records for `{zone}` pointing at the name servers this command prints, and the DS record for DNSSEC; the global root's certificates wait for the delegation (check: `dig +short NS {zone}` lists them)",
                zone = d.zone
            ),
            commands: vec![format!("terraform -chdir={dir}/dns output delegation")],
        });
    }
    let fly_app = t.application.is_some()
        && t.sites
            .iter()
            .any(|s| s.serves() && s.fly_region().is_some());
    let fly_pg = t
        .postgres
        .as_ref()
        .is_some_and(|p| !p.logical_replicas.is_empty());
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
        });
    }
    let mut global = tf(dir);
    if t.eks_sites().next().is_some() {
        // The clusters' public endpoints answer only the operator's ranges: a required variable.
        global.insert(
            0,
            "export TF_VAR_operator_cidrs='[\"<public IP of this machine>/32\"]'".to_string(),
        );
    }
    out.push(Step {
        name: "global".into(),
        why: "networks, peering mesh, EKS clusters and node groups, the Aurora global database, caches, load balancers, DNS records, budgets, Fly.io link gateways".into(),
        commands: global,
    });
    if t.budgets.is_some() {
        out.push(Step {
            name: "activate the cost tags".into(),
            why: "by hand, once AWS has seen the tags (up to 24 hours after the global root): the budgets filter on `sovereign:project` and `sovereign:site`, which count only once activated as cost allocation tags. Fly.io's costs are billed by Fly.io and are in no AWS budget".into(),
            commands: vec![
                "aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=sovereign:project,Status=Active TagKey=sovereign:site,Status=Active".into(),
            ],
        });
    }
    let mut sites: Vec<&str> = t.eks_sites().map(|s| s.id.as_str()).collect();
    // The global monitoring site first: the others remote-write to it.
    if let Some(g) = &t.monitoring.global_site {
        sites.sort_by_key(|s| *s != g.as_str());
    }
    for s in sites {
        out.push(Step {
            name: format!("site {s}"),
            why: format!("workloads of {s}'s cluster: operators, monitoring, autoscaler, the application (own state: a failure here blocks no other site)"),
            commands: tf(&format!("{dir}/sites/{s}")),
        });
    }
    if let Some(c) = &t.cassandra {
        let remote = c.datacenters.iter().any(|d| d.site != c.control_plane);
        if remote {
            out.push(Step {
                name: "cassandra access".into(),
                why: format!(
                    "the ClientConfigs that let the k8ssandra control plane in {} reach every remote datacenter's cluster, then a rolling restart of the operator (it loads them when it starts)",
                    c.control_plane
                ),
                commands: tf(&format!("{dir}/cassandra-access")),
            });
            let region = t.site(&c.control_plane).aws_region().unwrap_or_default();
            let cluster = sovereign_spec::names::eks_cluster(&t.project.name, &c.control_plane);
            out.push(Step {
                name: "wait for the k8ssandra operator".into(),
                why: "the restarted operator must be running before the K8ssandraCluster is applied: its webhook refuses datacenters in clusters it has not loaded".into(),
                commands: vec![
                    format!("aws eks update-kubeconfig --region {region} --name {cluster} --alias {cluster}"),
                    format!("kubectl --context {cluster} -n k8ssandra rollout status deployment/k8ssandra-operator --timeout=10m"),
                ],
            });
        }
        out.push(Step {
            name: "cassandra".into(),
            why: "the K8ssandraCluster on the control plane (it needs every site's operator and service account) and the keyspace".into(),
            commands: tf(&format!("{dir}/cassandra")),
        });
    }
    // After the site roots: the primary's creates the replication role and the publication the
    // logical replicas subscribe to, and the global root has published the records Fly.io
    // validates its certificates with.
    if fly_app || fly_pg {
        let mut commands = Vec::new();
        let mut why = Vec::new();
        if fly_app {
            commands.push(format!("{dir}/fly/deploy.sh machines"));
            why.push("the application's machines in every Fly.io site");
        }
        if fly_app && fly_names {
            commands.push(format!("{dir}/fly/deploy.sh certs"));
            why.push("wait until Fly.io has issued the certificates (validated through the global root's records)");
        }
        if fly_pg {
            commands.push(format!("{dir}/fly/deploy.sh postgres"));
            why.push("PostgreSQL logical replicas: a WireGuard peer per link gateway, schema copy and subscription as the replication role the primary's site root created");
        }
        out.push(Step {
            name: "fly machines".into(),
            why: why.join("; "),
            commands,
        });
    }
    out
}
