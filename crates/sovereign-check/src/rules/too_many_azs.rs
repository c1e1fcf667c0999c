use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV032",
    name: "too_many_azs",
    severity: Severity::Error,
    summary: "more availability zones than the region has",
    doc: include_str!("too_many_azs.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.aws_sites() {
        let (Some(region), Some(azs)) = (&site.aws_region, &site.availability_zones) else {
            continue;
        };
        let Some(r) = cx.catalog.region(region) else {
            continue;
        };
        if r.azs.ids.is_empty() {
            continue;
        }
        let mut unique: Vec<&str> = azs.value.iter().map(|z| z.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        let (have, want) = (r.azs.ids.len(), unique.len());
        if want <= have {
            continue;
        }
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "site `{}` lists {want} availability zones, but `{}` has {have} usable",
                site.id.value, r.code
            ),
        )
        .at(azs.span(), format!("{want} zones"))
        .help(format!(
            "the zones of {}: {}",
            r.code,
            r.azs
                .ids
                .iter()
                .map(|z| format!("`{z}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(note) = &r.azs.provenance.note {
            d = d.note(note.clone());
        }
        if !r.azs.provenance.status.is_confirmed() {
            d = d.severity(Severity::Warning).note(format!(
                "the catalog's zone list for {} is {}",
                r.code,
                r.azs.provenance.status.as_str()
            ));
        }
        out.push(d.note(format!("source: {}", r.azs.provenance.source)));
    }
}
