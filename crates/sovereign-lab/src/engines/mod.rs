//! The real engines, started on loopback ports in a directory the lab owns.

pub mod alertmanager;
pub mod cassandra;
pub mod dnsmasq;
pub mod pgbackrest;
pub mod postgres;
pub mod prometheus;
pub mod redis;
