//! Values that remember where they came from.

use crate::diag::Span;

/// A value with the span of its text in the topology file, or `None` when the value is a
/// default that the file does not spell out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp {
            value,
            span: Some(span),
        }
    }

    /// A value the file does not contain.
    pub fn default_value(value: T) -> Self {
        Sp { value, span: None }
    }

    pub fn span(&self) -> Option<Span> {
        self.span.clone()
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sp<U> {
        Sp {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl Sp<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}
