//! The data tier of a topology on one machine, with the real engines.
//!
//! This crate starts, for every site, what the data tier runs there: PostgreSQL (the primary,
//! a physical streaming standby for each Aurora secondary, a logical subscriber for each
//! logical replica), Redis, Prometheus with the exporters, Sovereign's alert rules on the global
//! Prometheus with Alertmanager and a receiver that records every notification ([`alerting`]),
//! Apache Cassandra datacenters when Java and the server are available, and a user-space
//! latency proxy between sites. The exporters and Alertmanager are the versions the rendered
//! tree deploys when `scripts/fetch-tools` has built them ([`tools`]). It writes the outputs
//! file `sovereign verify` reads, in the shape `terraform output -json` has for the rendered
//! tree, and runs failover and restore drills.
//!
//! Above the data tier, when the topology has an application and a DNS zone, it runs a reference
//! application in every serving site ([`app`]), a DNS answering the API name per client region
//! with the lowest-latency healthy site ([`dns`]), and virtual users in every region ([`users`]).
//!
//! [`engines`] and [`process`] are the building blocks; tests of other crates use them to start
//! real servers too.

pub mod alerting;
pub mod app;
pub mod dns;
pub mod down;
pub mod drill;
pub mod engines;
pub mod load;
pub mod needs;
pub mod outputs;
pub mod process;
pub mod proxy;
pub mod receiver;
pub mod results;
pub mod state;
pub mod tools;
pub mod topology_edit;
pub mod trust;
pub mod up;
pub mod users;

use std::fmt;

/// What can go wrong in the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} is not installed: {install}")]
    Missing { what: String, install: String },
    #[error("cannot start {what}: {detail}{}", if log.is_empty() { String::new() } else { format!("\n--- last lines of its log ---\n{log}") })]
    Start {
        what: String,
        detail: String,
        log: String,
    },
    /// A PostgreSQL call failed; `what` says which.
    #[error("{what}: {}", DbError(source))]
    Postgres {
        what: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// A lab file or record could not be written or read as JSON.
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// Another client the lab drives failed: Cassandra, Redis, HTTP, the renderer.
    #[error("{what}: {source}")]
    Client {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An address the lab built from its own parts does not parse: a bug in the lab.
    #[error("the lab's address `{text}` does not parse: {source}")]
    Address {
        text: String,
        #[source]
        source: std::net::AddrParseError,
    },
    /// An option, argument or directory that does not fit: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// What the command needs is not in this lab (not started with it, or already gone).
    #[error("{0}")]
    NotInLab(String),
    /// Something the lab did or waited for did not happen: a drill's step, a server's answer.
    #[error("{0}")]
    Failed(String),
}

impl LabError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn postgres(what: impl Into<String>, source: tokio_postgres::Error) -> Self {
        LabError::Postgres {
            what: what.into(),
            source,
        }
    }

    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        LabError::Json {
            what: what.into(),
            source,
        }
    }

    pub fn client(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        LabError::Client {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

impl From<tokio_postgres::Error> for LabError {
    fn from(source: tokio_postgres::Error) -> Self {
        LabError::postgres("PostgreSQL", source)
    }
}

/// Parses an address the lab put together itself (`ip:port`, an IP).
pub(crate) fn parse_addr<T>(text: String) -> Result<T, LabError>
where
    T: std::str::FromStr<Err = std::net::AddrParseError>,
{
    text.parse()
        .map_err(|source| LabError::Address { text, source })
}

/// A PostgreSQL error with the server's message when there is one.
pub struct DbError<'a>(pub &'a tokio_postgres::Error);

impl fmt::Display for DbError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{}", db.message()),
            None => write!(f, "{}", self.0),
        }
    }
}
