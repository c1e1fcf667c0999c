use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV020",
    name: "unknown_aws_region",
    severity: Severity::Error,
    summary: "an AWS region code the catalog does not know",
    doc: include_str!("unknown_aws_region.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let codes: Vec<&str> = cx.catalog.regions.iter().map(|r| r.code.as_str()).collect();
    let mut check = |region: &sovereign_spec::Sp<String>, label: &str| {
        if cx.catalog.region(region).is_some() {
            return;
        }
        let mut d = Diagnostic::new(
            &INFO,
            format!("unknown AWS region `{}`", region.value.escape_debug()),
        )
        .at(region.span(), label.to_string());
        if let Some(s) = closest(region, codes.iter().copied()) {
            d = d.help(format!("did you mean `\"{s}\"`?"));
        } else if let Some(fly) = cx.catalog.fly_region(region) {
            d = d.help(format!(
                "`{}` is a Fly.io region ({}); write it as `fly_region = \"{}\"`",
                fly.code, fly.city, fly.code
            ));
        } else {
            d = d.help(
                "AWS region codes look like `eu-west-1`; `sovereign explain SOV020` lists them",
            );
        }
        out.push(d);
    };
    for site in cx.sites() {
        if let Some(r) = &site.aws_region {
            check(r, "not an AWS region");
        }
    }
    if let Some(r) = &cx.t.state.region {
        check(r, "not an AWS region");
    }
}
