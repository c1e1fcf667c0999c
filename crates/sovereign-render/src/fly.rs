//! `fly/`: Fly.io has no maintained Terraform provider, so the Fly.io side is `fly.toml` files
//! and an ordered flyctl plan (`deploy.sh`) the deployment steps call.

use std::fmt::Write;

use sovereign_check::{LogicalReplicaV, PostgresV};

/// The table `sovereign verify` writes probe rows to; created on the primary and on every
/// logical replica (logical replication does not copy DDL). Verify creates the same table.
pub const PROBE_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS public.sovereign_probe (id text PRIMARY KEY, site text NOT NULL, written_at timestamptz NOT NULL DEFAULT now());";

use crate::global::{
    fly_app_name, fly_pg_app, fly_served_names, postgres_replicator_secret_name,
    postgres_roles_site, replica_links,
};
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
    // Fly.io regions that run application machines.
    let fly_sites: Vec<&str> = match &t.application {
        Some(_) => t
            .sites
            .iter()
            .filter_map(|s| s.fly.as_ref().filter(|f| f.serves))
            .map(|f| f.region.as_str())
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
    let served_names = fly_served_names(cx);
    let mut script = String::new();
    let _ = write!(
        script,
        r#"#!/usr/bin/env bash
{header}#
# The Fly.io side of the deployment, in the order the deployment steps call it:
#   deploy.sh apps       create the apps, their addresses and the certificates of the names DNS
#                        points at Fly.io; write ../fly.auto.tfvars.json (addresses, certificate
#                        validation records) for the global root
#   deploy.sh machines   deploy the application and scale it in every Fly.io site
#   deploy.sh certs      wait until Fly.io has issued those certificates (after the global root
#                        has published the validation records)
#   deploy.sh postgres   logical replicas: volume, machine, the WireGuard peers of both link
#                        gateways, schema copy and subscription as the replication role (the
#                        roles and the publication are created by the primary's site root)
#
# Needs: flyctl (FLY_API_TOKEN, FLY_ORG), the AWS CLI with credentials for the account, jq,
# and the global root applied (`postgres` reads its outputs). Every step is safe to run again.
# flyctl's JSON: `fly certs show --json` (an alias of `fly certs check`) prints fly-go's
# CertificateDetailResponse: `dns_requirements.acme_challenge.{{name,target}}`,
# `dns_requirements.ownership.{{name,app_value}}`, `certificates[].status` (`active` once issued);
# `fly certs list --json` and `fly secrets list --json` name entries `hostname` and `name`
# (flyctl internal/command/certificates/root.go and secrets/list.go, fly-go v0.9.6 types.go).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tf_root=$(cd "$here/.." && pwd)
org=${{FLY_ORG:?set FLY_ORG to the Fly.io organisation}}

need() {{ command -v "$1" >/dev/null || {{ echo "deploy.sh: $1 is required" >&2; exit 2; }}; }}
need fly
need jq

app_exists() {{ fly apps list --org "$org" --json | jq -e --arg a "$1" 'any(.[]; .Name == $a)' >/dev/null; }}
ensure_app() {{ app_exists "$1" || fly apps create "$1" --org "$org"; }}
# TERRAFORM names the engine that reads the global root's outputs (`tofu` for OpenTofu).
tf_output() {{ "${{TERRAFORM:-terraform}}" -chdir="$tf_root" output -json "$1"; }}
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
        script.push_str(&certificates_step(&name, &served_names));
        let _ = writeln!(
            script,
            "  jq -n --arg v4 \"$ipv4\" --arg v6 \"$ipv6\" --argjson certs \"$certs\" '{{fly_ipv4: $v4, fly_ipv6: $v6, fly_certificates: $certs}}' > \"$tf_root/fly.auto.tfvars.json\""
        );
        let _ = writeln!(
            script,
            "  echo \"wrote $tf_root/fly.auto.tfvars.json (IPv4 $ipv4, IPv6 $ipv6, certificate validation records of $(jq -r 'keys | join(\", \")' <<<\"$certs\"))\""
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
        let primary = sh(fly_sites[0]);
        let _ = writeln!(
            script,
            "  fly deploy --config {} --app {name} --primary-region {primary} --ha=false --yes",
            here_path(&format!("{}/fly.toml", app.name))
        );
        for region in &fly_sites {
            let region = sh(region);
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

    // certs
    script.push_str("\ncmd_certs() {\n");
    match &t.application {
        Some(app) if !served_names.is_empty() => {
            script.push_str(&certificates_wait(
                &sh(&fly_app_name(cx, &app.name)),
                &served_names,
            ));
        }
        _ => script.push_str("  echo \"no names point at Fly.io\"\n"),
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
        if postgres_roles_site(cx).is_none() {
            return Err(RenderError(
                "logical replicas subscribe as a replication role that a Job creates on an EKS cluster of an Aurora site (the primary's, or a secondary's in the peering mesh); this topology has none".into(),
            ));
        }
        script.push_str("  # The global root's outputs: while the state bucket's region is down, point the global root at\n  # the state's replica first (README, \"Break glass\").\n  links=$(tf_output fly_links)\n");
        for r in &replicas {
            postgres_replica(cx, pg, r, &mut script, tree)?;
        }
    }
    script.push_str("}\n");
    script.push_str(
        r#"
case "${1:-}" in
  apps) cmd_apps ;;
  machines) cmd_machines ;;
  certs) cmd_certs ;;
  postgres) cmd_postgres ;;
  *) echo "usage: deploy.sh apps|machines|certs|postgres" >&2; exit 2 ;;
