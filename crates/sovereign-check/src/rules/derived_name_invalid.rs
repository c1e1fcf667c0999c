use sovereign_spec::names::{self, NameRule};
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV012",
    name: "derived_name_invalid",
    severity: Severity::Error,
    summary: "an AWS resource name built from the project and site ids breaks the service's naming rules",
    doc: include_str!("derived_name_invalid.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let project = cx.t.project.name.as_str();
    if !super::invalid_project_name::is_valid(project) {
        return;
    }
    // The Medusa backup bucket is the cluster's, named after the project: report it at the
    // project name.
    if cx.t.cassandra.is_some() {
        let name = names::medusa_bucket(project);
        let problems = names::name_problems(&name, &names::S3_BUCKET);
        if !problems.is_empty() {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "the Cassandra backup bucket `{}` {}",
                        name.replace("123456789012", "<account id>"),
                        problems.join(", ")
                    ),
                )
                .at(cx.t.project.name.span(), "the bucket is named after the project")
                .help("shorten the project name: `<project>-medusa-<12-digit account id>` must fit in 63 characters")
                .note(format!("limit: {}", names::S3_BUCKET.source)),
            );
        }
    }
    let eks = cx.eks_site_ids();
    let redis = cx.redis_site_ids();
    let aurora = cx.aurora_site_ids();
    let serving = cx.serving_site_ids();
    for site in cx.sites() {
        let id = site.id.as_str();
        if id.is_empty() {
            continue;
        }
        let mut names: Vec<(String, &NameRule)> = Vec::new();
        if eks.contains(&id) {
            names.push((names::eks_cluster(project, id), &names::EKS_CLUSTER));
            if serving.contains(&id) {
                names.push((names::load_balancer(project, id), &names::LOAD_BALANCER));
                names.push((names::log_bucket_full(project, id), &names::S3_BUCKET));
            }
        }
        if aurora.contains(&id) {
            names.push((names::rds_cluster(project, id), &names::RDS_CLUSTER));
            let count =
                cx.t.postgres
                    .as_ref()
                    .map_or(1, |p| p.instances_for(id).max(1));
            names.push((
                names::rds_instance(project, id, count - 1),
                &names::RDS_INSTANCE,
            ));
        }
        if redis.contains(&id) {
            names.push((
                names::elasticache_group(project, id),
                &names::ELASTICACHE_GROUP,
            ));
        }
        for (name, rule) in names {
            let problems = names::name_problems(&name, rule);
            if problems.is_empty() {
                continue;
            }
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("{} `{name}` {}", rule.what, problems.join(", ")),
                )
                .at(
                    site.id.span(),
                    format!("the {} is built from this id", rule.what),
                )
                .also(cx.t.project.name.span(), "and this project name")
                .help("shorten the project name or the site id")
                .note(format!("limit: {}", rule.source)),
            );
        }
    }
}
