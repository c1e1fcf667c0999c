//! TOML text → [`Topology`], collecting every finding instead of stopping at the first.
//!
//! The reader walks the spanned document that `toml` produces. Each table remembers which keys
//! it was asked for; whatever is left over is an unknown key, and the asked-for set is exactly
//! the list a "did you mean" should search.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

use crate::diag::{Diagnostic, Span, sort_diagnostics};
use crate::model::*;
use crate::rules::{
    DUPLICATE_KEY, INVALID_VALUE, MISSING_KEY, SYNTAX_ERROR, UNKNOWN_KEY, WRONG_TYPE,
};
use crate::span::Sp;
use crate::suggest::closest;

/// What parsing produced: a topology when the file was usable, and every finding.
#[derive(Debug)]
pub struct ParseOutcome {
    /// `None` when a syntax error, a missing required key or a wrongly typed required value
    /// makes the file unusable; the diagnostics then say why.
    pub topology: Option<Topology>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses topology bytes. Returns the text to show in messages (invalid UTF-8 replaced) and the
/// outcome; bytes that are not UTF-8 are a syntax finding at the first bad byte.
pub fn parse_bytes(bytes: &[u8]) -> (String, ParseOutcome) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), parse(text)),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let at = e.valid_up_to();
            let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            let d = Diagnostic::new(
                &SYNTAX_ERROR,
                format!("the file is not valid UTF-8 (byte {at})"),
            )
            .at(Some(at..end), "invalid UTF-8 here")
            .help("save the file as UTF-8");
            (
                text,
                ParseOutcome {
                    topology: None,
                    diagnostics: vec![d],
                },
            )
        }
    }
}

/// Parses topology text. Never panics, whatever the input.
pub fn parse(text: &str) -> ParseOutcome {
    let (root, errors) = DeTable::parse_recoverable(text);
    let mut cx = Ctx::default();
    if !errors.is_empty() {
        for err in errors {
            cx.diags.push(syntax_diagnostic(text, &err));
        }
        sort_diagnostics(&mut cx.diags);
        return ParseOutcome {
            topology: None,
            diagnostics: cx.diags,
        };
    }
    let span = root.span();
    let mut top = Table::new(root.get_ref(), span.clone(), span.start..span.start, "");
    let topology = read_topology(&mut cx, &mut top);
    top.finish(&mut cx);
    sort_diagnostics(&mut cx.diags);
    ParseOutcome {
        topology: if cx.fatal { None } else { Some(topology) },
        diagnostics: cx.diags,
    }
}

fn syntax_diagnostic(text: &str, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().trim_end_matches('.').to_string();
    let span = err.span().map(|s| clamp_span(text, s));
    if message.starts_with("duplicate key") {
        let key = span
            .clone()
            .map(|s| text[s].trim().to_string())
            .unwrap_or_default();
        let first = span
            .clone()
            .and_then(|s| first_declaration(text, s.start, &key));
        let mut d = Diagnostic::new(&DUPLICATE_KEY, format!("duplicate key `{key}`"))
            .at(span, "defined again here");
        if let Some(first) = first {
            d = d.also(Some(first), "first defined here");
        }
        return d.help("TOML allows each key and each table header once: remove one of them");
    }
    let mut message = lowercase_first(&message);
    if message.is_empty() {
        message = "invalid TOML".to_string();
    }
    Diagnostic::new(&SYNTAX_ERROR, message).at(span, "here")
}

/// Keeps a span inside the text and on char boundaries.
fn clamp_span(text: &str, span: Span) -> Span {
    let mut start = span.start.min(text.len());
    let mut end = span.end.min(text.len()).max(start);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// Finds where a duplicated key was first defined: the same `[header]` earlier in the file, or
/// the same `key =` earlier in the same table section. Returns `None` when unsure.
fn first_declaration(text: &str, dup_at: usize, key: &str) -> Option<Span> {
    if key.is_empty() {
        return None;
    }
    let line_start = text[..dup_at].rfind('\n').map_or(0, |i| i + 1);
    let dup_line = text[line_start..].lines().next().unwrap_or("").trim();
    let before = &text[..line_start];
    if dup_line.starts_with('[') && !dup_line.starts_with("[[") {
        // A repeated table header: the first identical header.
        let mut offset = 0;
        for line in before.split_inclusive('\n') {
            if line.trim() == dup_line {
                let indent = line.len() - line.trim_start().len();
                return Some(offset + indent..offset + indent + line.trim_end().len() - indent);
            }
            offset += line.len();
        }
        return None;
    }
    // A repeated key: scan back to the start of the current section.
    let mut offset = before.len();
    for line in before.split_inclusive('\n').rev() {
        offset -= line.len();
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            return None;
        }
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let indent = line.len() - trimmed.len();
            return Some(offset + indent..offset + indent + key.len());
        }
    }
    None
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Default)]
struct Ctx {
    diags: Vec<Diagnostic>,
    /// Set when the topology cannot be built faithfully.
    fatal: bool,
}

