//! `custos audit …`: verify, export and publish the tamper-evident audit log
//! on the server's data directory. Reading the log is itself audited.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::Catalog;
use custos_format::UtcMillis;
use custos_server::audit as log;

use crate::keys::DataDir;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the Merkle tree over every entry and check it against the
    /// signed checkpoints; exits 1 naming the first bad entry.
    Verify {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        json: bool,
    },
    /// Entries with inclusion proofs against the newest signed checkpoint.
    Export(ExportArgs),
    /// Print the newest signed checkpoint (copy it off this machine).
    Checkpoint {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Json,
    Csv,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataDir,
    #[arg(long, value_enum, default_value = "json")]
    format: ExportFormat,
    /// First entry index.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Entry index to stop before (default: the newest checkpoint).
    #[arg(long)]
    to: Option<u64>,
}

struct Opened {
    catalog: std::sync::Arc<dyn Catalog>,
    signer: custos_audit::NoteSigner,
}

async fn open(data: &DataDir) -> Result<Opened> {
    if !data.data.join("keys/evidence.recipient").exists() {
        anyhow::bail!("{} is not a Custos data directory", data.data.display());
    }
    Ok(Opened {
        catalog: custos_server::storage::StorageConfig::resolve(&data.data, None, None)?
            .open_catalog(&data.data)
            .await?,
        signer: log::load_or_create_signer(&data.data)?,
    })
}

async fn record(o: &Opened, action: &str, outcome: Outcome, detail: String) -> Result<()> {
    let event = AuditEvent::new(UtcMillis::now(), "system:cli", action, outcome)
        .object("audit-log")
        .detail(detail);
    match log::append(&*o.catalog, &o.signer, vec![event]).await {
        Ok(_) => Ok(()),
        // The log must be checkable when the disk is full, when it matters
        // most: the check stands, and says it is not on record.
        Err(log::AuditError::Full(why)) => {
            eprintln!("({}: {why})", custos_server::admin::NOT_RECORDED);
            Ok(())
        }
        Err(e) => Err(e).context("recording this read in the audit log"),
    }
}

pub fn run(command: AuditCommand) -> Result<ExitCode> {
    crate::server::block_on(async move {
        match command {
            AuditCommand::Verify { data, json } => {
                let o = open(&data).await?;
                let verdict = log::verify_stored(&*o.catalog, &o.signer.verifier()).await?;
                match verdict {
                    Ok(v) => {
                        // The statistics' projection of the log must say
                        // what the log says.
                        let differences = o.catalog.statistics_projection_differences().await?;
                        if differences > 0 {
                            if json {
                                println!(
                                    "{}",
                                    serde_json::json!({
                                        "verified": false,
                                        "entries": v.size,
                                        "finding": "statistics projection differs from the log",
                                        "projection_differences": differences,
                                    })
                                );
                            }
                            eprintln!(
                                "STATISTICS PROJECTION DIFFERS FROM THE AUDIT LOG: {differences} access row(s) in footage_accesses that the log does not have, or the other way round (the log itself verified: {} entries)",
                                v.size
                            );
                            if let Err(e) = record(
                                &o,
                                "audit.verify",
                                Outcome::Failed,
                                format!("statistics projection: {differences} rows differ"),
                            )
                            .await
                            {
                                eprintln!("(this verification could not be recorded: {e:#})");
                            }
                            return Ok(ExitCode::from(1));
                        }
                        if json {
                            println!(
                                "{}",
                                serde_json::json!({
                                    "verified": true,
                                    "entries": v.size,
                                    "root": hex::encode(v.root),
                                    "checkpoints": v.checkpoints,
                                    "newest_checkpoint": v.latest,
                                })
                            );
                        } else {
                            println!(
                                "audit log verified: {} entries, {} signed checkpoints, root {}",
                                v.size,
                                v.checkpoints,
                                hex::encode(v.root)
                            );
                            if let Some(note) = &v.latest {
                                println!("newest checkpoint:\n{note}");
                            }
                        }
                        record(
                            &o,
                            "audit.verify",
                            Outcome::Ok,
                            format!("{} entries", v.size),
                        )
                        .await?;
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(t) => {
                        if json {
                            println!(
                                "{}",
                                serde_json::json!({
                                    "verified": false,
                                    "first_bad_entry": t.first_bad_entry(),
                                    "finding": t.to_string(),
                                })
                            );
                        }
                        eprintln!("AUDIT LOG TAMPERED: {t}");
                        if let Some(i) = t.first_bad_entry() {
                            eprintln!("first bad entry: {i}");
                        }
                        // A damaged log refuses new entries; say so, don't hide it.
                        if let Err(e) =
                            record(&o, "audit.verify", Outcome::Failed, t.to_string()).await
                        {
                            eprintln!("(this verification could not be recorded: {e:#})");
                        }
                        Ok(ExitCode::from(1))
                    }
                }
            }
            AuditCommand::Export(args) => {
                let o = open(&args.data).await?;
                // Recorded first, so the export proves its own entry.
                record(
                    &o,
                    "audit.export",
                    Outcome::Ok,
                    format!("from {}", args.from),
                )
                .await?;
                let export =
                    log::export(&*o.catalog, &o.signer.verifier(), args.from, args.to).await?;
                match args.format {
                    ExportFormat::Json => println!("{}", serde_json::to_string_pretty(&export)?),
                    ExportFormat::Csv => print_csv(&export)?,
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint { data } => {
                let o = open(&data).await?;
                let tip = o
                    .catalog
                    .audit_tip()
                    .await?
                    .context("the audit log is empty")?;
                print!("{}", tip.checkpoint.note);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// One row per entry; the proof and the checkpoint make each row checkable.
fn print_csv(export: &log::AuditExport) -> Result<()> {
    println!("{},inclusion_proof", custos_audit::csv::CSV_HEADER);
    for e in &export.entries {
        println!(
            "{},{}",
            custos_audit::csv::csv_row(e.entry.as_bytes())?,
            e.inclusion_proof.join(" ")
        );
    }
    eprintln!(
        "checkpoint (tree size {}):\n{}",
        export.tree_size, export.checkpoint
    );
    eprintln!("log key: {}", export.log_key);
    Ok(())
}
