//! A line diff (longest common subsequence) for showing what `render` would change.

/// Lines only in `a` (removed) and only in `b` (added), and a unified-style excerpt with
/// `context` lines around each change, at most `max_lines` long.
pub fn diff(a: &str, b: &str, context: usize, max_lines: usize) -> (usize, usize, String) {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // Trim the common head and tail: the table is then small for typical edits.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let (n, m) = (am.len(), bm.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if am[i] == bm[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (tag, line) for the whole file: ' ' common, '-' removed, '+' added.
    let mut ops: Vec<(char, &str)> = a[..head].iter().map(|l| (' ', *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && am[i] == bm[j] {
            ops.push((' ', am[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as unified diffs show them.
            ops.push(('-', am[i]));
            i += 1;
        } else {
            ops.push(('+', bm[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - tail..].iter().map(|l| (' ', *l)));
    let removed = ops.iter().filter(|(t, _)| *t == '-').count();
    let added = ops.iter().filter(|(t, _)| *t == '+').count();
    let near = |k: usize| {
        ops[k.saturating_sub(context)..(k + context + 1).min(ops.len())]
            .iter()
            .any(|(t, _)| *t != ' ')
    };
    let mut out = Vec::new();
    let mut gap = false;
    for (k, (t, l)) in ops.iter().enumerate() {
        if *t != ' ' || near(k) {
            if gap && !out.is_empty() {
                out.push("  …".to_string());
            }
            gap = false;
            out.push(format!("{t} {l}"));
        } else {
            gap = true;
        }
    }
    let total = out.len();
    if max_lines == 0 {
        out.clear();
    } else if total > max_lines {
        out.truncate(max_lines);
        out.push(format!("  … ({} more lines)", total - max_lines));
    }
    (added, removed, out.join("\n"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_and_excerpt() {
        let (a, r, text) = super::diff("x\ny\nz\nw\n", "x\nY\nz\nw\nv\n", 0, 100);
        assert_eq!((a, r), (2, 1));
        assert_eq!(text, "- y\n+ Y\n  …\n+ v");
        assert_eq!(
            super::diff("same\n", "same\n", 1, 10),
            (0, 0, String::new())
        );
    }
}
