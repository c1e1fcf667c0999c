use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV011",
    name: "invalid_site_id",
    severity: Severity::Error,
    summary: "a site id that is not short, lowercase letters and digits",
    doc: include_str!("invalid_site_id.md"),
};

/// The longest site id accepted.
pub const MAX_LEN: usize = 8;

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    for site in cx.sites() {
        let id = site.id.as_str();
        let ok_chars = id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let starts_letter = id.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let len = id.chars().count();
        let problem = if id.is_empty() {
            Some("is empty".to_string())
        } else if !ok_chars || !starts_letter {
            Some("must be lowercase letters and digits, starting with a letter".to_string())
        } else if len > MAX_LEN {
            Some(format!("is {len} characters, the limit is {MAX_LEN}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            let suggestion: String = id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .skip_while(|c| c.is_ascii_digit())
                .take(MAX_LEN)
                .collect();
            let mut d =
                Diagnostic::new(&INFO, format!("site id `{}` {problem}", id.escape_debug()))
                    .at(site.id.span(), "invalid site id");
            if !suggestion.is_empty() && suggestion != id {
                d = d.help(format!("use something like `\"{suggestion}\"`"));
            }
            out.push(d.note(
                "site ids become parts of AWS names with tight limits (ElastiCache: 40 characters) and of DNS labels",
            ));
        }
    }
}
