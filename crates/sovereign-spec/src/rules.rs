//! The parse-level rules. Each has its documentation in `rules/<name>.md`, printed by
//! `sovereign explain`. The domain rules live in `sovereign-check`.

use crate::diag::{RuleInfo, Severity};

pub const SYNTAX_ERROR: RuleInfo = RuleInfo {
    code: "SOV001",
    name: "syntax_error",
    severity: Severity::Error,
    summary: "the file is not valid TOML",
    doc: include_str!("rules/syntax_error.md"),
};

pub const UNKNOWN_KEY: RuleInfo = RuleInfo {
    code: "SOV002",
    name: "unknown_key",
    severity: Severity::Error,
    summary: "a key the topology format does not have",
    doc: include_str!("rules/unknown_key.md"),
};

pub const WRONG_TYPE: RuleInfo = RuleInfo {
    code: "SOV003",
    name: "wrong_type",
    severity: Severity::Error,
    summary: "a value of the wrong TOML type",
    doc: include_str!("rules/wrong_type.md"),
};

pub const MISSING_KEY: RuleInfo = RuleInfo {
    code: "SOV004",
    name: "missing_key",
    severity: Severity::Error,
    summary: "a required key is absent",
    doc: include_str!("rules/missing_key.md"),
};

pub const DUPLICATE_KEY: RuleInfo = RuleInfo {
    code: "SOV005",
    name: "duplicate_key",
    severity: Severity::Error,
    summary: "a key or table is defined twice",
    doc: include_str!("rules/duplicate_key.md"),
};

pub const INVALID_VALUE: RuleInfo = RuleInfo {
    code: "SOV006",
    name: "invalid_value",
    severity: Severity::Error,
    summary: "a value outside the set or range the key accepts",
    doc: include_str!("rules/invalid_value.md"),
};

pub const PARSE_RULES: &[RuleInfo] = &[
    SYNTAX_ERROR,
    UNKNOWN_KEY,
    WRONG_TYPE,
    MISSING_KEY,
    DUPLICATE_KEY,
    INVALID_VALUE,
];
