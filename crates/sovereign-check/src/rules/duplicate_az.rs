use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV033",
    name: "duplicate_az",
    severity: Severity::Error,
    summary: "an availability zone listed twice for one site",
    doc: include_str!("duplicate_az.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.sites() {
        let Some(azs) = &site.availability_zones else {
            continue;
        };
        for (i, az) in azs.value.iter().enumerate() {
            if let Some(first) = azs.value[..i].iter().find(|z| z.value == az.value) {
                out.push(
                    Diagnostic::new(
                        &INFO,
                        format!("availability zone `{}` is listed twice", az.value),
                    )
                    .at(az.span(), "listed again here")
                    .also(first.span(), "first listed here")
                    .help("each zone gets its own subnets: remove the repeat"),
                );
            }
        }
    }
}
