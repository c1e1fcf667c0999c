use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV023",
    name: "opt_in_region",
    severity: Severity::Warning,
    summary: "an AWS region that is disabled until the account opts in",
    doc: include_str!("opt_in_region.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.sites() {
        let Some(region) = &site.aws_region else {
            continue;
        };
        let Some(r) = cx.catalog.region(region) else {
            continue;
        };
        if r.opt_in {
            out.push(
                Diagnostic::new(&INFO, format!("`{}` ({}) is an opt-in region", r.code, r.name))
                    .at(region.span(), "disabled by default")
                    .help(format!("enable it first: `aws account enable-region --region-name {}` (it can take minutes to hours)", r.code))
                    .note("regions launched after 2019-03-20 are disabled until enabled: https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html"),
            );
        }
    }
}
