use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV065",
    name: "postgres_version",
    severity: Severity::Error,
    summary: "a PostgreSQL engine version that is unknown, past community end of life or past Aurora support",
    doc: include_str!("postgres_version.md"),
};

/// Splits `17.5` into (17, Some("17.5")); `None` when the text is not `major.minor`.
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let v = &pg.engine_version;
    let known: Vec<String> = cx
        .catalog
        .postgres
        .iter()
        .map(|p| p.major.to_string())
        .collect();
    let Some((major, _)) = parse_version(v) else {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "`{}` is not an Aurora PostgreSQL version",
                    v.value.escape_debug()
                ),
            )
            .at(v.span(), "expected `major.minor`, e.g. `17.5`")
            .help("Aurora engine versions name a minor release: `engine_version = \"17.5\"`"),
        );
        return;
    };
    let Some(entry) = cx.catalog.postgres_major(major) else {
        out.push(
            Diagnostic::new(&INFO, format!("unknown PostgreSQL major version {major}"))
                .at(v.span(), "not in the catalog")
                .help(format!("known majors: {}", known.join(", "))),
        );
        return;
    };
    let today = cx.today;
    let source = format!(
        "catalog: versions.toml, PostgreSQL {major} ({}, {})",
        entry.provenance.status.as_str(),
        entry.provenance.source
    );
    if let Some(end_ext) = entry.aurora_end_of_extended()
        && today >= end_ext
    {
        out.push(
            Diagnostic::new(&INFO, format!("PostgreSQL {major} is past all Aurora support (extended support ended {end_ext})"))
                .at(v.span(), "unsupported engine")
                .help(newest_help(cx))
                .note(source),
        );
        return;
    }
    if let Some(end_std) = entry.aurora_end_of_standard
        && today >= end_std
    {
        out.push(
            Diagnostic::new(&INFO, format!("PostgreSQL {major} left Aurora standard support on {end_std}; it runs on paid RDS Extended Support"))
                .severity(Severity::Warning)
                .at(v.span(), "extended support")
                .help(newest_help(cx))
                .note(source),
        );
        return;
    }
    if let Some(eol) = entry.community_eol
        && today >= eol
    {
        let mut d = Diagnostic::new(
            &INFO,
            format!("PostgreSQL {major} reached community end of life on {eol}"),
        )
        .severity(Severity::Warning)
        .at(v.span(), "no more community fixes")
        .help(newest_help(cx));
        if let Some(std) = entry.aurora_end_of_standard {
            d = d.note(format!(
                "Aurora standard support is expected to end {std} ({}), then paid RDS Extended Support starts",
                entry.provenance.status.as_str()
            ));
        }
        out.push(d.note(source));
        return;
    }
    if !entry.known_minors.is_empty() && !entry.known_minors.iter().any(|m| m == &v.value) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "Aurora PostgreSQL `{}` is not among the minor versions the catalog knows",
                    v.value
                ),
            )
            .severity(Severity::Warning)
            .at(v.span(), "minor version not confirmed")
            .help(format!(
                "known {major}.x releases: {}",
                entry.known_minors.join(", ")
            ))
            .note(format!(
                "source: {}",
                entry
                    .minors_source
                    .as_deref()
                    .unwrap_or(&entry.provenance.source)
            )),
        );
    }
}

fn newest_help(cx: &Ctx) -> String {
    let best = cx
        .catalog
        .postgres
        .iter()
        .filter(|p| p.community_eol.is_some_and(|d| d > cx.today))
        .max_by_key(|p| p.major);
    match best.and_then(|p| {
        p.known_minors
            .last()
            .cloned()
            .or(Some(format!("{}.x", p.major)))
    }) {
        Some(v) => format!("upgrade to a supported major, e.g. `engine_version = \"{v}\"`"),
        None => "upgrade to a supported major version".into(),
    }
}
