use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV062",
    name: "aurora_region_reused",
    severity: Severity::Error,
    summary: "two Aurora members of the global database in one AWS region",
    doc: include_str!("aurora_region_reused.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let mut members = vec![&pg.primary];
    members.extend(pg.secondaries.value.iter());
    let mut seen: Vec<(&str, &sovereign_spec::Sp<String>)> = Vec::new();
    for m in members {
        let Some(site) = cx.site(m) else { continue };
        let Some(region) = &site.aws_region else {
            continue;
        };
        if let Some((_, first)) = seen
            .iter()
            .find(|(r, f)| *r == region.as_str() && f.value != m.value)
        {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("`{}` and `{}` are both Aurora members in `{}`", first.value, m.value, region.value),
                )
                .at(m.span(), "second member in this region")
                .also(first.span(), "first member in this region")
                .help("a global database has at most one cluster per region: keep one of them, and add readers to it instead"),
            );
        } else {
            seen.push((region.as_str(), m));
        }
    }
}
