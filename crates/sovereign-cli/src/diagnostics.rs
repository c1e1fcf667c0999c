//! Rendering findings: compiler-style text (with or without colour) and JSON.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Chars, Config};
use serde::Serialize;
use sovereign_spec::{Diagnostic, Severity, Source, Span};

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<()> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = Vec::new();
    if let Some(p) = &d.primary {
        labels.push(cs::Label::primary((), p.span.clone()).with_message(visible(&p.message)));
    }
    for s in &d.secondary {
        labels.push(cs::Label::secondary((), s.span.clone()).with_message(visible(&s.message)));
    }
    let mut notes: Vec<String> = d
        .help
        .iter()
        .map(|h| format!("help: {}", visible(h)))
        .collect();
    notes.extend(d.notes.iter().map(|n| format!("note: {}", visible(n))));
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(visible(&d.message))
        .with_labels(labels)
        .with_notes(notes)
}

/// Renders findings the way compilers do: `error[CODE]: message`, `--> file:line:col`, the
/// source line with the span underlined, `= help:` and `= note:` lines.
pub fn render_human(source: &Source, diags: &[Diagnostic], color: bool) -> String {
    let shown = visible(&source.text);
    let name = visible(&source.name);
    let file = SimpleFile::new(name.as_str(), shown.as_str());
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let mut out = String::new();
    for d in diags {
        let cd = to_codespan(d);
        if color {
            let mut buf = term::termcolor::Buffer::ansi();
            if term::emit_to_write_style(&mut buf, &config, &file, &cd).is_ok() {
                out.push_str(&String::from_utf8_lossy(buf.as_slice()));
                continue;
            }
        }
        match term::emit_into_string(&config, &file, &cd) {
            Ok(s) => out.push_str(&s),
            // A span outside the text would be a bug; print the finding without a snippet.
            Err(_) => {
                out.push_str(&format!(
                    "{}[{}]: {}\n",
                    d.severity.as_str(),
                    d.code,
                    d.message
                ));
            }
        }
    }
    out
}

/// The text with every character a terminal would act on or hide (control characters, escape
/// sequences, bidirectional overrides, zero-width marks) replaced by a visible one of the same
/// UTF-8 length, so byte spans still point at the same places.
pub fn visible(text: &str) -> String {
    text.chars()
        .map(|c| {
            let hidden = (c.is_control() && c != '\n' && c != '\t' && c != '\r')
                || sovereign_check::limits::is_invisible(c);
            if !hidden {
                return c.to_string();
            }
            match c.len_utf8() {
                1 => "?".to_string(),
                2 => "\u{00BF}".to_string(),
                3 => "\u{FFFD}".to_string(),
                _ => "\u{1F5CB}".to_string(),
            }
        })
        .collect()
}

/// `2 errors and 1 warning in `file``, or `no problems in `file``.
pub fn summary(source: &Source, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => format!("no problems in `{}`", source.name),
        (0, w) => format!("{} in `{}`", plural(w, "warning"), source.name),
        (e, 0) => format!("{} in `{}`", plural(e, "error"), source.name),
        (e, w) => format!(
            "{} and {} in `{}`",
            plural(e, "error"),
            plural(w, "warning"),
            source.name
        ),
    }
}

/// A position in the file: 1-based line and column (in characters), plus the byte offset.
#[derive(Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

#[derive(Serialize)]
pub struct JsonLabel {
    pub start: Position,
    pub end: Position,
    pub message: String,
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub primary: Option<JsonLabel>,
    pub secondary: Vec<JsonLabel>,
    pub help: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct JsonReport {
    pub file: String,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<JsonDiagnostic>,
}

fn position(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..floor_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position {
        line,
        column,
        offset,
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn label(text: &str, span: &Span, message: &str) -> JsonLabel {
    JsonLabel {
        start: position(text, span.start),
        end: position(text, span.end),
        message: message.to_string(),
    }
}

pub fn json_report(source: &Source, diags: &[Diagnostic]) -> JsonReport {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    JsonReport {
        file: source.name.clone(),
        errors,
        warnings: diags.len() - errors,
        diagnostics: diags
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code,
                name: d.name,
                severity: d.severity.as_str(),
                message: d.message.clone(),
                primary: d
                    .primary
                    .as_ref()
                    .map(|l| label(&source.text, &l.span, &l.message)),
                secondary: d
                    .secondary
                    .iter()
                    .map(|l| label(&source.text, &l.span, &l.message))
                    .collect(),
                help: d.help.clone(),
                notes: d.notes.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let p = position(text, text.find('=').unwrap());
        assert_eq!((p.line, p.column), (1, 3));
        let second = text.rfind('=').unwrap();
        let p = position(text, second);
        assert_eq!((p.line, p.column), (2, 4));
    }
}
