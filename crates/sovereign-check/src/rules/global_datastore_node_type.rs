use sovereign_spec::{Diagnostic, RedisMode, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV081",
    name: "global_datastore_node_type",
    severity: Severity::Error,
    summary: "a cache node type a global datastore does not accept",
    doc: include_str!("global_datastore_node_type.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(r) = &cx.t.redis else { return };
    if r.mode.value != RedisMode::Global {
        return;
    }
    let Some(t) = cx.catalog.cache_type(&r.node_type) else {
        return;
    };
    let families = &cx.catalog.limits.elasticache_global.families;
    let family_ok = families.value.iter().any(|f| f == &t.family);
    let size_ok = !matches!(t.size(), "micro" | "small" | "medium");
    if family_ok && size_ok {
        return;
    }
    let why = if family_ok {
        format!("size `{}` is below large", t.size())
    } else {
        format!("family `{}` is not allowed", t.family)
    };
    out.push(
        Diagnostic::new(
            &INFO,
            format!("`{}` cannot be used in a global datastore: {why}", t.name),
        )
        .at(r.node_type.span(), "node type")
        .help(format!(
            "use size large or above of {}, e.g. `\"cache.r6g.large\"`",
            families.value.join(", ")
        ))
        .note(format!("source: {}", families.provenance.source)),
    );
}
