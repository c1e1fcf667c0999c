//! One file per rule, each with its documentation in the `.md` file beside it.
//!
//! A rule reads the [`Ctx`] and pushes findings; it never fails and never panics. Rules skip
//! references to unknown sites (SOV013 reports those once) so one typo gives one finding.

use sovereign_spec::{Diagnostic, RuleInfo};

use crate::context::Ctx;

/// A domain rule: its description and the function that runs it.
pub struct Rule {
    pub info: RuleInfo,
    pub run: fn(&Ctx, &mut Vec<Diagnostic>),
}

/// Declares each rule's module and registers it in [`RULES`], from one list, so a rule cannot
/// exist without running.
macro_rules! rules {
    ($($m:ident),* $(,)?) => {
        $(pub mod $m;)*

        /// Every domain rule, in file-name order.
        pub static RULES: &[Rule] = &[$(Rule { info: $m::INFO, run: $m::run }),*];
    };
}

rules![
    aurora_instance_class,
    aurora_instance_count,
    aurora_region_reused,
    az_not_in_region,
    backup_retention,
    budget_recipients,
    budget_split,
    budget_thresholds,
    cache_node_type,
    cache_replicas,
    cassandra_dc_not_peered,
    cassandra_placement,
    cassandra_version,
    cidr_host_bits,
    cidr_not_private,
    cidr_too_small,
    control_plane_hosts_dc,
    derived_name_invalid,
    dns_settings,
    duplicate_az,
    duplicate_site_id,
    eks_version,
    global_datastore_node_type,
    global_datastore_secondaries,
    global_db_unconfirmed,
    health_check_site,
    instance_type_availability,
    invalid_bucket_name,
    invalid_name,
    invalid_project_name,
    invalid_site_id,
    logical_replica_link,
    malformed_cidr,
    mixed_architectures,
    monitoring_site,
    node_group_bounds,
    opt_in_region,
    overlapping_cidrs,
    peering_mesh_size,
    postgres_roles,
    postgres_version,
    public_endpoint_open,
    rf_below_three,
    redis_primary_regional,
    rf_exceeds_nodes,
    scaling_intent,
    service_needs_aws,
    service_needs_fly,
    site_without_provider,
    spot_not_diversified,
    too_few_azs,
    too_many_aurora_secondaries,
    too_many_azs,
    unknown_aws_region,
    unknown_fly_region,
    unknown_fly_size,
    unknown_site,
    usage_values,
    value_out_of_range,
];
