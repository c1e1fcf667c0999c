//! PostgreSQL clusters from Debian's server binaries: a primary, physical streaming standbys,
//! logical subscribers. Run as the `postgres` user when the lab runs as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::process::{self, command_as};

/// Where Debian installs the server binaries: the newest `/usr/lib/postgresql/<major>/bin`.
pub fn bin_dir() -> Result<PathBuf, LabError> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| LabError::Missing {
            what: "PostgreSQL server".into(),
            install: "apt-get install postgresql (scripts/test installs it)".into(),
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((major, bin))
        })
        .collect();
    majors.sort();
    majors
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| LabError::Missing {
            what: "PostgreSQL server binaries".into(),
            install: "apt-get install postgresql".into(),
        })
}

/// The OS user PostgreSQL runs as when the lab runs as root (it refuses to run as root).
pub const OWNER: &str = "postgres";

fn owner() -> Option<&'static str> {
    process::is_root().then_some(OWNER)
}

/// Makes `path` (and the files in it) belong to the postgres user when we are root.
pub fn chown(path: &Path) -> Result<(), LabError> {
    if process::is_root() {
        process::run("chown", {
            let mut c = Command::new("chown");
            c.arg("-R").arg("postgres:postgres").arg(path);
            c
        })?;
    }
    Ok(())
}

/// One PostgreSQL cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pg {
    pub name: String,
    pub data: PathBuf,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Kept in `credentials/`, never in `lab.json`: [`crate::state::LabState::load`] fills it.
    #[serde(skip)]
    pub password: String,
    pub bin: PathBuf,
    pub log: PathBuf,
}

impl Pg {
    fn tool(&self, name: &str) -> Command {
        let mut c = command_as(owner(), &self.bin.join(name));
        c.env("PGPASSWORD", &self.password);
        c
    }

