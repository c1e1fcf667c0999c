//! Load against a deployed fleet: open-loop requests to every site's regional endpoint, from
//! this machine.
//!
//! Each site gets its own schedule at a fixed rate: request `i` is due at `i / rate` seconds,
//! and it is sent then whether or not earlier ones have been answered (open loop), so a slow
//! site cannot slow the load down and hide its own latency. A request's latency is counted from
//! when it was due, not from when it happened to be sent, which also keeps the figures honest
//! when this machine falls behind (coordinated omission). Figures go into HDR histograms.
//!
//! The run is bounded three ways: its duration, the total number of requests, and each
//! request's timeout. Everything comes from one machine, so every latency includes the path
//! from here to each region: the report says where the load came from.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::outputs::Outputs;

/// Requests a second per site: the lowest and highest accepted.
pub const RATE_RANGE: std::ops::RangeInclusive<f64> = 0.1..=500.0;
/// Seconds a run may last.
pub const DURATION_RANGE: std::ops::RangeInclusive<f64> = 1.0..=3600.0;
/// The most requests one run may send, over all sites.
pub const MAX_REQUESTS: usize = 1_000_000;
/// Requests a requests file may list.
pub const MAX_REQUEST_KINDS: usize = 100;

/// One kind of request, from the user's requests file (or the health check).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// A name for the report.
    pub name: String,
    /// GET, HEAD, POST, PUT, PATCH or DELETE.
    #[serde(default = "get")]
    pub method: String,
    /// The path and query, from `/`.
    pub path: String,
    /// The body, sent as it is.
    #[serde(default)]
    pub body: Option<String>,
    /// The body's media type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Share of the requests of this kind, relative to the others (1 to 1000).
    #[serde(default = "one")]
    pub weight: u32,
}

fn get() -> String {
    "GET".into()
}
fn one() -> u32 {
    1
}

/// The requests file: `[[request]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsFile {
    request: Vec<RequestSpec>,
}

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Reads a requests file (TOML), every entry checked: a method HTTP knows, a path from `/`
/// without spaces or control characters, a weight from 1 to 1000.
pub fn parse_requests(text: &str) -> Result<Vec<RequestSpec>, String> {
    let f: RequestsFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if f.request.is_empty() {
        return Err("no [[request]] in the file".into());
    }
    if f.request.len() > MAX_REQUEST_KINDS {
        return Err(format!(
            "{} requests; at most {MAX_REQUEST_KINDS}",
            f.request.len()
        ));
    }
    for (i, r) in f.request.iter().enumerate() {
        let at = format!("request {} (`{}`)", i + 1, r.name.escape_debug());
        if !METHODS.contains(&r.method.as_str()) {
            return Err(format!(
                "{at}: method `{}` is not one of {}",
                r.method.escape_debug(),
                METHODS.join(", ")
            ));
        }
        if !r.path.starts_with('/')
            || r.path.chars().any(|c| c.is_whitespace() || c.is_control())
            || r.path.len() > 2048
        {
            return Err(format!(
                "{at}: path `{}` must start with `/`, hold no spaces or control characters, and fit in 2048 bytes",
                r.path.escape_debug()
            ));
        }
        if !(1..=1000).contains(&r.weight) {
            return Err(format!("{at}: weight {} is outside 1 to 1000", r.weight));
        }
        if r.body.is_some() && matches!(r.method.as_str(), "GET" | "HEAD") {
            return Err(format!("{at}: a {} request has no body", r.method));
        }
    }
    Ok(f.request)
}

/// A site to load: its name, base URL (scheme and host, no path), and what to send it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub site: String,
    pub base: String,
    /// The kinds of request, mixed by weight: the user's, or the site's health path.
    pub requests: Vec<RequestSpec>,
}

/// The health check of a site as a request kind: what is sent without a requests file.
pub fn health(path: &str) -> RequestSpec {
    RequestSpec {
        name: "health".into(),
        method: "GET".into(),
        path: path.to_string(),
        body: None,
        content_type: None,
        weight: 1,
    }
}

/// The regional endpoints the outputs name (`sites.<id>.load_balancer.url`), in site order,
/// each sent `requests` (empty: its own health path); `only` keeps the sites named (an unknown
/// name is an error).
pub fn targets(
    outputs: &Outputs,
    only: &[String],
    requests: &[RequestSpec],
) -> Result<Vec<Target>, String> {
    let mut all: Vec<Target> = outputs
        .sites
        .iter()
        .filter_map(|(id, s)| {
            let lb = s.load_balancer.as_ref()?;
            let url = lb.url.as_deref()?.trim_end_matches('/');
            let requests = if requests.is_empty() {
                vec![health(lb.health_path.as_deref().unwrap_or("/"))]
            } else {
                requests.to_vec()
            };
            Some(Target {
                site: id.clone(),
                base: url.to_string(),
                requests,
            })
        })
        .collect();
    for t in &all {
        if !(t.base.starts_with("https://") || t.base.starts_with("http://")) {
            return Err(format!(
                "site `{}`: load_balancer.url `{}` is not an http(s) URL",
                t.site, t.base
            ));
        }
    }
    if !only.is_empty() {
        for o in only {
            if !all.iter().any(|t| &t.site == o) {
                let known: Vec<&str> = all.iter().map(|t| t.site.as_str()).collect();
                return Err(format!(
                    "`{o}` is not a site with a regional endpoint in the outputs (those are: {})",
                    known.join(", ")
                ));
            }
        }
        all.retain(|t| only.contains(&t.site));
    }
    if all.is_empty() {
        return Err(
            "the outputs name no regional endpoint (sites.<id>.load_balancer.url): nothing to load"
                .into(),
        );
    }
    Ok(all)
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Requests a second per site.
    pub rate: f64,
    pub duration: Duration,
    /// Stop after this many requests over all sites.
    pub max_requests: usize,
    pub timeout: Duration,
}

