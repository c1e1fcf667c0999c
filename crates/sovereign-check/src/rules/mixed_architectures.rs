use sovereign_catalog::{Arch, Lookup};
use sovereign_spec::{Diagnostic, NodeGroup, RuleInfo, Severity, Span};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV103",
    name: "mixed_architectures",
    severity: Severity::Error,
    summary: "a node group mixing arm64 and x86_64 instance types, or a Mac type EKS cannot run",
    doc: include_str!("mixed_architectures.md"),
};

struct Member<'a> {
    name: &'a str,
    span: Option<Span>,
    arch: Arch,
    /// The architecture comes from a verified source, not a rule.
    confirmed: bool,
}

fn ami(arch: Arch) -> String {
    arch.eks_ami_type()
        .map(|a| format!("`{a}`"))
        .unwrap_or_else(|| "none".into())
}

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    if cx.eks_site_ids().is_empty() {
        return;
    }
    let k = &cx.t.kubernetes;
    let mut groups = vec![("kubernetes.on_demand", &k.on_demand)];
    if let Some(s) = &k.spot {
        groups.push(("kubernetes.spot", s));
    }
    for (path, g) in groups {
        check(cx, path, g, out);
    }
}

fn check(cx: &Ctx, path: &str, g: &NodeGroup, out: &mut Vec<Diagnostic>) {
    let mut members: Vec<Member> = Vec::new();
    for t in &g.instance_types.value {
        let (arch, confirmed) = match cx.catalog.ec2_lookup(t) {
            Lookup::Shaped(ty) => (ty.arch, ty.shape.status.is_confirmed()),
            Lookup::Unshaped(u) => (u.arch, false),
            Lookup::Unknown => continue,
        };
        if members.iter().any(|m| m.name == t.as_str()) {
            continue;
        }
        members.push(Member {
            name: t.as_str(),
            span: t.span(),
            arch,
            confirmed,
        });
    }
    for m in members.iter().filter(|m| m.arch.eks_ami_type().is_none()) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "`{}` is a Mac instance ({}): EKS node groups cannot run it",
                    m.name, m.arch
                ),
            )
            .severity(if m.confirmed {
                Severity::Error
            } else {
                Severity::Warning
            })
            .at(m.span.clone(), "no EKS AMI type for this architecture")
            .help("EKS managed node groups run Amazon Linux 2023 on x86_64 or arm64 types"),
        );
    }
    let linux: Vec<&Member> = members
        .iter()
        .filter(|m| m.arch.eks_ami_type().is_some())
        .collect();
    let Some(first) = linux.first() else { return };
    let others: Vec<&&Member> = linux.iter().filter(|m| m.arch != first.arch).collect();
    let Some(second) = others.first() else { return };
    let names = |arch: Arch| -> String {
        linux
            .iter()
            .filter(|m| m.arch == arch)
            .map(|m| format!("`{}`", m.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let confirmed = linux.iter().all(|m| m.confirmed);
    let mut d = Diagnostic::new(
        &INFO,
        format!(
            "`{path}` mixes architectures: {} is {}, {} is {}",
            names(first.arch),
            first.arch,
            names(second.arch),
            second.arch
        ),
    )
    .severity(if confirmed {
        Severity::Error
    } else {
        Severity::Warning
    })
    .at(second.span.clone(), format!("{}", second.arch));
    for m in &linux {
        if m.arch == first.arch {
            d = d.also(m.span.clone(), format!("{}", m.arch));
        }
    }
    out.push(
        d.help(format!(
            "keep one architecture per group, or split it into two groups: {} needs {}, {} needs {}",
            first.arch,
            ami(first.arch),
            second.arch,
            ami(second.arch)
        ))
        .note("a managed node group runs one AMI type for all its instances; nodes of the other architecture would not boot"),
    );
}
