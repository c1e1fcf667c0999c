//! Plain column tables for human output: a header, a rule under it, left-aligned columns
//! padded to their widest cell.
//!
//! A table fits a width when it has one: the widest columns give way first, down to
//! [`MIN_COLUMN`] characters, and their cells wrap at spaces (a word longer than its column is
//! cut). The width is the terminal's when standard output is a terminal, `--width N` when
//! given, and none with `--wide` or when output is piped, so piped output and snapshots never
//! depend on who ran the command.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The narrowest a column is squeezed to (a narrower natural width is kept).
pub const MIN_COLUMN: usize = 8;

/// 0: no limit.
static WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Sets the width every [`table`] of this process fits in (`None`: no limit).
pub fn set_width(width: Option<usize>) {
    WIDTH.store(width.unwrap_or(0), Ordering::Relaxed);
}

fn width() -> Option<usize> {
    match WIDTH.load(Ordering::Relaxed) {
        0 => None,
        w => Some(w),
    }
}

/// Renders rows under headers in the process's width (see [`set_width`]).
pub fn table<H, R, C>(headers: H, rows: R) -> String
where
    H: IntoIterator,
    H::Item: ToString,
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: ToString,
{
    table_in(headers, rows, width())
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Column widths that fit `limit` characters of line (a leading space and two between
/// columns), narrowing the widest column one character at a time.
fn fit(natural: &[usize], limit: Option<usize>) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let Some(limit) = limit else {
        return widths;
    };
    let overhead = 1 + 2 * natural.len().saturating_sub(1);
    let available = limit.saturating_sub(overhead);
    while widths.iter().sum::<usize>() > available {
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > MIN_COLUMN.min(natural[*i]))
            .max_by_key(|(i, w)| (**w, std::cmp::Reverse(*i)))
        else {
            break; // Every column at its minimum: the line overflows.
        };
        widths[i] -= 1;
    }
    widths
}

/// Wraps text into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    if chars(text) <= width || width == 0 {
        return vec![text.to_string()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let need = if line.is_empty() {
                chars(&word)
            } else {
                chars(&line) + 1 + chars(&word)
            };
            if need <= width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than the column: cut it.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Renders rows under headers, fitting `limit` characters per line when given.
pub fn table_in<H, R, C>(headers: H, rows: R, limit: Option<usize>) -> String
where
    H: IntoIterator,
    H::Item: ToString,
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: ToString,
{
    let headers: Vec<String> = headers.into_iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.to_string()).collect())
        .collect();
    let cols = headers
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut natural = vec![0usize; cols];
    for r in std::iter::once(&headers).chain(rows.iter()) {
        for (i, c) in r.iter().enumerate() {
            natural[i] = natural[i].max(chars(c));
        }
    }
    let widths = fit(&natural, limit);
    let line = |cells: &[String]| -> String {
        let wrapped: Vec<Vec<String>> = (0..cols)
            .map(|i| wrap(cells.get(i).map(String::as_str).unwrap_or(""), widths[i]))
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let mut out = String::new();
        for k in 0..height {
            let mut s = String::from(" ");
            for (i, w) in widths.iter().enumerate() {
                let c = wrapped[i].get(k).map(String::as_str).unwrap_or("");
                s.push_str(c);
                if i + 1 < cols {
                    s.push_str(&" ".repeat(w.saturating_sub(chars(c)) + 2));
                }
            }
            s.truncate(s.trim_end().len());
            s.push('\n');
            out.push_str(&s);
        }
        out
    };
    let mut out = line(&headers);
    let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
    out.push(' ');
    out.push_str(&"─".repeat(total));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns() {
        let t = table_in(["a", "long"], vec![vec!["xyz", "1"], vec!["q", "22"]], None);
        assert_eq!(t, " a    long\n ─────────\n xyz  1\n q    22\n");
    }

    #[test]
    fn a_table_that_fits_is_unchanged() {
        let rows = vec![vec!["xyz", "1"], vec!["q", "22"]];
        assert_eq!(
            table_in(["a", "long"], rows.clone(), Some(80)),
            table_in(["a", "long"], rows, None)
        );
    }

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a abcdefghij", 4), vec!["a", "abcd", "efgh", "ij"]);
        assert_eq!(wrap("short", 10), vec!["short"]);
    }

    #[test]
    fn the_widest_column_gives_way_first() {
        assert_eq!(fit(&[10, 40, 5], Some(50)), vec![10, 30, 5]);
        // Down to the minimum, then the next widest.
        assert_eq!(fit(&[30, 30], Some(23)), vec![10, 10]);
        // Nothing narrower than MIN_COLUMN (or its natural width): the line overflows.
        assert_eq!(fit(&[20, 20, 3], Some(10)), vec![8, 8, 3]);
    }
}
