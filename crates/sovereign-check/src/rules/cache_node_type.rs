use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV082",
    name: "cache_node_type",
    severity: Severity::Error,
    summary: "an ElastiCache node type the catalog does not know",
    doc: include_str!("cache_node_type.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(r) = &cx.t.redis else { return };
    if cx.catalog.cache_type(&r.node_type).is_some() {
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
    if let Some(s) = closest(
        &r.node_type,
        cx.catalog.cache.iter().map(|c| c.name.as_str()),
    ) {
        d = d.help(format!("did you mean `\"{s}\"`?"));
    } else {
        d = d.help(format!(
            "known node types: {}",
            cx.catalog
                .cache
                .iter()
                .map(|c| format!("`{}`", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push(d);
}
