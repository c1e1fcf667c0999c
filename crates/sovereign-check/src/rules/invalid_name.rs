use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;
use crate::limits::{self, Check};

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV016",
    name: "invalid_name",
    severity: Severity::Error,
    summary: "a name the service that receives it rejects: database, user, keyspace, application, image, path, tag, e-mail, state key",
    doc: include_str!("invalid_name.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for f in limits::collect(cx.t) {
        if !matches!(f.limit.check, Check::Name(_)) {
            continue;
        }
        let Some(problem) = limits::problem(&f) else {
            continue;
        };
        let shown = match f.value {
            limits::Value::Text(s) => s.escape_debug().to_string(),
            _ => continue,
        };
        out.push(
            Diagnostic::new(&INFO, format!("`{}` = `{shown}`: {problem}", f.path))
                .at(f.span, "not accepted")
                .help(format!("accepted: {}", f.limit.accepts))
                .note(format!("limit: {}", f.limit.source)),
        );
    }
}
