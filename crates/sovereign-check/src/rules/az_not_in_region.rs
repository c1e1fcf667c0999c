use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV030",
    name: "az_not_in_region",
    severity: Severity::Error,
    summary: "an availability zone that is not one of the region's zone ids",
    doc: include_str!("az_not_in_region.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.aws_sites() {
        let (Some(region), Some(azs)) = (&site.aws_region, &site.availability_zones) else {
            continue;
        };
        let Some(r) = cx.catalog.region(region) else {
            continue;
        };
        let known = &r.azs.ids;
        let list = known
            .iter()
            .map(|z| format!("`{z}`"))
            .collect::<Vec<_>>()
            .join(", ");
        for az in &azs.value {
            if known.iter().any(|k| k == &az.value) {
                continue;
            }
            let looks_like_name = az.value.starts_with(r.code.as_str())
                && az.value.len() == r.code.len() + 1
                && az.value.ends_with(|c: char| c.is_ascii_lowercase());
            if looks_like_name {
                let mut d = Diagnostic::new(
                    &INFO,
                    format!(
                        "`{}` is an availability zone name; zones are given by id",
                        az.value
                    ),
                )
                .at(az.span(), "a name, not an id")
                .note(
                    "zone names map to different physical zones in different accounts; ids do not",
                );
                if !known.is_empty() {
                    d = d.help(format!("{} zone ids: {list}", r.code));
                }
                out.push(d);
                continue;
            }
            if r.azs.provenance.status == sovereign_catalog::Status::Unknown || known.is_empty() {
                continue;
            }
            let confirmed = r.azs.provenance.status.is_confirmed();
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "availability zone `{}` is not in `{}`",
                    az.value.escape_debug(),
                    r.code
                ),
            )
            .at(az.span(), format!("not a zone of {}", r.name))
            .help(format!("{} zone ids: {list}", r.code));
            if !confirmed {
                d = d
                    .severity(Severity::Warning)
                    .note(format!("the catalog's zone list for {} is {}: check `aws ec2 describe-availability-zones --region {}`", r.code, r.azs.provenance.status.as_str(), r.code));
            }
            out.push(d);
        }
    }
}
