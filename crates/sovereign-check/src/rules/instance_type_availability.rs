use sovereign_spec::{Diagnostic, RuleInfo, Severity, closest};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV102",
    name: "instance_type_availability",
    severity: Severity::Error,
    summary: "a node group instance type that is unknown or not known to be offered in a site's region",
    doc: include_str!("instance_type_availability.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let k = &cx.t.kubernetes;
    let eks = cx.eks_site_ids();
    if eks.is_empty() {
        return;
    }
    let mut groups = vec![("kubernetes.on_demand", &k.on_demand)];
    if let Some(s) = &k.spot {
        groups.push(("kubernetes.spot", s));
    }
    for (path, g) in groups {
        if g.instance_types.value.is_empty() {
            out.push(
                Diagnostic::new(&INFO, format!("`{path}.instance_types` is empty"))
                    .at(g.instance_types.span(), "no instance types")
                    .help("list at least one EC2 instance type, e.g. `[\"m5.large\"]`"),
            );
        }
        for t in &g.instance_types.value {
            let Some(ty) = cx.catalog.ec2_type(t) else {
                let mut d = Diagnostic::new(
                    &INFO,
                    format!("unknown EC2 instance type `{}`", t.value.escape_debug()),
                )
                .at(t.span(), "not in the catalog");
                if let Some(s) = closest(t, cx.catalog.ec2.iter().map(|e| e.name.as_str())) {
                    d = d.help(format!("did you mean `\"{s}\"`?"));
                }
                out.push(d);
                continue;
            };
            let missing: Vec<&str> = eks
                .iter()
                .filter_map(|s| cx.site(s)?.aws_region.as_ref().map(|r| r.as_str()))
                .filter(|r| cx.catalog.region(r).is_some() && ty.price(r).is_none())
                .collect();
            if !missing.is_empty() {
                out.push(
                    Diagnostic::new(
                        &INFO,
                        format!("`{}` is not known to be offered in {}", ty.name, missing.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")),
                    )
                    .severity(Severity::Warning)
                    .at(t.span(), "no catalog entry for these regions")
                    .help(format!("check with `aws ec2 describe-instance-type-offerings --region {} --filters Name=instance-type,Values={}`", missing[0], ty.name))
                    .note("without a catalog price, `sovereign cost` cannot price this group there"),
                );
            }
        }
    }
}
