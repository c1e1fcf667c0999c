//! `fly/`: Fly.io has no maintained Terraform provider, so the Fly.io side is `fly.toml` files
//! and an ordered flyctl plan (`deploy.sh`) the deployment steps call.

use std::fmt::Write;

use sovereign_check::SiteV;

/// The table `sovereign verify` writes probe rows to; created on the primary and on every
/// logical replica (logical replication does not copy DDL). Verify creates the same table.
pub const PROBE_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS public.sovereign_probe (id text PRIMARY KEY, site text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());";

use crate::global::{fly_app_name, fly_pg_app, postgres_secret_name};
use crate::{Ctx, RenderError, Tree};

fn toml_str(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// A word for a POSIX shell: as it is when it holds only characters no shell treats specially,
/// else single-quoted (a `'` inside becomes `'\''`). Every value from the topology reaches
/// `deploy.sh` through this, so none can become code.
pub(crate) fn sh(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

fn header(cx: &Ctx, what: &str) -> String {
    cx.header(what)
        .lines()
        .map(|l| format!("# {l}\n"))
        .collect()
}

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    let t = cx.t;
    let fly_sites: Vec<&SiteV> = match &t.application {
        Some(_) => t
            .sites
            .iter()
            .filter(|s| s.serves && s.fly_region.is_some())
            .collect(),
        None => Vec::new(),
    };
    let replicas = t
        .postgres
        .as_ref()
        .map(|p| p.logical_replicas.clone())
        .unwrap_or_default();
    if fly_sites.is_empty() && replicas.is_empty() {
        return Ok(());
    }
    let mut script = String::new();
    let _ = write!(
        script,
        r#"#!/usr/bin/env bash
{header}#
# The Fly.io side of the deployment, in the order the deployment steps call it:
#   deploy.sh apps       create the apps and their addresses; write ../fly.auto.tfvars.json
#   deploy.sh machines   deploy the application and scale it in every Fly.io site
#   deploy.sh postgres   logical replicas: volume, machine, WireGuard peer of the link gateway,
#                        schema copy, publication on the Aurora primary, subscription
#
# Needs: flyctl (FLY_API_TOKEN, FLY_ORG), the AWS CLI with credentials for the account, jq,
# and the global root applied (`postgres` reads its outputs). Every step is safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tf_root=$(cd "$here/.." && pwd)
org=${{FLY_ORG:?set FLY_ORG to the Fly.io organisation}}

need() {{ command -v "$1" >/dev/null || {{ echo "deploy.sh: $1 is required" >&2; exit 2; }}; }}
need fly
need jq

app_exists() {{ fly apps list --org "$org" --json | jq -e --arg a "$1" 'any(.[]; .Name == $a)' >/dev/null; }}
ensure_app() {{ app_exists "$1" || fly apps create "$1" --org "$org"; }}
tf_output() {{ terraform -chdir="$tf_root" output -json "$1"; }}
"#,
        header = header(cx, "Ordered flyctl plan.")
    );

    // apps
    script.push_str("\ncmd_apps() {\n");
    if let Some(app) = &t.application
        && !fly_sites.is_empty()
    {
        let name = sh(&fly_app_name(cx, &app.name));
        let _ = writeln!(script, "  ensure_app {name}");
        let _ = writeln!(
            script,
            "  fly ips list -a {name} --json | jq -e 'any(.[]; .Type == \"shared_v4\" or .Type == \"v4\")' >/dev/null || fly ips allocate-v4 --shared -a {name}"
        );
        let _ = writeln!(
            script,
            "  fly ips list -a {name} --json | jq -e 'any(.[]; .Type == \"v6\")' >/dev/null || fly ips allocate-v6 -a {name}"
        );
        let _ = writeln!(
            script,
            "  ipv4=$(fly ips list -a {name} --json | jq -r 'first(.[] | select(.Type == \"shared_v4\" or .Type == \"v4\") | .Address)')"
        );
        let _ = writeln!(
            script,
            "  ipv6=$(fly ips list -a {name} --json | jq -r 'first(.[] | select(.Type == \"v6\") | .Address)')"
        );
        let _ = writeln!(
            script,
            "  jq -n --arg v4 \"$ipv4\" --arg v6 \"$ipv6\" '{{fly_ipv4: $v4, fly_ipv6: $v6}}' > \"$tf_root/fly.auto.tfvars.json\""
        );
        let _ = writeln!(
            script,
            "  echo \"wrote $tf_root/fly.auto.tfvars.json (IPv4 $ipv4, IPv6 $ipv6)\""
        );
    }
    for r in &replicas {
        let _ = writeln!(script, "  ensure_app {}", sh(&fly_pg_app(cx, &r.site)));
    }
    script.push_str("}\n");

    // machines
    script.push_str("\ncmd_machines() {\n");
    if let Some(app) = &t.application
        && !fly_sites.is_empty()
    {
        let name = sh(&fly_app_name(cx, &app.name));
        let primary = sh(fly_sites[0].fly_region.as_deref().unwrap_or_default());
        let _ = writeln!(
            script,
            "  fly deploy --config {} --app {name} --primary-region {primary} --ha=false --yes",
            here_path(&format!("{}/fly.toml", app.name))
        );
        for s in &fly_sites {
            let region = sh(s.fly_region.as_deref().unwrap_or_default());
            let _ = writeln!(
                script,
                "  fly scale count {} --region {region} --app {name} --yes",
                app.fly_machines
            );
        }
    } else {
        script.push_str("  echo \"no Fly.io application sites\"\n");
    }
    script.push_str("}\n");

    // postgres
    script.push_str("\ncmd_postgres() {\n");
    if replicas.is_empty() {
        script.push_str("  echo \"no logical replicas\"\n");
    } else {
        script.push_str("  need aws\n");
        let pg = t
            .postgres
            .as_ref()
            .ok_or_else(|| RenderError("replicas without postgres".into()))?;
        let primary_site = t
            .site(&pg.primary)
            .ok_or_else(|| RenderError("primary missing".into()))?;
        let primary_region = cx.region(primary_site).to_string();
        let _ = writeln!(
            script,
            "  writer=$(tf_output postgres | jq -r .global_writer_endpoint)"
        );
        let _ = writeln!(
            script,
            "  master=$(aws secretsmanager get-secret-value --region {} --secret-id {} --query SecretString --output text)",
            sh(&primary_region),
            sh(&postgres_secret_name(cx))
        );
        script.push_str("  links=$(tf_output fly_links)\n");
        for r in &replicas {
            let app_name = fly_pg_app(cx, &r.site);
            let app = sh(&app_name);
            let region = sh(t
                .site(&r.site)
                .and_then(|s| s.fly_region.as_deref())
                .unwrap_or_default());
            let via_region = sh(&t
                .site(&r.via)
                .map(|s| cx.region(s).to_string())
                .unwrap_or_default());
            let dir = format!("postgres-{}", r.site);
            let link = sh(&format!("{}-{}-link", cx.project(), r.site));
            let _ = write!(
                script,
                r#"  # {site_comment}: replica in Fly.io, linked through {via_comment}
  fly volumes list -a {app} --json | jq -e 'length > 0' >/dev/null \
    || fly volumes create pgdata --region {region} --size {size} -a {app} --yes
  if ! fly secrets list -a {app} --json | jq -e 'any(.[]; .Name == "POSTGRES_PASSWORD")' >/dev/null; then
    fly secrets set -a {app} --stage POSTGRES_PASSWORD="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" \
      REPLICATOR_PASSWORD="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  fi
  fly secrets set -a {app} --stage PRIMARY_USER="$(jq -r .username <<<"$master")" PRIMARY_PASSWORD="$(jq -r .password <<<"$master")"
  fly deploy --config {config} --app {app} --yes
  # The link gateway joins the Fly.io network as a WireGuard peer; its configuration goes to
  # Secrets Manager, where the gateway picks it up.
  secret=$(jq -r --arg site {site} '.[$site].secret_arn' <<<"$links")
  if ! aws secretsmanager get-secret-value --region {via_region} --secret-id "$secret" >/dev/null 2>&1; then
    conf=$(mktemp)
    fly wireguard create "$org" {region} {link} "$conf"
    aws secretsmanager put-secret-value --region {via_region} --secret-id "$secret" --secret-string "file://$conf"
    rm -f "$conf"
  fi
  gateway=$(aws secretsmanager get-secret-value --region {via_region} --secret-id "$secret" --query SecretString --output text \
    | sed -n 's/^Address *= *\([0-9a-f:]*\).*/\1/p' | head -n1)
  [[ $gateway =~ ^[0-9a-f:]+$ ]] || {{ echo "deploy.sh: no gateway address in the link secret" >&2; exit 1; }}
  # Schema, publication and subscription run on the replica machine, which reaches the
  # primary through the gateway's private address. Every value they need is in the uploaded
  # files or in the machine's secrets; the one argument is the checked address above.
  for f in publication.sql subscription.sql subscribe.sh; do
    fly ssh sftp shell -a {app} <<<"put $here/{dir}/$f /tmp/$f"
  done
  fly ssh console -a {app} -C "sh /tmp/subscribe.sh $gateway"
"#,
                site_comment = comment_safe(&r.site),
                via_comment = comment_safe(&r.via),
                site = sh(&r.site),
                size = r.volume_size_gb,
                config = here_path(&format!("{dir}/fly.toml")),
            );
            tree.add_executable(
                format!("fly/{dir}/subscribe.sh"),
                subscribe_script(cx, &pg.database_name),
            );
            // The replica's fly.toml, SQL.
            tree.add(
                format!("fly/{dir}/fly.toml"),
                format!(
                    "{}app = {}\nprimary_region = {}\n\n[build]\n  image = {}\n\n[env]\n  PGDATA = \"/var/lib/postgresql/data/pgdata\"\n  POSTGRES_DB = {}\n\n[[mounts]]\n  source = \"pgdata\"\n  destination = \"/var/lib/postgresql/data\"\n  initial_size = \"{}gb\"\n\n[checks.postgres]\n  type = \"tcp\"\n  port = 5432\n  interval = \"15s\"\n  timeout = \"5s\"\n  grace_period = \"60s\"\n\n[[vm]]\n  size = {}\n",
                    header(cx, &format!("PostgreSQL {} on Fly Machines: the logical replica of {}; private (no public service).", pg.major, r.site)),
                    toml_str(&app),
                    toml_str(&region),
                    toml_str(&format!("postgres:{}", pg.major)),
                    toml_str(&pg.database_name),
                    r.volume_size_gb,
                    toml_str(&r.vm_size),
                ),
            );
            tree.add(
                format!("fly/{dir}/publication.sql"),
                format!(
                    "-- {}\n-- Runs on the Aurora writer as the master user: the replication role and the publication\n-- every logical replica subscribes to. Safe to run again.\n\\set ON_ERROR_STOP on\nSELECT 'CREATE ROLE sovereign_replicator LOGIN'\n  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sovereign_replicator') \\gexec\nALTER ROLE sovereign_replicator WITH PASSWORD :'replicator_password';\nGRANT rds_replication TO sovereign_replicator;\nGRANT USAGE ON SCHEMA public TO sovereign_replicator;\n-- The table `sovereign verify` writes its probe rows to (postgres::write_propagation).\n{PROBE}\nGRANT SELECT ON ALL TABLES IN SCHEMA public TO sovereign_replicator;\n-- Tables the master user creates later: the initial copy of a new table reads it as the replicator.\nALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO sovereign_replicator;\nSELECT 'CREATE PUBLICATION sovereign_all FOR ALL TABLES'\n  WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'sovereign_all') \\gexec\n",
                    cx.header("").lines().next().unwrap_or_default(),
                    PROBE = PROBE_TABLE_DDL,
                ),
            );
            tree.add(
                format!("fly/{dir}/subscription.sql"),
                format!(
                    "-- {}\n-- Runs on the replica in {}: subscribes to the primary's publication through the link\n-- gateway (conninfo is passed with -v). Safe to run again.\n\\set ON_ERROR_STOP on\n-- Logical replication copies rows, not DDL: the probe table `sovereign verify` writes to.\n{PROBE}\nSELECT format('CREATE SUBSCRIPTION sovereign_{} CONNECTION %L PUBLICATION sovereign_all WITH (copy_data = true)', :'conninfo')\n  WHERE NOT EXISTS (SELECT FROM pg_subscription WHERE subname = 'sovereign_{}') \\gexec\n",
                    cx.header("").lines().next().unwrap_or_default(),
                    r.site,
                    r.site,
                    r.site,
                    PROBE = PROBE_TABLE_DDL,
                ),
            );
        }
    }
    script.push_str("}\n");
    script.push_str(
        r#"
case "${1:-}" in
  apps) cmd_apps ;;
  machines) cmd_machines ;;
  postgres) cmd_postgres ;;
  *) echo "usage: deploy.sh apps|machines|postgres" >&2; exit 2 ;;
