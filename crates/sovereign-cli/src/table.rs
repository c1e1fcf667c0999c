//! Plain column tables for human output: a header, a rule under it, left-aligned columns
//! padded to their widest cell. Identical on every terminal, so snapshots are stable.

/// Renders rows under headers; every row should have as many cells as there are headers.
pub fn table<H, R, C>(headers: H, rows: R) -> String
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
    let width = |s: &str| s.chars().count();
    let mut widths = vec![0usize; cols];
    for r in std::iter::once(&headers).chain(rows.iter()) {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::from(" ");
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map(String::as_str).unwrap_or("");
            s.push_str(c);
            if i + 1 < cols {
                s.push_str(&" ".repeat(w - width(c) + 2));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
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
    #[test]
    fn pads_columns() {
        let t = super::table(["a", "long"], vec![vec!["xyz", "1"], vec!["q", "22"]]);
        assert_eq!(t, " a    long\n ─────────\n xyz  1\n q    22\n");
    }
}
