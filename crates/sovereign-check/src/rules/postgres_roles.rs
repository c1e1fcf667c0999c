use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV060",
    name: "postgres_roles",
    severity: Severity::Error,
    summary: "PostgreSQL roles that contradict each other: primary outside AWS, a site in two roles, a successor that is not a secondary",
    doc: include_str!("postgres_roles.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    if let Some(site) = cx.site(&pg.primary)
        && !site.has_aws()
    {
        out.push(
            Diagnostic::new(&INFO, format!("the PostgreSQL primary `{}` has no AWS side", site.id.value))
                .at(pg.primary.span(), "the Aurora writer must run in an AWS region")
                .also(site.id.span(), "this site has no `aws_region`")
                .help("put the primary on a site with `aws_region`; Fly.io sites can hold logical replicas"),
        );
    }
    let secondaries = &pg.secondaries.value;
    for (i, s) in secondaries.iter().enumerate() {
        if s.value == pg.primary.value {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "`{}` is both the PostgreSQL primary and a secondary",
                        s.value
                    ),
                )
                .at(s.span(), "listed as a secondary")
                .also(pg.primary.span(), "primary here")
                .help("remove it from `secondaries`"),
            );
        }
        if let Some(first) = secondaries[..i].iter().find(|f| f.value == s.value) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("`{}` is listed twice in `postgres.secondaries`", s.value),
                )
                .at(s.span(), "listed again here")
                .also(first.span(), "first listed here")
                .help("remove the repeat"),
            );
        }
    }
    for (i, r) in pg.logical_replicas.iter().enumerate() {
        let twice = pg.logical_replicas[..i]
            .iter()
            .find(|o| o.site.value == r.site.value);
        if let Some(first) = twice {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!("site `{}` has two logical replicas", r.site.value),
                )
                .at(r.site.span(), "second replica")
                .also(first.site.span(), "first replica")
                .help("one replica per site; size it with `vm_size` and `volume_size_gb`"),
            );
        }
        if r.site.value == pg.primary.value || secondaries.iter().any(|s| s.value == r.site.value) {
            out.push(
                Diagnostic::new(
                    &INFO,
                    format!(
                        "site `{}` is both an Aurora member and a logical replica",
                        r.site.value
                    ),
                )
                .at(r.site.span(), "logical replica here")
                .help("an AWS site reads from its Aurora cluster; remove one of the two roles"),
            );
        }
    }
    if let Some(succ) = &pg.successor
        && cx.known(succ)
        && !secondaries.iter().any(|s| s.value == succ.value)
    {
        let mut d = Diagnostic::new(
            &INFO,
            format!("successor `{}` is not an Aurora secondary", succ.value),
        )
        .at(succ.span(), "failover target")
        .help(format!(
            "choose one of the secondaries: {}",
            cx.aurora_site_ids()[1..]
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if succ.value == pg.primary.value {
            d = d.note("the successor is the site that takes over when the primary is lost; it cannot be the primary itself");
        }
        out.push(d);
    }
}
