use std::path::PathBuf;

use sovereign_cost::{CostReport, PriceSource};

use crate::Format;
use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Report an exceeded budget but exit 0.
    #[arg(long)]
    pub budget_warn_only: bool,
}

/// Dollars with thousands separators: `$12,345.67`.
pub fn usd(cents: i64) -> String {
    let neg = cents < 0;
    let c = cents.unsigned_abs();
    let (d, r) = (c / 100, c % 100);
    let digits = d.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}${grouped}.{r:02}", if neg { "-" } else { "" })
}

/// A unit price with at most five decimals and no trailing zeros: `$0.0321`, `$62`.
fn unit_price(p: f64) -> String {
    let s = format!("{p:.5}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("${s}")
}

fn quantity(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        format!("{q:.1}")
    }
}

/// The human cost report.
pub fn human(name: &str, r: &CostReport, detailed: bool) -> String {
    let mut sources: Vec<PriceSource> = Vec::new();
    let mut index = |p: &PriceSource| -> usize {
        match sources.iter().position(|s| s == p) {
            Some(i) => i + 1,
            None => {
                sources.push(p.clone());
                sources.len()
            }
        }
    };
    let mut s = format!(
        "Monthly cost of {name} ({} hours a month, {})\n\n",
        r.hours_per_month, r.currency
    );
    if detailed {
        let rows: Vec<Vec<String>> = r
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.site.clone().unwrap_or_else(|| "(global)".into()),
                    l.component.to_string(),
                    format!("{}{}", l.description, if l.assumption { " *" } else { "" }),
                    format!("{} {}", quantity(l.quantity), l.unit),
                    unit_price(l.unit_price_usd),
                    usd(l.monthly_cents),
                    format!("[{}] {}", index(&l.price), l.price.status.as_str()),
                ]
            })
            .collect();
        s.push_str(&table(
            [
                "site",
                "component",
                "what",
                "quantity",
                "unit price",
                "monthly",
                "price",
            ],
            rows,
        ));
        s.push('\n');
    }
    let budget_of = |site: Option<&str>| r.budgets.iter().find(|b| b.site.as_deref() == site);
    let mut rows: Vec<Vec<String>> = r
        .site_cents
        .iter()
        .map(|(site, c)| {
            let b = budget_of(Some(site));
            vec![
                site.clone(),
                usd(*c),
                b.map(|b| usd(b.budget_cents)).unwrap_or_else(|| "-".into()),
                b.map(|b| {
                    format!(
                        "{}{}",
                        usd(b.margin_cents),
                        if b.exceeded { " EXCEEDED" } else { "" }
                    )
                })
                .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    if r.global_cents != 0 {
        rows.push(vec![
            "(global)".into(),
            usd(r.global_cents),
            "-".into(),
            "-".into(),
        ]);
    }
    let tb = budget_of(None);
    rows.push(vec![
        "total".into(),
        usd(r.total_cents),
        tb.map(|b| usd(b.budget_cents))
            .unwrap_or_else(|| "-".into()),
        tb.map(|b| {
            format!(
                "{}{}",
                usd(b.margin_cents),
                if b.exceeded { " EXCEEDED" } else { "" }
            )
        })
        .unwrap_or_else(|| "-".into()),
    ]);
    s.push_str(&table(["site", "monthly", "budget", "margin"], rows));
    if r.spot_savings_cents > 0 {
        s.push_str(&format!(
            "\nSpot saves {} a month against the same nodes on demand.\n",
            usd(r.spot_savings_cents)
        ));
    }
    if detailed {
        s.push_str(
            "\n* usage assumption from [usage] (defaults in docs/topology.md)\n\nPrice sources:\n",
        );
        for (i, p) in sources.iter().enumerate() {
            s.push_str(&format!(
                "  [{}] {} ({}, as of {})\n",
                i + 1,
                p.source,
                p.status.as_str(),
                p.as_of
            ));
        }
        s.push_str("\nNot priced (deployed, not in the model):\n");
        for n in &r.not_priced {
            s.push_str(&format!("  - {n}\n"));
        }
    }
    if !r.missing.is_empty() {
        s.push_str("\nMissing prices (the totals above leave these out):\n");
        for m in &r.missing {
            s.push_str(&format!("  - {m}\n"));
        }
    }
    s
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let loaded = crate::input::load(args.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!(
            "cannot estimate: {}",
            summary(&loaded.source, diags)
        ));
        return Ok(Exit::Findings);
    };
    let report = match sovereign_cost::estimate(topology, sovereign_catalog::Catalog::builtin()) {
        Ok(r) => r,
        Err(e) => {
            out.error(&format!("cannot estimate: {e}"));
            return Ok(Exit::Findings);
        }
    };
    match args.format {
        Format::Json => out.print(&format!("{}\n", crate::commands::to_json(&report)?)),
        Format::Human => out.print(&human(&topology.project.name, &report, true)),
    }
    for m in &report.missing {
        out.error(&m.to_string());
    }
    for b in report.budgets.iter().filter(|b| b.exceeded) {
        let what = b
            .site
            .as_ref()
            .map(|s| format!("budget of `{s}`"))
            .unwrap_or_else(|| "total budget".into());
        let msg = format!(
            "{what} exceeded: estimate {} against {}",
            usd(b.estimate_cents),
            usd(b.budget_cents)
        );
        if args.budget_warn_only {
            out.status(&format!("warning: {msg}"));
        } else {
            out.error(&msg);
        }
    }
    let failed = !report.missing.is_empty() || (report.exceeded() && !args.budget_warn_only);
    Ok(if failed { Exit::Findings } else { Exit::Ok })
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn formats_money() {
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(123456789), "$1,234,567.89");
        assert_eq!(usd(-5), "-$0.05");
        assert_eq!(usd(100000), "$1,000.00");
    }

    #[test]
    fn formats_unit_prices() {
        assert_eq!(super::unit_price(0.032100000000000004), "$0.0321");
        assert_eq!(super::unit_price(62.0), "$62");
        assert_eq!(super::unit_price(0.1), "$0.1");
    }
}
