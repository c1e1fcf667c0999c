//! Credentials out of everything verify prints.
//!
//! Check details quote what servers, tools and files said; an outputs file can point verify at
//! any file, and a tool's error may quote a line of it. [`redact`] runs over every message on
//! its way out (each check's detail and data, the human, JSON and JUnit reports, notes and
//! errors) and masks what looks like a credential:
//!
//! - `key=value`, `key = value`, `key: value`, `"key": "value"` where the key is or ends in
//!   `password`, `passwd`, `passphrase`, `pass` (`-pass`, `_pass`), `pwd`, `secret`, `token`,
//!   `apikey`/`api_key`/`api-key`, `access_key`, `secret_key`, `private_key` or `auth`;
//! - `requirepass value` and `masterauth value` (Redis configuration);
//! - the password of a URL (`scheme://user:password@host`), or the whole user part when it has
//!   no colon (`https://token@host`);
//! - `Bearer value`.
//!
//! The value becomes `****`; quotes around it are kept.

const MASK: &str = "****";

/// Keys whose value is a credential, matched against the end of a word (case-insensitive).
const SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "secret_key",
    "private_key",
];

/// Keys matched as a whole word or after `-` / `_`.
const WORDS: &[&str] = &["pass", "pwd", "auth"];

/// Keys whose value may follow after a space (Redis configuration directives).
const DIRECTIVES: &[&str] = &["requirepass", "masterauth"];

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn sensitive(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    SUFFIXES.iter().any(|s| w.ends_with(s))
        || WORDS.iter().any(|k| {
            w == *k
                || w.strip_suffix(k)
                    .is_some_and(|rest| rest.ends_with('-') || rest.ends_with('_'))
        })
        || DIRECTIVES.contains(&w.as_str())
}

/// Where the value after `i` ends: a quoted value at its closing quote, else at whitespace or
/// punctuation that ends a value in prose, conninfo strings, JSON or URLs.
fn value_span(s: &[u8], mut i: usize) -> Option<(usize, usize)> {
    // An escaped quote, as in JSON inside a JSON string: `\"value\"`.
    let escaped = s.get(i) == Some(&b'\\') && matches!(s.get(i + 1), Some(b'"' | b'\''));
    if escaped {
        i += 1;
    }
    match s.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            let start = i + 1;
            let mut end = start;
            while end < s.len() && s[end] != q {
                end += 1;
            }
            if escaped && end > start && s[end - 1] == b'\\' {
                end -= 1;
            }
            (end > start).then_some((start, end))
        }
        Some(_) => {
            let start = i;
            let mut end = start;
            while end < s.len()
                && !s[end].is_ascii_whitespace()
                && !b",;&'\"()[]{}<>`".contains(&s[end])
            {
                end += 1;
            }
            (end > start).then_some((start, end))
        }
        None => None,
    }
}

