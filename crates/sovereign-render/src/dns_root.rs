//! `dns/`: the public zone, DNSSEC signing and query logging, in a root of its own.
//!
//! The zone must exist and be delegated before the global root applies: the load balancers'
//! certificates validate through it, and `aws_acm_certificate_validation` waits until they do.
//! In one root with the certificates, that wait would run out before anyone could delegate.

use sovereign_check::ValidatedTopology;

use crate::global::{AWS_PROVIDER, aws_provider, tags_locals, terraform_block};
use crate::hcl::{Block, Expr, File, int, map, raw, s};
use crate::{Ctx, Tree};

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) {
    let t: &ValidatedTopology = cx.t;
    let Some(d) = &t.dns else { return };
    let mut f = File::new(&cx.header(&format!(
        "DNS root: the public zone {} (DNSSEC-signed, queries logged). Apply it after bootstrap, then\ndelegate the zone to its name servers and add its DS record at the parent before the global root:\nthe certificates validate through it.",
        d.zone
    )));
    f.add(terraform_block(
        cx,
        &[("aws", AWS_PROVIDER)],
        Some(&cx.state_key("dns")),
    ));
    f.add(aws_provider(&t.state.region));
    f.add(tags_locals(cx));
    f.add(
        Block::new("resource", &["aws_route53_zone", "public"])
            .attr("name", s(&d.zone))
            .attr(
                "comment",
                s(format!("{} ({})", cx.project(), t.project.environment)),
            ),
    );
    // DNSSEC: an asymmetric key in us-east-1, as Route 53 requires.
    f.add(Block::new("data", &["aws_caller_identity", "current"]));
    f.add(
        Block::new("resource", &["aws_kms_key", "dnssec"])
            .attr("region", s("us-east-1"))
            .attr("description", s(format!("DNSSEC signing key of {}", d.zone)))
            .attr("customer_master_key_spec", s("ECC_NIST_P256"))
            .attr("key_usage", s("SIGN_VERIFY"))
            .attr("deletion_window_in_days", int(30))
            .attr(
                "policy",
                raw(r#"jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "Route53DNSSEC"
        Effect    = "Allow"
        Principal = { Service = "dnssec-route53.amazonaws.com" }
        Action    = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
      {
        Sid       = "Route53DNSSECGrant"
        Effect    = "Allow"
        Principal = { Service = "dnssec-route53.amazonaws.com" }
        Action    = "kms:CreateGrant"
        Resource  = "*"
        Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
      },
    ]
  })"#),
            )
            .comment("checkov:skip=CKV_AWS_7:rotation is not available for asymmetric keys; Route 53 DNSSEC requires an ECC_NIST_P256 signing key"),
    );
    f.add(
        Block::new("resource", &["aws_route53_key_signing_key", "this"])
            .attr("hosted_zone_id", raw("aws_route53_zone.public.id"))
            .attr("key_management_service_arn", raw("aws_kms_key.dnssec.arn"))
            .attr("name", s("sovereign")),
    );
    f.add(
        Block::new("resource", &["aws_route53_hosted_zone_dnssec", "this"]).attr(
            "hosted_zone_id",
            raw("aws_route53_key_signing_key.this.hosted_zone_id"),
        ),
    );
    // Query logging: log groups for Route 53 live in us-east-1.
    f.add(
        Block::new("resource", &["aws_kms_key", "dns_logs"])
            .attr("region", s("us-east-1"))
            .attr("description", s(format!("query logs of {}", d.zone)))
            .attr("enable_key_rotation", Expr::Bool(true))
            .attr("deletion_window_in_days", int(30))
            .attr(
                "policy",
                raw(r#"jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.us-east-1.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
    ]
  })"#),
            ),
    );
    f.add(
        Block::new("resource", &["aws_cloudwatch_log_group", "dns_queries"])
            .attr("region", s("us-east-1"))
            .attr("name", s(format!("/aws/route53/{}", d.zone)))
            .attr("retention_in_days", int(365))
            .attr("kms_key_id", raw("aws_kms_key.dns_logs.arn")),
    );
    f.add(
        Block::new(
            "resource",
            &["aws_cloudwatch_log_resource_policy", "dns_queries"],
        )
        .attr("region", s("us-east-1"))
        .attr(
            "policy_name",
            s(format!("{}-route53-query-logs", cx.project())),
        )
        .attr(
            "policy_document",
            raw(r#"jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "route53.amazonaws.com" }
      Action    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource  = "${aws_cloudwatch_log_group.dns_queries.arn}:*"
    }]
  })"#),
        ),
    );
    f.add(
        Block::new("resource", &["aws_route53_query_log", "this"])
            .attr("zone_id", raw("aws_route53_zone.public.zone_id"))
            .attr(
                "cloudwatch_log_group_arn",
                raw("aws_cloudwatch_log_group.dns_queries.arn"),
            )
            .attr(
                "depends_on",
                raw("[aws_cloudwatch_log_resource_policy.dns_queries]"),
            ),
    );
    tree.add("dns/main.tf", f.render());

    let mut o = File::new(&cx.header("What the delegation needs, and what the global root reads."));
    o.add(
        Block::new("output", &["zone_id"])
            .attr(
                "description",
                s("Route 53 hosted zone id of the public zone."),
            )
            .attr("value", raw("aws_route53_zone.public.zone_id")),
    );
    o.add(
        Block::new("output", &["zone_name"])
            .attr("description", s("The public zone's name."))
            .attr("value", raw("aws_route53_zone.public.name")),
    );
    o.add(
        Block::new("output", &["name_servers"])
            .attr("description", s("Delegate the zone to these name servers at its parent (NS records), before the global root applies."))
            .attr("value", raw("aws_route53_zone.public.name_servers")),
    );
    o.add(
        Block::new("output", &["delegation"])
            .attr("description", s("The records to add at the parent zone: NS for the delegation, DS for the DNSSEC chain of trust."))
            .attr(
                "value",
                map([
                    ("ns", raw("aws_route53_zone.public.name_servers")),
                    ("ds", raw("aws_route53_key_signing_key.this.ds_record")),
                ]),
            ),
    );
    tree.add("dns/outputs.tf", o.render());
}
