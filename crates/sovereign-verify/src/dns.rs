//! `dns::routing`: the API name resolves, through each resolver, to the endpoints of the
//! sites that serve it.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use serde_json::json;

use crate::Outcome;

/// `ip:port`, `[v6]:port` or a bare IP (port 53).
pub fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("resolver `{s}` is not an address (`127.0.0.1:5353`, `8.8.8.8`)"))
}

fn resolver(addr: Option<SocketAddr>, timeout: Duration) -> Result<TokioResolver, String> {
    let mut b = match addr {
        Some(a) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = a.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = a.port();
            let ns = NameServerConfig::new(a.ip(), true, vec![udp, tcp]);
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?,
    };
    let o = b.options_mut();
    o.timeout = timeout;
    o.attempts = 1;
    o.cache_size = 0;
    b.build()
        .map_err(|e| format!("cannot build a resolver: {e}"))
}

async fn lookup(r: &TokioResolver, name: &str) -> Result<BTreeSet<IpAddr>, String> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    match r.lookup_ip(fqdn.as_str()).await {
        Ok(l) => Ok(l.iter().collect()),
        Err(e) if e.is_nx_domain() => Err(format!("NXDOMAIN for {name}")),
        Err(e) if e.is_no_records_found() => Err(format!("no A/AAAA records for {name}")),
        Err(e) => Err(format!("lookup of {name} failed: {e}")),
    }
}

/// A site's endpoint host: an IP is taken as is, a name is resolved with the same resolver.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub site: String,
    pub host: String,
}

pub async fn routing(
    api: String,
    resolver_addr: Option<SocketAddr>,
    endpoints: Vec<Endpoint>,
    timeout: Duration,
) -> Outcome {
    let via = resolver_addr
        .map(|a| a.to_string())
        .unwrap_or_else(|| "the system resolver".into());
    let r = match resolver(resolver_addr, timeout) {
        Ok(r) => r,
        Err(e) => return Outcome::fail(e),
    };
    let answers = match lookup(&r, &api).await {
        Ok(a) if a.is_empty() => return Outcome::fail(format!("{via}: {api} has no addresses")),
        Ok(a) => a,
        Err(e) => return Outcome::fail(format!("{via}: {e}")),
    };
    let mut expected: Vec<(String, BTreeSet<IpAddr>)> = Vec::new();
    let mut unresolved = Vec::new();
    for e in &endpoints {
        match e.host.parse::<IpAddr>() {
            Ok(ip) => expected.push((e.site.clone(), [ip].into())),
            Err(_) => match lookup(&r, &e.host).await {
                Ok(ips) => expected.push((e.site.clone(), ips)),
                Err(err) => unresolved.push(format!("{} ({err})", e.site)),
            },
        }
    }
    let mut sites = BTreeSet::new();
    let mut stray = Vec::new();
    for ip in &answers {
        let owners: Vec<&str> = expected
            .iter()
            .filter(|(_, s)| s.contains(ip))
            .map(|(id, _)| id.as_str())
            .collect();
        if owners.is_empty() {
            stray.push(ip.to_string());
        }
        sites.extend(owners.into_iter().map(str::to_string));
    }
    let list = |v: &BTreeSet<IpAddr>| {
        v.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let data = json!({"resolver": via, "answers": answers.iter().map(|i| i.to_string()).collect::<Vec<_>>(), "sites": sites});
    if !stray.is_empty() {
        let note = if unresolved.is_empty() {
            String::new()
        } else {
            format!(" (endpoints not resolved: {})", unresolved.join(", "))
        };
        return Outcome::fail(format!(
            "{via}: {api} → {} includes {} which belong(s) to no serving site{note}",
            list(&answers),
            stray.join(", ")
        ))
        .with(data);
    }
    let sites_s = sites.iter().cloned().collect::<Vec<_>>().join(", ");
    Outcome::pass(format!("{via}: {api} → {} ({sites_s})", list(&answers))).with(data)
}

/// The name servers a zone's NS records name (lowercase, without the trailing dot), through
/// `resolver_addr` or the system resolver: `sovereign deploy` checks a delegation with it.
pub async fn name_servers(
    zone: &str,
    resolver_addr: Option<SocketAddr>,
    timeout: Duration,
) -> Result<BTreeSet<String>, String> {
    let r = resolver(resolver_addr, timeout)?;
    let fqdn = if zone.ends_with('.') {
        zone.to_string()
    } else {
        format!("{zone}.")
    };
    match r.ns_lookup(fqdn.as_str()).await {
        Ok(l) => Ok(l
            .answers()
            .iter()
            .filter(|rec| rec.record_type() == hickory_resolver::proto::rr::RecordType::NS)
            .map(|rec| normalise_host(&rec.data.to_string()))
            .collect()),
        Err(e) if e.is_nx_domain() => Err(format!("NXDOMAIN for {zone}")),
        Err(e) if e.is_no_records_found() => Err(format!("no NS records for {zone}")),
        Err(e) => Err(format!("NS lookup of {zone} failed: {e}")),
    }
}

/// A host name as compared: lowercase, no trailing dot.
pub fn normalise_host(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
    use hickory_resolver::proto::rr::rdata::NS;
    use hickory_resolver::proto::rr::{Name, RData, Record};

    /// A one-zone name server on loopback: NS queries for `zone` get `servers`, anything else
    /// NXDOMAIN. Answers until the test ends.
    async fn serve(zone: &'static str, servers: &'static [&'static str]) -> SocketAddr {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut r = Message::response(q.metadata.id, OpCode::Query);
                r.metadata.recursion_desired = q.metadata.recursion_desired;
                r.metadata.recursion_available = true;
                let zone_name = Name::from_ascii(format!("{zone}.")).unwrap();
                for query in &q.queries {
                    r.add_query(query.clone());
                    if query.name() == &zone_name {
                        for s in servers {
                            r.add_answer(Record::from_rdata(
                                zone_name.clone(),
                                60,
                                RData::NS(NS(Name::from_ascii(s).unwrap())),
                            ));
                        }
                    } else {
                        r.metadata.response_code = ResponseCode::NXDomain;
                    }
                }
                let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn name_servers_reads_a_zones_ns_records() {
        let addr = serve(
            "example.test",
            &["NS-1.awsdns-01.example.", "ns-2.awsdns-02.example."],
        )
        .await;
        let got = name_servers("example.test", Some(addr), Duration::from_secs(2))
            .await
            .unwrap();
        let want: BTreeSet<String> = ["ns-1.awsdns-01.example", "ns-2.awsdns-02.example"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
        let err = name_servers("other.test", Some(addr), Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(err.contains("other.test"), "{err}");
    }
}
