//! Sovereign's domain rules and the validated topology.
//!
//! This crate takes the [`Topology`] that `sovereign-spec` parsed and the fact catalog, runs every
//! rule in [`rules`] (one file per rule, documentation beside it), and, when no rule reports an
//! error, resolves all defaults into a [`ValidatedTopology`]. That type can only be built here:
//! the renderer, the cost model, verify and the lab accept nothing else.
//!
//! It also owns the analyses the rules need and `plan` shows: the subnet plan ([`cidr`]).

pub mod analysis;
pub mod cidr;
mod context;
pub mod limits;
pub mod rules;
mod validated;

use sovereign_catalog::{Catalog, Date};
use sovereign_spec::{Diagnostic, RuleInfo, Topology, sort_diagnostics};

pub use context::Ctx;
pub use validated::*;

/// The outcome of checking a topology.
#[derive(Debug)]
pub struct Report {
    /// Every finding, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// Present when no finding is an error.
    pub validated: Option<ValidatedTopology>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Parses and checks topology text.
pub fn check_text(text: &str, catalog: &Catalog, today: Date) -> Report {
    check_parsed(sovereign_spec::parse(text), catalog, today)
}

/// Checks the outcome of [`sovereign_spec::parse`] or [`sovereign_spec::parse_bytes`].
pub fn check_parsed(
    parsed: sovereign_spec::ParseOutcome,
    catalog: &Catalog,
    today: Date,
) -> Report {
    let mut diagnostics = parsed.diagnostics;
    let Some(topology) = parsed.topology else {
        sort_diagnostics(&mut diagnostics);
        return Report {
            diagnostics,
            validated: None,
        };
    };
    let mut report = check_topology(&topology, catalog, today);
    diagnostics.append(&mut report.diagnostics);
    sort_diagnostics(&mut diagnostics);
    let validated = if diagnostics.iter().any(|d| d.is_error()) {
        None
    } else {
        report.validated
    };
    Report {
        diagnostics,
        validated,
    }
}

/// Runs every domain rule over a parsed topology.
pub fn check_topology(topology: &Topology, catalog: &Catalog, today: Date) -> Report {
    let cx = Ctx::new(topology, catalog, today);
    let mut diagnostics = Vec::new();
    for rule in rules::RULES {
        (rule.run)(&cx, &mut diagnostics);
    }
    let validated = if diagnostics.iter().any(|d| d.is_error()) {
        None
    } else {
        match validated::build(&cx) {
            Ok(v) => Some(v),
            Err(what) => {
                diagnostics.push(Diagnostic::new(&INTERNAL, format!("could not resolve {what}")).help(
                    "this is a bug in Sovereign: the rules accepted a topology the resolver cannot use; please report it with the file",
                ));
                None
            }
        }
    };
    sort_diagnostics(&mut diagnostics);
    Report {
        diagnostics,
        validated,
    }
}

/// Reported when the resolver fails after every rule passed: a bug, never a user error.
pub const INTERNAL: RuleInfo = RuleInfo {
    code: "SOV999",
    name: "internal",
    severity: sovereign_spec::Severity::Error,
    summary: "a topology the rules accepted but Sovereign could not resolve (a bug)",
    doc: "# SOV999 internal\n\nEvery rule accepted the topology, but resolving it into the validated form failed. This is a bug in Sovereign; please report it with the topology file.\n",
};

/// Every rule Sovereign has: the parse rules, then the domain rules, in code order.
pub fn all_rules() -> Vec<RuleInfo> {
    let mut out: Vec<RuleInfo> = sovereign_spec::rules::PARSE_RULES.to_vec();
    out.extend(rules::RULES.iter().map(|r| r.info));
    out.push(INTERNAL);
    out.sort_by_key(|r| r.code);
    out
}

/// Looks a rule up by code (`SOV043`, case-insensitive) or name (`overlapping_cidrs`).
pub fn find_rule(key: &str) -> Option<RuleInfo> {
    all_rules()
        .into_iter()
        .find(|r| r.code.eq_ignore_ascii_case(key) || r.name == key)
}