impl Ctx {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

/// A table being read.
struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    /// Span of the table's value.
    span: Span,
    /// Where to point when a key is missing: the table's key or header.
    anchor: Span,
    /// Dotted path for messages: `sites[2]`, `kubernetes.spot`.
    path: String,
    asked: Vec<&'static str>,
}

type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

impl<'a, 'i> Table<'a, 'i> {
    fn new(table: &'a DeTable<'i>, span: Span, anchor: Span, path: &str) -> Self {
        Table {
            table,
            span,
            anchor,
            path: path.to_string(),
            asked: Vec::new(),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    fn get(&mut self, key: &'static str) -> Option<Entry<'a, 'i>> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        self.table.get_key_value(key)
    }

    fn missing(&self, cx: &mut Ctx, key: &str, example: &str) {
        let where_ = if self.path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{}`", self.path)
        };
        cx.push(
            Diagnostic::new(&MISSING_KEY, format!("missing key `{key}` {where_}"))
                .at(
                    Some(self.anchor.clone()),
                    format!("`{key}` is required here"),
                )
                .help(format!("add `{key} = {example}`")),
        );
        cx.fatal = true;
    }

    fn wrong_type(&self, cx: &mut Ctx, key: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let found = type_name(value.get_ref());
        let mut d = Diagnostic::new(
            &WRONG_TYPE,
            format!("`{}` must be {expected}, found {found}", self.key_path(key)),
        )
        .at(Some(value.span()), format!("expected {expected}"));
        if let Some(hint) = conversion_hint(value.get_ref(), expected) {
            d = d.help(hint);
        }
        cx.push(d);
        cx.fatal = true;
    }

    /// Reports every key nobody asked for.
    fn finish(&self, cx: &mut Ctx) {
        for (key, _) in self.table.iter() {
            let name = key.get_ref().as_ref();
            if self.asked.contains(&name) {
                continue;
            }
            let where_ = if self.path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{}`", self.path)
            };
            let mut d = Diagnostic::new(&UNKNOWN_KEY, format!("unknown key `{name}` {where_}"))
                .at(Some(key.span()), "not a known key");
            match closest(name, self.asked.iter().copied()) {
                Some(s) => d = d.help(format!("did you mean `{s}`?")),
                None => {
                    let mut known = self.asked.clone();
                    known.sort_unstable();
                    d = d.help(format!("known keys here: {}", backticked(&known)));
                }
            }
            cx.push(d);
        }
    }

    // ---- scalar readers -------------------------------------------------------------------

