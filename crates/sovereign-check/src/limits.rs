//! What the receiving services accept, key by key: the syntax and length of every name and the
//! range of every number the topology gives, with the source of each limit.
//!
//! [`LIMITS`] is the one list. The rules `invalid_name` (SOV016) and `value_out_of_range`
//! (SOV141) check the keys whose [`Check`] is theirs; keys another rule already checks name it
//! in [`Check::Rule`]. `sovereign explain invalid_name` and the topology reference in the docs
//! print the same table, and a test keeps the docs equal to it.

use sovereign_spec::{Sp, Span, Topology};

/// How a key is checked.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// A name: the function returns what is wrong with a value, or `None`.
    Name(fn(&str) -> Option<String>),
    /// A whole number within `min..=max`.
    Int { min: i64, max: i64 },
    /// A finite number within the bounds; `min_exclusive` makes the lower bound open.
    Num {
        min: f64,
        max: f64,
        min_exclusive: bool,
    },
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    /// Checked by another rule (its code), listed here so the table is complete.
    Rule(&'static str),
}

/// One key of the topology format and what its receiver accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// The key, `table.key`; `[]` marks an array of tables, `<site>` a map key.
    pub key: &'static str,
    /// What is accepted, in words (the docs print it).
    pub accepts: &'static str,
    /// Who receives the value and where the limit is written down.
    pub source: &'static str,
    pub check: Check,
}

/// A value of the topology found at a key, ready to check.
pub struct Found<'a> {
    pub limit: &'static Limit,
    /// The key as written, with indexes (`sites[2].name`).
    pub path: String,
    pub value: Value<'a>,
    pub span: Option<Span>,
}

pub enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Num(f64),
}

const TAG_SOURCE: &str = "AWS tags: keys 1-128 and values 0-256 Unicode letters, digits, spaces and `_ . : / = + - @`; keys not starting with `aws:` (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html)";

