//! What an instance type's name says about it, by stated rules, for the few types no source
//! describes (and to check the sources against).
//!
//! An EC2 name is `<family>.<size>`; the family is a series (`c`, `m`, `r`, `x`, `t`, `g`, `inf`,
//! …), a generation (`7`) and attribute letters (`g` Graviton, `a` AMD, `i` Intel, `d` local
//! disks, `n` network, `e` extra memory, `-flex`, …). The rules:
//!
//! - **architecture**: an attribute `g` (or the `a1` family) means AWS Graviton, `arm64`; `mac1`
//!   is `x86_64_mac`, later `mac` families `arm64_mac`; everything else `x86_64`.
//! - **processor**: Graviton for `arm64`; an attribute `a` means AMD; otherwise Intel.
//! - **vCPU** from the size, for Nitro-era families (below) except HPC ones: `medium` 1, `large` 2, `xlarge` 4, `Nxlarge` and `metal-Nxl` 4·N;
//!   burstable `t` types have 2 vCPUs up to `large` (`t2`: 1 up to `small`). `metal` alone says
//!   nothing.
//! - **memory** from the series, for the Nitro generations (5 and later; `x2` and later): per vCPU `c` 2 GiB,
//!   `m` 4 GiB, `r` 8 GiB, `x` 16 GiB (32 GiB with the attribute `e`); burstable `t` types by size
//!   (`nano` 0.5 GiB, doubling to `2xlarge` 32 GiB). Other series (storage, accelerators, high
//!   memory) are not derived.
//!
//! Known exceptions the tests pin: `c5n` (5.25 GiB per vCPU), `t2` memory, pre-Nitro families.

use crate::{Arch, Processor};

/// The parts of an EC2 instance type name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name<'a> {
    pub family: &'a str,
    pub series: &'a str,
    pub generation: Option<u32>,
    /// Attribute letters after the generation, up to any `-` (`gd` in `r7gd`, `i` in `c7i-flex`).
    pub attributes: &'a str,
    /// Everything after the generation (`i-flex`, `e-gb200`).
    pub suffix: &'a str,
    pub size: &'a str,
}

pub fn parse(name: &str) -> Option<Name<'_>> {
    let (family, size) = name.split_once('.')?;
    if family.is_empty() || size.is_empty() || size.contains('.') {
        return None;
    }
    let series_end = family
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(family.len());
    let series = &family[..series_end];
    let rest = &family[series_end..];
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let generation = rest[..digits_end].parse().ok();
    let suffix = &rest[digits_end..];
    let attributes = suffix.split('-').next().unwrap_or("");
    Some(Name {
        family,
        series,
        generation,
        attributes,
        suffix,
        size,
    })
}

pub fn architecture(n: &Name) -> Arch {
    if n.series == "mac" {
        return if n.generation == Some(1) {
            Arch::X86_64Mac
        } else {
            Arch::Arm64Mac
        };
    }
    if n.family == "a1" || n.suffix.contains('g') {
        Arch::Arm64
    } else {
        Arch::X86_64
    }
}

pub fn processor(n: &Name) -> Processor {
    match architecture(n) {
        Arch::Arm64 => Processor::Aws,
        Arch::Arm64Mac => Processor::Apple,
        _ if n.attributes.contains('a') => Processor::Amd,
        _ => Processor::Intel,
    }
}

pub fn burstable(n: &Name) -> bool {
    n.series == "t"
}

/// `Nxlarge` → N (`xlarge` → 1), `metal-Nxl` → N.
fn xlarge_factor(size: &str) -> Option<u32> {
    if size == "xlarge" {
        return Some(1);
    }
    if let Some(n) = size.strip_suffix("xlarge") {
        return n.parse().ok().filter(|n| *n > 0);
    }
    let n = size.strip_prefix("metal-")?.strip_suffix("xl")?;
    n.parse().ok().filter(|n| *n > 0)
}

/// Nitro-era families, where sizes and memory follow the rules: generation 5 and later (`x2`
/// and later for `x`), and `a1`.
fn nitro(n: &Name) -> bool {
    let first = if n.series == "x" { 2 } else { 5 };
    n.family == "a1" || n.generation.is_some_and(|g| g >= first)
}

pub fn vcpu(n: &Name) -> Option<u32> {
    if burstable(n) {
        let small_is_one = n.family == "t2" || n.family == "t1";
        return match n.size {
            "nano" | "micro" | "small" if small_is_one => Some(1),
            "nano" | "micro" | "small" | "medium" | "large" => Some(2),
            s => xlarge_factor(s).map(|f| 4 * f),
        };
    }
    // HPC types expose physical cores only; older families have irregular sizes.
    if n.series == "hpc" || !nitro(n) {
        return None;
    }
    match n.size {
        "medium" => Some(1),
        "large" => Some(2),
        s => xlarge_factor(s).map(|f| 4 * f),
    }
}

pub fn memory_gib(n: &Name) -> Option<f64> {
    if burstable(n) {
        if n.family == "t1" || n.family == "t2" {
            return None;
        }
        let gib = match n.size {
            "nano" => 0.5,
            "micro" => 1.0,
            "small" => 2.0,
            "medium" => 4.0,
            "large" => 8.0,
            s => 8.0 * f64::from(xlarge_factor(s)?) * 2.0,
        };
        return Some(gib);
    }
    if !nitro(n) {
        return None;
    }
    let per_vcpu = match n.series {
        "c" => 2.0,
        "m" => 4.0,
        "r" => 8.0,
        "x" if n.attributes.contains('e') => 32.0,
        "x" => 16.0,
        _ => return None,
    };
    Some(per_vcpu * f64::from(vcpu(n)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        let n = parse("c7i-flex.2xlarge").unwrap();
        assert_eq!(
            (n.series, n.generation, n.attributes, n.suffix, n.size),
            ("c", Some(7), "i", "i-flex", "2xlarge")
        );
        let n = parse("u7inh-32tb.480xlarge").unwrap();
        assert_eq!(
            (n.series, n.generation, n.attributes),
            ("u", Some(7), "inh")
        );
        assert_eq!(parse("is4gen.medium").unwrap().attributes, "gen");
        assert!(parse("m5").is_none());
        assert!(parse("db.r6g.large").is_none());
    }

    #[test]
    fn sizes() {
        assert_eq!(xlarge_factor("xlarge"), Some(1));
        assert_eq!(xlarge_factor("24xlarge"), Some(24));
        assert_eq!(xlarge_factor("metal-48xl"), Some(48));
        assert_eq!(xlarge_factor("metal"), None);
    }
}
