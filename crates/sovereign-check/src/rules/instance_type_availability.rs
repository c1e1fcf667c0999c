use sovereign_catalog::{InstanceType, Lookup, Provenance, derive};
use sovereign_spec::{Diagnostic, RuleInfo, Severity, Sp, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV102",
    name: "instance_type_availability",
    severity: Severity::Error,
    summary: "a node group instance type that does not exist, is not offered in a site's region, or has no Spot capacity",
    doc: include_str!("instance_type_availability.md"),
};

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn source(p: &Provenance) -> String {
    format!("source: {} (as of {})", p.source, p.as_of)
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let k = &cx.t.kubernetes;
    let eks = cx.eks_site_ids();
    if eks.is_empty() {
        return;
    }
    let mut regions: Vec<&str> = Vec::new();
    for r in eks
        .iter()
        .filter_map(|s| cx.site(s)?.aws_region.as_ref().map(|r| r.as_str()))
        .filter(|r| cx.catalog.region(r).is_some())
    {
        if !regions.contains(&r) {
            regions.push(r);
        }
    }
    let mut groups = vec![("kubernetes.on_demand", &k.on_demand, false)];
    if let Some(s) = &k.spot {
        groups.push(("kubernetes.spot", s, true));
    }
    for (path, g, spot) in groups {
        if g.instance_types.value.is_empty() {
            out.push(
                Diagnostic::new(&INFO, format!("`{path}.instance_types` is empty"))
                    .at(g.instance_types.span(), "no instance types")
                    .help("list at least one EC2 instance type, e.g. `[\"m5.large\"]`"),
            );
        }
        for t in &g.instance_types.value {
            match cx.catalog.ec2_lookup(t) {
                Lookup::Unknown => out.push(unknown(cx, t)),
                Lookup::Unshaped(u) => out.push(
                    Diagnostic::new(
                        &INFO,
                        format!("the catalog knows `{}` only by name", u.name),
                    )
                    .severity(Severity::Warning)
                    .at(t.span(), "vCPU, memory and regions unknown")
                    .help("its architecture, the group's AMI type, where it is offered and what it costs cannot be checked; a current type can be")
                    .note(source(&u.provenance)),
                ),
                Lookup::Shaped(ty) => {
                    offered(cx, t, ty, &regions, out);
                    if spot && ty.ec2.as_ref().and_then(|e| e.spot) == Some(false) {
                        out.push(
                            Diagnostic::new(&INFO, format!("`{}` is not sold as Spot capacity", ty.name))
                                .severity(if ty.shape.status.is_confirmed() { Severity::Error } else { Severity::Warning })
                                .at(t.span(), "on-demand only")
                                .help("move it to `[kubernetes.on_demand]` or pick a type with Spot capacity")
                                .note(source(&ty.shape)),
                        );
                    }
                }
            }
        }
    }
}

fn unknown(cx: &Ctx, t: &Sp<String>) -> Diagnostic {
    let mut d = Diagnostic::new(
        &INFO,
        format!("unknown EC2 instance type `{}`", t.value.escape_debug()),
    )
    .at(t.span(), "not an EC2 instance type");
    if let Some(s) = closest(t, cx.catalog.ec2_names()) {
        d = d.help(format!("did you mean `\"{s}\"`?"));
    } else if let Some(rest) = t
        .value
        .strip_prefix("db.")
        .or_else(|| t.value.strip_prefix("cache."))
        && cx.catalog.ec2_type(rest).is_some()
    {
        d = d.help(format!(
            "node groups take EC2 names, without the service prefix: `\"{rest}\"`"
        ));
    }
    d.note(source(&cx.catalog.ec2_names_source))
}

/// Errors (or warnings, on an unconfirmed source) for regions the type is not offered in, and a
/// warning for regions no source covers.
fn offered(
    cx: &Ctx,
    t: &Sp<String>,
    ty: &InstanceType,
    regions: &[&str],
    out: &mut Vec<Diagnostic>,
) {
    let offered = ty.ec2.as_ref().and_then(|e| e.offered.as_ref());
    let mut absent = Vec::new();
    let mut unknown = Vec::new();
    for r in regions {
        match offered.and_then(|o| o.in_region(r)) {
            Some(true) => {}
            Some(false) => absent.push(*r),
            None => unknown.push(*r),
        }
    }
    if let (Some(o), false) = (offered, absent.is_empty()) {
        let prov = &o.table.provenance;
        let mut d = Diagnostic::new(
            &INFO,
            format!("`{}` is not offered in {}", ty.name, quoted(&absent)),
        )
        .severity(if prov.status.is_confirmed() {
            Severity::Error
        } else {
            Severity::Warning
        })
        .at(t.span(), "not offered in every EKS site's region");
        let alternatives = alternatives(cx, ty, &absent);
        if !alternatives.is_empty() {
            d = d.help(format!(
                "types of the same architecture and size offered there: {}",
                alternatives
                    .iter()
                    .map(|a| format!("`\"{a}\"`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(d.note(source(prov)));
    }
    if !unknown.is_empty() {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "whether `{}` is offered in {} is unknown",
                    ty.name,
                    quoted(&unknown)
                ),
            )
            .severity(Severity::Warning)
            .at(t.span(), "no offering data for these regions")
            .help(format!(
                "check with `aws ec2 describe-instance-type-offerings --region {} --filters Name=instance-type,Values={}`",
                unknown[0], ty.name
            )),
        );
    }
}

/// Up to three types like `ty` (same architecture, category, vCPU and memory) offered in all
/// `regions`, nearest in us-east-1 price first.
fn alternatives<'a>(cx: &'a Ctx, ty: &InstanceType, regions: &[&str]) -> Vec<&'a str> {
    let price = |t: &InstanceType| t.price("us-east-1").map(|p| p.usd);
    let base = price(ty);
    let mut found: Vec<(&InstanceType, f64)> = cx
        .catalog
        .ec2
        .iter()
        .filter(|o| {
            o.name != ty.name
                && current(o)
                && o.arch == ty.arch
                && o.category == ty.category
                && o.vcpu == ty.vcpu
                && o.memory_gib == ty.memory_gib
                && o.ec2.as_ref().is_some_and(|e| {
                    e.offered
                        .as_ref()
                        .is_some_and(|off| regions.iter().all(|r| off.in_region(r) == Some(true)))
                })
        })
        .map(|o| {
            let d = match (base, price(o)) {
                (Some(a), Some(b)) => (a - b).abs(),
                _ => f64::MAX,
            };
            (o, d)
        })
        .collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.name.cmp(&b.0.name)));
    found
        .into_iter()
        .take(3)
        .map(|(o, _)| o.name.as_str())
        .collect()
}

/// A Nitro-era family (generation 5 or later): what a suggestion should offer.
fn current(t: &InstanceType) -> bool {
    derive::parse(&t.name)
        .and_then(|n| n.generation)
        .is_some_and(|g| g >= 5)
}
