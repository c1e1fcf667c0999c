use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV132",
    name: "dns_settings",
    severity: Severity::Error,
    summary: "DNS settings Route 53 does not accept: health check interval, failure threshold, zone name",
    doc: include_str!("dns_settings.md"),
};

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let Some(dns) = &cx.t.dns else { return };
    let intervals = &cx.catalog.limits.route53.health_check_intervals.value;
    let iv = &dns.health_check_interval_seconds;
    if !intervals.contains(&iv.value) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!(
                    "health check interval {} s is not offered by Route 53",
                    iv.value
                ),
            )
            .at(iv.span(), "not 10 or 30")
            .help(format!(
                "use one of {}",
                intervals
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
        );
    }
    let ft = &dns.health_check_failure_threshold;
    if !(1..=10).contains(&ft.value) {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("failure threshold {} is outside 1 to 10", ft.value),
            )
            .at(ft.span(), "out of range")
            .help("3 is the Route 53 default"),
        );
    }
    let zone = dns.zone.as_str().trim_end_matches('.');
    let labels_ok = !zone.is_empty()
        && zone.contains('.')
        && zone.len() <= 253
        && zone.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !labels_ok && !dns.zone.is_empty() {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("`{}` is not a DNS zone name", dns.zone.value.escape_debug()),
            )
            .at(dns.zone.span(), "expected labels like `example.com`")
            .help("letters, digits and hyphens, labels of 1 to 63 characters separated by dots"),
        );
    }
    let rec = &dns.api_record;
    let rec_ok = !rec.is_empty()
        && rec.len() <= 200
        && rec.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !rec_ok {
        out.push(
            Diagnostic::new(
                &INFO,
                format!("`{}` is not a DNS record name", rec.value.escape_debug()),
            )
            .at(rec.span(), "record name")
            .help("one or more labels of 1 to 63 letters, digits and hyphens, separated by single dots, like `api` or `api.eu`"),
        );
    }
}
