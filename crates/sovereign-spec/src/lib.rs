//! The `sovereign.toml` topology format.
//!
//! This crate owns the first step of Sovereign's one-way flow: TOML text → [`Topology`], a model
//! whose fields keep the byte span of the text they came from. It reports parse-level findings
//! (syntax, unknown keys, wrong types, missing keys, duplicates, values outside a fixed set) as
//! [`Diagnostic`]s and never panics on any input. It also holds the embedded default topology and
//! the `init` templates, and the AWS names derived from project and site ids.
//!
//! It hands a [`Topology`] to `sovereign-check`, which runs the domain rules and produces the
//! validated form every later stage takes.

pub mod diag;
pub mod model;
pub mod names;
mod parse;
pub mod rules;
pub mod span;
mod suggest;
pub mod synthetic;

pub use diag::{Diagnostic, Label, RuleInfo, Severity, Span, sort_diagnostics};
pub use model::*;
pub use parse::{ParseOutcome, parse, parse_bytes};
pub use span::Sp;
pub use suggest::{closest, edit_distance};

/// The EKS version a topology gets when it names none.
pub const DEFAULT_EKS_VERSION: &str = "1.35";
/// The Aurora PostgreSQL version a topology gets when it names none.
pub const DEFAULT_POSTGRES_VERSION: &str = "17.5";
/// The Apache Cassandra version a topology gets when it names none.
pub const DEFAULT_CASSANDRA_VERSION: &str = "5.0.8";

/// A topology file's text and the name to show for it in messages.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The embedded Global Sovereign topology, shown as `<default>` in messages.
    pub fn default_topology() -> Self {
        Source::new("<default>", Template::GlobalSovereign.text())
    }
}

/// The topologies `sovereign init` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// The six-site Global Sovereign fleet; also the embedded default.
    GlobalSovereign,
    /// Two AWS sites, one Aurora secondary, no Cassandra.
    Minimal,
}

impl Template {
    pub const ALL: [Template; 2] = [Template::GlobalSovereign, Template::Minimal];

    pub fn name(self) -> &'static str {
        match self {
            Template::GlobalSovereign => "global-sovereign",
            Template::Minimal => "minimal",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Template::GlobalSovereign => include_str!("../../../examples/global-sovereign.toml"),
            Template::Minimal => include_str!("../../../examples/minimal.toml"),
        }
    }

    pub fn from_name(name: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.name() == name)
    }
}