/// Spans of `key<sep>value` credentials.
fn key_values(s: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while i < s.len() {
        if !is_word(s[i]) || (i > 0 && is_word(s[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && is_word(s[i]) {
            i += 1;
        }
        // Safe: the word is ASCII.
        let word = std::str::from_utf8(&s[start..i]).unwrap_or("");
        if !sensitive(word) {
            continue;
        }
        let mut j = i;
        // A closing quote of the key, escaped or not.
        if s.get(j) == Some(&b'\\') && matches!(s.get(j + 1), Some(b'"' | b'\'')) {
            j += 2;
        } else if matches!(s.get(j), Some(b'"' | b'\'')) {
            j += 1;
        }
        let k = j;
        while j < s.len() && (s[j] == b' ' || s[j] == b'\t') {
            j += 1;
        }
        let separated = match s.get(j) {
            Some(b'=') => true,
            // Not `::` (a check name) nor `://` (a URL scheme).
            Some(b':') => !matches!(s.get(j + 1), Some(b':' | b'/')),
            _ => false,
        };
        let j = if separated {
            let mut j = j + 1;
            while j < s.len() && (s[j] == b' ' || s[j] == b'\t') {
                j += 1;
            }
            j
        } else if DIRECTIVES.contains(&word.to_ascii_lowercase().as_str()) && j > k {
            j
        } else {
            continue;
        };
        if let Some(span) = value_span(s, j) {
            i = span.1;
            spans.push(span);
        }
    }
}

/// Spans of URL passwords (or user parts without a colon).
fn urls(s: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(p) = find(s, b"://", from) {
        let start = p + 3;
        let mut end = start;
        while end < s.len() && !s[end].is_ascii_whitespace() && !b"/?#\"'<>`".contains(&s[end]) {
            end += 1;
        }
        if let Some(at) = s[start..end].iter().rposition(|&b| b == b'@') {
            let user = &s[start..start + at];
            let span = match user.iter().position(|&b| b == b':') {
                Some(c) => (start + c + 1, start + at),
                None => (start, start + at),
            };
            if span.1 > span.0 {
                spans.push(span);
            }
        }
        from = end.max(start);
    }
}

/// Spans of bearer tokens.
fn bearer(s: &[u8], spans: &mut Vec<(usize, usize)>) {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = find(&lower, b"bearer ", from) {
        from = p + 7;
        if p > 0 && is_word(s[p - 1]) {
            continue;
        }
        if let Some(span) = value_span(s, p + 7) {
            spans.push(span);
        }
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// `text` with every credential it seems to hold replaced by `****`.
pub fn redact(text: &str) -> String {
    let s = text.as_bytes();
    let mut spans = Vec::new();
    key_values(s, &mut spans);
    urls(s, &mut spans);
    bearer(s, &mut spans);
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        let start = start.max(at);
        if end <= start {
            continue;
        }
        // Spans start and end at ASCII bytes, so at character boundaries.
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// [`redact`] over every string in a JSON value.
pub fn redact_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(redact(s)),
        Value::Array(a) => Value::Array(a.iter().map(redact_json).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = if sensitive(k) && !v.is_null() {
                        Value::String(MASK.into())
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_credentials() {
        for (input, want) in [
            (
                "primary_conninfo = 'host=10.0.0.1 user=rep password=hunter2'",
                "primary_conninfo = 'host=10.0.0.1 user=rep password=****'",
            ),
            ("password = hunter2", "password = ****"),
            ("PGPASSWORD=hunter2 psql", "PGPASSWORD=**** psql"),
            (r#"{"password": "hunter2"}"#, r#"{"password": "****"}"#),
            (r#"{"password":"hun ter2"}"#, r#"{"password":"****"}"#),
            (
                r#"{\"password\": \"hunter2\"}"#,
                r#"{\"password\": \"****\"}"#,
            ),
            ("requirepass hunter2", "requirepass ****"),
            ("masterauth  hunter2\n", "masterauth  ****\n"),
            ("auth_token: abc123", "auth_token: ****"),
            ("repo1-cipher-pass=xyz", "repo1-cipher-pass=****"),
            ("api-key=k1 secret=s2", "api-key=**** secret=****"),
            (
                "postgresql://postgres:hunter2@127.0.0.1:5432/db",
                "postgresql://postgres:****@127.0.0.1:5432/db",
            ),
            ("redis://:hunter2@h:6379", "redis://:****@h:6379"),
            ("https://ghp_tok@github.com/x", "https://****@github.com/x"),
            (
                "Authorization: Bearer abc.def",
                "Authorization: Bearer ****",
            ),
        ] {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn leaves_ordinary_messages_alone() {
        for s in [
            "password authentication failed for user \"postgres\"",
            "Password authentication failed",
            "WRONGPASS invalid username-password pair or user is disabled.",
            "no PostgreSQL credentials: set SOVEREIGN_PG_USER and SOVEREIGN_PG_PASSWORD",
            "GET http://127.0.0.1:8080/healthz → 200 OK in 3 ms",
            "postgres::reachable",
            "the secret `acme/postgres/master` in Secrets Manager holds them",
            "PostgreSQL 15.18 (Debian), primary (read-write), connected in 4 ms",
            "résumé — ünïcode ✓",
            "",
        ] {
            assert_eq!(redact(s), s);
        }
    }

    #[test]
    fn json_values_under_credential_keys() {
        let v = serde_json::json!({"detail": "password=x", "token": 5, "n": [1, "secret: y"]});
        assert_eq!(
            super::redact_json(&v),
            serde_json::json!({"detail": "password=****", "token": "****", "n": [1, "secret: ****"]})
        );
    }
}
