//! Redis from Debian's `redis-server`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::process::{self, Proc, which};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Redis {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Kept in `credentials/`, never in `lab.json`: [`crate::state::LabState::load`] fills it.
    #[serde(skip)]
    pub password: String,
    pub maxmemory_policy: String,
    pub dir: PathBuf,
    pub proc: Proc,
}

impl Redis {
    pub fn start(
        dir: &Path,
        name: &str,
        host: &str,
        port: u16,
        password: &str,
        policy: &str,
    ) -> Result<Redis, LabError> {
        // The configuration holds the AUTH token: a private file in a private directory (the
        // server runs as the caller).
        let home = crate::trust::private_dir(&dir.join(name))?;
        let conf = home.join("redis.conf");
        crate::trust::write_private(
            &conf,
            format!(
                "bind {host}\nport {port}\nprotected-mode yes\nrequirepass {password}\nmaxmemory 64mb\nmaxmemory-policy {policy}\nsave \"\"\nappendonly no\ndir {}\n",
                home.display()
            )
            .as_bytes(),
        )?;
        let bin = which("redis-server").ok_or_else(|| LabError::Missing {
            what: "redis-server".into(),
            install: "apt-get install redis-server".into(),
        })?;
        let mut c = Command::new(bin);
        c.arg(&conf);
        let log = home.join("redis.log");
        let proc = process::spawn(&format!("redis {name}"), c, &log, vec![port])?;
        process::wait_listening(
            &proc,
            host,
            port,
            Duration::from_secs(20),
            &format!("Redis {name}"),
        )?;
        Ok(Redis {
            name: name.into(),
            host: host.into(),
            port,
            password: password.into(),
            maxmemory_policy: policy.into(),
            dir: home,
            proc,
        })
    }

    /// Makes this server a replica of `host:port` (same password).
    pub fn replicate_from(&self, host: &str, port: u16) -> Result<(), LabError> {
        self.command(&["CONFIG", "SET", "masterauth", &self.password])?;
        self.command(&["REPLICAOF", host, &port.to_string()])
            .map(|_| ())
    }

    /// Sends one command over RESP after AUTH and returns its reply: a status line, an
    /// integer, or a bulk string (INFO's text); an error reply is an error.
    pub fn command(&self, args: &[&str]) -> Result<String, LabError> {
        use std::io::{BufRead, BufReader, Read, Write};
        let err = |e: std::io::Error| LabError::io(format!("Redis {}", self.name), e);
        let s = std::net::TcpStream::connect((self.host.as_str(), self.port)).map_err(err)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(err)?;
        let mut w = s.try_clone().map_err(err)?;
        let mut msg = String::new();
        for cmd in [vec!["AUTH", self.password.as_str()], args.to_vec()] {
            msg.push_str(&format!("*{}\r\n", cmd.len()));
            for a in cmd {
                msg.push_str(&format!("${}\r\n{a}\r\n", a.len()));
            }
        }
        w.write_all(msg.as_bytes()).map_err(err)?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        // The AUTH reply, then the command's.
        for _ in 0..2 {
            line.clear();
            r.read_line(&mut line).map_err(err)?;
            if line.starts_with('-') {
                return Err(LabError::Failed(format!(
                    "Redis {}: {}",
                    self.name,
                    line.trim()
                )));
            }
        }
        match line
            .strip_prefix('$')
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            Some(len) => {
                let mut body = vec![0u8; len + 2];
                r.read_exact(&mut body).map_err(err)?;
                body.truncate(len);
                Ok(String::from_utf8_lossy(&body).into_owned())
            }
            None => Ok(line.trim().to_string()),
        }
    }

    /// Whether this replica's link to its primary is up (`INFO replication`).
    pub fn link_up(&self) -> bool {
        self.command(&["INFO", "replication"])
            .is_ok_and(|info| info.lines().any(|l| l.trim() == "master_link_status:up"))
    }

    pub fn stop(&self) {
        process::stop(&self.proc, Duration::from_secs(10));
    }
}