    /// Creates a new cluster in `dir/<name>` listening on `host:port` over TCP only, with
    /// password authentication and the settings replication needs.
    pub fn init(
        dir: &Path,
        name: &str,
        host: &str,
        port: u16,
        password: &str,
    ) -> Result<Pg, LabError> {
        let bin = bin_dir()?;
        let home = dir.join(name);
        std::fs::create_dir_all(&home)
            .map_err(|e| LabError::io(format!("cannot create {}", home.display()), e))?;
        let data = home.join("data");
        // Readable only by the server's user, in a directory only it can enter.
        let pwfile = home.join("pwfile");
        crate::trust::write_private(&pwfile, password.as_bytes())?;
        chown(&home)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| LabError::io(format!("cannot protect {}", home.display()), e))?;
        }
        let pg = Pg {
            name: name.into(),
            data: data.clone(),
            host: host.into(),
            port,
            user: "postgres".into(),
            password: password.into(),
            bin,
            log: home.join("postgres.log"),
        };
        let mut c = pg.tool("initdb");
        c.arg("-D")
            .arg(&data)
            .arg("-U")
            .arg("postgres")
            .arg("--pwfile")
            .arg(&pwfile)
            .arg("--auth=scram-sha-256")
            .arg("--encoding=UTF8")
            .arg("--locale=C.UTF-8");
        process::run(&format!("initdb {name}"), c)?;
        let _ = std::fs::remove_file(&pwfile);
        pg.write_conf(&[
            ("wal_level", "logical"),
            ("max_wal_senders", "20"),
            ("max_replication_slots", "20"),
            ("wal_keep_size", "'512MB'"),
            ("hot_standby", "on"),
            ("hot_standby_feedback", "on"),
            ("track_commit_timestamp", "on"),
            ("max_logical_replication_workers", "8"),
            ("shared_buffers", "'64MB'"),
            ("unix_socket_permissions", "0700"),
        ])?;
        // The socket (for pgBackRest) is only usable by the server's own OS user
        // (unix_socket_permissions 0700), so it needs no password; TCP always does.
        let hba = "# Sovereign lab: passwords over TCP on loopback; the owner-only socket is trusted.\nlocal all all trust\nhost all all 127.0.0.0/8 scram-sha-256\nhost replication all 127.0.0.0/8 scram-sha-256\n";
        pg.write_file("pg_hba.conf", hba)?;
        Ok(pg)
    }

    fn write_file(&self, file: &str, text: &str) -> Result<(), LabError> {
        let p = self.data.join(file);
        std::fs::write(&p, text)
            .map_err(|e| LabError::io(format!("cannot write {}", p.display()), e))?;
        chown(&p)
    }

    /// Appends settings to postgresql.conf, with the listen address and port always set.
    pub fn write_conf(&self, extra: &[(&str, &str)]) -> Result<(), LabError> {
        let p = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&p)
            .map_err(|e| LabError::io(format!("cannot read {}", p.display()), e))?;
        text.push_str("\n# Sovereign lab\n");
        // The socket lives beside the data directory (pgBackRest talks to the server through it).
        text.push_str(&format!(
            "listen_addresses = '{}'\nport = {}\nunix_socket_directories = '{}'\n",
            self.host,
            self.port,
            self.socket_dir().display()
        ));
        for (k, v) in extra {
            text.push_str(&format!("{k} = {v}\n"));
        }
        self.write_file("postgresql.conf", &text)
    }

    /// The directory holding this cluster's Unix socket: its home, beside `data`.
    pub fn socket_dir(&self) -> PathBuf {
        self.data
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.data.clone())
    }

    pub fn start(&self) -> Result<(), LabError> {
        let mut c = self.tool("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .arg("-w")
            .arg("-t")
            .arg("120")
            .arg("start");
        process::run(&format!("PostgreSQL {}", self.name), c).map_err(|e| match e {
            LabError::Start { what, detail, .. } => LabError::Start {
                what,
                detail,
                log: process::tail(&self.log, 20),
            },
            other => other,
        })?;
        process::wait_for_port(
            &self.host,
            self.port,
            Duration::from_secs(60),
            &format!("PostgreSQL {}", self.name),
            &self.log,
        )
    }

    /// The postmaster's PID, from postmaster.pid.
    /// The PID of this cluster's postmaster while it runs. The PID file's other lines are
    /// checked against the process (its data directory, its start time, its name), so a PID
    /// reused by another process after a crash is never taken for the server.
    pub fn pid(&self) -> Option<u32> {
        let t = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        let mut lines = t.lines();
        let pid: u32 = lines.next()?.trim().parse().ok()?;
        let data = lines.next()?.trim();
        let started: u64 = lines.next()?.trim().parse().ok()?;
        let same_dir = Path::new(data) == self.data
            || Path::new(data).canonicalize().ok() == self.data.canonicalize().ok();
        let same_start = process::start_epoch(pid).is_some_and(|s| s.abs_diff(started) <= 2);
        let is_postgres = process::command_name(pid).is_some_and(|c| c.starts_with("postgres"));
        (process::alive(pid) && same_dir && same_start && is_postgres).then_some(pid)
    }

    pub fn stop(&self) {
        let mut c = self.tool("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-m")
            .arg("fast")
            .arg("-w")
            .arg("-t")
            .arg("30")
            .arg("stop");
        if process::run("pg_ctl stop", c).is_err()
            && let Some(pid) = self.pid()
        {
            process::stop_pid(pid, Duration::from_secs(10));
        }
    }

    /// A crash: SIGKILL to the postmaster (its backends follow when they notice).
    pub fn kill9(&self) -> Option<u32> {
        let pid = self.pid()?;
        process::kill9_pid(pid);
        Some(pid)
    }

    pub fn promote(&self) -> Result<(), LabError> {
        let mut c = self.tool("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-w")
            .arg("-t")
            .arg("60")
            .arg("promote");
        process::run(&format!("promote {}", self.name), c).map(|_| ())
    }

    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} password={} dbname={db} connect_timeout=5",
            self.host, self.port, self.user, self.password
        )
    }

    /// A physical standby of `primary`, streaming through `upstream` (host, port: the primary
    /// itself or a latency proxy in front of it), named `application_name` on the primary.
    pub fn standby(
        primary: &Pg,
        dir: &Path,
        name: &str,
        host: &str,
        port: u16,
        upstream: (&str, u16),
    ) -> Result<Pg, LabError> {
        let home = dir.join(name);
        std::fs::create_dir_all(&home)
            .map_err(|e| LabError::io(format!("cannot create {}", home.display()), e))?;
        chown(&home)?;
        let pg = Pg {
            name: name.into(),
            data: home.join("data"),
            host: host.into(),
            port,
            user: primary.user.clone(),
            password: primary.password.clone(),
            bin: primary.bin.clone(),
            log: home.join("postgres.log"),
        };
        let mut c = pg.tool("pg_basebackup");
        c.arg("-h")
            .arg(&primary.host)
            .arg("-p")
            .arg(primary.port.to_string())
            .arg("-U")
            .arg(&primary.user)
            .arg("-D")
            .arg(&pg.data)
            .arg("-X")
            .arg("stream")
            .arg("-c")
            .arg("fast");
        process::run(&format!("pg_basebackup for {name}"), c)?;
        pg.follow(upstream)?;
        pg.write_conf(&[])?;
        pg.write_file("standby.signal", "")?;
        Ok(pg)
    }

    /// Points a standby at an upstream (written to postgresql.auto.conf).
    pub fn follow(&self, upstream: (&str, u16)) -> Result<(), LabError> {
        let conninfo = format!(
            "host={} port={} user={} password={} application_name={}",
            upstream.0, upstream.1, self.user, self.password, self.name
        );
        self.write_file(
            "postgresql.auto.conf",
            &format!("# Sovereign lab\nprimary_conninfo = '{conninfo}'\nrecovery_target_timeline = 'latest'\n"),
        )
    }
}