/// Every key of the format, in the order of the docs' topology reference.
pub static LIMITS: &[Limit] = &[
    Limit {
        key: "project.name",
        accepts: "lowercase letters, digits and single hyphens, starting with a letter; short enough for every name built from it",
        source: "prefix of every AWS resource name (SOV014, SOV012)",
        check: Check::Rule("SOV014"),
    },
    Limit {
        key: "project.environment",
        accepts: "1 to 256 characters an AWS tag value allows",
        source: TAG_SOURCE,
        check: Check::Name(tag_value_nonempty),
    },
    Limit {
        key: "project.tags.<key>",
        accepts: "a tag key: 1 to 128 characters an AWS tag key allows, not starting with `aws:` or `sovereign:`",
        source: TAG_SOURCE,
        check: Check::Name(tag_key),
    },
    Limit {
        key: "project.tags.<value>",
        accepts: "a tag value: 0 to 256 characters an AWS tag value allows",
        source: TAG_SOURCE,
        check: Check::Name(tag_value),
    },
    Limit {
        key: "project.tags",
        accepts: "at most 40 tags (AWS allows 50 per resource; Sovereign adds up to 10 of its own)",
        source: "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (50 user tags per resource)",
        check: Check::Int { min: 0, max: 40 },
    },
    Limit {
        key: "project.monthly_hours",
        accepts: "1 to 744",
        source: "hours in the longest month (SOV140)",
        check: Check::Rule("SOV140"),
    },
    Limit {
        key: "application.name",
        accepts: "a Kubernetes name (RFC 1035 label): 1 to 40 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen",
        source: "Deployment, Service and Fly.io app names (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#rfc-1035-label-names); 40 leaves room for the project prefix of the Fly.io app",
        check: Check::Name(app_name),
    },
    Limit {
        key: "application.image",
        accepts: "a container image reference: `[registry/]path[:tag][@sha256:digest]`, lowercase path components",
        source: "OCI distribution reference grammar (https://github.com/distribution/reference/blob/main/reference.go)",
        check: Check::Name(image_ref),
    },
    Limit {
        key: "application.port",
        accepts: "1 to 65535",
        source: "TCP port of the container (Kubernetes containerPort)",
        check: Check::Int { min: 1, max: 65535 },
    },
    Limit {
        key: "application.health_path",
        accepts: "an absolute URL path of at most 255 characters: `/` then letters, digits and `-._~!$&'()*+,;=:@/%?`",
        source: "Route 53 health check ResourcePath, at most 255 characters (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html); RFC 3986 path characters",
        check: Check::Name(health_path),
    },
    Limit {
        key: "application.replicas",
        accepts: "1 to 1000",
        source: "pods per EKS site at rest; HorizontalPodAutoscaler minReplicas is at least 1",
        check: Check::Int { min: 1, max: 1000 },
    },
    Limit {
        key: "application.fly_vm_size",
        accepts: "a Fly.io machine size the catalog knows",
        source: "catalog `fly.toml` machine sizes (SOV024)",
        check: Check::Rule("SOV024"),
    },
    Limit {
        key: "application.fly_machines",
        accepts: "1 to 100 per region",
        source: "machines per Fly.io region; a bound a real fleet stays under",
        check: Check::Int { min: 1, max: 100 },
    },
    Limit {
        key: "sites[].id",
        accepts: "1 to 8 lowercase letters and digits, starting with a letter",
        source: "part of every resource name (SOV011)",
        check: Check::Rule("SOV011"),
    },
    Limit {
        key: "sites[].name",
        accepts: "1 to 64 printable characters",
        source: "shown in alerts, dashboards and the plan",
        check: Check::Name(display_name),
    },
    Limit {
        key: "sites[].role",
        accepts: "0 to 64 printable characters",
        source: "a free note shown in the plan",
        check: Check::Name(display_note),
    },
    Limit {
        key: "network.flow_log_retention_days",
        accepts: "one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
        source: "CloudWatch Logs retention values (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)",
        check: Check::OneOf(&[
            "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545",
            "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653",
        ]),
    },
    Limit {
        key: "network.subnet_prefix",
        accepts: "16 to 24, as long as the VPC holds every zone's subnets (SOV044); the public and database subnets get a prefix 4 longer, and AWS's smallest subnet is a /28",
        source: "AWS subnet sizes /16 to /28 (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html); SOV044 checks the plan fits",
        check: Check::Int { min: 16, max: 24 },
    },
    Limit {
        key: "kubernetes.on_demand.min_size / desired_size / max_size (and spot)",
        accepts: "0 to 450, min <= desired <= max, max at least 1",
        source: "EKS quota: 450 nodes per managed node group (https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html); order checked by SOV100",
        check: Check::Int { min: 0, max: 450 },
    },
    Limit {
        key: "kubernetes.on_demand.disk_size_gib (and spot)",
        accepts: "20 to 16384",
        source: "EBS gp3 volumes are 1 to 16384 GiB (https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html); EKS node AMIs need 20 GiB",
        check: Check::Int {
            min: 20,
            max: 16384,
        },
    },
    Limit {
        key: "postgres.database_name",
        accepts: "1 to 63 letters, digits and underscores, starting with a letter; not a PostgreSQL reserved word",
        source: "RDS CreateDBCluster DatabaseName for Aurora PostgreSQL (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html)",
        check: Check::Name(pg_database),
    },
    Limit {
        key: "postgres.master_username",
        accepts: "1 to 16 letters and digits, starting with a letter; not a PostgreSQL reserved word, not `rdsadmin`",
        source: "RDS CreateDBCluster MasterUsername (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html; Aurora User Guide, PostgreSQL roles: 1 to 16 alphanumeric characters)",
        check: Check::Name(pg_master_user),
    },
    Limit {
        key: "postgres.backup_retention_days",
        accepts: "1 to 35",
        source: "Aurora automated backups (SOV122)",
        check: Check::Rule("SOV122"),
    },
    Limit {
        key: "postgres.max_lag_seconds",
        accepts: "more than 0, at most 3600",
        source: "verify's replication lag threshold; an hour is far past any alerting use",
        check: Check::Num {
            min: 0.0,
            max: 3600.0,
            min_exclusive: true,
        },
    },
    Limit {
        key: "postgres.logical_replicas[].vm_size",
        accepts: "a Fly.io machine size the catalog knows",
        source: "catalog `fly.toml` machine sizes (SOV024)",
        check: Check::Rule("SOV024"),
    },
    Limit {
        key: "postgres.logical_replicas[].volume_size_gb",
        accepts: "1 to 500",
        source: "Fly.io volumes are at most 500 GB (https://fly.io/docs/volumes/overview/)",
        check: Check::Int { min: 1, max: 500 },
    },
    Limit {
        key: "cassandra.keyspace",
        accepts: "1 to 48 lowercase letters, digits and underscores, starting with a letter; not a `system` keyspace",
        source: "CQL keyspace names are at most 48 alphanumeric or underscore characters (https://cassandra.apache.org/doc/latest/cassandra/developing/cql/ddl.html); lowercase, because unquoted CQL identifiers are folded to lowercase",
        check: Check::Name(cql_keyspace),
    },
    Limit {
        key: "cassandra.storage_class",
        accepts: "a Kubernetes object name (RFC 1123 subdomain): lowercase letters, digits, `-` and `.`, at most 253",
        source: "StorageClass names (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names)",
        check: Check::Name(k8s_subdomain),
    },
    Limit {
        key: "cassandra.datacenters[].nodes",
        accepts: "1 to 100",
        source: "Cassandra pods per datacenter; a bound a real fleet stays under",
        check: Check::Int { min: 1, max: 100 },
    },
    Limit {
        key: "cassandra.datacenters[].storage_size_gi",
        accepts: "1 to 16384",
        source: "EBS gp3 volumes are 1 to 16384 GiB (https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html)",
        check: Check::Int { min: 1, max: 16384 },
    },
    Limit {
        key: "redis.engine_version",
        accepts: "7.1, 7.0 or 6.2 (Redis OSS on ElastiCache)",
        source: "ElastiCache supported Redis OSS versions (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/engine-versions.html)",
        check: Check::OneOf(&["7.1", "7.0", "6.2"]),
    },
    Limit {
        key: "redis.maxmemory_policy",
        accepts: "volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl or noeviction",
        source: "Redis eviction policies (https://redis.io/docs/latest/develop/reference/eviction/)",
        check: Check::OneOf(&[
            "volatile-lru",
            "allkeys-lru",
            "volatile-lfu",
            "allkeys-lfu",
            "volatile-random",
            "allkeys-random",
            "volatile-ttl",
            "noeviction",
        ]),
    },
    Limit {
        key: "monitoring.retention_days",
        accepts: "1 to 3650",
        source: "Prometheus `--storage.tsdb.retention.time`; 0 would mean the default, not none",
        check: Check::Int { min: 1, max: 3650 },
    },
    Limit {
        key: "dns.api_record",
        accepts: "one or more DNS labels of 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen",
        source: "Route 53 record names (SOV132)",
        check: Check::Rule("SOV132"),
    },
    Limit {
        key: "dns.ttl_seconds",
        accepts: "1 to 172800",
        source: "Route 53 TTL; two days is the longest Route 53 itself uses for NS records",
        check: Check::Int {
            min: 1,
            max: 172800,
        },
    },
    Limit {
        key: "budgets.monthly_total_usd / per_site.<site>",
        accepts: "more than 0, at most 1,000,000,000",
        source: "AWS Budgets limit amount; a billion dollars a month bounds any real fleet and keeps cost arithmetic exact",
        check: Check::Num {
            min: 0.0,
            max: 1e9,
            min_exclusive: true,
        },
    },
    Limit {
        key: "budgets.recipients",
        accepts: "e-mail addresses (`local@domain`, no spaces or quotes), at most 10",
        source: "AWS Budgets allows 10 e-mail subscribers per notification (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-limits.html)",
        check: Check::Rule("SOV121"),
    },
    Limit {
        key: "state.key_prefix",
        accepts: "1 to 512 characters of `A-Z a-z 0-9 ! - _ . * ' ( ) /`, no leading `/`, no empty or `..` segment",
        source: "S3 object key safe characters (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html)",
        check: Check::Name(s3_key_prefix),
    },
    Limit {
        key: "usage.aurora_storage_gb",
        accepts: "0 to 131072",
        source: "an Aurora cluster volume grows to at most 128 TiB (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/CHAP_Limits.html)",
        check: Check::Num {
            min: 0.0,
            max: 131072.0,
            min_exclusive: false,
        },
    },
    Limit {
        key: "usage.* (other figures)",
        accepts: "0 to 1,000,000,000",
        source: "monthly usage assumptions of the cost model; the bound keeps cost arithmetic exact",
        check: Check::Num {
            min: 0.0,
            max: 1e9,
            min_exclusive: false,
        },
    },
    Limit {
        key: "usage.user_regions",
        accepts: "AWS region codes the catalog knows, each once, at most 20",
        source: "the catalog's round trips between AWS regions; the lab gives each user region a loopback address of its own",
        check: Check::Rule("SOV020"),
    },
];

