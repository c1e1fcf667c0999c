//! `bootstrap/`: the state bucket, applied first with local state.

use crate::global::{AWS_PROVIDER, aws_provider, tags_locals, terraform_block};
use crate::hcl::{Block, File, raw, s};
use crate::{Ctx, Tree};

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) {
    let mut f = File::new(&cx.header(
        "Bootstrap root: the S3 bucket every other root keeps its state in. Local state: apply it first,\nonce, and keep terraform.tfstate of this directory safe.",
    ));
    f.add(terraform_block(cx, &[("aws", AWS_PROVIDER)], None));
    f.add(aws_provider(&cx.t.state.region));
    f.add(tags_locals(cx));
    f.add(
        Block::new("module", &["state_bucket"])
            .attr("source", s("../modules/state-bucket"))
            .attr("bucket", s(&cx.t.state.bucket))
            .attr("region", s(&cx.t.state.region)),
    );
    f.add(
        Block::new("output", &["state_bucket"])
            .attr(
                "description",
                s("Bucket that holds the state of every other root."),
            )
            .attr("value", raw("module.state_bucket.bucket")),
    );
    tree.add("bootstrap/main.tf", f.render());
}
