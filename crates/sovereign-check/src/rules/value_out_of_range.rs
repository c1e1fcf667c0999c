use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;
use crate::limits::{self, Check};

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV141",
    name: "value_out_of_range",
    severity: Severity::Error,
    summary: "a count, size, port, duration or amount outside what the service accepts or a real fleet reaches",
    doc: include_str!("value_out_of_range.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for f in limits::collect(cx.t) {
        if !matches!(
            f.limit.check,
            Check::Int { .. } | Check::Num { .. } | Check::OneOf(_)
        ) {
            continue;
        }
        let Some(problem) = limits::problem(&f) else {
            continue;
        };
        out.push(
            Diagnostic::new(&INFO, format!("`{}`: {problem}", f.path))
                .at(f.span, "out of range")
                .help(format!("accepted: {}", f.limit.accepts))
                .note(format!("limit: {}", f.limit.source)),
        );
    }
}