/// One request's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Ok,
    Status(u16),
    Timeout,
    Connect,
    Other,
}

impl Fate {
    fn error_kind(self) -> Option<String> {
        match self {
            Fate::Ok => None,
            Fate::Status(s) => Some(format!("http_{s}")),
            Fate::Timeout => Some("timeout".into()),
            Fate::Connect => Some("connect".into()),
            Fate::Other => Some("other".into()),
        }
    }
}

/// Figures of one request kind at one site.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindReport {
    pub request: String,
    pub sent: usize,
    pub ok: usize,
    /// Milliseconds, successful requests only, counted from when each was due.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Failed requests by kind: `http_<status>`, `timeout`, `connect`, `other`.
    pub errors: BTreeMap<String, usize>,
}

/// Figures of one site.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SiteReport {
    pub site: String,
    pub url: String,
    pub sent: usize,
    pub ok: usize,
    /// Successful requests a second over the run.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, usize>,
    pub requests: Vec<KindReport>,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadReport {
    /// Where the load came from: every request left this machine.
    pub source: String,
    pub rate_per_site: f64,
    pub seconds: f64,
    pub sent: usize,
    /// The run stopped at --max-requests before its duration.
    pub stopped_at_max_requests: bool,
    /// 99th percentile of how late requests were sent after they were due: above a few
    /// milliseconds, this machine could not keep the schedule.
    pub late_p99_ms: f64,
    pub sites: Vec<SiteReport>,
}

struct Record {
    kind: usize,
    fate: Fate,
    /// From when it was due to its answer.
    micros: u64,
}

/// Which request kind the `i`-th request of a schedule is: weighted round robin, so every run
/// of the same options sends the same mix.
fn kind_of(i: usize, weights: &[u32]) -> usize {
    let total: usize = weights.iter().map(|w| *w as usize).sum::<usize>().max(1);
    let mut slot = i % total;
    for (k, w) in weights.iter().enumerate() {
        if slot < *w as usize {
            return k;
        }
        slot -= *w as usize;
    }
    0
}

/// Progress of a run, for a live line.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicUsize,
    pub ok: AtomicUsize,
    pub failed: AtomicUsize,
}

