use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV021",
    name: "unknown_fly_region",
    severity: Severity::Error,
    summary: "a Fly.io region the catalog does not know, or whose availability is unconfirmed",
    doc: include_str!("unknown_fly_region.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let codes: Vec<&str> = cx
        .catalog
        .fly_regions
        .iter()
        .map(|r| r.code.as_str())
        .collect();
    for site in cx.sites() {
        let Some(region) = &site.fly_region else {
            continue;
        };
        match cx.catalog.fly_region(region) {
            Some(fly) if fly.provenance.status.is_confirmed() => {}
            Some(fly) => out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "Fly.io region `{}` ({}) is listed, but its availability is not confirmed",
                        fly.code, fly.city
                    ),
                )
                .severity(Severity::Warning)
                .at(region.span(), "availability unconfirmed")
                .help("run `fly platform regions` before deploying; Fly.io has consolidated regions before")
                .note(format!("catalog: fly.toml, source: {} (as of {})", fly.provenance.source, fly.provenance.as_of)),
            ),
            None => {
                let mut d = Diagnostic::new(&INFO, format!("unknown Fly.io region `{}`", region.value.escape_debug()))
                    .at(region.span(), "not a Fly.io region");
                if let Some(s) = closest(region, codes.iter().copied()) {
                    d = d.help(format!("did you mean `\"{s}\"`?"));
                } else if cx.catalog.region(region).is_some() {
                    d = d.help(format!("`{}` is an AWS region; write it as `aws_region = \"{}\"`", region.value, region.value));
                } else {
                    d = d.help(format!("known Fly.io regions: {}", codes.join(", ")));
                }
                out.push(d);
            }
        }
    }
}
