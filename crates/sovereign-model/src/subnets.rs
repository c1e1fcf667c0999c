//! A site's subnet plan, as check cut it (see `sovereign_check::cidr`).

use ipnet::Ipv4Net;
use serde::Serialize;

/// The subnets of one availability zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneSubnets {
    pub az: String,
    pub public: Ipv4Net,
    pub private: Ipv4Net,
    pub database: Ipv4Net,
}

/// A site's subnet plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubnetPlan {
    pub vpc: Ipv4Net,
    pub zones: Vec<ZoneSubnets>,
}