/// The rule that checks a key: `invalid_name` for names, `value_out_of_range` for numbers and
/// words from a set, else the rule named in [`Check::Rule`].
pub fn rule_code(l: &Limit) -> &'static str {
    match l.check {
        Check::Name(_) => "SOV016",
        Check::Int { .. } | Check::Num { .. } | Check::OneOf(_) => "SOV141",
        Check::Rule(code) => code,
    }
}

/// [`LIMITS`] as the Markdown list `sovereign explain invalid_name` and
/// `sovereign explain value_out_of_range` end with: key, rule, what is accepted, the source.
pub fn table_markdown() -> String {
    let mut s = String::from("## Every key with a limit\n\n");
    for l in LIMITS {
        s.push_str(&format!(
            "- `{}` ({}): {}. Source: {}.\n",
            l.key,
            rule_code(l),
            l.accepts,
            l.source.trim_end_matches('.')
        ));
    }
    s
}

fn limit(key: &str) -> &'static Limit {
    LIMITS
        .iter()
        .find(|l| l.key == key)
        .unwrap_or_else(|| panic!("no limit for `{key}`"))
}

/// Every value of the topology that has a limit here, with its path and span.
pub fn collect(t: &Topology) -> Vec<Found<'_>> {
    let mut v = Vec::new();
    fn t_<'a>(v: &mut Vec<Found<'a>>, key: &str, path: impl Into<String>, s: &'a Sp<String>) {
        v.push(Found {
            limit: limit(key),
            path: path.into(),
            value: Value::Text(s.as_str()),
            span: s.span(),
        });
    }
    fn i_<T: Copy + Into<i64>>(
        v: &mut Vec<Found<'_>>,
        key: &str,
        path: impl Into<String>,
        s: &Sp<T>,
    ) {
        v.push(Found {
            limit: limit(key),
            path: path.into(),
            value: Value::Int(s.value.into()),
            span: s.span(),
        });
    }
    fn n_(v: &mut Vec<Found<'_>>, key: &str, path: impl Into<String>, s: &Sp<f64>) {
        v.push(Found {
            limit: limit(key),
            path: path.into(),
            value: Value::Num(s.value),
            span: s.span(),
        });
    }

    let p = &t.project;
    t_(
        &mut v,
        "project.environment",
        "project.environment",
        &p.environment,
    );
    for (k, val) in &p.tags {
        v.push(Found {
            limit: limit("project.tags.<key>"),
            path: format!("project.tags.{k}"),
            value: Value::Text(k),
            span: val.span(),
        });
        t_(
            &mut v,
            "project.tags.<value>",
            format!("project.tags.{k}"),
            val,
        );
    }
    v.push(Found {
        limit: limit("project.tags"),
        path: "project.tags".into(),
        value: Value::Int(p.tags.len().try_into().unwrap_or(i64::MAX)),
        span: p.tags.values().nth(40).and_then(|s| s.span()),
    });
    if let Some(a) = &t.application {
        t_(&mut v, "application.name", "application.name", &a.name);
        t_(&mut v, "application.image", "application.image", &a.image);
        i_(&mut v, "application.port", "application.port", &a.port);
        t_(
            &mut v,
            "application.health_path",
            "application.health_path",
            &a.health_path,
        );
        i_(
            &mut v,
            "application.replicas",
            "application.replicas",
            &a.replicas,
        );
        i_(
            &mut v,
            "application.fly_machines",
            "application.fly_machines",
            &a.fly_machines,
        );
    }
    for (i, s) in t.sites.iter().enumerate() {
        t_(&mut v, "sites[].name", format!("sites[{i}].name"), &s.name);
        t_(&mut v, "sites[].role", format!("sites[{i}].role"), &s.role);
    }
    let n = &t.network;
    v.push(Found {
        limit: limit("network.flow_log_retention_days"),
        path: "network.flow_log_retention_days".into(),
        value: Value::Int(n.flow_log_retention_days.value.into()),
        span: n.flow_log_retention_days.span(),
    });
    i_(
        &mut v,
        "network.subnet_prefix",
        "network.subnet_prefix",
        &n.subnet_prefix,
    );
    let k = &t.kubernetes;
    for (name, g) in std::iter::once(("on_demand", Some(&k.on_demand)))
        .chain(std::iter::once(("spot", k.spot.as_ref())))
    {
        let Some(g) = g else { continue };
        for (key, val) in [
            ("min_size", &g.min_size),
            ("desired_size", &g.desired_size),
            ("max_size", &g.max_size),
        ] {
            i_(
                &mut v,
                "kubernetes.on_demand.min_size / desired_size / max_size (and spot)",
                format!("kubernetes.{name}.{key}"),
                val,
            );
        }
        i_(
            &mut v,
            "kubernetes.on_demand.disk_size_gib (and spot)",
            format!("kubernetes.{name}.disk_size_gib"),
            &g.disk_size_gib,
        );
    }
    if let Some(pg) = &t.postgres {
        t_(
            &mut v,
            "postgres.database_name",
            "postgres.database_name",
            &pg.database_name,
        );
        t_(
            &mut v,
            "postgres.master_username",
            "postgres.master_username",
            &pg.master_username,
        );
        n_(
            &mut v,
            "postgres.max_lag_seconds",
            "postgres.max_lag_seconds",
            &pg.max_lag_seconds,
        );
        for (i, r) in pg.logical_replicas.iter().enumerate() {
            i_(
                &mut v,
                "postgres.logical_replicas[].volume_size_gb",
                format!("postgres.logical_replicas[{i}].volume_size_gb"),
                &r.volume_size_gb,
            );
        }
    }
    if let Some(c) = &t.cassandra {
        t_(
            &mut v,
            "cassandra.keyspace",
            "cassandra.keyspace",
            &c.keyspace,
        );
        t_(
            &mut v,
            "cassandra.storage_class",
            "cassandra.storage_class",
            &c.storage_class,
        );
        for (i, d) in c.datacenters.iter().enumerate() {
            i_(
                &mut v,
                "cassandra.datacenters[].nodes",
                format!("cassandra.datacenters[{i}].nodes"),
                &d.nodes,
            );
            i_(
                &mut v,
                "cassandra.datacenters[].storage_size_gi",
                format!("cassandra.datacenters[{i}].storage_size_gi"),
                &d.storage_size_gi,
            );
        }
    }
    if let Some(r) = &t.redis {
        t_(
            &mut v,
            "redis.engine_version",
            "redis.engine_version",
            &r.engine_version,
        );
        t_(
            &mut v,
            "redis.maxmemory_policy",
            "redis.maxmemory_policy",
            &r.maxmemory_policy,
        );
    }
    i_(
        &mut v,
        "monitoring.retention_days",
        "monitoring.retention_days",
        &t.monitoring.retention_days,
    );
    if let Some(d) = &t.dns {
        i_(&mut v, "dns.ttl_seconds", "dns.ttl_seconds", &d.ttl_seconds);
    }
    if let Some(b) = &t.budgets {
        let key = "budgets.monthly_total_usd / per_site.<site>";
        n_(
            &mut v,
            key,
            "budgets.monthly_total_usd",
            &b.monthly_total_usd,
        );
        for (site, (_, amount)) in &b.per_site {
            n_(&mut v, key, format!("budgets.per_site.{site}"), amount);
        }
    }
    t_(
        &mut v,
        "state.key_prefix",
        "state.key_prefix",
        &t.state.key_prefix,
    );
    let u = &t.usage;
    n_(
        &mut v,
        "usage.aurora_storage_gb",
        "usage.aurora_storage_gb",
        &u.aurora_storage_gb,
    );
    for (key, val) in [
        ("aurora_io_millions", &u.aurora_io_millions),
        ("aurora_write_io_millions", &u.aurora_write_io_millions),
        ("replication_transfer_gb", &u.replication_transfer_gb),
        ("nat_processed_gb_per_site", &u.nat_processed_gb_per_site),
        ("load_balancer_lcu", &u.load_balancer_lcu),
        ("cassandra_replication_gb", &u.cassandra_replication_gb),
    ] {
        n_(
            &mut v,
            "usage.* (other figures)",
            format!("usage.{key}"),
            val,
        );
    }
    v
}

