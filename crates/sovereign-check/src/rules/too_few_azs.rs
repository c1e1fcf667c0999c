use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV031",
    name: "too_few_azs",
    severity: Severity::Error,
    summary: "fewer than two availability zones where EKS or Aurora need them",
    doc: include_str!("too_few_azs.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let eks = cx.eks_site_ids();
    let aurora = cx.aurora_site_ids();
    let redis = cx.redis_site_ids();
    for site in cx.aws_sites() {
        let id = site.id.as_str();
        let mut needs = Vec::new();
        if eks.contains(&id) {
            needs.push(("EKS", cx.catalog.limits.eks.min_subnet_azs.value));
        }
        if aurora.contains(&id) {
            needs.push(("Aurora", cx.catalog.limits.aurora.min_subnet_azs.value));
        }
        if redis.contains(&id) {
            needs.push(("ElastiCache Multi-AZ", 2));
        }
        let Some((what, min)) = needs.iter().max_by_key(|(_, n)| *n).copied() else {
            continue;
        };
        let region_known = site
            .aws_region
            .as_ref()
            .is_some_and(|r| cx.catalog.region(r).is_some());
        if site.availability_zones.is_none() && !region_known {
            // SOV020 already reports the region; its zones are unknowable.
            continue;
        }
        let mut azs = cx.azs(site);
        azs.dedup();
        let n = azs.len() as u32;
        if n >= min {
            continue;
        }
        let services = needs.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(", ");
        let span = site
            .availability_zones
            .as_ref()
            .and_then(|z| z.span())
            .or(site.aws_region.as_ref().and_then(|r| r.span()));
        let mut d = Diagnostic::new(
            &INFO,
            format!(
                "site `{id}` has {n} availability zone{}; {what} needs at least {min}",
                if n == 1 { "" } else { "s" }
            ),
        )
        .at(span, format!("{services} run here"));
        if let Some(r) = site.aws_region.as_ref().and_then(|r| cx.catalog.region(r))
            && r.azs.ids.len() as u32 >= min
        {
            d = d.help(format!(
                "use at least {min} of {}",
                r.azs
                    .ids
                    .iter()
                    .map(|z| format!("`{z}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if site.availability_zones.is_none() {
            d = d.help(
                "the catalog does not know this region's zones: list them in `availability_zones`",
            );
        }
        out.push(d);
    }
}
