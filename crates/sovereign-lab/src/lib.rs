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
    #[error("{0}")]
    Other(String),
}

impl LabError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<tokio_postgres::Error> for LabError {
    fn from(e: tokio_postgres::Error) -> Self {
        LabError::Other(format!("PostgreSQL: {}", DbError(&e)))
    }
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
