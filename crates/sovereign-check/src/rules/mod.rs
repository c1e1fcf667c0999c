//! One file per rule, each with its documentation in the `.md` file beside it.
//!
//! A rule reads the [`Ctx`] and pushes findings; it never fails and never panics. Rules skip
//! references to unknown sites (SOV013 reports those once) so one typo gives one finding.

use sovereign_spec::{Diagnostic, RuleInfo};

use crate::context::Ctx;

pub mod aurora_instance_class;
pub mod aurora_instance_count;
pub mod aurora_region_reused;
pub mod az_not_in_region;
pub mod backup_retention;
pub mod budget_recipients;
pub mod budget_split;
pub mod budget_thresholds;
pub mod cache_node_type;
pub mod cassandra_dc_not_peered;
pub mod cassandra_placement;
pub mod cassandra_version;
pub mod cidr_host_bits;
pub mod cidr_not_private;
pub mod cidr_too_small;
pub mod control_plane_hosts_dc;
pub mod derived_name_invalid;
pub mod dns_settings;
pub mod duplicate_az;
pub mod duplicate_site_id;
pub mod eks_version;
pub mod global_datastore_node_type;
pub mod global_datastore_secondaries;
pub mod global_db_unconfirmed;
pub mod health_check_site;
pub mod instance_type_availability;
pub mod invalid_bucket_name;
pub mod invalid_project_name;
pub mod invalid_site_id;
pub mod logical_replica_link;
pub mod malformed_cidr;
pub mod monitoring_site;
pub mod node_group_bounds;
pub mod opt_in_region;
pub mod overlapping_cidrs;
pub mod postgres_roles;
pub mod postgres_version;
pub mod public_endpoint_open;
pub mod rf_below_three;
pub mod rf_exceeds_nodes;
pub mod scaling_intent;
pub mod service_needs_aws;
pub mod service_needs_fly;
pub mod site_without_provider;
pub mod spot_not_diversified;
pub mod too_few_azs;
pub mod too_many_aurora_secondaries;
pub mod too_many_azs;
pub mod unknown_aws_region;
pub mod unknown_fly_region;
pub mod unknown_site;
pub mod usage_values;

/// A domain rule: its description and the function that runs it.
pub struct Rule {
    pub info: RuleInfo,
    pub run: fn(&Ctx, &mut Vec<Diagnostic>),
}

/// Every domain rule, in code order.
pub static RULES: &[Rule] = &[
    Rule {
        info: aurora_instance_class::INFO,
        run: aurora_instance_class::run,
    },
    Rule {
        info: aurora_instance_count::INFO,
        run: aurora_instance_count::run,
    },
    Rule {
        info: aurora_region_reused::INFO,
        run: aurora_region_reused::run,
    },
    Rule {
        info: az_not_in_region::INFO,
        run: az_not_in_region::run,
    },
    Rule {
        info: backup_retention::INFO,
        run: backup_retention::run,
    },
    Rule {
        info: budget_recipients::INFO,
        run: budget_recipients::run,
    },
    Rule {
        info: budget_split::INFO,
        run: budget_split::run,
    },
    Rule {
        info: budget_thresholds::INFO,
        run: budget_thresholds::run,
    },
    Rule {
        info: cache_node_type::INFO,
        run: cache_node_type::run,
    },
    Rule {
        info: cassandra_dc_not_peered::INFO,
        run: cassandra_dc_not_peered::run,
    },
    Rule {
        info: cassandra_placement::INFO,
        run: cassandra_placement::run,
    },
    Rule {
        info: cassandra_version::INFO,
        run: cassandra_version::run,
    },
    Rule {
        info: cidr_host_bits::INFO,
        run: cidr_host_bits::run,
    },
    Rule {
        info: cidr_not_private::INFO,
        run: cidr_not_private::run,
    },
    Rule {
        info: cidr_too_small::INFO,
        run: cidr_too_small::run,
    },
    Rule {
        info: control_plane_hosts_dc::INFO,
        run: control_plane_hosts_dc::run,
    },
    Rule {
        info: derived_name_invalid::INFO,
        run: derived_name_invalid::run,
    },
    Rule {
        info: dns_settings::INFO,
        run: dns_settings::run,
    },
    Rule {
        info: duplicate_az::INFO,
        run: duplicate_az::run,
    },
    Rule {
        info: duplicate_site_id::INFO,
        run: duplicate_site_id::run,
    },
    Rule {
        info: eks_version::INFO,
        run: eks_version::run,
    },
    Rule {
        info: global_datastore_node_type::INFO,
        run: global_datastore_node_type::run,
    },
    Rule {
        info: global_datastore_secondaries::INFO,
        run: global_datastore_secondaries::run,
    },
    Rule {
        info: global_db_unconfirmed::INFO,
        run: global_db_unconfirmed::run,
    },
    Rule {
        info: health_check_site::INFO,
        run: health_check_site::run,
    },
    Rule {
        info: instance_type_availability::INFO,
        run: instance_type_availability::run,
    },
    Rule {
        info: invalid_bucket_name::INFO,
        run: invalid_bucket_name::run,
    },
    Rule {
        info: invalid_project_name::INFO,
        run: invalid_project_name::run,
    },
    Rule {
        info: invalid_site_id::INFO,
        run: invalid_site_id::run,
    },
    Rule {
        info: logical_replica_link::INFO,
        run: logical_replica_link::run,
    },
    Rule {
        info: malformed_cidr::INFO,
        run: malformed_cidr::run,
    },
    Rule {
        info: monitoring_site::INFO,
        run: monitoring_site::run,
    },
    Rule {
        info: node_group_bounds::INFO,
        run: node_group_bounds::run,
    },
    Rule {
        info: opt_in_region::INFO,
        run: opt_in_region::run,
    },
    Rule {
        info: overlapping_cidrs::INFO,
        run: overlapping_cidrs::run,
    },
    Rule {
        info: postgres_roles::INFO,
        run: postgres_roles::run,
    },
    Rule {
        info: postgres_version::INFO,
        run: postgres_version::run,
    },
    Rule {
        info: public_endpoint_open::INFO,
        run: public_endpoint_open::run,
    },
    Rule {
        info: rf_below_three::INFO,
        run: rf_below_three::run,
    },
    Rule {
        info: rf_exceeds_nodes::INFO,
        run: rf_exceeds_nodes::run,
    },
    Rule {
        info: scaling_intent::INFO,
        run: scaling_intent::run,
    },
    Rule {
        info: service_needs_aws::INFO,
        run: service_needs_aws::run,
    },
    Rule {
        info: service_needs_fly::INFO,
        run: service_needs_fly::run,
    },
    Rule {
        info: site_without_provider::INFO,
        run: site_without_provider::run,
    },
    Rule {
        info: spot_not_diversified::INFO,
        run: spot_not_diversified::run,
    },
    Rule {
        info: too_few_azs::INFO,
        run: too_few_azs::run,
    },
    Rule {
        info: too_many_aurora_secondaries::INFO,
        run: too_many_aurora_secondaries::run,
    },
    Rule {
        info: too_many_azs::INFO,
        run: too_many_azs::run,
    },
    Rule {
        info: unknown_aws_region::INFO,
        run: unknown_aws_region::run,
    },
    Rule {
        info: unknown_fly_region::INFO,
        run: unknown_fly_region::run,
    },
    Rule {
        info: unknown_site::INFO,
        run: unknown_site::run,
    },
    Rule {
        info: usage_values::INFO,
        run: usage_values::run,
    },
];