/// Whether a found value breaks its limit, and how (`None` when it is fine or another rule
/// checks it).
pub fn problem(f: &Found<'_>) -> Option<String> {
    match (f.limit.check, &f.value) {
        (Check::Name(check), Value::Text(s)) => check(s),
        (Check::Int { min, max }, Value::Int(n)) => {
            (!(min..=max).contains(n)).then(|| format!("{n} is outside {min} to {max}"))
        }
        (Check::OneOf(words), Value::Text(s)) => (!words.contains(s))
            .then(|| format!("`{}` is not one of {}", s.escape_debug(), words.join(", "))),
        (Check::OneOf(words), Value::Int(n)) => (!words.contains(&n.to_string().as_str()))
            .then(|| format!("{n} is not one of {}", words.join(", "))),
        (
            Check::Num {
                min,
                max,
                min_exclusive,
            },
            Value::Num(x),
        ) => {
            let low_ok = if min_exclusive { *x > min } else { *x >= min };
            if !x.is_finite() {
                Some(format!("{x} is not a finite number"))
            } else if !low_ok || *x > max {
                let low = if min_exclusive {
                    format!("more than {} and at most", fmt_num(min))
                } else {
                    format!("{} to", fmt_num(min))
                };
                Some(format!("{} is outside {low} {}", fmt_num(*x), fmt_num(max)))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

// ---- name checks -------------------------------------------------------------------------

fn printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || is_invisible(c))
}

/// Characters that change how text displays or hide in it: bidirectional controls, zero-width
/// characters, the byte order mark.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
        && printable(s)
}

fn tag_key(s: &str) -> Option<String> {
    let n = s.chars().count();
    if n == 0 || n > 128 {
        return Some(format!("a tag key has 1 to 128 characters, this one {n}"));
    }
    if !tag_chars_ok(s) {
        return Some(
            "a tag key may hold letters, digits, spaces and `_ . : / = + - @` only".into(),
        );
    }
    if s.to_ascii_lowercase().starts_with("aws:") {
        return Some("tag keys starting with `aws:` are reserved by AWS".into());
    }
    if s.starts_with("sovereign:") {
        return Some("tag keys starting with `sovereign:` are Sovereign's own".into());
    }
    None
}

fn tag_value(s: &str) -> Option<String> {
    let n = s.chars().count();
    if n > 256 {
        return Some(format!(
            "a tag value has at most 256 characters, this one {n}"
        ));
    }
    if !tag_chars_ok(s) {
        return Some(
            "a tag value may hold letters, digits, spaces and `_ . : / = + - @` only".into(),
        );
    }
    None
}

fn tag_value_nonempty(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    tag_value(s)
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn app_name(s: &str) -> Option<String> {
    if s.len() > 40 {
        return Some(format!("it has {} characters, at most 40 fit", s.len()));
    }
    if !dns_label(s) || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some(
            "lowercase letters, digits and hyphens only, starting with a letter and not ending with a hyphen".into(),
        );
    }
    None
}

fn k8s_subdomain(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 253 || !s.split('.').all(dns_label) {
        return Some(
            "a Kubernetes name is lowercase letters, digits, `-` and `.`, each part starting and ending with a letter or digit".into(),
        );
    }
    None
}

fn image_ref(s: &str) -> Option<String> {
    let bad = || {
        Some("not an image reference like `registry.example.com/team/api:1.2.3` or `…@sha256:<64 hex>`".to_string())
    };
    if s.is_empty()
        || s.len() > 512
        || !s.is_ascii()
        || s.chars().any(|c| c.is_ascii_control() || c == ' ')
    {
        return bad();
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let ok = d.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        });
        if !ok {
            return bad();
        }
    }
    // A tag follows the last `:` after the last `/`.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return bad();
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // A first part with a `.` or `:` or `localhost` is a registry host[:port].
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        let host = parts.remove(0);
        let (h, port) = match host.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        };
        let host_ok = !h.is_empty()
            && h.split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
        if !host_ok || !port_ok {
            return bad();
        }
    }
    let path_ok = !parts.is_empty()
        && parts.iter().all(|c| {
            !c.is_empty()
                && c.starts_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.ends_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.chars()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || "._-".contains(x))
        });
    if !path_ok {
        return bad();
    }
    None
}