esac
"#,
    );
    tree.add_executable("fly/deploy.sh", script);

    if let Some(app) = &t.application
        && !fly_sites.is_empty()
    {
        let name = fly_app_name(cx, &app.name);
        let primary = fly_sites[0].fly_region.clone().unwrap_or_default();
        let regions: Vec<String> = fly_sites
            .iter()
            .filter_map(|s| s.fly_region.clone())
            .collect();
        tree.add(
            format!("fly/{}/fly.toml", app.name),
            format!(
                "{}app = {}\nprimary_region = {}\n\n[build]\n  image = {}\n\n[env]\n  SOVEREIGN_PROJECT = {}\n\n[http_service]\n  internal_port = {}\n  force_https = true\n  auto_stop_machines = \"off\"\n  auto_start_machines = true\n  min_machines_running = {}\n\n  [http_service.concurrency]\n    type = \"requests\"\n    soft_limit = 200\n    hard_limit = 250\n\n  [[http_service.checks]]\n    grace_period = \"10s\"\n    interval = \"15s\"\n    method = \"GET\"\n    path = {}\n    timeout = \"5s\"\n\n[[vm]]\n  size = {}\n",
                header(cx, &format!("The application on Fly Machines in {}; machines per region are set by `deploy.sh machines`.", regions.join(", "))),
                toml_str(&name),
                toml_str(&primary),
                toml_str(&app.image),
                toml_str(cx.project()),
                app.port,
                app.fly_machines,
                toml_str(&app.health_path),
                toml_str(&app.fly_vm_size),
            ),
        );
    }
    Ok(())
}

