//! pgBackRest from Debian's package: a stanza for one PostgreSQL cluster with a repository
//! on local disk, WAL archiving, backups and point-in-time restore.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::postgres::{Pg, chown};
use crate::LabError;
use crate::process::which;
use crate::process::{self, command_as};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stanza {
    pub name: String,
    pub config: PathBuf,
    pub repo: PathBuf,
    /// pgBackRest runs as this user (the server's).
    pub user: Option<String>,
}

impl Stanza {
    /// Writes the configuration and turns on WAL archiving in the cluster's postgresql.conf.
    /// Call before the cluster starts; then [`Stanza::create`] once it runs.
    pub fn configure(pg: &Pg, dir: &Path, name: &str) -> Result<Stanza, LabError> {
        let bin = which("pgbackrest").ok_or_else(|| LabError::Missing {
            what: "pgbackrest".into(),
            install: "apt-get install pgbackrest".into(),
        })?;
        let home = dir.join(format!("pgbackrest-{name}"));
        let repo = home.join("repo");
        for d in [
            &repo,
            &home.join("log"),
            &home.join("lock"),
            &home.join("spool"),
        ] {
            std::fs::create_dir_all(d)
                .map_err(|e| LabError::io(format!("cannot create {}", d.display()), e))?;
        }
        let config = home.join("pgbackrest.conf");
        let text = format!(
            "# Sovereign lab: one stanza, a repository on local disk.\n[global]\nrepo1-path={}\nrepo1-retention-full=2\nlog-path={}\nlock-path={}\nspool-path={}\nlog-level-console=warn\nlog-level-file=info\nstart-fast=y\narchive-timeout=30\n\n[{name}]\npg1-path={}\npg1-port={}\npg1-socket-path={}\npg1-user={}\n",
            repo.display(),
            home.join("log").display(),
            home.join("lock").display(),
            home.join("spool").display(),
            pg.data.display(),
            pg.port,
            pg.socket_dir().display(),
            pg.user,
        );
        std::fs::write(&config, text)
            .map_err(|e| LabError::io("cannot write pgbackrest.conf", e))?;
        chown(&home)?;
        let archive = format!(
            "'{} --config={} --stanza={name} archive-push %p'",
            bin.display(),
            config.display()
        );
        pg.write_conf(&[("archive_mode", "on"), ("archive_command", &archive)])?;
        Ok(Stanza {
            name: name.into(),
            config,
            repo,
            user: process::is_root().then(|| "postgres".to_string()),
        })
    }

    fn cmd(&self) -> Result<Command, LabError> {
        let bin = which("pgbackrest").ok_or_else(|| LabError::Missing {
            what: "pgbackrest".into(),
            install: "apt-get install pgbackrest".into(),
        })?;
        let mut c = command_as(self.user.as_deref(), &bin);
        c.arg(format!("--config={}", self.config.display()))
            .arg(format!("--stanza={}", self.name));
        Ok(c)
    }

    /// `stanza-create` then `check` (which forces a WAL switch and waits for it to archive).
    pub fn create(&self) -> Result<(), LabError> {
        let mut c = self.cmd()?;
        c.arg("stanza-create");
        process::run("pgbackrest stanza-create", c)?;
        let mut c = self.cmd()?;
        c.arg("check");
        process::run("pgbackrest check", c).map(|_| ())
    }

    /// `check`: the archive works (it forces a WAL switch and waits for the segment).
    pub fn check(&self) -> Result<(), LabError> {
        let mut c = self.cmd()?;
        c.arg("check");
        process::run("pgbackrest check", c).map(|_| ())
    }

    /// Restores the stanza's backups into another (empty) data directory, recovering to
    /// `target` (a timestamp PostgreSQL understands) and promoting there.
    pub fn restore_into(&self, data: &Path, target: &str) -> Result<(), LabError> {
        let mut c = self.cmd()?;
        c.arg(format!("--pg1-path={}", data.display()))
            .arg("--type=time")
            .arg(format!("--target={target}"))
            .arg("--target-action=promote")
            .arg("restore");
        process::run("pgbackrest restore", c).map(|_| ())
    }

    /// A backup: `full`, `diff` or `incr`.
    pub fn backup(&self, kind: &str) -> Result<(), LabError> {
        let mut c = self.cmd()?;
        c.arg(format!("--type={kind}")).arg("backup");
        process::run(&format!("pgbackrest backup --type={kind}"), c).map(|_| ())
    }

    /// `info --output=json`.
    pub fn info(&self) -> Result<serde_json::Value, LabError> {
        let mut c = self.cmd()?;
        c.arg("--output=json").arg("info");
        let out = process::run_stdout("pgbackrest info", c)?;
        serde_json::from_str(&out).map_err(|e| LabError::json("pgbackrest info printed no JSON", e))
    }

    /// Restores into the (stopped) cluster's data directory, to `target` (a timestamp
    /// PostgreSQL understands) when given, else to the end of the archive; with `--delta` so
    /// files already right are kept. Recovery ends by promoting.
    pub fn restore(&self, target: Option<&str>) -> Result<(), LabError> {
        let mut c = self.cmd()?;
        c.arg("--delta");
        if let Some(t) = target {
            c.arg("--type=time")
                .arg(format!("--target={t}"))
                .arg("--target-action=promote");
        }
        c.arg("restore");
        process::run("pgbackrest restore", c).map(|_| ())
    }
}
