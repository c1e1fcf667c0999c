//! Reports: one line per check for people, JSON and JUnit XML for CI. Every string of every
//! report goes through [`redact`] first, whoever built the results.

use std::fmt::Write;

use serde::Serialize;

use crate::redact::{redact, redact_json};
use crate::{CheckResult, Status};

/// The results with every string they carry redacted.
fn redacted(results: &[CheckResult]) -> Vec<CheckResult> {
    results
        .iter()
        .map(|r| CheckResult {
            name: redact(&r.name),
            site: r.site.as_deref().map(redact),
            status: r.status,
            duration_ms: r.duration_ms,
            detail: redact(&r.detail),
            data: redact_json(&r.data),
        })
        .collect()
}

pub fn passed(results: &[CheckResult]) -> usize {
    results.iter().filter(|r| r.status == Status::Pass).count()
}

pub fn human(results: &[CheckResult], elapsed_ms: u64, color: bool) -> String {
    let results = &redacted(results)[..];
    let name_w = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let site_w = results
        .iter()
        .map(|r| r.site.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(1);
    let mut s = String::new();
    for r in results {
        let _ = writeln!(
            s,
            "{}  {:<name_w$}  {:<site_w$}  {:>6}  {}",
            match (r.status, color) {
                (Status::Pass, false) => "PASS",
                (Status::Fail, false) => "FAIL",
                (Status::Pass, true) => "\x1b[32mPASS\x1b[0m",
                (Status::Fail, true) => "\x1b[1;31mFAIL\x1b[0m",
            },
            r.name,
            r.site.as_deref().unwrap_or("-"),
            format!("{} ms", r.duration_ms),
            r.detail
        );
    }
    let ok = passed(results);
    let _ = writeln!(
        s,
        "\n{} checks: {ok} passed, {} failed ({:.1} s)",
        results.len(),
        results.len() - ok,
        elapsed_ms as f64 / 1000.0
    );
    s
}

/// What `verify --format json` prints and `report --verify` reads.
#[derive(Serialize, serde::Deserialize)]
pub struct JsonReport<'a> {
    pub passed: usize,
    pub failed: usize,
    pub elapsed_ms: u64,
    pub checks: std::borrow::Cow<'a, [CheckResult]>,
}

impl JsonReport<'static> {
    /// Reads what `verify --format json` printed.
    pub fn parse(text: &str) -> Result<JsonReport<'static>, serde_json::Error> {
        serde_json::from_str(text)
    }
}

pub fn json(results: &[CheckResult], elapsed_ms: u64) -> String {
    let results = &redacted(results)[..];
    let ok = passed(results);
    let r = JsonReport {
        passed: ok,
        failed: results.len() - ok,
        elapsed_ms,
        checks: std::borrow::Cow::Borrowed(results),
    };
    serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test suite per engine, one test case per check and site.
pub fn junit(results: &[CheckResult], elapsed_ms: u64) -> String {
    let results = &redacted(results)[..];
    let mut engines: Vec<&str> = results
        .iter()
        .map(|r| r.name.split("::").next().unwrap_or(""))
        .collect();
    engines.dedup();
    let fails = results.len() - passed(results);
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sovereign verify\" tests=\"{}\" failures=\"{fails}\" time=\"{:.3}\">\n",
        results.len(),
        elapsed_ms as f64 / 1000.0
    );
    for engine in engines {
        let cases: Vec<&CheckResult> = results
            .iter()
            .filter(|r| r.name.split("::").next() == Some(engine))
            .collect();
        let f = cases.iter().filter(|r| r.status == Status::Fail).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\">",
            xml(engine),
            cases.len()
        );
        for r in cases {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&r.name),
                xml(r.site.as_deref().unwrap_or("-")),
                r.duration_ms as f64 / 1000.0
            );
            match r.status {
                Status::Pass => {
                    let _ = writeln!(s, "><system-out>{}</system-out></testcase>", xml(&r.detail));
                }
                Status::Fail => {
                    let _ = writeln!(
                        s,
                        "><failure message=\"{}\">{}</failure></testcase>",
                        xml(&r.detail),
                        xml(&r.detail)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