/// A path under the script's directory as one shell word: `"$here/<path>"`, the path quoted
/// apart when it needs quoting.
fn here_path(rel: &str) -> String {
    let q = sh(rel);
    if q == rel {
        format!("\"$here/{rel}\"")
    } else {
        format!("\"$here\"/{q}")
    }
}

/// Text for a `#` comment line: no line breaks.
fn comment_safe(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Runs on the replica machine (`sh /tmp/subscribe.sh GATEWAY`): schema copy from the primary,
/// the publication there, the subscription here. Values are quoted constants; passwords come
/// from the machine's secrets (environment), never from the command line.
fn subscribe_script(cx: &Ctx, database: &str) -> String {
    format!(
        r#"#!/bin/sh
{header}set -eu
gateway=$1
db={db}
export PGPASSWORD="$PRIMARY_PASSWORD"
pg_dump --schema-only --no-owner --no-privileges -h "$gateway" -U "$PRIMARY_USER" -d "$db" | psql -U postgres -d "$db"
psql -v ON_ERROR_STOP=1 -h "$gateway" -U "$PRIMARY_USER" -d "$db" -v replicator_password="$REPLICATOR_PASSWORD" -f /tmp/publication.sql
PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -U postgres -d "$db" \
  -v conninfo="host=$gateway port=5432 dbname=$db user=sovereign_replicator password=$REPLICATOR_PASSWORD sslmode=require" \
  -f /tmp/subscription.sql
"#,
        header = header(
            cx,
            "Runs on the logical replica's machine; deploy.sh uploads it and runs it there."
        ),
        db = sh(database),
    )
}

#[cfg(test)]
mod tests {
    use super::sh;

    #[test]
    fn shell_words_are_quoted_when_they_must_be() {
        assert_eq!(sh("global-sovereign-pg-jnb"), "global-sovereign-pg-jnb");
        assert_eq!(sh(""), "''");
        assert_eq!(sh("app$(touch PWNED)"), "'app$(touch PWNED)'");
        assert_eq!(sh("it's"), "'it'\\''s'");
        assert_eq!(sh("a b"), "'a b'");
    }
}