esac
"#,
    );
    tree.add_executable("fly/deploy.sh", script);

    if let Some(app) = &t.application
        && !fly_sites.is_empty()
    {
        let name = fly_app_name(cx, &app.name);
        let primary = fly_sites[0].to_string();
        let regions: Vec<String> = fly_sites.iter().map(|r| r.to_string()).collect();
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

/// `cmd_postgres` for one logical replica, and its files: fly.toml, subscribe.sh,
/// subscription.sql.
fn postgres_replica(
    cx: &Ctx,
    pg: &PostgresV,
    r: &LogicalReplicaV,
    script: &mut String,
    tree: &mut Tree,
) -> Result<(), RenderError> {
    let t = cx.t;
    let app_name = fly_pg_app(cx, &r.site);
    let app = sh(&app_name);
    let region_name = t.site(&r.site).fly_region().unwrap_or_default().to_string();
    let region = sh(&region_name);
    let links = replica_links(cx, r);
    let mut secret_regions: Vec<String> = Vec::new();
    for l in &links {
        let region = sh(cx.region(l.via));
        if !secret_regions.contains(&region) {
            secret_regions.push(region);
        }
    }
    let dir = format!("postgres-{}", r.site);
    // Every gateway of every link as `gateway:region:peer`, in the order libpq tries them: the
    // `via` link's first, the standby link's (through the successor) after.
    let specs: Vec<String> = links
        .iter()
        .flat_map(|l| {
            l.gateways
                .iter()
                .map(|g| sh(&format!("{g}:{}:{}-{g}", cx.region(l.via), l.name)))
        })
        .collect();
    let route = links
        .iter()
        .map(|l| {
            format!(
                "{} (gateways {})",
                comment_safe(&l.via.id),
                l.gateways.join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join(", then ");
    let _ = write!(
        script,
        r#"  # {site_comment}: replica in Fly.io, linked through {route}, each gateway in its own zone
  # The replication role's credentials, from its secret's copy in a link site's region (the next
  # one when that region is down). The master user's never reach Fly.io: the roles and the
  # publication are created by the primary's site root.
  replicator=""
  for secret_region in {secret_regions}; do
    replicator=$(aws secretsmanager get-secret-value --region "$secret_region" --secret-id {secret} --query SecretString --output text) && break
  done
  [[ -n $replicator ]] || {{ echo "deploy.sh: no copy of {secret} could be read in {secret_regions}" >&2; exit 1; }}
  fly volumes list -a {app} --json | jq -e 'length > 0' >/dev/null \
    || fly volumes create pgdata --region {region} --size {size} -a {app} --yes
  secrets=$(fly secrets list -a {app} --json)
  # Secrets go to flyctl on stdin (`fly secrets import`), never on a command line.
  if ! jq -e 'any(.[]; (.name // .Name) == "POSTGRES_PASSWORD")' >/dev/null <<<"$secrets"; then
    printf 'POSTGRES_PASSWORD=%s\n' "$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" \
      | fly secrets import -a {app} --stage
  fi
  # An earlier plan stored the master credentials here: take them away.
  stale=$(jq -r '[.[] | (.name // .Name) | select(. == "PRIMARY_USER" or . == "PRIMARY_PASSWORD")] | join(" ")' <<<"$secrets")
  if [[ -n $stale ]]; then
    fly secrets unset -a {app} --stage $stale
  fi
  jq -r '"REPLICATOR_USER=\(.username)\nREPLICATOR_PASSWORD=\(.password)"' <<<"$replicator" \
    | fly secrets import -a {app} --stage
  fly deploy --config {config} --app {app} --yes
  # Each link gateway joins the Fly.io network as its own WireGuard peer; its configuration goes
  # to the gateway's secret in Secrets Manager, where the gateway picks it up.
  hosts=""
  for spec in {specs}; do
    IFS=: read -r gw gw_region peer <<<"$spec"
    secret=$(jq -r --arg site {site} --arg gw "$gw" '.[$site].gateways[$gw].secret_arn // empty' <<<"$links")
    [[ -n $secret ]] || {{ echo "deploy.sh: the global root's fly_links output has no gateway $gw for {site_comment}: apply the global root" >&2; exit 1; }}
    # A region that is down (the reason to run this during a failover) leaves its gateways out.
    if ! aws secretsmanager describe-secret --region "$gw_region" --secret-id "$secret" >/dev/null; then
      echo "deploy.sh: gateway $gw: its secret cannot be read in $gw_region; the subscription leaves this gateway out" >&2
      continue
    fi
    # The secret has no value until this plan creates the peer.
    if ! conf=$(aws secretsmanager get-secret-value --region "$gw_region" --secret-id "$secret" --query SecretString --output text 2>/dev/null); then
      confdir=$(mktemp -d)
      # `fly wireguard create` refuses to write a file that exists: a fresh name in a private directory.
      fly wireguard create "$org" {region} "$peer" "$confdir/peer.conf"
      aws secretsmanager put-secret-value --region "$gw_region" --secret-id "$secret" --secret-string "file://$confdir/peer.conf"
      conf=$(cat "$confdir/peer.conf")
      rm -rf "$confdir"
    fi
    # printf is a builtin: the peer's private key reaches sed through a pipe, never a file or argv.
    addr=$(printf '%s\n' "$conf" | sed -n 's/^Address *= *\([0-9a-f:]*\).*/\1/p' | head -n1)
    [[ $addr =~ ^[0-9a-f:]+$ ]] || {{ echo "deploy.sh: no gateway address in the secret of gateway $gw" >&2; exit 1; }}
    hosts=${{hosts:+$hosts,}}$addr
  done
  [[ -n $hosts ]] || {{ echo "deploy.sh: no link gateway of {site_comment} can be reached" >&2; exit 1; }}
  # Schema copy and subscription run on the replica machine, which reaches the writer through
  # any gateway's private address (libpq tries them in turn). Every value they need is in the
  # uploaded files or in the machine's secrets; the one argument is the checked list above.
  for f in subscription.sql subscribe.sh; do
    fly ssh sftp shell -a {app} <<<"put $here/{dir}/$f /tmp/$f"
  done
  fly ssh console -a {app} -C "sh /tmp/subscribe.sh $hosts"
"#,
        site_comment = comment_safe(&r.site),
        secret_regions = secret_regions.join(" "),
        site = sh(&r.site),
        secret = sh(&postgres_replicator_secret_name(cx)),
        specs = specs.join(" "),
        size = r.volume_size_gb,
        config = here_path(&format!("{dir}/fly.toml")),
    );
    tree.add_executable(
        format!("fly/{dir}/subscribe.sh"),
        subscribe_script(cx, &pg.database_name, &r.site),
    );
    tree.add(
        format!("fly/{dir}/fly.toml"),
        format!(
            "{}app = {}\nprimary_region = {}\n\n[build]\n  image = {}\n\n[env]\n  PGDATA = \"/var/lib/postgresql/data/pgdata\"\n  POSTGRES_DB = {}\n\n[[mounts]]\n  source = \"pgdata\"\n  destination = \"/var/lib/postgresql/data\"\n  initial_size = \"{}gb\"\n\n[checks.postgres]\n  type = \"tcp\"\n  port = 5432\n  interval = \"15s\"\n  timeout = \"5s\"\n  grace_period = \"60s\"\n\n[[vm]]\n  size = {}\n",
            header(cx, &format!("PostgreSQL {} on Fly Machines: the logical replica of {}; private (no public service).", pg.major, r.site)),
            toml_str(&app_name),
            toml_str(&region_name),
            toml_str(&format!("postgres:{}", pg.major)),
            toml_str(&pg.database_name),
            r.volume_size_gb,
            toml_str(&r.vm_size),
        ),
    );
    tree.add(
        format!("fly/{dir}/subscription.sql"),
        subscription_sql(cx, &r.site),
    );
    Ok(())
}

/// The subscription of the replica in `site` (`sovereign_<site>`), run there as its superuser
/// with `-v conninfo=...` (both gateways, the replication role) and `-v resync=on|off`.
/// The subscription of the logical replica in `site`, and so its replication slot on the writer.
pub(crate) fn subscription_name(site: &str) -> String {
    format!("sovereign_{site}")
}

fn subscription_sql(cx: &Ctx, site: &str) -> String {
    format!(
        r#"-- {header}
-- Runs on the replica in {site}, as its superuser: subscribes to the primary's publication through
-- the link gateways. Variables (-v): conninfo, the publisher as the replication role, listing
-- every gateway (libpq multi-host); resync (on|off, default off), on when the publisher no
-- longer holds this subscription's slot. Safe to run again: an existing subscription takes the
-- current conninfo (a rotated password, the gateways) and picks up tables created since.
\set ON_ERROR_STOP on
\set subscription {sub}
\if :{{?resync}}
\else
  \set resync off
\endif
-- Logical replication copies rows, not DDL: the probe table `sovereign verify` writes to.
{probe}
\if :resync
-- The slot is gone (an Aurora writer promoted by a switchover or a failover has none): drop the
-- subscription without touching the publisher, empty the tables it fed, subscribe again with a
-- full copy. Until the copy is done, reads here see fewer rows.
SELECT format('ALTER SUBSCRIPTION %I DISABLE', subname) FROM pg_subscription WHERE subname = :'subscription' \gexec
SELECT format('TRUNCATE %s', string_agg(sr.srrelid::regclass::text, ', '))
  FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
  WHERE s.subname = :'subscription' HAVING count(*) > 0 \gexec
SELECT format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', subname) FROM pg_subscription WHERE subname = :'subscription' \gexec
SELECT format('DROP SUBSCRIPTION %I', subname) FROM pg_subscription WHERE subname = :'subscription' \gexec
\endif
SELECT EXISTS (SELECT FROM pg_subscription WHERE subname = :'subscription') AS subscribed \gset
\if :subscribed
-- The current conninfo (the gateways, a rotated password), and the tables created since.
SELECT format('ALTER SUBSCRIPTION %I CONNECTION %L', :'subscription', :'conninfo') \gexec
SELECT format('ALTER SUBSCRIPTION %I REFRESH PUBLICATION', subname)
  FROM pg_subscription WHERE subname = :'subscription' AND subenabled \gexec
\else
SELECT format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION sovereign_all WITH (copy_data = true)', :'subscription', :'conninfo') \gexec
\endif
"#,
        header = cx.header("").lines().next().unwrap_or_default(),
        probe = PROBE_TABLE_DDL,
        sub = subscription_name(site),
    )
}

/// Runs on the replica machine (`sh /tmp/subscribe.sh GATEWAY,GATEWAY`): waits for a gateway,
/// copies the schema and checks the slot as the replication role, then runs subscription.sql
/// here. Values are quoted constants; passwords come from the machine's secrets (environment),
/// never from the command line of this script.
fn subscribe_script(cx: &Ctx, database: &str, site: &str) -> String {
    format!(
        r#"#!/bin/sh
{header}#
# GATEWAY,GATEWAY: the link gateways' private Fly.io addresses (deploy.sh reads them from the
# gateways' secrets). The machine's secrets: REPLICATOR_USER, REPLICATOR_PASSWORD (the
# replication role: it may stream changes and read the published tables, nothing else; the
# master user never reaches Fly.io) and POSTGRES_PASSWORD (this server's superuser).
set -eu
log() {{ printf '%s subscribe.sh: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }}
hosts=${{1:-}}
case $hosts in
  '' | *[!0-9a-f:,]*) log "usage: subscribe.sh GATEWAY[,GATEWAY...] (private Fly.io addresses)"; exit 2 ;;
esac
db={db}
sub={sub}
: "${{REPLICATOR_USER:?}}" "${{REPLICATOR_PASSWORD:?}}" "${{POSTGRES_PASSWORD:?}}"
# A conninfo value: single-quoted, with \ and ' escaped (libpq's rules).
cq() {{ printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"; }}
# Every gateway, in order: libpq connects through the first that answers. Any session will do
# (target_session_attrs=any): each gateway forwards to the Aurora writer.
publisher="host=$hosts port=5432 dbname=$(cq "$db") user=$(cq "$REPLICATOR_USER") sslmode=require target_session_attrs=any connect_timeout=10"
export PGPASSWORD="$REPLICATOR_PASSWORD"
# Ten minutes by the clock: one round tries every gateway (up to connect_timeout each).
deadline=$(($(date +%s) + 600))
until pg_isready -q -d "$publisher"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "no link gateway answers ($hosts) after 10 minutes: see the gateways' console output (\`ready\` line)"
    exit 1
  fi
  log "waiting for a link gateway to answer ($hosts)"
  sleep 10
done
# The schema, read as the replication role (it may read every published table): logical
# replication copies rows, not DDL. Objects that exist here already are reported and skipped.
pg_dump --schema-only --no-owner --no-privileges --no-publications --no-subscriptions -d "$publisher" -f /tmp/schema.sql
PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -U postgres -d "$db" -f /tmp/schema.sql >/tmp/schema.log 2>&1
if grep ERROR /tmp/schema.log | grep -v 'already exists' >&2; then
  log "the schema copy reported the errors above (full log: /tmp/schema.log)"
fi
# A subscription whose slot the publisher no longer holds (a new writer after a switchover or a
# failover) starts again from a full copy.
slot=$(printf '%s\n' "SELECT count(*) FROM pg_replication_slots WHERE slot_name = :'sub';" | psql -X -qtA -v sub="$sub" -d "$publisher" -f -)
have=$(printf '%s\n' "SELECT count(*) FROM pg_subscription WHERE subname = :'sub';" | PGPASSWORD="$POSTGRES_PASSWORD" psql -X -qtA -v sub="$sub" -U postgres -d "$db" -f -)
resync=off
if [ "$have" = 1 ] && [ "$slot" = 0 ]; then
  resync=on
  log "the publisher has no slot $sub any more: subscribing again with a full copy"
fi
PGPASSWORD="$POSTGRES_PASSWORD" psql -X -v ON_ERROR_STOP=1 -U postgres -d "$db" -v resync="$resync" \
  -v conninfo="$publisher password=$(cq "$REPLICATOR_PASSWORD")" -f /tmp/subscription.sql
log "subscription $sub: through $hosts"
"#,
        header = header(
            cx,
            "Runs on the logical replica's machine; deploy.sh uploads it and runs it there."
        ),
        db = sh(database),
        sub = sh(&subscription_name(site)),
    )
}

/// `cmd_apps`: asks Fly.io for a certificate of every name DNS points at the app, unless it has
/// one, and collects the records that validate them into `$certs` (JSON), which
/// fly.auto.tfvars.json carries to the global root. Fly.io issues through the DNS-01 challenge
/// (`_acme-challenge.<name>` delegated to it by CNAME), so the certificate does not wait for
/// traffic, which Route 53 sends to Fly.io only for some clients of the shared API name.
fn certificates_step(app: &str, names: &[String]) -> String {
    if names.is_empty() {
        return "  certs='{}'\n".to_string();
    }
    let hosts: Vec<String> = names.iter().map(|n| sh(n)).collect();
    format!(
        r#"  # Certificates of the names DNS points at Fly.io, and the records that validate them.
  certs='{{}}'
  for host in {hosts}; do
    fly certs list -a {app} --json | jq -e --arg h "$host" 'any(.[]; (.hostname // .Hostname) == $h)' >/dev/null \
      || fly certs add "$host" -a {app}
    cert=$(fly certs show "$host" -a {app} --json)
    certs=$(jq --arg h "$host" --argjson c "$cert" '. + {{($h): {{
      acme_challenge_target: ($c.dns_requirements.acme_challenge.target // ""),
      ownership_name: ($c.dns_requirements.ownership.name // ""),
      ownership_value: ($c.dns_requirements.ownership.app_value // "")}}}}' <<<"$certs")
  done
"#,
        hosts = hosts.join(" "),
    )
}

/// `cmd_certs`: waits until Fly.io has issued a certificate for every name (20 minutes at most
/// each); run after the global root has published the validation records.
fn certificates_wait(app: &str, names: &[String]) -> String {
    let hosts: Vec<String> = names.iter().map(|n| sh(n)).collect();
    format!(
        r#"  for host in {hosts}; do
    for i in $(seq 1 60); do
      if fly certs show "$host" -a {app} --json | jq -e 'any(.certificates[]?; .status == "active")' >/dev/null; then
        echo "certificate of $host: active"
        continue 2
      fi
      echo "waiting for Fly.io to issue the certificate of $host ($i/60)"
      sleep 20
    done
    echo "deploy.sh: no certificate of $host after 20 minutes; \`fly certs setup $host -a {app}\` shows the DNS records Fly.io expects" >&2
    exit 1
  done
"#,
        hosts = hosts.join(" "),
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
