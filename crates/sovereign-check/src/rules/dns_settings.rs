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
    if rec_ok && labels_ok {
        // Route 53 names are at most 255 octets on the wire: 253 characters written out. The
        // longest name rendered is a site's own, `<site>.<api_record>.<zone>`.
        if let Some(site) = cx.sites().map(|s| s.id.as_str()).max_by_key(|id| id.len()) {
            let longest = format!("{site}.{}.{zone}", rec.value);
            if longest.len() > 253 {
                out.push(
                    Diagnostic::new(
                        &INFO,
                        format!(
                            "the record name of site `{site}` would be {} characters; Route 53 allows 253",
                            longest.len()
                        ),
                    )
                    .at(rec.span(), "record name")
                    .help("shorten `api_record` or `zone`: `<site>.<api_record>.<zone>` must fit in 253 characters"),
                );
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use sovereign_catalog::{Catalog, Date};

    fn dns_findings(api_record: &str, zone: &str) -> Vec<String> {
        let text = format!(
            "[project]\nname = \"acme\"\n[application]\nimage = \"ghcr.io/acme/api:1\"\n\
             [[sites]]\nid = \"dub\"\naws_region = \"eu-west-1\"\nvpc_cidr = \"10.1.0.0/16\"\n\
             [dns]\nzone = \"{zone}\"\napi_record = \"{api_record}\"\n"
        );
        let report = crate::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
        report
            .diagnostics
            .iter()
            .filter(|d| d.code == "SOV132")
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn record_names_route53_rejects() {
        for bad in ["bad..rec", ".api", "api.", "-api", "api-", "api/v1", "a_b", "", "é"] {
            let found = dns_findings(bad, "example.com");
            assert_eq!(found.len(), 1, "`{bad}`: {found:?}");
            assert!(found[0].contains("is not a DNS record name"), "{found:?}");
        }
        let label64 = "a".repeat(64);
        assert_eq!(dns_findings(&label64, "example.com").len(), 1);
    }

    #[test]
    fn record_names_route53_accepts() {
        for good in ["api", "api.eu", "a-1.b-2", &"a".repeat(63)] {
            assert!(dns_findings(good, "example.com").is_empty(), "`{good}`");
        }
    }

    #[test]
    fn whole_name_within_253_characters() {
        let zone = format!("{}.example.com", vec!["z".repeat(60); 3].join("."));
        // `dub.` + 63 + `.` + the zone (194) = 262 characters.
        let long = dns_findings(&"a".repeat(63), &zone);
        assert_eq!(long.len(), 1, "{long:?}");
        assert!(long[0].contains("Route 53 allows 253"), "{long:?}");
        // `dub.` + 40 + `.` + the zone = 239.
        assert!(dns_findings(&"a".repeat(40), &zone).is_empty());
    }
}