impl Pg {
    /// Runs `psql` against `db` with `ON_ERROR_STOP`, `-v` variables, and either a file or a
    /// command; returns what it printed.
    pub fn psql(
        &self,
        db: &str,
        vars: &[(&str, &str)],
        file: Option<&Path>,
        command: Option<&str>,
    ) -> Result<String, LabError> {
        self.psql_env(db, vars, &[], file, command)
    }

    /// [`Pg::psql`] with environment variables too (what a script reads with `\getenv`).
    pub fn psql_env(
        &self,
        db: &str,
        vars: &[(&str, &str)],
        env: &[(&str, &str)],
        file: Option<&Path>,
        command: Option<&str>,
    ) -> Result<String, LabError> {
        let mut c = self.tool("psql");
        for (k, v) in env {
            c.env(k, v);
        }
        c.arg("-X")
            .arg("-q")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-h")
            .arg(&self.host)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(&self.user)
            .arg("-d")
            .arg(db);
        for (k, v) in vars {
            c.arg("-v").arg(format!("{k}={v}"));
        }
        if let Some(f) = file {
            c.arg("-f").arg(f);
        }
        if let Some(sql) = command {
            c.arg("-tA").arg("-c").arg(sql);
        }
        process::run(&format!("psql on {}", self.name), c)
    }

    /// Creates a database unless it exists.
    pub fn create_database(&self, db: &str) -> Result<(), LabError> {
        let exists = self.psql(
            "postgres",
            &[],
            None,
            Some(&format!(
                "SELECT 1 FROM pg_database WHERE datname = '{}'",
                db.replace('\'', "''")
            )),
        )?;
        if exists.trim() != "1" {
            self.psql(
                "postgres",
                &[],
                None,
                Some(&format!("CREATE DATABASE \"{}\"", db.replace('"', "\"\""))),
            )?;
        }
        Ok(())
    }

