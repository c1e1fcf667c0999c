use sovereign_catalog::Support;
use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV066",
    name: "aurora_instance_class",
    severity: Severity::Error,
    summary: "an Aurora instance class that is unknown, not accepted by global databases, or not offered for the engine version",
    doc: include_str!("aurora_instance_class.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(pg) = &cx.t.postgres else { return };
    let class = &pg.instance_class;
    match cx.catalog.rds_class(class) {
        None => {
            let names = cx.catalog.rds.iter().map(|c| c.name.as_str());
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "unknown Aurora instance class `{}`",
                    class.value.escape_debug()
                ),
            )
            .at(class.span(), "not in the catalog");
            if let Some(s) = closest(class, names) {
                d = d.help(format!("did you mean `\"{s}\"`?"));
            } else if cx.catalog.ec2_type(class).is_some() {
                d = d.help(format!(
                    "Aurora classes start with `db.`: `\"db.{}\"`",
                    class.value
                ));
            }
            out.push(d);
        }
        Some(c)
            if c.aurora.as_ref().map_or(!c.is_memory_optimized(), |a| {
                a.global_database == Support::No
            }) =>
        {
            // The smallest class that fits, priced and newest first among equals.
            let suggest = cx
                .catalog
                .rds
                .iter()
                .filter(|o| {
                    o.vcpu >= c.vcpu
                        && o.aurora.as_ref().is_some_and(|a| {
                            a.global_database == Support::Yes
                                && a.supports(&pg.engine_version) != Support::No
                        })
                })
                .min_by(|a, b| {
                    a.memory_gib
                        .total_cmp(&b.memory_gib)
                        .then(
                            b.price("us-east-1")
                                .is_some()
                                .cmp(&a.price("us-east-1").is_some()),
                        )
                        .then(b.family.cmp(&a.family))
                });
            let mut d = Diagnostic::new(
                &INFO,
                format!("`{}` is not memory-optimized; Aurora global databases require a memory-optimized class", c.name),
            )
            .at(class.span(), format!("{} class", format!("{:?}", c.category).to_lowercase()));
            if let Some(s) = suggest {
                d = d.help(format!(
                    "use a db.r* class such as `\"{}\"` ({} vCPU, {} GiB)",
                    s.name, s.vcpu, s.memory_gib
                ));
            }
            out.push(d.note("source: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.configuration.requirements.html"));
        }
        Some(c) => {
            let Some(a) = &c.aurora else { return };
            let version = &pg.engine_version;
            if a.supports(version) != Support::No {
                return;
            }
            let major = version.split('.').next().and_then(|m| m.parse().ok());
            let listed = major.and_then(|m| a.describe_major(m));
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "`{}` does not run Aurora PostgreSQL `{}`",
                    c.name,
                    version.value.escape_debug()
                ),
            )
            .severity(if a.versions_source.status.is_confirmed() {
                Severity::Error
            } else {
                Severity::Warning
            })
            .at(class.span(), "instance class")
            .also(version.span(), "engine version");
            d = match listed {
                Some(l) => d.help(format!("`{}` runs {l}", c.name)),
                None => d.help(format!(
                    "`{}` runs Aurora PostgreSQL {}",
                    c.name,
                    a.summary()
                )),
            };
            out.push(d.note(format!(
                "source: {} (as of {})",
                a.versions_source.source, a.versions_source.as_of
            )));
        }
    }
}
