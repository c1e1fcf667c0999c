//! Findings as data: what the parser and the rules report, before any rendering.

use std::ops::Range;

/// A byte range into the topology source text.
pub type Span = Range<usize>;

/// How bad a finding is. Errors stop `render`, `plan` and friends; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A place in the source with a short explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// Static description of a rule: its code, its name and the text `sovereign explain` prints.
#[derive(Clone, Copy, Debug)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub doc: &'static str,
}

/// One finding about a topology file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub help: Vec<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// Starts a finding for `rule` with the rule's default severity.
    pub fn new(rule: &RuleInfo, message: impl Into<String>) -> Self {
        Diagnostic {
            code: rule.code,
            name: rule.name,
            severity: rule.severity,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Points the finding at `span`; a `None` span (a defaulted value) leaves it unplaced.
    pub fn at(mut self, span: Option<Span>, label: impl Into<String>) -> Self {
        self.primary = span.map(|span| Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn also(mut self, span: Option<Span>, label: impl Into<String>) -> Self {
        if let Some(span) = span {
            self.secondary.push(Label {
                span,
                message: label.into(),
            });
        }
        self
    }

    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help.push(text.into());
        self
    }

    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Sort key: findings with a place come first, in source order; then by code and message.
    pub fn sort_key(&self) -> (usize, usize, &'static str, &str) {
        match &self.primary {
            Some(label) => (0, label.span.start, self.code, &self.message),
            None => (1, 0, self.code, &self.message),
        }
    }
}

/// Sorts findings by position, then code, then message; removes exact duplicates.
pub fn sort_diagnostics(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}
