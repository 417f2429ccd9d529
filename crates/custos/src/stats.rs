//! `custos stats`: the evaluation statistics on the server's data directory,
//! for scripts (`--json`, `--csv`) and for a quick look (a text table). The
//! same report as the web page and `GET /api/v1/statistics`, computed by the
//! same code from the same catalog; the reading is audited as `system:cli`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use custos_audit::{AuditEvent, Outcome};
use custos_format::UtcMillis;

use crate::keys::DataDir;

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    data: DataDir,
    /// First day counted (YYYY-MM-DD, UTC). Without `--from` and `--to`: the
    /// last 12 weeks.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last day counted (YYYY-MM-DD, UTC), at most 400 days after `--from`.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Only recordings made in this team or district.
    #[arg(long)]
    team: Option<String>,
    /// Only this camera's recordings.
    #[arg(long)]
    camera: Option<String>,
    /// Counts from 1 to this minus one are shown as "<N" (1: all shown).
    #[arg(long, default_value_t = custos_stats::DEFAULT_K, value_parser = clap::value_parser!(u64).range(1..=100))]
    min_count: u64,
    /// The report as JSON (numbers; "<5" where suppressed; null where empty).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// One line per number: table,row,column,value.
    #[arg(long)]
    csv: bool,
}

pub fn run(args: StatsArgs) -> Result<ExitCode> {
    let period = match (&args.from, &args.to) {
        (Some(from), Some(to)) => custos_stats::Period::parse(from, to)?,
        _ => custos_stats::Period::ending(UtcMillis::now(), 84),
    };
    for (name, value) in [("--team", &args.team), ("--camera", &args.camera)] {
        if let Some(v) = value {
            custos_format::manifest::check_identifier(v)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        }
    }
    crate::server::block_on(async move {
        let data = &args.data.data;
        if !data.join("keys/evidence.recipient").exists() {
            anyhow::bail!("{} is not a Custos data directory", data.display());
        }
        let catalog = custos_server::storage::StorageConfig::resolve(data, None, None)?
            .open_catalog(data)
            .await?;
        let signer = custos_server::audit::load_or_create_signer(data)?;
        let mut query = period.query();
        query.team = args.team.clone();
        query.device_id = args.camera.clone();
        let scope = custos_stats::Scope {
            team: args.team.clone(),
            device_id: args.camera.clone(),
            officer_id: None,
        };
        // Audited before anything is read, as the API does.
        let event = AuditEvent::new(
            UtcMillis::now(),
            "system:cli",
            "statistics.read",
            Outcome::Ok,
        )
        .object("statistics")
        .detail(custos_server::statistics::reading_detail(&period, &scope));
        custos_server::audit::append(&*catalog, &signer, vec![event])
            .await
            .context("recording this reading in the audit log")?;
        let sources = catalog.statistics(&query).await?;
        let report = custos_stats::build(period, scope, args.min_count, &sources);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else if args.csv {
            print!("{}", report.csv());
        } else {
            print!("{}", text(&report));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Each table with its rows, the weeks across (a year is wide: a terminal
/// scrolls, a script takes `--csv`).
fn text(report: &custos_stats::Report) -> String {
    let mut out = format!(
        "Custos statistics {} to {} (counts below {} suppressed)\n",
        report.period.from, report.period.to, report.k
    );
    for t in &report.tables {
        out.push_str(&format!("\n{}\n", t.id));
        let width = t.rows.iter().map(|r| r.key.len()).max().unwrap_or(0).max(8);
        out.push_str(&format!("{:width$}", ""));
        for c in &t.columns {
            out.push_str(&format!(" {:>9}", c.trim_start_matches("20")));
        }
        out.push('\n');
        for r in &t.rows {
            out.push_str(&format!("{:width$}", r.key));
            for c in &r.cells {
                out.push_str(&format!(" {:>9}", c.text()));
            }
            out.push('\n');
        }
    }
    out
}
