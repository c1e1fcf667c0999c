use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV110",
    name: "scaling_intent",
    severity: Severity::Error,
    summary: "a CPU scaling intent outside its range: target 1-100 %, step >= 1, cooldown >= 60 s",
    doc: include_str!("scaling_intent.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let s = &cx.t.kubernetes.scaling;
    if !(1..=100).contains(&s.cpu_target_percent.value) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "CPU target {} % is outside 1 to 100",
                    s.cpu_target_percent.value
                ),
            )
            .at(s.cpu_target_percent.span(), "out of range")
            .help("the design's intent is 70"),
        );
    }
    if s.step.value < 1 {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("scaling step {} would never add capacity", s.step.value),
            )
            .at(s.step.span(), "must be at least 1")
            .help("the design's intent is 2"),
        );
    }
    if s.cooldown_seconds.value < 60 {
        out.push(
            Diagnostic::new(&INFO, format!("cooldown of {} s is shorter than a minute", s.cooldown_seconds.value))
                .at(s.cooldown_seconds.span(), "must be at least 60")
                .help("new pods and nodes need time to take load before the next decision; the design's intent is 300")
                .note("below a minute, CPU metrics have not yet seen the last step and scaling overshoots"),
        );
    }
}
