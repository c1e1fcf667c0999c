//! A small HCL writer whose output `terraform fmt` leaves unchanged.
//!
//! Values are built as expressions, never parsed from text: strings are escaped here
//! (`"`, `\`, newlines, `${` and `%{`), and references are passed through as raw expressions.
//! After writing, [`align`] applies Terraform's alignment of `=` in runs of single-line
//! attributes (hclwrite's `formatCells`), which no HCL crate does.

use std::fmt::Write;

/// An HCL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A string literal; escaped when written.
    Str(String),
    /// An expression written as is: a reference, a function call, a `for` expression.
    Raw(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    Null,
    List(Vec<Expr>),
    /// An object; keys that are not identifiers are quoted.
    Map(Vec<(String, Expr)>),
}

pub fn s(v: impl Into<String>) -> Expr {
    Expr::Str(v.into())
}

pub fn raw(v: impl Into<String>) -> Expr {
    Expr::Raw(v.into())
}

pub fn int(v: impl Into<i64>) -> Expr {
    Expr::Int(v.into())
}

pub fn strs<I, S>(items: I) -> Expr
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Expr::List(items.into_iter().map(|i| Expr::Str(i.into())).collect())
}

pub fn map<I, K>(items: I) -> Expr
where
    I: IntoIterator<Item = (K, Expr)>,
    K: Into<String>,
{
    Expr::Map(items.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// One item of a body.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Attr(String, Expr),
    Block(Block),
    /// A `# comment` line (text without the `#`).
    Comment(String),
    Blank,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub items: Vec<Item>,
}

impl Block {
    pub fn new(kind: &str, labels: &[&str]) -> Block {
        Block {
            kind: kind.to_string(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            items: Vec::new(),
        }
    }

    pub fn attr(mut self, key: &str, value: Expr) -> Block {
        self.items.push(Item::Attr(key.to_string(), value));
        self
    }

    /// Adds the attribute only when `value` is `Some`.
    pub fn attr_opt(self, key: &str, value: Option<Expr>) -> Block {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    pub fn block(mut self, block: Block) -> Block {
        self.items.push(Item::Block(block));
        self
    }

    pub fn comment(mut self, text: &str) -> Block {
        self.items.push(Item::Comment(text.to_string()));
        self
    }

    pub fn blank(mut self) -> Block {
        self.items.push(Item::Blank);
        self
    }

    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }
}

/// A `.tf` file: a header comment and top-level items separated by blank lines.
#[derive(Clone, Debug, Default)]
pub struct File {
    pub header: Vec<String>,
    pub items: Vec<Item>,
}

impl File {
    pub fn new(header: &str) -> File {
        File {
            header: header.lines().map(str::to_string).collect(),
            items: Vec::new(),
        }
    }

    pub fn add(&mut self, block: Block) -> &mut File {
        self.items.push(Item::Block(block));
        self
    }

    pub fn comment(&mut self, text: &str) -> &mut File {
        self.items.push(Item::Comment(text.to_string()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The file's text, formatted as `terraform fmt` would leave it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for h in &self.header {
            let _ = writeln!(out, "# {h}");
        }
        let mut first = true;
        let mut prev_comment = false;
        for item in &self.items {
            match item {
                Item::Comment(c) => {
                    if !first && !prev_comment {
                        out.push('\n');
                    }
                    let _ = writeln!(out, "# {c}");
                    prev_comment = true;
                    first = false;
                    continue;
                }
                Item::Blank => {
                    continue;
                }
                _ => {}
            }
            if (!first || !self.header.is_empty()) && !prev_comment {
                out.push('\n');
            }
            write_item(&mut out, item, 0);
            prev_comment = false;
            first = false;
        }
        align(&out)
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_item(out: &mut String, item: &Item, level: usize) {
    match item {
        Item::Attr(k, v) => {
            indent(out, level);
            out.push_str(&key(k));
            out.push_str(" = ");
            write_expr(out, v, level);
            out.push('\n');
        }
        Item::Block(b) => write_block(out, b, level),
        Item::Comment(c) => {
            indent(out, level);
            let _ = writeln!(out, "# {c}");
        }
        Item::Blank => out.push('\n'),
    }
}

fn write_block(out: &mut String, b: &Block, level: usize) {
    indent(out, level);
    out.push_str(&b.kind);
    for l in &b.labels {
        let _ = write!(out, " {}", quote(l));
    }
    if b.items.is_empty() {
        out.push_str(" {}\n");
        return;
    }
    out.push_str(" {\n");
    let mut prev: Option<&Item> = None;
    for item in &b.items {
        // A nested block after attributes gets a blank line before it, as in hand-written HCL.
        if matches!(item, Item::Block(_))
            && matches!(prev, Some(Item::Attr(..)) | Some(Item::Block(_)))
        {
            out.push('\n');
        }
        if matches!(item, Item::Attr(..)) && matches!(prev, Some(Item::Block(_))) {
            out.push('\n');
        }
        write_item(out, item, level + 1);
        prev = Some(item);
    }
    indent(out, level);
    out.push_str("}\n");
}

fn is_ident(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key(k: &str) -> String {
    if is_ident(k) { k.to_string() } else { quote(k) }
}

/// A quoted HCL string: `"`, `\` and control characters escaped, and template sequences
/// (`${`, `%{`) doubled so they stay literal.
pub fn quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                s.push(c);
                s.push(c);
            }
            c if c.is_control() => {
                let _ = write!(s, "\\u{:04X}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn is_simple(e: &Expr) -> bool {
    !matches!(e, Expr::List(_) | Expr::Map(_))
}

fn inline_len(e: &Expr) -> usize {
    let mut s = String::new();
    write_expr(&mut s, e, 0);
    s.len()
}

fn write_expr(out: &mut String, e: &Expr, level: usize) {
    match e {
        Expr::Str(v) => out.push_str(&quote(v)),
        Expr::Raw(v) => out.push_str(v),
        Expr::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Expr::Num(n) => {
            if n.fract() == 0.0 && n.abs() < 1e15 {
                let _ = write!(out, "{}", *n as i64);
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Expr::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Expr::Null => out.push_str("null"),
        Expr::List(items) => {
            if items.is_empty() {
                out.push_str("[]");
            } else if items.iter().all(is_simple)
                && items.iter().map(inline_len).sum::<usize>() + 2 * items.len() < 100
            {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_expr(out, it, level);
                }
                out.push(']');
            } else {
                out.push_str("[\n");
                for it in items {
                    indent(out, level + 1);
                    write_expr(out, it, level + 1);
                    out.push_str(",\n");
                }
                indent(out, level);
                out.push(']');
            }
        }
        Expr::Map(items) => {
            if items.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (k, v) in items {
                indent(out, level + 1);
                out.push_str(&key(k));
                out.push_str(" = ");
                write_expr(out, v, level + 1);
                out.push('\n');
            }
            indent(out, level);
            out.push('}');
        }
    }
}

/// Aligns `=` in runs of consecutive single-line attributes at the same depth, the way
/// `terraform fmt` does. A line joins a run when its first `=` (outside quotes) is followed by
/// text whose brackets balance; blank lines, comment lines, block headers, closing braces and
/// attributes whose value spans lines end a run. Heredoc bodies are skipped.
pub fn align(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + 256);
    let mut run: Vec<(usize, usize, usize)> = Vec::new(); // (line index, key end, indent)
    let mut heredoc: Option<String> = None;
    let mut cells: Vec<Option<(usize, usize)>> = vec![None; lines.len()];
    let flush = |run: &mut Vec<(usize, usize, usize)>, cells: &mut Vec<Option<(usize, usize)>>| {
        if let Some(width) = run.iter().map(|(_, k, ind)| k - ind).max() {
            for (i, k, ind) in run.iter() {
                cells[*i] = Some((*k, width - (k - ind)));
            }
        }
        run.clear();
    };
    for (i, line) in lines.iter().enumerate() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        let ind = line.len() - trimmed.len();
        match attribute_key_end(line) {
            Some((key_end, value)) if brackets_balance(value) => {
                if let Some(&(_, _, run_ind)) = run.first()
                    && run_ind != ind
                {
                    flush(&mut run, &mut cells);
                }
                run.push((i, key_end, ind));
                if let Some(marker) = heredoc_marker(value) {
                    heredoc = Some(marker);
                }
            }
            _ => flush(&mut run, &mut cells),
        }
    }
    flush(&mut run, &mut cells);
    for (i, line) in lines.iter().enumerate() {
        match cells[i] {
            Some((key_end, pad)) => {
                let (k, rest) = line.split_at(key_end);
                out.push_str(k.trim_end());
                out.push_str(&" ".repeat(pad + 1));
                out.push_str(rest.trim_start());
            }
            None => out.push_str(line),
        }
    }
    out
}

/// For `  key = value`, the byte where the key ends (before the spaces) and the value text.
fn attribute_key_end(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with("//") || trimmed.is_empty() {
        return None;
    }
    let start = line.len() - trimmed.len();
    let bytes = line.as_bytes();
    let mut i = start;
    if bytes.get(i) == Some(&b'"') {
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        i += 1;
    } else {
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-')
        {
            i += 1;
        }
    }
    if i == start || i > line.len() {
        return None;
    }
    let key_end = i;
    let rest = &line[key_end..];
    let after = rest.trim_start();
    if !after.starts_with('=') || after.starts_with("==") {
        return None;
    }
    Some((key_end, after[1..].trim()))
}

fn brackets_balance(value: &str) -> bool {
    let mut depth: i32 = 0;
    let mut in_str = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '<' if chars.peek() == Some(&'<') => return depth == 0,
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            '#' => break,
            _ => {}
        }
    }
    depth == 0
}

fn heredoc_marker(value: &str) -> Option<String> {
    let v = value.trim();
    let rest = v.strip_prefix("<<-").or_else(|| v.strip_prefix("<<"))?;
    Some(rest.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_terraform() {
        let b = Block::new("resource", &["aws_subnet", "this"])
            .attr("vpc_id", raw("aws_vpc.main.id"))
            .attr("cidr_block", s("10.0.1.0/24"))
            .attr("map_public_ip_on_launch", Expr::Bool(false))
            .attr(
                "tags",
                map([("Name", s("public-a")), ("Environment", s("prod"))]),
            )
            .attr("count", int(2));
        let mut f = File::new("generated");
        f.add(b);
        assert_eq!(
            f.render(),
            "# generated\n\nresource \"aws_subnet\" \"this\" {\n  vpc_id                  = aws_vpc.main.id\n  cidr_block              = \"10.0.1.0/24\"\n  map_public_ip_on_launch = false\n  tags = {\n    Name        = \"public-a\"\n    Environment = \"prod\"\n  }\n  count = 2\n}\n"
        );
    }

    #[test]
    fn escapes_templates_and_quotes() {
        assert_eq!(
            quote("a \"q\" ${x} %{y} \\ \n"),
            "\"a \\\"q\\\" $${x} %%{y} \\\\ \\n\""
        );
        assert_eq!(quote("$ alone"), "\"$ alone\"");
    }

    #[test]
    fn quotes_non_identifier_keys() {
        let mut out = String::new();
        write_expr(&mut out, &map([("kubernetes.io/role/elb", s("1"))]), 0);
        assert_eq!(out, "{\n  \"kubernetes.io/role/elb\" = \"1\"\n}");
    }

    #[test]
    fn long_lists_break() {
        let long: Vec<String> = (0..20).map(|i| format!("item-number-{i}")).collect();
        let mut out = String::new();
        write_expr(&mut out, &strs(long), 0);
        assert!(out.starts_with("[\n  \"item-number-0\",\n"));
    }
}