fn health_path(s: &str) -> Option<String> {
    if !s.starts_with('/') {
        return Some("it must start with `/`".into());
    }
    if s.len() > 255 {
        return Some(format!(
            "it has {} characters, Route 53 takes at most 255",
            s.len()
        ));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%?".contains(c))
    {
        return Some("only URL path characters: letters, digits and `-._~!$&'()*+,;=:@/%?` (percent-encode the rest)".into());
    }
    None
}

fn display_name(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    display_note(s)
}

fn display_note(s: &str) -> Option<String> {
    let n = s.chars().count();
    if n > 64 {
        return Some(format!("it has {n} characters, at most 64"));
    }
    if !printable(s) {
        return Some("it holds control or invisible characters (line breaks, bidirectional or zero-width marks)".into());
    }
    None
}

/// PostgreSQL's reserved key words (SQL key words table, column "PostgreSQL": reserved;
/// https://www.postgresql.org/docs/current/sql-keywords-appendix.html).
const PG_RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

fn pg_database(s: &str) -> Option<String> {
    let ok = (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Some("1 to 63 letters, digits and underscores, starting with a letter".into());
    }
    if PG_RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        return Some(format!("`{s}` is a PostgreSQL reserved word"));
    }
    None
}

fn pg_master_user(s: &str) -> Option<String> {
    let ok = (1..=16).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Some("1 to 16 letters and digits, starting with a letter (Aurora's documented constraint has no underscores)".into());
    }
    let lower = s.to_ascii_lowercase();
    if PG_RESERVED.contains(&lower.as_str()) || lower == "rdsadmin" {
        return Some(format!("`{s}` is reserved"));
    }
    None
}

