//! Names of AWS resources derived from the project and site ids.
//!
//! Render uses these to name things; check uses them to prove every name fits its service's
//! limits before anything reaches AWS.

/// A naming limit of one AWS service.
#[derive(Clone, Copy, Debug)]
pub struct NameRule {
    pub what: &'static str,
    pub max_len: usize,
    /// Lowercase letters, digits and hyphens only.
    pub lowercase_only: bool,
    /// Documentation of the limit.
    pub source: &'static str,
}

pub const EKS_CLUSTER: NameRule = NameRule {
    what: "EKS cluster name",
    max_len: 100,
    lowercase_only: false,
    source: "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html",
};

pub const RDS_CLUSTER: NameRule = NameRule {
    what: "RDS cluster identifier",
    max_len: 63,
    lowercase_only: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
};

pub const RDS_INSTANCE: NameRule = NameRule {
    what: "RDS instance identifier",
    max_len: 63,
    lowercase_only: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
};

pub const ELASTICACHE_GROUP: NameRule = NameRule {
    what: "ElastiCache replication group id",
    max_len: 40,
    lowercase_only: true,
    source: "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html",
};

pub const LOAD_BALANCER: NameRule = NameRule {
    what: "load balancer name",
    max_len: 32,
    lowercase_only: false,
    source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
};

pub const S3_BUCKET: NameRule = NameRule {
    what: "S3 bucket name",
    max_len: 63,
    lowercase_only: true,
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
};

pub fn eks_cluster(project: &str, site: &str) -> String {
    format!("{project}-{site}")
}

pub fn rds_global_cluster(project: &str) -> String {
    format!("{project}-global")
}

pub fn rds_cluster(project: &str, site: &str) -> String {
    format!("{project}-{site}")
}

/// The identifier of instance `index` (0-based) of a site's Aurora cluster.
pub fn rds_instance(project: &str, site: &str, index: u32) -> String {
    format!("{project}-{site}-{}", index + 1)
}

pub fn elasticache_group(project: &str, site: &str) -> String {
    format!("{project}-{site}")
}

pub fn load_balancer(project: &str, site: &str) -> String {
    format!("{project}-{site}")
}

/// The S3 bucket for a site's load balancer access logs.
/// The start of a site's access-log bucket name; the edge module appends the 12-digit account
/// id (S3 bucket names are global).
pub fn log_bucket(project: &str, site: &str) -> String {
    format!("{project}-{site}-logs")
}

/// The whole access-log bucket name, with a placeholder account id of the right length, for the
/// length check.
pub fn log_bucket_full(project: &str, site: &str) -> String {
    format!("{}-123456789012", log_bucket(project, site))
}

/// The replica of the state bucket, in the failover region.
pub fn state_replica_bucket(bucket: &str) -> String {
    format!("{bucket}-replica")
}

/// The S3 bucket Medusa backs Cassandra up to: the project, then the 12-digit account id (a
/// placeholder of that length here, for the length check).
pub fn medusa_bucket(project: &str) -> String {
    format!("{project}-medusa-123456789012")
}

/// Problems with `name` under `rule`, as short phrases; empty when the name is valid.
pub fn name_problems(name: &str, rule: &NameRule) -> Vec<String> {
    let mut out = Vec::new();
    let len = name.chars().count();
    if len > rule.max_len {
        out.push(format!(
            "is {len} characters, the limit is {}",
            rule.max_len
        ));
    }
    if name.is_empty() {
        out.push("is empty".into());
        return out;
    }
    let allowed = |c: char| {
        c.is_ascii_digit()
            || c == '-'
            || c.is_ascii_lowercase()
            || (!rule.lowercase_only && (c.is_ascii_uppercase() || c == '_'))
            || (rule.what == S3_BUCKET.what && c == '.')
    };
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        out.push(format!("contains `{bad}`"));
    }
    let first = name.chars().next().unwrap_or('-');
    if !(first.is_ascii_alphanumeric()) {
        out.push("must start with a letter or digit".into());
    } else if rule.lowercase_only && rule.what != S3_BUCKET.what && !first.is_ascii_alphabetic() {
        out.push("must start with a letter".into());
    }
    if name.ends_with('-') {
        out.push("must not end with a hyphen".into());
    }
    if rule.lowercase_only && name.contains("--") {
        out.push("must not contain two consecutive hyphens".into());
    }
    if rule.what == S3_BUCKET.what {
        if len < 3 {
            out.push("is shorter than 3 characters".into());
        }
        if name.contains("..") {
            out.push("must not contain two adjacent periods".into());
        }
        if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
            out.push("must not look like an IP address".into());
        }
        if name.starts_with("xn--") || name.starts_with("sthree-") {
            out.push("must not start with `xn--` or `sthree-`".into());
        }
        if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
            out.push("must not end with `-s3alias` or `--ol-s3`".into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        assert!(name_problems("global-sovereign-tfstate", &S3_BUCKET).is_empty());
        assert!(!name_problems("Global", &S3_BUCKET).is_empty());
        assert!(!name_problems("192.168.1.1", &S3_BUCKET).is_empty());
        assert!(!name_problems("ab", &S3_BUCKET).is_empty());
        assert!(!name_problems("a..b", &S3_BUCKET).is_empty());
    }

    #[test]
    fn elasticache_limit() {
        let fits = elasticache_group("a-very-long-project-name-for-sure", "ams");
        assert_eq!(fits.len(), 37);
        assert!(name_problems(&fits, &ELASTICACHE_GROUP).is_empty());
        let long = elasticache_group("a-very-long-project-name-for-sure-xyz", "ams");
        assert_eq!(
            name_problems(&long, &ELASTICACHE_GROUP),
            vec!["is 41 characters, the limit is 40".to_string()]
        );
    }

    #[test]
    fn rds_rules() {
        assert_eq!(
            name_problems("9abc--x-", &RDS_CLUSTER),
            vec![
                "must start with a letter".to_string(),
                "must not end with a hyphen".to_string(),
                "must not contain two consecutive hyphens".to_string()
            ]
        );
    }
}
