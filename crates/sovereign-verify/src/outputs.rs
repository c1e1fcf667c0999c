//! The outputs file: what `terraform output -json` prints for the rendered tree (each output
//! as `{"sensitive": .., "type": .., "value": ..}`), or the same values without the wrapper.
//! The types are the deployment's outputs contract ([`sovereign_check::outputs`]), which
//! render declares and the lab writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use sovereign_check::outputs::{
    Cassandra, CassandraDc, DeploymentOutputs, Dns, Eks, Monitoring, PgBackRest, Postgres,
    PostgresRole, Redis, Site, SiteCassandra, SiteLoadBalancer, SitePostgres, SiteRedis,
};

use crate::VerifyError;

/// What the topology declares of one engine, and which outputs it calls for were absent (set
/// by [`crate::expect::apply`]; each becomes an `<engine>::outputs_present` check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// `postgres`, `redis`, `cassandra`, `prometheus`, `http` or `dns`.
    pub engine: &'static str,
    /// What the topology declares, for the report: "PostgreSQL (primary dub, replicas iad)".
    pub what: String,
    /// The outputs it calls for that the file lacked: "the `postgres` output",
    /// "`sites.iad.postgres`".
    pub absent: Vec<String>,
}

/// Everything verify reads.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub sites: BTreeMap<String, Site>,
    pub postgres: Option<Postgres>,
    pub redis: Option<Redis>,
    pub cassandra: Option<Cassandra>,
    pub monitoring: Option<Monitoring>,
    pub dns: Option<Dns>,
    /// Directory of the outputs file: relative paths in it are resolved against it.
    pub base: PathBuf,
    /// What a topology declares, when verify was given one; empty otherwise.
    pub declared: Vec<Declared>,
    /// Fields the file gives that the outputs contract does not know (ignored).
    pub unknown: Vec<String>,
}

impl Outputs {
    pub fn parse(text: &str, base: &Path) -> Result<Outputs, VerifyError> {
        let parsed =
            DeploymentOutputs::parse(text).map_err(|e| VerifyError::Outputs(e.to_string()))?;
        let o = parsed.outputs;
        Ok(Outputs {
            sites: o.sites,
            postgres: o.postgres,
            redis: o.redis,
            cassandra: o.cassandra,
            monitoring: o.monitoring,
            dns: o.dns,
            base: base.to_path_buf(),
            declared: Vec::new(),
            unknown: parsed.unknown,
        })
    }

    pub fn load(path: &Path) -> Result<Outputs, VerifyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VerifyError::Io(format!("cannot read `{}`: {e}", path.display())))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Outputs::parse(&text, &base)
    }

    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}
