use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV046",
    name: "peering_mesh_size",
    severity: Severity::Warning,
    summary: "a VPC peering mesh with more connections per VPC than AWS allows by default or at all",
    doc: include_str!("peering_mesh_size.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mesh: Vec<_> = cx.aws_sites().filter(|s| s.peering.value).collect();
    let per_vpc = mesh.len().saturating_sub(1) as u32;
    let l = &cx.catalog.limits.vpc;
    let (default, max) = (l.peering_connections_default.value, l.peering_connections_max.value);
    if per_vpc <= default {
        return;
    }
    let confirmed = l.peering_connections_max.provenance.status.is_confirmed();
    let anchor = mesh.get(default as usize + 1).and_then(|s| s.span.clone());
    let (msg, help) = if per_vpc > max {
        (
            format!("the peering mesh of {} sites needs {per_vpc} connections per VPC; AWS allows at most {max}", mesh.len()),
            "set `peering = false` on sites that need no direct path, or connect the sites through a transit gateway instead",
        )
    } else {
        (
            format!("the peering mesh of {} sites needs {per_vpc} connections per VPC; the default quota is {default}", mesh.len()),
            "request a quota increase (Amazon VPC, active peering connections per VPC) in every region before applying",
        )
    };
    let mut d = Diagnostic::new(&INFO, msg)
        .at(anchor, "this site joins the mesh beyond the default quota")
        .help(help)
        .note(format!("a full mesh of n sites has n(n-1)/2 connections: {}", mesh.len() * (mesh.len().saturating_sub(1)) / 2))
        .note(format!("limits: {} ({})", l.peering_connections_max.provenance.source, l.peering_connections_max.provenance.status.as_str()));
    if per_vpc > max && confirmed {
        d = d.severity(Severity::Error);
    }
    out.push(d);
}
