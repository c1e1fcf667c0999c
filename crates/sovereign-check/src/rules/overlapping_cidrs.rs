use ipnet::Ipv4Net;
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::cidr::overlaps;
use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV043",
    name: "overlapping_cidrs",
    severity: Severity::Error,
    summary: "two sites' VPC ranges overlap",
    doc: include_str!("overlapping_cidrs.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let nets: Vec<(&sovereign_spec::Site, Ipv4Net)> = cx
        .sites()
        .filter_map(|s| {
            let net = s.vpc_cidr.as_ref()?.parse::<Ipv4Net>().ok()?;
            Some((s, net.trunc()))
        })
        .collect();
    for (i, (a, na)) in nets.iter().enumerate() {
        for (b, nb) in &nets[i + 1..] {
            if !overlaps(na, nb) {
                continue;
            }
            let both_peered = a.peering.value && b.peering.value;
            let mut d = Diagnostic::new(
                &INFO,
                format!(
                    "VPC ranges of `{}` ({nb}) and `{}` ({na}) overlap",
                    b.id.value, a.id.value
                ),
            )
            .at(b.vpc_cidr.as_ref().and_then(|c| c.span()), "overlaps")
            .also(a.vpc_cidr.as_ref().and_then(|c| c.span()), "this range")
            .help(
                "give every site its own range, e.g. 10.<n>.0.0/16 with a different <n> per site",
            );
            if both_peered {
                d = d.note(
                    "VPC peering needs disjoint ranges; the mesh cannot route between these sites",
                );
            } else {
                d = d
                    .severity(Severity::Warning)
                    .note("one of the sites is outside the peering mesh today, but the overlap rules it out later");
            }
            out.push(d);
        }
    }
}
