//! `cassandra::*`: nodes Up and Normal per datacenter, and the keyspace's replication.
//!
//! Both read the cluster's own view through CQL, from whichever contact point answers:
//! `system_views.gossip_info` (Cassandra 4.1 and later) for each endpoint's datacenter, gossip
//! status and heartbeat, and `system_schema.keyspaces` for the replication map. A node counts
//! as up when its gossip heartbeat advances while the check reads it again for a few seconds
//! (live nodes beat about once a second; a dead node's heartbeat stops), which is what the
//! failure detector behind `nodetool status` watches too.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use serde_json::json;

use crate::Outcome;
use crate::credentials::UserPassword;

pub struct Setup {
    pub contact_points: Vec<String>,
    pub creds: Option<UserPassword>,
    pub keyspace: String,
    /// DC name → (site, expected nodes, expected RF).
    pub datacenters: BTreeMap<String, (String, u32, u32)>,
}

async fn session(s: &Setup, timeout: Duration) -> Result<Session, String> {
    if s.contact_points.is_empty() {
        return Err("the outputs name no Cassandra contact points".into());
    }
    let mut b = SessionBuilder::new()
        .known_nodes(&s.contact_points)
        .connection_timeout(timeout);
    if let Some(c) = &s.creds {
        b = b.user(c.username.clone(), c.password.clone());
    }
    b.build().await.map_err(|e| {
        format!(
            "cannot open a CQL session via {}: {e}",
            s.contact_points.join(", ")
        )
    })
}

type Gossip = Vec<(IpAddr, Option<String>, Option<String>, Option<i32>)>;

type GossipRow = (
    IpAddr,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
);

async fn gossip(session: &Session) -> Result<Gossip, String> {
    let r = session
        // Nodes of 4.0 and later announce STATUS_WITH_PORT; STATUS is the legacy field, which
        // peers may not send at all.
        .query_unpaged(
            "SELECT address, dc, status_with_port, status, heartbeat FROM system_views.gossip_info",
            (),
        )
        .await
        .map_err(|e| {
            format!("cannot read system_views.gossip_info (Cassandra 4.1 or later has it): {e}")
        })?;
    let rows = r
        .into_rows_result()
        .map_err(|e| format!("gossip_info: {e}"))?;
    let rows: Vec<GossipRow> = rows
        .rows::<GossipRow>()
        .map_err(|e| format!("gossip_info: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("gossip_info: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|(a, dc, with_port, legacy, hb)| (a, dc, with_port.or(legacy), hb))
        .collect())
}

fn per_dc_fail(s: &Setup, reason: &str) -> Vec<(Option<String>, Outcome)> {
    s.datacenters
        .values()
        .map(|(site, _, _)| (Some(site.clone()), Outcome::fail(reason.to_string())))
        .collect()
}

