//! What a test of the real engines needs from this machine, and an honest skip without it.
//!
//! `scripts/test` installs everything (and sets `CI`), so there a missing engine is a failure;
//! a developer's `cargo test` on a machine without PostgreSQL or Java skips those tests with a
//! message naming what is missing instead of failing halfway through starting a server.

use crate::process::which;

/// An engine a test starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// PostgreSQL's server binaries (Debian's `postgresql`).
    Postgres,
    PgBackRest,
    Redis,
    Prometheus,
    Dnsmasq,
    /// Java 17 or later and Apache Cassandra's jars (`scripts/fetch-cassandra`).
    Cassandra,
}

impl Need {
    pub fn present(self) -> bool {
        match self {
            Need::Postgres => crate::engines::postgres::bin_dir().is_ok(),
            Need::PgBackRest => which("pgbackrest").is_some(),
            Need::Redis => which("redis-server").is_some(),
            Need::Prometheus => which("prometheus").is_some(),
            Need::Dnsmasq => which("dnsmasq").is_some(),
            Need::Cassandra => crate::engines::cassandra::prerequisites().is_ok(),
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Need::Postgres => "PostgreSQL (apt-get install postgresql)",
            Need::PgBackRest => "pgBackRest (apt-get install pgbackrest)",
            Need::Redis => "Redis (apt-get install redis-server)",
            Need::Prometheus => "Prometheus (apt-get install prometheus)",
            Need::Dnsmasq => "dnsmasq (apt-get install dnsmasq-base)",
            Need::Cassandra => "Java 17 and Apache Cassandra's jars (scripts/fetch-cassandra)",
        }
    }
}

/// Whether `test` can run here: `true` when everything it needs is present. Otherwise, with
/// `CI` set, it panics naming what is missing (nothing may be skipped in CI); without, it says
/// what it skips and why, and returns `false`.
pub fn present_or_skip(test: &str, needs: &[Need]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|n| !n.present())
        .map(|n| n.what())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs {}; CI is set, so nothing may be skipped (scripts/test installs them)",
        missing.join(", ")
    );
    eprintln!(
        "skipping {test}: it needs {} (scripts/test installs them)",
        missing.join(", ")
    );
    false
}