    /// Copies a database's schema from a publisher (a libpq conninfo, logged in with
    /// `password`), as the deploy script's subscribe.sh does with pg_dump before a logical
    /// replica subscribes.
    pub fn copy_schema_from(
        &self,
        publisher: &str,
        password: &str,
        db: &str,
    ) -> Result<(), LabError> {
        let mut c = self.tool("pg_dump");
        c.env("PGPASSWORD", password)
            .arg("--schema-only")
            .arg("--no-owner")
            .arg("--no-privileges")
            .arg("--no-publications")
            .arg("--no-subscriptions")
            .arg("-d")
            .arg(publisher);
        let dump = process::run_stdout(&format!("pg_dump for {}", self.name), c)?;
        let file = self.socket_dir().join("schema.sql");
        std::fs::write(&file, dump).map_err(|e| LabError::io("cannot write the schema dump", e))?;
        chown(&file)?;
        self.psql(db, &[], Some(&file), None).map(|_| ())
    }
}

/// The rendered roles script (charts/postgres-roles/files/roles.sql) on the primary, as the
/// `postgres-roles` Job of the primary's site root runs it on the Aurora writer: the monitoring
/// role and, with `replicator_password`, the replication role and the publication. Aurora's
/// `rds_replication` role does not exist in vanilla PostgreSQL, so the lab creates an empty one
/// first and gives the replicator the REPLICATION attribute itself.
pub fn create_roles(
    primary: &Pg,
    db: &str,
    roles_sql: &Path,
    monitor_password: &str,
    replicator_password: Option<&str>,
) -> Result<(), LabError> {
    let copy = primary.socket_dir().join("roles.sql");
    std::fs::copy(roles_sql, &copy)
        .map_err(|e| LabError::io(format!("cannot copy {}", roles_sql.display()), e))?;
    chown(&copy)?;
    primary.psql(db, &[], None, Some("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_replication') THEN CREATE ROLE rds_replication NOLOGIN; END IF; END $$"))?;
    let mut env = vec![
        ("MONITOR_PASSWORD", monitor_password),
        (
            "PUBLISH",
            if replicator_password.is_some() {
                "on"
            } else {
                "off"
            },
        ),
    ];
    if let Some(pw) = replicator_password {
        env.push(("REPLICATOR_PASSWORD", pw));
    }
    primary.psql_env(db, &[], &env, Some(&copy), None)?;
    if replicator_password.is_some() {
        primary.psql(
            db,
            &[],
            None,
            Some("ALTER ROLE sovereign_replicator REPLICATION"),
        )?;
    }
    Ok(())
}

/// Makes `replica` a logical subscriber of the primary the way the rendered subscribe.sh does,
/// through `upstream` (the proxy route that stands for the link gateways), as the replication
/// role [`create_roles`] made: the schema copy first, then the rendered `subscription.sql`.
pub fn logical_replica(
    replica: &Pg,
    db: &str,
    subscription_sql: &Path,
    replicator_password: &str,
    upstream: (&str, u16),
) -> Result<(), LabError> {
    // psql runs as the postgres user: give it a copy it can read.
    let subscription = replica
        .socket_dir()
        .join(subscription_sql.file_name().unwrap_or_default());
    std::fs::copy(subscription_sql, &subscription)
        .map_err(|e| LabError::io(format!("cannot copy {}", subscription_sql.display()), e))?;
    chown(&subscription)?;
    replica.create_database(db)?;
    let publisher = format!(
        "host={} port={} dbname={db} user=sovereign_replicator sslmode=disable target_session_attrs=any connect_timeout=10",
        upstream.0, upstream.1
    );
    replica.copy_schema_from(&publisher, replicator_password, db)?;
    let conninfo = format!("{publisher} password={replicator_password}");
    replica
        .psql(db, &[("conninfo", &conninfo)], Some(&subscription), None)
        .map(|_| ())
}
