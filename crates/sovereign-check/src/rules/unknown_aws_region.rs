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
    if let Some(list) = &cx.t.usage.user_regions {
        for r in &list.value {
            check(r, "not an AWS region");
        }
    }
    if let Some(list) = &cx.t.usage.user_regions {
        for (i, r) in list.value.iter().enumerate() {
            if list.value[..i].iter().any(|p| p.value == r.value) {
                out.push(
                    Diagnostic::new(
                        &INFO,
                        format!("user region `{}` is listed twice", r.value.escape_debug()),
                    )
                    .at(r.span(), "listed before")
                    .help("list each user region once"),
                );
            }
        }
        if let Some(extra) = list.value.get(MAX_USER_REGIONS) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "{} user regions; the lab simulates at most {MAX_USER_REGIONS}",
                        list.value.len()
                    ),
                )
                .at(extra.span(), "one too many")
                .help("keep the regions whose users matter most"),
            );
        }
    }
}

/// User regions the lab can simulate besides the sites' (each has a loopback address of its own).
pub const MAX_USER_REGIONS: usize = 20;

#[cfg(test)]
mod tests {
    use sovereign_catalog::{Catalog, Date};

    fn findings(user_regions: &str) -> Vec<String> {
        let text = format!(
            "[project]\nname = \"acme\"\n[[sites]]\nid = \"dub\"\naws_region = \"eu-west-1\"\nvpc_cidr = \"10.1.0.0/16\"\n[usage]\nuser_regions = {user_regions}\n"
        );
        let report = crate::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
        report
            .diagnostics
            .iter()
            .filter(|d| d.code == "SOV020")
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn user_regions_are_known_unique_and_few() {
        assert_eq!(findings("[\"sa-east-1\", \"ap-south-1\"]"), Vec::<String>::new());
        assert_eq!(
            findings("[\"sa-east-1\", \"mars-1\", \"sa-east-1\"]"),
            [
                "unknown AWS region `mars-1`",
                "user region `sa-east-1` is listed twice"
            ]
        );
        let many: Vec<String> = Catalog::builtin()
            .regions
            .iter()
            .take(21)
            .map(|r| format!("\"{}\"", r.code))
            .collect();
        assert_eq!(
            findings(&format!("[{}]", many.join(", "))),
            ["21 user regions; the lab simulates at most 20"]
        );
    }
}
