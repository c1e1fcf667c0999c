use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV066",
    name: "aurora_instance_class",
    severity: Severity::Error,
    summary: "an Aurora instance class that is unknown or not memory-optimized",
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
        Some(c) if !c.is_memory_optimized() => {
            let suggest = cx
                .catalog
                .rds
                .iter()
                .filter(|o| o.is_memory_optimized() && o.vcpu >= c.vcpu)
                .min_by(|a, b| a.memory_gib.total_cmp(&b.memory_gib));
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
        Some(_) => {}
    }
}
