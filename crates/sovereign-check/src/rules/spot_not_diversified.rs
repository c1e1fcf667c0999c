use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV101",
    name: "spot_not_diversified",
    severity: Severity::Warning,
    summary: "a Spot node group with fewer than two instance types",
    doc: include_str!("spot_not_diversified.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(spot) = &cx.t.kubernetes.spot else {
        return;
    };
    let mut types: Vec<&str> = spot
        .instance_types
        .value
        .iter()
        .map(|t| t.as_str())
        .collect();
    types.sort_unstable();
    types.dedup();
    if types.len() >= 2 {
        return;
    }
    let similar: Vec<&str> = types
        .first()
        .and_then(|t| cx.catalog.ec2_type(t))
        .map(|t| {
            cx.catalog
                .ec2
                .iter()
                .filter(|o| o.name != t.name && o.vcpu == t.vcpu && o.memory_gib == t.memory_gib)
                .map(|o| o.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut d = Diagnostic::new(
        &INFO,
        format!("the Spot node group uses {} instance type{}", types.len(), if types.len() == 1 { "" } else { "s" }),
    )
    .at(spot.instance_types.span(), "one Spot pool")
    .note("when that pool runs dry or is reclaimed, every Spot node goes at once and the group cannot scale");
    if !similar.is_empty() {
        d = d.help(format!(
            "add types of the same size: {}",
            similar
                .iter()
                .map(|s| format!("`\"{s}\"`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        d = d.help("list several interchangeable types of the same vCPU and memory");
    }
    out.push(d);
}