    fn opt_str(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<String>> {
        let (_, v) = self.get(key)?;
        match v.get_ref().as_str() {
            Some(s) => Some(Sp::new(s.to_string(), v.span())),
            None => {
                self.wrong_type(cx, key, v, "a string");
                None
            }
        }
    }

    fn req_str(&mut self, cx: &mut Ctx, key: &'static str, example: &str) -> Sp<String> {
        let present = self.table.contains_key(key);
        match self.opt_str(cx, key) {
            Some(v) => v,
            None => {
                if !present {
                    self.missing(cx, key, example);
                }
                Sp::default_value(String::new())
            }
        }
    }

    fn str_or(&mut self, cx: &mut Ctx, key: &'static str, default: &str) -> Sp<String> {
        self.opt_str(cx, key)
            .unwrap_or_else(|| Sp::default_value(default.to_string()))
    }

    fn opt_bool(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<bool>> {
        let (_, v) = self.get(key)?;
        match v.get_ref().as_bool() {
            Some(b) => Some(Sp::new(b, v.span())),
            None => {
                self.wrong_type(cx, key, v, "a boolean (`true` or `false`)");
                None
            }
        }
    }

    fn bool_or(&mut self, cx: &mut Ctx, key: &'static str, default: bool) -> Sp<bool> {
        self.opt_bool(cx, key)
            .unwrap_or_else(|| Sp::default_value(default))
    }

    fn opt_int(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<i64>> {
        let (_, v) = self.get(key)?;
        match int_value(v.get_ref()) {
            Some(Ok(n)) => Some(Sp::new(n, v.span())),
            Some(Err(())) => {
                cx.push(
                    Diagnostic::new(
                        &INVALID_VALUE,
                        format!("`{}` is too large", self.key_path(key)),
                    )
                    .at(Some(v.span()), "does not fit in a 64-bit integer"),
                );
                cx.fatal = true;
                None
            }
            None => {
                self.wrong_type(cx, key, v, "an integer");
                None
            }
        }
    }

    fn int_or(&mut self, cx: &mut Ctx, key: &'static str, default: i64) -> Sp<i64> {
        self.opt_int(cx, key)
            .unwrap_or_else(|| Sp::default_value(default))
    }

    /// An unsigned integer that must fit `T` (counts, sizes, ports).
    fn opt_uint<T>(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<T>>
    where
        T: TryFrom<i64> + Copy + std::fmt::Display + Bounded,
    {
        let n = self.opt_int(cx, key)?;
        match T::try_from(n.value) {
            Ok(v) => Some(Sp {
                value: v,
                span: n.span,
            }),
            Err(_) => {
                cx.push(
                    Diagnostic::new(
                        &INVALID_VALUE,
                        format!(
                            "`{}` must be a whole number from 0 to {}, found `{}`",
                            self.key_path(key),
                            T::MAX_DISPLAY,
                            n.value
                        ),
                    )
                    .at(n.span.clone(), "out of range"),
                );
                cx.fatal = true;
                None
            }
        }
    }

    fn uint_or<T>(&mut self, cx: &mut Ctx, key: &'static str, default: T) -> Sp<T>
    where
        T: TryFrom<i64> + Copy + std::fmt::Display + Bounded,
    {
        self.opt_uint(cx, key)
            .unwrap_or_else(|| Sp::default_value(default))
    }

    /// A number: integer or float.
    fn opt_float(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<f64>> {
        let (_, v) = self.get(key)?;
        match float_value(v.get_ref()) {
            Some(f) if f.is_finite() => Some(Sp::new(f, v.span())),
            Some(_) => {
                cx.push(
                    Diagnostic::new(
                        &INVALID_VALUE,
                        format!("`{}` must be a finite number", self.key_path(key)),
                    )
                    .at(Some(v.span()), "not finite"),
                );
                cx.fatal = true;
                None
            }
            None => {
                self.wrong_type(cx, key, v, "a number");
                None
            }
        }
    }

    fn float_or(&mut self, cx: &mut Ctx, key: &'static str, default: f64) -> Sp<f64> {
        self.opt_float(cx, key)
            .unwrap_or_else(|| Sp::default_value(default))
    }

    /// One word out of a fixed set.
    fn choice<T: Copy>(
        &mut self,
        cx: &mut Ctx,
        key: &'static str,
        choices: &[(&'static str, T)],
        default: T,
    ) -> Sp<T> {
        let Some(s) = self.opt_str(cx, key) else {
            return Sp::default_value(default);
        };
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == s.value) {
            return Sp {
                value: *v,
                span: s.span,
            };
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::new(
            &INVALID_VALUE,
            format!(
                "`{}` does not accept `{}`",
                self.key_path(key),
                s.value.escape_debug()
            ),
        )
        .at(s.span.clone(), "not one of the accepted values");
        if let Some(c) = closest(&s.value, names.iter().copied()) {
            d = d.help(format!("did you mean `\"{c}\"`?"));
        }
        d = d.help(format!("accepted values: {}", quoted(&names)));
        cx.push(d);
        cx.fatal = true;
        Sp::default_value(default)
    }

    // ---- compound readers -----------------------------------------------------------------

    fn opt_str_list(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<Vec<Sp<String>>>> {
        let (_, v) = self.get(key)?;
        let Some(arr) = v.get_ref().as_array() else {
            self.wrong_type(cx, key, v, "a list of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in arr.iter() {
            match item.get_ref().as_str() {
                Some(s) => out.push(Sp::new(s.to_string(), item.span())),
                None => {
                    let found = type_name(item.get_ref());
                    cx.push(
                        Diagnostic::new(
                            &WRONG_TYPE,
                            format!(
                                "every item of `{}` must be a string, found {found}",
                                self.key_path(key)
                            ),
                        )
                        .at(Some(item.span()), "expected a string"),
                    );
                    cx.fatal = true;
                }
            }
        }
        Some(Sp::new(out, v.span()))
    }

    fn str_list_or(
        &mut self,
        cx: &mut Ctx,
        key: &'static str,
        default: &[&str],
    ) -> Sp<Vec<Sp<String>>> {
        self.opt_str_list(cx, key).unwrap_or_else(|| {
            Sp::default_value(
                default
                    .iter()
                    .map(|s| Sp::default_value(s.to_string()))
                    .collect(),
            )
        })
    }

    fn opt_float_list(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<Vec<Sp<f64>>>> {
        let (_, v) = self.get(key)?;
        let Some(arr) = v.get_ref().as_array() else {
            self.wrong_type(cx, key, v, "a list of numbers");
            return None;
        };
        let mut out = Vec::new();
        for item in arr.iter() {
            match float_value(item.get_ref()) {
                Some(f) => out.push(Sp::new(f, item.span())),
                None => {
                    cx.push(
                        Diagnostic::new(
                            &WRONG_TYPE,
                            format!(
                                "every item of `{}` must be a number, found {}",
                                self.key_path(key),
                                type_name(item.get_ref())
                            ),
                        )
                        .at(Some(item.span()), "expected a number"),
                    );
                    cx.fatal = true;
                }
            }
        }
        Some(Sp::new(out, v.span()))
    }

    fn opt_table(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Table<'a, 'i>> {
        let (k, v) = self.get(key)?;
        match v.get_ref().as_table() {
            Some(t) => Some(Table::new(t, v.span(), k.span(), &self.key_path(key))),
            None => {
                self.wrong_type(cx, key, v, "a table");
                None
            }
        }
    }

    fn tables(&mut self, cx: &mut Ctx, key: &'static str) -> Vec<Table<'a, 'i>> {
        let Some((_, v)) = self.get(key) else {
            return Vec::new();
        };
        let Some(arr) = v.get_ref().as_array() else {
            self.wrong_type(cx, key, v, "an array of tables (`[[{key}]]`)");
            return Vec::new();
        };
        table_items(cx, arr, &self.key_path(key))
    }

    /// `[x] site = value` maps, keyed by site id.
    fn site_map<T>(
        &mut self,
        cx: &mut Ctx,
        key: &'static str,
        mut read: impl FnMut(&mut Ctx, &Spanned<DeValue<'i>>, &str) -> Option<T>,
    ) -> BTreeMap<String, (Span, Sp<T>)> {
        let mut out = BTreeMap::new();
        let Some(table) = self.opt_table(cx, key) else {
            return out;
        };
        for (k, v) in table.table.iter() {
            let path = format!("{}.{}", table.path, k.get_ref());
            if let Some(value) = read(cx, v, &path) {
                out.insert(
                    k.get_ref().to_string(),
                    (k.span(), Sp::new(value, v.span())),
                );
            }
        }
        out
    }

    fn str_map(&mut self, cx: &mut Ctx, key: &'static str) -> BTreeMap<String, Sp<String>> {
        self.site_map(cx, key, |cx, v, path| match v.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                report_wrong_type(cx, path, v, "a string");
                None
            }
        })
        .into_iter()
        .map(|(k, (_, v))| (k, v))
        .collect()
    }
}

fn table_items<'a, 'i>(cx: &mut Ctx, arr: &'a DeArray<'i>, path: &str) -> Vec<Table<'a, 'i>> {
    let mut out = Vec::new();
    for (i, item) in arr.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        match item.get_ref().as_table() {
            Some(t) => out.push(Table::new(t, item.span(), header_span(item), &item_path)),
            None => report_wrong_type(cx, &item_path, item, "a table"),
        }
    }
    out
}

/// The first line of a table's span: its `[[header]]` when it has one.
fn header_span(item: &Spanned<DeValue<'_>>) -> Span {
    item.span()
}

fn report_wrong_type(cx: &mut Ctx, path: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
    cx.push(
        Diagnostic::new(
            &WRONG_TYPE,
            format!(
                "`{path}` must be {expected}, found {}",
                type_name(value.get_ref())
            ),
        )
        .at(Some(value.span()), format!("expected {expected}")),
    );
    cx.fatal = true;
}

/// Bounds of the integer types counts are read into, for messages.
trait Bounded {
    const MAX_DISPLAY: &'static str;
}
impl Bounded for u8 {
    const MAX_DISPLAY: &'static str = "255";
}
impl Bounded for u16 {
    const MAX_DISPLAY: &'static str = "65535";
}
impl Bounded for u32 {
    const MAX_DISPLAY: &'static str = "4294967295";
}

fn int_value(v: &DeValue<'_>) -> Option<Result<i64, ()>> {
    let i = v.as_integer()?;
    Some(i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| ()))
}

fn float_value(v: &DeValue<'_>) -> Option<f64> {
    if let Some(Ok(i)) = int_value(v) {
        return Some(i as f64);
    }
    let f = v.as_float()?;
    match f.as_str() {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        s => s.replace('_', "").parse().ok(),
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn conversion_hint(v: &DeValue<'_>, expected: &str) -> Option<String> {
    match v {
        DeValue::String(s) if expected == "an integer" || expected == "a number" => {
            // Only a finite number written plainly: `"NaN"` or `"inf"` are not numbers here.
            let t = s.trim();
            if t.parse::<f64>().is_ok_and(f64::is_finite)
                && t.chars()
                    .all(|c| c.is_ascii_digit() || "+-._eE".contains(c))
            {
                Some(format!("remove the quotes: `{}`", s.trim()))
            } else {
                None
            }
        }
        DeValue::String(s) if expected.starts_with("a list") => {
            Some(format!("write a list: `[\"{}\"]`", s.escape_debug()))
        }
        DeValue::String(s) if expected.starts_with("a boolean") => match s.as_ref() {
            "true" | "false" => Some(format!("remove the quotes: `{s}`")),
            _ => None,
        },
        DeValue::Integer(i) if expected == "a string" => {
            Some(format!("quote it: `\"{}\"`", i.as_str()))
        }
        DeValue::Float(f) if expected == "a string" => {
            Some(format!("quote it: `\"{}\"`", f.as_str()))
        }
        _ => None,
    }
}

fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`\"{s}\"`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- the format ------------------------------------------------------------------------------

fn read_topology(cx: &mut Ctx, top: &mut Table<'_, '_>) -> Topology {
    let project = match top.opt_table(cx, "project") {
        Some(mut t) => {
            let p = read_project(cx, &mut t);
            t.finish(cx);
            p
        }
        None => {
            if !top.table.contains_key("project") {
                cx.push(
                    Diagnostic::new(&MISSING_KEY, "missing table `[project]`")
                        .at(Some(0..0), "expected `[project]` with at least `name`")
                        .help("add:\n[project]\nname = \"my-system\""),
                );
                cx.fatal = true;
            }
            empty_project()
        }
    };
    let application = top.opt_table(cx, "application").map(|mut t| {
        let a = read_application(cx, &mut t);
        t.finish(cx);
        a
    });
    let mut sites = Vec::new();
    let site_tables = top.tables(cx, "sites");
    if site_tables.is_empty() && !top.table.contains_key("sites") {
        cx.push(
            Diagnostic::new(&MISSING_KEY, "the topology has no sites")
                .at(Some(0..0), "expected at least one `[[sites]]` table")
                .help("add:\n[[sites]]\nid = \"ams\"\naws_region = \"eu-west-1\"\nvpc_cidr = \"10.1.0.0/16\""),
        );
        cx.fatal = true;
    }
    for mut t in site_tables {
        sites.push(read_site(cx, &mut t));
        t.finish(cx);
    }
    let network = with_table(cx, top, "network", read_network);
    let kubernetes = with_table(cx, top, "kubernetes", read_kubernetes);
    let postgres = top.opt_table(cx, "postgres").map(|mut t| {
        let p = read_postgres(cx, &mut t);
        t.finish(cx);
        p
    });
    let cassandra = top.opt_table(cx, "cassandra").map(|mut t| {
        let c = read_cassandra(cx, &mut t);
        t.finish(cx);
        c
    });
    let redis = top.opt_table(cx, "redis").map(|mut t| {
        let r = read_redis(cx, &mut t);
        t.finish(cx);
        r
    });
    let monitoring = with_table(cx, top, "monitoring", read_monitoring);
    let dns = top.opt_table(cx, "dns").map(|mut t| {
        let d = read_dns(cx, &mut t);
        t.finish(cx);
        d
    });
    let budgets = top.opt_table(cx, "budgets").map(|mut t| {
        let b = read_budgets(cx, &mut t);
        t.finish(cx);
        b
    });
    let project_name = project.name.value.clone();
    let state = match top.opt_table(cx, "state") {
        Some(mut t) => {
            let s = read_state(cx, &mut t, &project_name);
            t.finish(cx);
            s
        }
        None => default_state(&project_name),
    };
    let usage = with_table(cx, top, "usage", read_usage);
    Topology {
        project,
        application,
        sites,
        network,
        kubernetes,
        postgres,
        cassandra,
        redis,
        monitoring,
        dns,
        budgets,
        state,
        usage,
    }
}

/// Reads an optional table whose keys all have defaults: absent means an empty table.
fn with_table<T>(
    cx: &mut Ctx,
    top: &mut Table<'_, '_>,
    key: &'static str,
    read: fn(&mut Ctx, &mut Table<'_, '_>) -> T,
) -> T {
    static EMPTY: std::sync::OnceLock<DeTable<'static>> = std::sync::OnceLock::new();
    match top.opt_table(cx, key) {
        Some(mut t) => {
            let v = read(cx, &mut t);
            t.finish(cx);
            v
        }
        None => {
            let empty = EMPTY.get_or_init(DeTable::new);
            let mut t = Table::new(empty, 0..0, 0..0, key);
            read(cx, &mut t)
        }
    }
}

fn table_span(t: &Table<'_, '_>) -> Option<Span> {
    if t.span.is_empty() && t.anchor.is_empty() {
        None
    } else {
        Some(t.anchor.clone())
    }
}

fn empty_project() -> Project {
    Project {
        span: None,
        name: Sp::default_value(String::new()),
        environment: Sp::default_value("production".into()),
        tags: BTreeMap::new(),
        monthly_hours: Sp::default_value(730),
    }
}

fn read_project(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Project {
    Project {
        span: table_span(t),
        name: t.req_str(cx, "name", "\"my-system\""),
        environment: t.str_or(cx, "environment", "production"),
        tags: t.str_map(cx, "tags"),
        monthly_hours: t.uint_or(cx, "monthly_hours", 730u32),
    }
}

fn read_application(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Application {
    Application {
        span: table_span(t),
        name: t.str_or(cx, "name", "api"),
        image: t.req_str(cx, "image", "\"ghcr.io/acme/api:1.0.0\""),
        port: t.uint_or(cx, "port", 8080u16),
        health_path: t.str_or(cx, "health_path", "/healthz"),
        replicas: t.uint_or(cx, "replicas", 3u32),
        sites: t.opt_str_list(cx, "sites"),
        fly_vm_size: t.str_or(cx, "fly_vm_size", "shared-cpu-2x"),
        fly_machines: t.uint_or(cx, "fly_machines", 2u32),
    }
}

fn read_site(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Site {
    let id = t.req_str(cx, "id", "\"ams\"");
    let aws_region = t.opt_str(cx, "aws_region");
    let vpc_cidr = t.opt_str(cx, "vpc_cidr");
    if aws_region.is_some() && vpc_cidr.is_none() && !t.table.contains_key("vpc_cidr") {
        cx.push(
            Diagnostic::new(
                &MISSING_KEY,
                format!("missing key `vpc_cidr` in `{}`", t.path),
            )
            .at(
                aws_region.as_ref().and_then(|r| r.span()),
                "a site with an AWS side needs a VPC range",
            )
            .help("add `vpc_cidr = \"10.1.0.0/16\"` with a private range no other site uses"),
        );
        cx.fatal = true;
    }
    Site {
        span: table_span(t),
        name: t.str_or(cx, "name", &id.value.to_uppercase()),
        role: t.str_or(cx, "role", ""),
        aws_region,
        vpc_cidr,
        availability_zones: t.opt_str_list(cx, "availability_zones"),
        fly_region: t.opt_str(cx, "fly_region"),
        peering: t.bool_or(cx, "peering", true),
        id,
    }
}

fn read_network(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Network {
    Network {
        span: table_span(t),
        nat_gateways: t.choice(
            cx,
            "nat_gateways",
            &[("per_az", NatMode::PerAz), ("single", NatMode::Single)],
            NatMode::PerAz,
        ),
        flow_log_retention_days: t.uint_or(cx, "flow_log_retention_days", 365u32),
        subnet_prefix: t.uint_or(cx, "subnet_prefix", 20u8),
    }
}

fn read_node_group(
    cx: &mut Ctx,
    t: &mut Table<'_, '_>,
    defaults: (&[&str], u32, u32, u32),
) -> NodeGroup {
    let (types, min, desired, max) = defaults;
    NodeGroup {
        span: table_span(t),
        instance_types: t.str_list_or(cx, "instance_types", types),
        min_size: t.uint_or(cx, "min_size", min),
        desired_size: t.uint_or(cx, "desired_size", desired),
        max_size: t.uint_or(cx, "max_size", max),
        disk_size_gib: t.uint_or(cx, "disk_size_gib", 100u32),
    }
}

const ON_DEMAND_DEFAULT: (&[&str], u32, u32, u32) = (&["m5.2xlarge", "m5.4xlarge"], 3, 5, 20);
const SPOT_DEFAULT: (&[&str], u32, u32, u32) = (
    &["m5.large", "m5a.large", "m5d.large", "m6i.large"],
    2,
    5,
    50,
);

fn read_kubernetes(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Kubernetes {
    let span = table_span(t);
    let version = t.str_or(cx, "version", crate::DEFAULT_EKS_VERSION);
    let sites = t.opt_str_list(cx, "sites");
    let public_access_cidrs = t.str_list_or(cx, "public_access_cidrs", &[]);
    let on_demand = match t.opt_table(cx, "on_demand") {
        Some(mut g) => {
            let n = read_node_group(cx, &mut g, ON_DEMAND_DEFAULT);
            g.finish(cx);
            n
        }
        None => {
            let mut g = empty_table("kubernetes.on_demand");
            read_node_group(cx, &mut g, ON_DEMAND_DEFAULT)
        }
    };
    let spot = t.opt_table(cx, "spot").map(|mut g| {
        let n = read_node_group(cx, &mut g, SPOT_DEFAULT);
        g.finish(cx);
        n
    });
    let scaling = match t.opt_table(cx, "scaling") {
        Some(mut s) => {
            let v = read_scaling(cx, &mut s);
            s.finish(cx);
            v
        }
        None => {
            let mut s = empty_table("kubernetes.scaling");
            read_scaling(cx, &mut s)
        }
    };
    Kubernetes {
        span,
        version,
        sites,
        public_access_cidrs,
        on_demand,
        spot,
        scaling,
    }
}

fn empty_table(path: &str) -> Table<'static, 'static> {
    static EMPTY: std::sync::OnceLock<DeTable<'static>> = std::sync::OnceLock::new();
    Table::new(EMPTY.get_or_init(DeTable::new), 0..0, 0..0, path)
}

fn read_scaling(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Scaling {
    Scaling {
        span: table_span(t),
        cpu_target_percent: t.int_or(cx, "cpu_target_percent", 70),
        step: t.int_or(cx, "step", 2),
        cooldown_seconds: t.int_or(cx, "cooldown_seconds", 300),
    }
}

fn read_postgres(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Postgres {
    let span = table_span(t);
    let engine_version = t.str_or(cx, "engine_version", crate::DEFAULT_POSTGRES_VERSION);
    let primary = t.req_str(cx, "primary", "\"ams\"");
    let secondaries = t.str_list_or(cx, "secondaries", &[]);
    let successor = t.opt_str(cx, "successor");
    let instance_class = t.str_or(cx, "instance_class", "db.r6i.2xlarge");
    let instances = t.uint_or(cx, "instances", 2u32);
    let instances_per_site = t.site_map(cx, "instances_per_site", |cx, v, path| {
        match int_value(v.get_ref()) {
            Some(Ok(n)) if (0..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
            Some(_) => {
                cx.push(
                    Diagnostic::new(
                        &INVALID_VALUE,
                        format!("`{path}` must be a whole number from 0 to 4294967295"),
                    )
                    .at(Some(v.span()), "out of range"),
                );
                cx.fatal = true;
                None
            }
            None => {
                report_wrong_type(cx, path, v, "an integer");
                None
            }
        }
    });
    let database_name = t.str_or(cx, "database_name", "app");
    let master_username = t.str_or(cx, "master_username", "sovereignadmin");
    let backup_retention_days = t.int_or(cx, "backup_retention_days", 35);
    let deletion_protection = t.bool_or(cx, "deletion_protection", true);
    let max_lag_seconds = t.float_or(cx, "max_lag_seconds", 5.0);
    let mut logical_replicas = Vec::new();
    for mut r in t.tables(cx, "logical_replicas") {
        logical_replicas.push(LogicalReplica {
            span: table_span(&r),
            site: r.req_str(cx, "site", "\"jnb\""),
            via: r.opt_str(cx, "via"),
            link: r.opt_str(cx, "link"),
            vm_size: r.str_or(cx, "vm_size", "performance-2x"),
            volume_size_gb: r.uint_or(cx, "volume_size_gb", 100u32),
        });
        r.finish(cx);
    }
    Postgres {
        span,
        engine_version,
        primary,
        secondaries,
        successor,
        instance_class,
        instances,
        instances_per_site,
        database_name,
        master_username,
        backup_retention_days,
        deletion_protection,
        max_lag_seconds,
        logical_replicas,
    }
}

fn read_cassandra(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Cassandra {
    let span = table_span(t);
    let version = t.str_or(cx, "version", crate::DEFAULT_CASSANDRA_VERSION);
    let control_plane = t.req_str(cx, "control_plane", "\"sin\"");
    let keyspace = t.str_or(cx, "keyspace", "app");
    let storage_class = t.str_or(cx, "storage_class", "gp3");
    let mut datacenters = Vec::new();
    for mut d in t.tables(cx, "datacenters") {
        datacenters.push(CassandraDc {
            span: table_span(&d),
            site: d.req_str(cx, "site", "\"ams\""),
            nodes: d.uint_or(cx, "nodes", 3u32),
            replication_factor: d.uint_or(cx, "replication_factor", 3u32),
            storage_size_gi: d.uint_or(cx, "storage_size_gi", 500u32),
        });
        d.finish(cx);
    }
    Cassandra {
        span,
        version,
        control_plane,
        keyspace,
        storage_class,
        datacenters,
    }
}

fn read_redis(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Redis {
    Redis {
        span: table_span(t),
        mode: t.choice(
            cx,
            "mode",
            &[
                ("regional", RedisMode::Regional),
                ("global", RedisMode::Global),
            ],
            RedisMode::Regional,
        ),
        node_type: t.str_or(cx, "node_type", "cache.r6g.large"),
        engine_version: t.str_or(cx, "engine_version", "7.1"),
        sites: t.opt_str_list(cx, "sites"),
        primary: t.opt_str(cx, "primary"),
        replicas_per_site: t.uint_or(cx, "replicas_per_site", 1u32),
        maxmemory_policy: t.str_or(cx, "maxmemory_policy", "allkeys-lru"),
    }
}

fn read_monitoring(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Monitoring {
    Monitoring {
        span: table_span(t),
        global_site: t.opt_str(cx, "global_site"),
        retention_days: t.uint_or(cx, "retention_days", 15u32),
    }
}

fn read_dns(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Dns {
    Dns {
        span: table_span(t),
        zone: t.req_str(cx, "zone", "\"example.com\""),
        api_record: t.str_or(cx, "api_record", "api"),
        routing: t.choice(
            cx,
            "routing",
            &[
                ("latency", Routing::Latency),
                ("geolocation", Routing::Geolocation),
            ],
            Routing::Latency,
        ),
        ttl_seconds: t.uint_or(cx, "ttl_seconds", 60u32),
        health_check_interval_seconds: t.uint_or(cx, "health_check_interval_seconds", 30u32),
        health_check_failure_threshold: t.uint_or(cx, "health_check_failure_threshold", 3u32),
        health_checks: t.opt_str_list(cx, "health_checks"),
    }
}

fn read_budgets(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Budgets {
    let span = table_span(t);
    let monthly_total_usd = match t.opt_float(cx, "monthly_total_usd") {
        Some(v) => v,
        None => {
            if !t.table.contains_key("monthly_total_usd") {
                t.missing(cx, "monthly_total_usd", "50000");
            }
            Sp::default_value(0.0)
        }
    };
    let per_site = t.site_map(cx, "per_site", |cx, v, path| {
        match float_value(v.get_ref()) {
            Some(f) if f.is_finite() => Some(f),
            _ => {
                report_wrong_type(cx, path, v, "a number");
                None
            }
        }
    });
    let alert_thresholds_percent = t
        .opt_float_list(cx, "alert_thresholds_percent")
        .unwrap_or_else(|| {
            Sp::default_value(vec![Sp::default_value(80.0), Sp::default_value(100.0)])
        });
    let recipients = t.str_list_or(cx, "recipients", &[]);
    Budgets {
        span,
        monthly_total_usd,
        per_site,
        alert_thresholds_percent,
        recipients,
    }
}

fn default_state(project: &str) -> State {
    State {
        span: None,
        bucket: Sp::default_value(format!("{project}-tfstate")),
        region: None,
        key_prefix: Sp::default_value(project.to_string()),
    }
}

fn read_state(cx: &mut Ctx, t: &mut Table<'_, '_>, project: &str) -> State {
    let d = default_state(project);
    State {
        span: table_span(t),
        bucket: t.opt_str(cx, "bucket").unwrap_or(d.bucket),
        region: t.opt_str(cx, "region"),
        key_prefix: t.opt_str(cx, "key_prefix").unwrap_or(d.key_prefix),
    }
}

fn read_usage(cx: &mut Ctx, t: &mut Table<'_, '_>) -> Usage {
    Usage {
        span: table_span(t),
        aurora_storage_gb: t.float_or(cx, "aurora_storage_gb", 500.0),
        aurora_io_millions: t.float_or(cx, "aurora_io_millions", 200.0),
        aurora_write_io_millions: t.float_or(cx, "aurora_write_io_millions", 50.0),
        replication_transfer_gb: t.float_or(cx, "replication_transfer_gb", 100.0),
        nat_processed_gb_per_site: t.float_or(cx, "nat_processed_gb_per_site", 500.0),
        load_balancer_lcu: t.float_or(cx, "load_balancer_lcu", 2.0),
        cassandra_replication_gb: t.float_or(cx, "cassandra_replication_gb", 100.0),
        user_regions: t.opt_str_list(cx, "user_regions"),
    }
}
