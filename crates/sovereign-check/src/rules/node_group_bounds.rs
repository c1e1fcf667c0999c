use sovereign_spec::{Diagnostic, NodeGroup, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV100",
    name: "node_group_bounds",
    severity: Severity::Error,
    summary: "node group sizes out of order: min <= desired <= max, max >= 1",
    doc: include_str!("node_group_bounds.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let k = &cx.t.kubernetes;
    let mut groups = vec![("kubernetes.on_demand", &k.on_demand)];
    if let Some(s) = &k.spot {
        groups.push(("kubernetes.spot", s));
    }
    for (path, g) in groups {
        check(path, g, out);
    }
}

fn check(path: &str, g: &NodeGroup, out: &mut Vec<Diagnostic>) {
    let (min, desired, max) = (g.min_size.value, g.desired_size.value, g.max_size.value);
    if max == 0 {
        out.push(
            Diagnostic::new(&INFO, format!("`{path}.max_size` is 0"))
                .at(g.max_size.span(), "the group can never have a node")
                .help("EKS requires max_size of at least 1"),
        );
        return;
    }
    if min > max {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("`{path}`: min_size {min} is greater than max_size {max}"),
            )
            .at(g.min_size.span(), format!("min {min}"))
            .also(g.max_size.span(), format!("max {max}"))
            .help("min_size <= desired_size <= max_size"),
        );
    } else if desired < min || desired > max {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("`{path}`: desired_size {desired} is outside {min} to {max}"),
            )
            .at(g.desired_size.span(), format!("desired {desired}"))
            .also(g.min_size.span(), format!("min {min}"))
            .also(g.max_size.span(), format!("max {max}"))
            .help(format!("use a desired size from {min} to {max}")),
        );
    }
    if g.disk_size_gib.value < 20 {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "`{path}.disk_size_gib` is {} GiB; nodes need at least 20",
                    g.disk_size_gib.value
                ),
            )
            .at(
                g.disk_size_gib.span(),
                "too small for the node image and container images",
            )
            .help("the original design used 100"),
        );
    }
}
