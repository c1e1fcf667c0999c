# PostgreSQL roles, on the one site that creates them (`var.postgres.roles`, the primary's): a Job
# (charts/postgres-roles) logs in to the Aurora global writer as the master user and creates the
# monitoring role `sovereign_monitor` (pg_monitor, what the exporters log in as) and, when
# logical replicas subscribe, the replication role `sovereign_replicator` (rds_replication,
# SELECT on the published tables) and the publication `sovereign_all`. The master credentials
# reach this Job only: a Kubernetes secret in its own namespace, from Secrets Manager. Each
# role's password comes from its own secret; the Job runs again on every apply that changes a
# secret's version, so a rotated password reaches the database.

data "aws_secretsmanager_secret_version" "postgres_master" {
  count = try(var.postgres.roles, null) == null ? 0 : 1

  region    = var.region
  secret_id = var.postgres.roles.master_secret_arn
}

data "aws_secretsmanager_secret_version" "postgres_replicator" {
  count = try(var.postgres.roles.publication, false) ? 1 : 0

  region    = var.region
  secret_id = var.postgres.roles.replicator_secret_arn
}

resource "kubernetes_secret_v1" "postgres_roles" {
  count = length(data.aws_secretsmanager_secret_version.postgres_master)

  metadata {
    name      = "postgres-roles"
    namespace = kubernetes_namespace_v1.this["postgres"].metadata[0].name
  }

  data = merge(
    {
      MASTER_USER      = jsondecode(data.aws_secretsmanager_secret_version.postgres_master[0].secret_string).username
      MASTER_PASSWORD  = jsondecode(data.aws_secretsmanager_secret_version.postgres_master[0].secret_string).password
      MONITOR_PASSWORD = jsondecode(data.aws_secretsmanager_secret_version.postgres[0].secret_string).password
    },
    length(data.aws_secretsmanager_secret_version.postgres_replicator) == 0 ? {} : {
      REPLICATOR_PASSWORD = jsondecode(data.aws_secretsmanager_secret_version.postgres_replicator[0].secret_string).password
    },
  )
}

resource "helm_release" "postgres_roles" {
  count = length(kubernetes_secret_v1.postgres_roles)

  name      = "postgres-roles"
  namespace = kubernetes_namespace_v1.this["postgres"].metadata[0].name
  chart     = "${var.charts_dir}/postgres-roles"
  wait      = true
  timeout   = 900

  values = [yamlencode({
    image       = var.postgres.roles.image
    host        = var.postgres.roles.writer_endpoint
    database    = var.postgres.database
    secretName  = kubernetes_secret_v1.postgres_roles[0].metadata[0].name
    publication = var.postgres.roles.publication
    # A new version of any of the three secrets runs the Job again.
    credentialsVersion = sha256(join(",", [
      for v in concat(
        [data.aws_secretsmanager_secret_version.postgres_master[0].version_id, data.aws_secretsmanager_secret_version.postgres[0].version_id],
        data.aws_secretsmanager_secret_version.postgres_replicator[*].version_id,
      ) : v == null ? "" : v
    ]))
  })]
}