pub async fn nodes_per_dc(s: Setup, timeout: Duration) -> Vec<(Option<String>, Outcome)> {
    let session = match session(&s, timeout).await {
        Ok(x) => x,
        Err(e) => return per_dc_fail(&s, &e),
    };
    let first = match gossip(&session).await {
        Ok(g) => g,
        Err(e) => return per_dc_fail(&s, &e),
    };
    let before: HashMap<IpAddr, i32> = first
        .iter()
        .filter_map(|(a, _, _, h)| h.map(|h| (*a, h)))
        .collect();
    // Gossip reaches the coordinator a round (about a second) at a time, from a random peer:
    // read again until every node's heartbeat has moved, for a few seconds at most. A node
    // whose heartbeat stands still all that time is down.
    let window = timeout
        .mul_f64(0.6)
        .clamp(Duration::from_millis(1500), Duration::from_secs(6));
    let start = std::time::Instant::now();
    let mut advanced: std::collections::HashSet<IpAddr> = std::collections::HashSet::new();
    let mut second = first.clone();
    while start.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(400)).await;
        second = match gossip(&session).await {
            Ok(g) => g,
            Err(e) => return per_dc_fail(&s, &e),
        };
        for (a, _, _, h) in &second {
            if let (Some(b), Some(h)) = (before.get(a), h)
                && h > b
            {
                advanced.insert(*a);
            }
        }
        if second.iter().all(|(a, _, _, _)| advanced.contains(a)) {
            break;
        }
    }
    // DC → (up and normal, listed, notes)
    let mut dcs: BTreeMap<String, (u32, u32, Vec<String>)> = BTreeMap::new();
    for (addr, dc, status, _) in &second {
        let dc = dc.clone().unwrap_or_else(|| "?".into());
        let e = dcs.entry(dc).or_default();
        e.1 += 1;
        let state = status
            .as_deref()
            .and_then(|s| s.split(',').next())
            .unwrap_or("?");
        let beating = advanced.contains(addr);
        if state.eq_ignore_ascii_case("NORMAL") && beating {
            e.0 += 1;
        } else {
            let why = if !beating {
                "Down".to_string()
            } else {
                state.to_string()
            };
            e.2.push(format!("{addr} {why}"));
        }
    }
    s.datacenters
        .iter()
        .map(|(dc, (site, want, _))| {
            let (up, listed, notes) = dcs.get(dc).cloned().unwrap_or_default();
            let data =
                json!({"datacenter": dc, "up_normal": up, "listed": listed, "expected": want});
            let extra = if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join(", "))
            };
            let o = if listed == 0 {
                Outcome::fail(format!("datacenter `{dc}` is not in the cluster's gossip"))
                    .with(data)
            } else if up < *want {
                Outcome::fail(format!(
                    "{up} of {want} expected node(s) Up/Normal in `{dc}`{extra}"
                ))
                .with(data)
            } else {
                Outcome::pass(format!(
                    "{up} node(s) Up/Normal in `{dc}` (expected {want}){extra}"
                ))
                .with(data)
            };
            (Some(site.clone()), o)
        })
        .collect()
}

pub async fn keyspace_replication(s: Setup, timeout: Duration) -> Vec<(Option<String>, Outcome)> {
    let session = match session(&s, timeout).await {
        Ok(x) => x,
        Err(e) => return per_dc_fail(&s, &e),
    };
    let r = match session
        .query_unpaged(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
            (s.keyspace.as_str(),),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return per_dc_fail(&s, &format!("cannot read system_schema.keyspaces: {e}")),
    };
    let map: Option<HashMap<String, String>> = match r.into_rows_result() {
        Ok(rows) => match rows.maybe_first_row::<(HashMap<String, String>,)>() {
            Ok(r) => r.map(|(m,)| m),
            Err(e) => return per_dc_fail(&s, &format!("system_schema.keyspaces: {e}")),
        },
        Err(e) => return per_dc_fail(&s, &format!("system_schema.keyspaces: {e}")),
    };
    let Some(map) = map else {
        return per_dc_fail(&s, &format!("keyspace `{}` does not exist", s.keyspace));
    };
    let class = map.get("class").cloned().unwrap_or_default();
    if !class.ends_with("NetworkTopologyStrategy") {
        return per_dc_fail(
            &s,
            &format!(
                "keyspace `{}` uses {class}, not NetworkTopologyStrategy",
                s.keyspace
            ),
        );
    }
    let mut out: Vec<(Option<String>, Outcome)> = s
        .datacenters
        .iter()
        .map(|(dc, (site, _, rf))| {
            let got = map.get(dc).and_then(|v| v.parse::<u32>().ok());
            let data = json!({"datacenter": dc, "replication_factor": got, "expected": rf});
            let o = match got {
                Some(g) if g == *rf => {
                    Outcome::pass(format!("`{}` has RF {g} in `{dc}`", s.keyspace)).with(data)
                }
                Some(g) => Outcome::fail(format!(
                    "`{}` has RF {g} in `{dc}`, the topology says {rf}",
                    s.keyspace
                ))
                .with(data),
                None => Outcome::fail(format!("`{}` does not replicate to `{dc}`", s.keyspace))
                    .with(data),
            };
            (Some(site.clone()), o)
        })
        .collect();
    let extra: Vec<&String> = map
        .keys()
        .filter(|k| *k != "class" && !s.datacenters.contains_key(*k))
        .collect();
    if !extra.is_empty() {
        out.push((
            None,
            Outcome::fail(format!(
                "`{}` also replicates to datacenter(s) the topology does not have: {}",
                s.keyspace,
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ));
    }
    out
}
