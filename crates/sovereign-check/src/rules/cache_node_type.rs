use sovereign_catalog::Generation;
use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV082",
    name: "cache_node_type",
    severity: Severity::Error,
    summary: "an ElastiCache node type that does not exist or is of a previous generation",
    doc: include_str!("cache_node_type.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(r) = &cx.t.redis else { return };
    if let Some(t) = cx.catalog.cache_type(&r.node_type) {
        if let Some(k) = t
            .cache
            .as_ref()
            .filter(|k| k.generation == Generation::Previous)
        {
            let newer = cx
                .catalog
                .cache
                .iter()
                .filter(|o| {
                    o.cache
                        .as_ref()
                        .is_some_and(|c| c.generation == Generation::Current)
                        && o.size() == t.size()
                        && o.category == t.category
                        && !o.family.ends_with('d')
                })
                .max_by(|a, b| a.family.cmp(&b.family))
                .map(|o| o.name.as_str());
            let mut d = Diagnostic::new(
                &INFO,
                format!("`{}` is a previous-generation node type", t.name),
            )
            .at(r.node_type.span(), "new clusters cannot use it")
            .note(format!(
                "source: {} (as of {})",
                k.listed.source, k.listed.as_of
            ));
            if let Some(n) = newer {
                d = d.help(format!("use a current type such as `\"{n}\"`"));
            }
            out.push(d);
        }
        return;
    }
    let mut d = Diagnostic::new(
        &INFO,
        format!(
            "unknown ElastiCache node type `{}`",
            r.node_type.value.escape_debug()
        ),
    )
    .at(r.node_type.span(), "not in the catalog");
    let prefixed = format!("cache.{}", r.node_type.value);
    if cx.catalog.cache_type(&prefixed).is_some() {
        d = d.help(format!("node types start with `cache.`: `\"{prefixed}\"`"));
    } else if let Some(s) = closest(
        &r.node_type,
        cx.catalog.cache.iter().map(|c| c.name.as_str()),
    ) {
        d = d.help(format!("did you mean `\"{s}\"`?"));
    } else {
        let mut families: Vec<&str> = cx
            .catalog
            .cache
            .iter()
            .filter(|c| {
                c.cache
                    .as_ref()
                    .is_some_and(|k| k.generation == Generation::Current)
            })
            .map(|c| c.family.as_str())
            .collect();
        families.dedup();
        d = d.help(format!(
            "node types are `cache.<family>.<size>`; current families: {}",
            families
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push(d);
}
