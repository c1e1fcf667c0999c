use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::{Ctx, site_references};

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV013",
    name: "unknown_site",
    severity: Severity::Error,
    summary: "a reference to a site id no `[[sites]]` table defines",
    doc: include_str!("unknown_site.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let ids: Vec<&str> = cx.sites().map(|s| s.id.as_str()).collect();
    let mut report = |name: &str, span: Option<sovereign_spec::Span>, what: &str| {
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "`{what}` names site `{}`, which is not defined",
                name.escape_debug()
            ),
        )
        .at(span, "no site has this id");
        match closest(name, ids.iter().copied()) {
            Some(s) => d = d.help(format!("did you mean `\"{s}\"`?")),
            None => {
                d = d.help(format!(
                    "defined sites: {}",
                    ids.iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        out.push(d);
    };
    for (r, what) in site_references(cx.t) {
        if !cx.known(r) {
            report(r.as_str(), r.span(), what);
        }
    }
    if let Some(pg) = &cx.t.postgres {
        for (site, (key_span, _)) in &pg.instances_per_site {
            if cx.site(site).is_none() {
                report(site, Some(key_span.clone()), "postgres.instances_per_site");
            }
        }
    }
    if let Some(b) = &cx.t.budgets {
        for (site, (key_span, _)) in &b.per_site {
            if cx.site(site).is_none() {
                report(site, Some(key_span.clone()), "budgets.per_site");
            }
        }
    }
}
