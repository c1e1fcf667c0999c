use sovereign_catalog::{InstanceType, derive};
use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV101",
    name: "spot_not_diversified",
    severity: Severity::Warning,
    summary: "a Spot node group without two interchangeable instance types (same architecture and size)",
    doc: include_str!("spot_not_diversified.md"),
};

/// Interchangeable for the scheduler: the same architecture and vCPU count, memory within 10 %.
fn similar(a: &InstanceType, b: &InstanceType) -> bool {
    a.arch == b.arch
        && a.vcpu == b.vcpu
        && (a.memory_gib - b.memory_gib).abs() <= 0.1 * a.memory_gib.max(b.memory_gib)
}

fn shape(t: &InstanceType) -> String {
    format!("{}, {} vCPU, {} GiB", t.arch, t.vcpu, t.memory_gib)
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(spot) = &cx.t.kubernetes.spot else {
        return;
    };
    let mut names: Vec<&str> = Vec::new();
    for t in &spot.instance_types.value {
        if !names.contains(&t.as_str()) {
            names.push(t.as_str());
        }
    }
    let shaped: Vec<&InstanceType> = names
        .iter()
        .filter_map(|n| cx.catalog.ec2_type(n))
        .collect();
    // The largest set of interchangeable types; a type without a known shape is a pool alone.
    let pool = shaped
        .iter()
        .map(|a| shaped.iter().filter(|b| similar(a, b)).count())
        .max()
        .unwrap_or(0)
        .max(usize::from(!names.is_empty()));
    if pool >= 2 {
        return;
    }
    let mut d = if names.len() < 2 {
        Diagnostic::new(
            &INFO,
            format!(
                "the Spot node group uses {} instance type{}",
                names.len(),
                if names.len() == 1 { "" } else { "s" }
            ),
        )
        .at(spot.instance_types.span(), "one Spot pool")
    } else {
        Diagnostic::new(
            &INFO,
            format!(
                "the Spot node group's {} instance types are not interchangeable",
                names.len()
            ),
        )
        .at(
            spot.instance_types.span(),
            "no two of the same architecture and size",
        )
        .note(format!(
            "{}: Spot diversification counts types a pod fits on alike (same architecture and vCPU, memory within 10 %)",
            shaped
                .iter()
                .map(|t| format!("`{}` ({})", t.name, shape(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    d = d.note("when that pool runs dry or is reclaimed, every Spot node goes at once and the group cannot scale");
    let similar_types = shaped
        .first()
        .map(|t| suggestions(cx, t))
        .unwrap_or_default();
    if similar_types.is_empty() {
        d = d.help("list several interchangeable types of the same architecture, vCPU and memory");
    } else {
        d = d.help(format!(
            "add types of the same architecture and size: {}",
            similar_types
                .iter()
                .map(|s| format!("`\"{s}\"`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push(d);
}

/// Up to four types interchangeable with `t`, sold as Spot, offered in every EKS site's region,
/// not burstable, nearest in us-east-1 price first.
fn suggestions<'a>(cx: &'a Ctx, t: &InstanceType) -> Vec<&'a str> {
    let regions: Vec<&str> = cx
        .eks_site_ids()
        .iter()
        .filter_map(|s| cx.site(s)?.aws_region.as_ref().map(|r| r.as_str()))
        .collect();
    let base = t.price("us-east-1").map(|p| p.usd);
    let mut found: Vec<(&InstanceType, f64)> = cx
        .catalog
        .ec2
        .iter()
        .filter(|o| o.name != t.name && similar(t, o) && current(o))
        .filter(|o| {
            o.ec2.as_ref().is_some_and(|e| {
                !e.burstable
                    && e.spot == Some(true)
                    && e.offered
                        .as_ref()
                        .is_some_and(|off| regions.iter().all(|r| off.in_region(r) != Some(false)))
            })
        })
        .filter_map(|o| {
            let p = o.price("us-east-1")?.usd;
            Some((o, base.map_or(p, |b| (b - p).abs())))
        })
        .collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.name.cmp(&b.0.name)));
    found
        .into_iter()
        .take(4)
        .map(|(o, _)| o.name.as_str())
        .collect()
}

/// A Nitro-era family (generation 5 or later): what a suggestion should offer.
fn current(t: &InstanceType) -> bool {
    derive::parse(&t.name)
        .and_then(|n| n.generation)
        .is_some_and(|g| g >= 5)
}
