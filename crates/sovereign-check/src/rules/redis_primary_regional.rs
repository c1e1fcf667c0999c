use sovereign_spec::{Diagnostic, RuleInfo, RedisMode, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV084",
    name: "redis_primary_regional",
    severity: Severity::Error,
    summary: "`redis.primary` set while the caches are regional, where there is no primary",
    doc: include_str!("redis_primary_regional.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(r) = &cx.t.redis else { return };
    let Some(primary) = &r.primary else { return };
    if r.mode.value == RedisMode::Global {
        return;
    }
    out.push(
        Diagnostic::new(
            &INFO,
            format!(
                "`redis.primary = \"{}\"` has no effect: the caches are regional, each site has its own",
                primary.value.escape_debug()
            ),
        )
        .at(primary.span(), "only a global datastore has a primary")
        .also(r.mode.span(), "the mode is regional (the default)")
        .help("set `mode = \"global\"` for one primary with read-only secondaries, or remove `primary`"),
    );
}
