//! `budgets.tf`: AWS Budgets on the topology's thresholds, by the cost-allocation tags.

use super::*;

pub(super) fn budgets(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let Some(b) = &t.budgets else { return };
    let mut f = File::new(&cx.header(
        "Cost: AWS Budgets for the whole deployment and per site (by the `sovereign:site` tag, which must\nbe activated as a cost allocation tag), email alerts at each threshold, actual and forecast.",
    ));
    let budget = |label: &str, name: String, amount: f64, site: Option<&str>| {
        let mut blk = Block::new("resource", &["aws_budgets_budget", label])
            .attr("name", s(name))
            .attr("budget_type", s("COST"))
            .attr("limit_amount", s(format!("{amount:.2}")))
            .attr("limit_unit", s("USD"))
            .attr("time_unit", s("MONTHLY"));
        let mut filter = vec![format!("user:sovereign:project${}", cx.project())];
        if let Some(site) = site {
            filter = vec![format!("user:sovereign:site${site}")];
        }
        blk = blk.block(
            Block::new("cost_filter", &[])
                .attr("name", s("TagKeyValue"))
                .attr("values", strs(filter)),
        );
        for th in &b.alert_thresholds_percent {
            for kind in ["ACTUAL", "FORECASTED"] {
                blk = blk.block(
                    Block::new("notification", &[])
                        .attr("comparison_operator", s("GREATER_THAN"))
                        .attr("threshold", Expr::Num(*th))
                        .attr("threshold_type", s("PERCENTAGE"))
                        .attr("notification_type", s(kind))
                        .attr(
                            "subscriber_email_addresses",
                            strs(b.recipients.iter().cloned()),
                        ),
                );
            }
        }
        blk
    };
    f.add(budget(
        "total",
        format!("{}-total", cx.project()),
        b.monthly_total_usd,
        None,
    ));
    for (site, amount) in &b.per_site {
        f.add(budget(
            &format!("site_{site}"),
            format!("{}-{site}", cx.project()),
            *amount,
            Some(site),
        ));
    }
    tree.add("budgets.tf", f.render());
}
