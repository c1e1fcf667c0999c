//! `bootstrap/`: the state bucket, applied first with local state.

use crate::global::{AWS_PROVIDER, aws_provider, tags_locals, terraform_block};
use crate::hcl::{Block, Expr, File, raw, s};
use crate::{Ctx, Tree};
use sovereign_check::analysis::survivability::{self, Loss};

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) {
    let mut f = File::new(&cx.header(
        "Bootstrap root: the S3 bucket every other root keeps its state in. Local state: apply it first,\nonce, and keep terraform.tfstate of this directory safe.",
    ));
    f.add(terraform_block(cx, &[("aws", AWS_PROVIDER)], None));
    f.add(aws_provider(&cx.t.state.region));
    f.add(tags_locals(cx));
    let replica = replica_region(cx);
    f.add(
        Block::new("module", &["state_bucket"])
            .attr("source", s("../modules/state-bucket"))
            .attr("bucket", s(&cx.t.state.bucket))
            .attr("region", s(&cx.t.state.region))
            .attr("replica_region", replica.as_deref().map_or(Expr::Null, s)),
    );
    f.add(
        Block::new("output", &["state_bucket"])
            .attr(
                "description",
                s("Bucket that holds the state of every other root."),
            )
            .attr("value", raw("module.state_bucket.bucket")),
    );
    f.add(
        Block::new("output", &["state_replica_bucket"])
            .attr(
                "description",
                s("The state's replica in the failover region: the break-glass copy (terraform/README.md)."),
            )
            .attr("value", raw("module.state_bucket.replica_bucket")),
    );
    tree.add("bootstrap/main.tf", f.render());
}

/// Where the state is replicated: the region the deployment fails over to when the state's
/// region is lost (the site `plan --lose` promotes), else the first other AWS region; none when
/// there is no other region.
pub(crate) fn replica_region(cx: &Ctx) -> Option<String> {
    let t = cx.t;
    let home = &t.state.region;
    let region_of = |id: &str| {
        t.find_site(id)
            .and_then(|s| s.aws.as_ref())
            .map(|a| a.region.clone())
    };
    let lost = t
        .sites
        .iter()
        .find(|s| s.aws.as_ref().is_some_and(|a| &a.region == home));
    if let (Some(_), Some(lost)) = (&t.postgres, lost) {
        let a = survivability::assumptions(t, cx.catalog);
        let sc = survivability::scenario(
            t,
            cx.catalog,
            &a,
            Loss::Site {
                site: lost.id.to_string(),
            },
        );
        if let Some(r) = sc
            .postgres
            .and_then(|w| w.primary)
            .and_then(|p| region_of(&p))
            .filter(|r| r != home)
        {
            return Some(r);
        }
    }
    t.sites
        .iter()
        .filter_map(|s| s.aws.as_ref().map(|a| a.region.clone()))
        .find(|r| r != home)
}
