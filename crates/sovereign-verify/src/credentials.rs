//! Credentials: environment variables first, then files the outputs name. Never arguments,
//! never printed.

use serde::Deserialize;

use crate::outputs::Outputs;

#[derive(Clone, Deserialize)]
pub struct UserPassword {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for UserPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserPassword({}, ****)", self.username)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn read_json(path: &std::path::Path) -> Result<UserPassword, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read credentials file `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|_| {
        format!(
            "credentials file `{}` is not JSON with `username` and `password`",
            path.display()
        )
    })
}

/// PostgreSQL: `SOVEREIGN_PG_USER` + `SOVEREIGN_PG_PASSWORD`, or `SOVEREIGN_PG_CREDENTIALS_FILE`,
/// or the outputs' `postgres.credentials_file`.
pub fn postgres(o: &Outputs) -> Result<UserPassword, String> {
    if let (Some(u), Some(p)) = (env("SOVEREIGN_PG_USER"), env("SOVEREIGN_PG_PASSWORD")) {
        return Ok(UserPassword {
            username: u,
            password: p,
        });
    }
    if let Some(f) = env("SOVEREIGN_PG_CREDENTIALS_FILE") {
        return read_json(std::path::Path::new(&f));
    }
    let pg = o.postgres.as_ref();
    if let Some(f) = pg.and_then(|p| p.credentials_file.as_ref()) {
        return read_json(&o.resolve(f));
    }
    let hint = pg
        .and_then(|p| p.credentials_secret.as_ref())
        .map(|s| format!("; the secret `{s}` in Secrets Manager holds them: `aws secretsmanager get-secret-value --secret-id {s} --query SecretString --output text > pg.json` then SOVEREIGN_PG_CREDENTIALS_FILE=pg.json"))
        .unwrap_or_default();
    Err(format!(
        "no PostgreSQL credentials: set SOVEREIGN_PG_USER and SOVEREIGN_PG_PASSWORD{hint}"
    ))
}

/// Redis AUTH: `SOVEREIGN_REDIS_PASSWORD`, or `SOVEREIGN_REDIS_CREDENTIALS_FILE`, or the
/// outputs' `redis.credentials_file` (the token alone, or JSON with `password`). `None` when
/// the outputs name no credentials at all (a cache without AUTH).
pub fn redis(o: &Outputs) -> Result<Option<String>, String> {
    if let Some(p) = env("SOVEREIGN_REDIS_PASSWORD") {
        return Ok(Some(p));
    }
    let file = env("SOVEREIGN_REDIS_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            o.redis
                .as_ref()
                .and_then(|r| r.credentials_file.as_ref())
                .map(|f| o.resolve(f))
        });
    if let Some(f) = file {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| format!("cannot read credentials file `{}`: {e}", f.display()))?;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(p) = v.get("password").and_then(|p| p.as_str())
        {
            return Ok(Some(p.to_string()));
        }
        return Ok(Some(text.trim().to_string()));
    }
    match o.redis.as_ref().and_then(|r| r.credentials_secret.as_ref()) {
        Some(s) => Err(format!(
            "no Redis AUTH token; set SOVEREIGN_REDIS_PASSWORD (the secret `{s}` in Secrets Manager holds it)"
        )),
        None => Ok(None),
    }
}

/// Cassandra: `SOVEREIGN_CASSANDRA_USER` + `SOVEREIGN_CASSANDRA_PASSWORD`, or the outputs'
/// `cassandra.credentials_file`; `None` for a cluster without authentication.
pub fn cassandra(o: &Outputs) -> Result<Option<UserPassword>, String> {
    if let (Some(u), Some(p)) = (
        env("SOVEREIGN_CASSANDRA_USER"),
        env("SOVEREIGN_CASSANDRA_PASSWORD"),
    ) {
        return Ok(Some(UserPassword {
            username: u,
            password: p,
        }));
    }
    match o
        .cassandra
        .as_ref()
        .and_then(|c| c.credentials_file.as_ref())
    {
        Some(f) => read_json(&o.resolve(f)).map(Some),
        None => Ok(None),
    }
}
