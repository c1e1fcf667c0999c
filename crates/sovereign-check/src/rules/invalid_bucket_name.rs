use sovereign_spec::names::{self, S3_BUCKET};
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV015",
    name: "invalid_bucket_name",
    severity: Severity::Error,
    summary: "the Terraform state bucket name breaks S3 naming rules",
    doc: include_str!("invalid_bucket_name.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let bucket = &cx.t.state.bucket;
    if bucket.span.is_none() && !super::invalid_project_name::is_valid(&cx.t.project.name) {
        // The default is derived from the project name, which has its own finding.
        return;
    }
    let mut problems = names::name_problems(bucket, &S3_BUCKET);
    if problems.is_empty() {
        // The replica in the failover region is `<bucket>-replica`: it must fit as well.
        let replica = names::state_replica_bucket(bucket);
        let more = names::name_problems(&replica, &S3_BUCKET);
        if more.is_empty() {
            return;
        }
        problems = more
            .into_iter()
            .map(|p| format!("(as its replica `{replica}`) {p}"))
            .collect();
    }
    out.push(
        Diagnostic::new(
            &INFO,
            format!("state bucket `{}` {}", bucket.value.escape_debug(), problems.join(", ")),
        )
        .at(bucket.span(), "invalid S3 bucket name")
        .help("3 to 63 characters: lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit")
        .note(format!("rules: {}", S3_BUCKET.source)),
    );
}
