//! Typed references to the global root's module calls. Each module kind is a type named after
//! the hand-written module it calls, built from a site id, and each of the module's outputs is a
//! method: a reference to an output the module does not declare does not compile, and the
//! module's label is written in one place. The judges check the other direction (every output
//! referenced exists) on the rendered tree.

use std::fmt;

use crate::hcl::Expr;

/// A reference to one output of one module call: an expression, or text to embed in a larger
/// expression (`format!("concat({}, ...)", r)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ref(String);

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Ref> for Expr {
    fn from(r: Ref) -> Expr {
        Expr::Raw(r.0)
    }
}

impl Ref {
    /// The `i`th element of a list output.
    pub(crate) fn index(&self, i: usize) -> Ref {
        Ref(format!("{}[{i}]", self.0))
    }
}

macro_rules! module_ref {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $dir:literal, [$($output:ident),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct $name<'a>(pub &'a str);

        #[allow(dead_code)]
        impl $name<'_> {
            /// The hand-written module it calls, under `modules/`.
            pub(crate) const MODULE: &'static str = $dir;
            /// Every output the type offers.
            pub(crate) const OUTPUTS: &'static [&'static str] = &[$(stringify!($output)),*];

            /// The module call's label: `<kind>_<site>`.
            pub(crate) fn label(&self) -> String {
                format!(concat!($prefix, "_{}"), self.0)
            }

            $(
                pub(crate) fn $output(&self) -> Ref {
                    Ref(format!(concat!("module.", $prefix, "_{}.", stringify!($output)), self.0))
                }
            )*
        }
    };
}

module_ref!(
    /// `module.network_<site>`: modules/region, the site's VPC.
    Network,
    "network",
    "region",
    [
        vpc_id,
        vpc_cidr,
        public_subnet_ids,
        private_subnet_ids,
        private_subnet_cidrs,
        database_subnet_ids,
        private_route_table_ids,
        database_route_table_id,
        kms_key_arn,
        nat_public_ips,
    ]
);

module_ref!(
    /// `module.eks_<site>`: modules/eks, the site's cluster.
    Eks,
    "eks",
    "eks",
    [
        cluster_name,
        cluster_endpoint,
        cluster_ca_certificate,
        cluster_security_group_id,
        node_role_arn,
        addons_after_nodes,
    ]
);

module_ref!(
    /// `module.edge_<site>`: modules/edge, the site's public load balancer.
    Edge,
    "edge",
    "edge",
    [
        dns_name,
        zone_id,
        arn,
        target_group_arn,
        domain_validation_options,
    ]
);

module_ref!(
    /// `module.database_<site>`: modules/database, the site's Aurora member.
    Database,
    "database",
    "database",
    [
        cluster_identifier,
        cluster_arn,
        writer_endpoint,
        reader_endpoint,
        port,
        security_group_id,
    ]
);

module_ref!(
    /// `module.cache_<site>`: modules/cache, the site's replication group.
    Cache,
    "cache",
    "cache",
    [
        replication_group_id,
        primary_endpoint,
        reader_endpoint,
        port,
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The outputs a hand-written module declares, read from its `outputs.tf`.
    fn declared(module: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("assets/modules/{module}/outputs.tf"));
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("output \""))
            .filter_map(|l| l.split('"').next())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_type_offers_exactly_its_modules_outputs() {
        for (module, offered) in [
            (Network::MODULE, Network::OUTPUTS),
            (Eks::MODULE, Eks::OUTPUTS),
            (Edge::MODULE, Edge::OUTPUTS),
            (Database::MODULE, Database::OUTPUTS),
            (Cache::MODULE, Cache::OUTPUTS),
        ] {
            let mut declared = declared(module);
            declared.sort();
            let mut offered: Vec<String> = offered.iter().map(|o| o.to_string()).collect();
            offered.sort();
            assert_eq!(offered, declared, "modules/{module}");
        }
    }

    #[test]
    fn references_name_the_module_call_and_the_output() {
        assert_eq!(Network("ams").label(), "network_ams");
        assert_eq!(
            Network("ams").vpc_id().to_string(),
            "module.network_ams.vpc_id"
        );
        assert_eq!(
            Network("iad").private_subnet_ids().index(1).to_string(),
            "module.network_iad.private_subnet_ids[1]"
        );
        assert_eq!(
            Expr::from(Database("syd").port()),
            Expr::Raw("module.database_syd.port".into())
        );
    }
}