fn cql_keyspace(s: &str) -> Option<String> {
    let ok = (1..=48).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Some(
            "1 to 48 lowercase letters, digits and underscores, starting with a letter".into(),
        );
    }
    if s.starts_with("system") {
        return Some("keyspaces starting with `system` are Cassandra's own".into());
    }
    None
}

/// What is wrong with an e-mail address, if anything (SOV121 uses it).
pub fn email(s: &str) -> Option<String> {
    let bad = || Some("not an e-mail address like `ops@example.com`".to_string());
    let Some((local, domain)) = s.rsplit_once('@') else {
        return bad();
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&*+-/=?^_{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain_ok = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { None } else { bad() }
}

fn s3_key_prefix(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 512 {
        return Some("1 to 512 characters".into());
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c))
    {
        return Some("only `A-Z a-z 0-9 ! - _ . * ' ( ) /`".into());
    }
    if s.starts_with('/')
        || s.trim_end_matches('/')
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Some("no leading `/`, and no empty, `.` or `..` segment".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_what_the_services_accept() {
        for ok in ["app", "global_db", "A1"] {
            assert_eq!(pg_database(ok), None, "{ok}");
        }
        for bad in [
            "",
            "1db",
            "app$(touch PWNED)",
            "a-b",
            "select",
            &"x".repeat(64),
        ] {
            assert!(pg_database(bad).is_some(), "{bad}");
        }
        assert_eq!(pg_master_user("sovereignadmin"), None);
        for bad in [
            "adm${file(\"/etc/passwd\")}",
            "sovereign_admin",
            "user",
            "rdsadmin",
            "a234567890123456x",
        ] {
            assert!(pg_master_user(bad).is_some(), "{bad}");
        }
        for ok in [
            "nginx",
            "ghcr.io/acme/api:1.0.0",
            "localhost:5000/a/b",
            "registry.example.com:443/team/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "public.ecr.aws/x/y:v1_2",
        ] {
            assert_eq!(image_ref(ok), None, "{ok}");
        }
        for bad in [
            "",
            "Api",
            "a b",
            "a:",
            "a:$(x)",
            "ghcr.io/acme/api:1.0;rm",
            "a@sha256:12",
        ] {
            assert!(image_ref(bad).is_some(), "{bad}");
        }
        for ok in ["/healthz", "/status?full=1", "/a%20b"] {
            assert_eq!(health_path(ok), None, "{ok}");
        }
        for bad in ["healthz", "/a b", "/\"x\"", "/a\nb", "/{x}"] {
            assert!(health_path(bad).is_some(), "{bad}");
        }
        assert_eq!(tag_key("CostCenter"), None);
        assert_eq!(tag_value("team a/b=c+d@e:f_g.h-i"), None);
        assert!(tag_key("aws:x").is_some());
        assert!(tag_value("$(x)").is_some());
        assert!(tag_value("a\"b").is_some());
        assert!(display_name("ams\u{202E}x").is_some());
        assert!(display_name("a\nb").is_some());
        assert_eq!(cql_keyspace("app_ks"), None);
        assert!(cql_keyspace("system_auth").is_some());
        assert!(cql_keyspace("k\"; DROP").is_some());
        assert_eq!(k8s_subdomain("gp3"), None);
        assert!(k8s_subdomain("gp3\n  x: y").is_some());
        assert_eq!(email("ops@example.com"), None);
        assert!(email("ops@example").is_some());
        assert!(email("a b@example.com").is_some());
        assert_eq!(s3_key_prefix("sovereign/prod"), None);
        assert!(s3_key_prefix("../x").is_some());
        assert!(s3_key_prefix("a//b").is_some());
    }

    #[test]
    fn every_limit_is_reached_by_collect_or_names_its_rule() {
        let text = include_str!("../../../examples/global-sovereign.toml");
        let t = sovereign_spec::parse(text)
            .topology
            .expect("default parses");
        let found = collect(&t);
        for l in LIMITS {
            let reached = found.iter().any(|f| f.limit.key == l.key);
            assert!(
                reached || matches!(l.check, Check::Rule(_)),
                "`{}` is neither collected from the default topology nor checked by another rule",
                l.key
            );
        }
        assert!(
            found.iter().all(|f| problem(f).is_none()),
            "the default is within every limit"
        );
    }
}
