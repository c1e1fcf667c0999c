use std::collections::HashMap;

use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV010",
    name: "duplicate_site_id",
    severity: Severity::Error,
    summary: "two sites share an id",
    doc: include_str!("duplicate_site_id.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, &sovereign_spec::Site> = HashMap::new();
    for site in cx.sites() {
        if site.id.is_empty() {
            continue;
        }
        match first.get(site.id.as_str()) {
            Some(prev) => out.push(
                Diagnostic::new(&INFO, format!("site id `{}` is used twice", site.id.value))
                    .at(site.id.span(), "used again here")
                    .also(prev.id.span(), "first declared here")
                    .help("every site needs its own id: references, resource names and DNS records are keyed by it"),
            ),
            None => {
                first.insert(site.id.as_str(), site);
            }
        }
    }
}