/// Runs the load and returns the report. `counters` moves while it runs.
pub async fn run(
    targets: &[Target],
    o: &LoadOptions,
    source: &str,
    counters: Arc<Counters>,
) -> Result<LoadReport, String> {
    let client = reqwest::Client::builder()
        .timeout(o.timeout)
        .connect_timeout(o.timeout)
        .user_agent(concat!("sovereign-load/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let per_site_due = ((o.duration.as_secs_f64() * o.rate).floor() as usize).max(1);
    let budget = Arc::new(AtomicUsize::new(o.max_requests));
    let start = Instant::now();
    let mut sites = Vec::new();
    for t in targets {
        let (client, t) = (client.clone(), t.clone());
        let weights: Vec<u32> = t.requests.iter().map(|r| r.weight).collect();
        let (budget, counters, rate, max_requests) =
            (budget.clone(), counters.clone(), o.rate, o.max_requests);
        sites.push(tokio::spawn(async move {
            // At most --max-requests are ever sent: reserve no more than that.
            let cap = per_site_due.min(max_requests);
            let mut inflight = Vec::with_capacity(cap);
            let mut late = Vec::with_capacity(cap);
            for i in 0..per_site_due {
                if budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                    .is_err()
                {
                    break;
                }
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                late.push(due.elapsed().as_micros() as u64);
                let kind = kind_of(i, &weights);
                let spec = &t.requests[kind];
                let method = reqwest::Method::from_bytes(spec.method.as_bytes())
                    .unwrap_or(reqwest::Method::GET);
                let mut req = client.request(method, format!("{}{}", t.base, spec.path));
                if let Some(b) = &spec.body {
                    req = req.body(b.clone());
                }
                if let Some(ct) = &spec.content_type {
                    req = req.header(reqwest::header::CONTENT_TYPE, ct.clone());
                }
                counters.sent.fetch_add(1, Ordering::Relaxed);
                let counters = counters.clone();
                inflight.push(tokio::spawn(async move {
                    let fate = match req.send().await {
                        Ok(resp) => {
                            let status = resp.status();
                            // Read the body: the answer is complete when it has arrived.
                            let body = resp.bytes().await;
                            if body.is_err() {
                                Fate::Other
                            } else if status.is_success() || status.is_redirection() {
                                Fate::Ok
                            } else {
                                Fate::Status(status.as_u16())
                            }
                        }
                        Err(e) if e.is_timeout() => Fate::Timeout,
                        Err(e) if e.is_connect() => Fate::Connect,
                        Err(_) => Fate::Other,
                    };
                    if fate == Fate::Ok {
                        counters.ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Record {
                        kind,
                        fate,
                        micros: due.elapsed().as_micros() as u64,
                    }
                }));
            }
            let mut records = Vec::with_capacity(inflight.len());
            for h in inflight {
                if let Ok(r) = h.await {
                    records.push(r);
                }
            }
            (t, records, late)
        }));
    }
    let mut reports = Vec::new();
    let mut late_all = Vec::new();
    let mut sent = 0;
    for h in sites {
        let (t, records, late) = h.await.map_err(|e| format!("a site's load stopped: {e}"))?;
        late_all.extend(late);
        sent += records.len();
        reports.push((t, records));
    }
    let seconds = start.elapsed().as_secs_f64();
    let sites = reports
        .into_iter()
        .map(|(t, records)| site_report(&t, &records, seconds))
        .collect();
    Ok(LoadReport {
        source: source.to_string(),
        rate_per_site: o.rate,
        seconds,
        sent,
        stopped_at_max_requests: sent < per_site_due * targets.len(),
        late_p99_ms: quantile_ms(&late_all, 0.99),
        sites,
    })
}

fn quantile_ms(micros: &[u64], q: f64) -> f64 {
    let Some(h) = histogram(micros.iter().copied()) else {
        return 0.0;
    };
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Microseconds from 1 µs to an hour at three significant figures; longer counts as an hour.
fn histogram(micros: impl Iterator<Item = u64>) -> Option<Histogram<u64>> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok()?;
    let mut any = false;
    for us in micros {
        h.saturating_record(us.max(1));
        any = true;
    }
    any.then_some(h)
}

fn fill(records: &[&Record]) -> (usize, f64, f64, f64, f64, BTreeMap<String, usize>) {
    let ok: Vec<u64> = records
        .iter()
        .filter(|r| r.fate == Fate::Ok)
        .map(|r| r.micros)
        .collect();
    let mut errors = BTreeMap::new();
    for r in records {
        if let Some(k) = r.fate.error_kind() {
            *errors.entry(k).or_insert(0) += 1;
        }
    }
    let (p50, p95, p99, max) = match histogram(ok.iter().copied()) {
        Some(h) => {
            let ms = |v: u64| v as f64 / 1000.0;
            (
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.95)),
                ms(h.value_at_quantile(0.99)),
                ms(h.max()),
            )
        }
        None => (0.0, 0.0, 0.0, 0.0),
    };
    (ok.len(), p50, p95, p99, max, errors)
}

fn site_report(t: &Target, records: &[Record], seconds: f64) -> SiteReport {
    let all: Vec<&Record> = records.iter().collect();
    let (ok, p50_ms, p95_ms, p99_ms, max_ms, errors) = fill(&all);
    let requests = t
        .requests
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let mine: Vec<&Record> = records.iter().filter(|r| r.kind == k).collect();
            let (ok, p50_ms, p95_ms, p99_ms, max_ms, errors) = fill(&mine);
            KindReport {
                request: spec.name.clone(),
                sent: mine.len(),
                ok,
                p50_ms,
                p95_ms,
                p99_ms,
                max_ms,
                errors,
            }
        })
        .collect();
    SiteReport {
        site: t.site.clone(),
        url: t.base.clone(),
        sent: records.len(),
        ok,
        throughput: ok as f64 / seconds.max(1e-9),
        p50_ms,
        p95_ms,
        p99_ms,
        max_ms,
        errors,
        requests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_make_a_fixed_mix() {
        let w = [3, 1];
        let kinds: Vec<usize> = (0..8).map(|i| kind_of(i, &w)).collect();
        assert_eq!(kinds, [0, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn requests_files_are_checked() {
        let ok = parse_requests(
            "[[request]]\nname = \"items\"\npath = \"/v1/items?limit=5\"\n\n[[request]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/v1/items\"\nbody = \"{}\"\ncontent_type = \"application/json\"\nweight = 2\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].method, "GET");
        assert_eq!(ok[1].weight, 2);
        for (bad, says) in [
            ("", "missing field `request`"),
            ("request = []", "no [[request]]"),
            (
                "[[request]]\nname = \"a\"\npath = \"v1\"\n",
                "must start with `/`",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/a b\"\n",
                "must start with `/`",
            ),
            (
                "[[request]]\nname = \"a\"\nmethod = \"TRACE\"\npath = \"/\"\n",
                "not one of",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nweight = 0\n",
                "outside 1 to 1000",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nbody = \"x\"\n",
                "has no body",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nextra = 1\n",
                "unknown field",
            ),
        ] {
            let e = parse_requests(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
