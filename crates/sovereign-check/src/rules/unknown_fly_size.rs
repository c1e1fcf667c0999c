use sovereign_spec::{Diagnostic, RuleInfo, Severity, Sp, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV024",
    name: "unknown_fly_size",
    severity: Severity::Error,
    summary: "a Fly.io machine size the catalog does not know",
    doc: include_str!("unknown_fly_size.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut sizes: Vec<(&str, &Sp<String>)> = Vec::new();
    if let Some(a) = &cx.t.application {
        sizes.push(("application.fly_vm_size", &a.fly_vm_size));
    }
    if let Some(pg) = &cx.t.postgres {
        for r in &pg.logical_replicas {
            sizes.push(("postgres.logical_replicas.vm_size", &r.vm_size));
        }
    }
    let known: Vec<&str> = cx.catalog.fly_machines.iter().map(|m| m.name.as_str()).collect();
    for (key, size) in sizes {
        if cx.catalog.fly_machine(size).is_some() {
            continue;
        }
        let mut d = Diagnostic::new(
            &INFO,
            format!("unknown Fly.io machine size `{}` in `{key}`", size.value.escape_debug()),
        )
        .at(size.span(), "not a size the catalog knows");
        d = match closest(size, known.iter().copied()) {
            Some(s) => d.help(format!("did you mean `\"{s}\"`?")),
            None => d.help(format!("known sizes: {}", known.join(", "))),
        };
        out.push(d.note("catalog: fly.toml machine sizes; `fly platform vm-sizes` lists Fly.io's own"));
    }
}
