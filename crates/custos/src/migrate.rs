//! `custos migrate`: moves a deployment from SQLite and local files to
//! PostgreSQL and an S3-compatible store. Resumable (what is already there
//! is kept), verified (every table compared row by row, every blob read
//! back and hashed, the audit log recomputed against its checkpoints), and
//! then the data directory names the new storage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_server::storage::{S3Settings, StorageConfig, CONFIG_FILE};
use sha2::{Digest, Sha256};

use crate::keys::DataDir;

#[derive(Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    data: DataDir,
    /// The PostgreSQL catalog to move to: postgres://user@host/db.
    #[arg(long)]
    to_database: String,
    /// The S3-compatible store to move blobs to: s3://bucket/prefix
    /// (credentials from AWS_*).
    #[arg(long)]
    to_blobs: String,
    #[arg(long)]
    s3_endpoint: Option<String>,
    #[arg(long)]
    s3_region: Option<String>,
}

pub fn run(args: MigrateArgs) -> Result<ExitCode> {
    crate::server::block_on(migrate(args))
}

/// Files under `root`, as blob keys (`cam-1/00000001-….age`), sorted.
fn blob_files(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let key = path
                    .strip_prefix(root)?
                    .to_str()
                    .context("a blob name that is not UTF-8")?
                    .to_owned();
                out.push((key, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

async fn stored_sha256(blobs: &custos_blobs::BlobStore, key: &str, size: u64) -> Result<[u8; 32]> {
    let mut digest = Sha256::new();
    let mut at = 0;
    while at < size {
        let end = (at + 8 * 1024 * 1024).min(size);
        digest.update(blobs.get_range(key, at..end).await?);
        at = end;
    }
    Ok(digest.finalize().into())
}

fn file_sha256(path: &Path) -> Result<[u8; 32]> {
    let mut digest = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut digest)?;
    Ok(digest.finalize().into())
}

fn bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{what:>9} [{{bar:30}}] {{pos}}/{{len}} {{msg}}"
    )) {
        bar.set_style(style);
    }
    bar
}

async fn migrate(args: MigrateArgs) -> Result<ExitCode> {
    let data = &args.data.data;
    if !data.join("keys/evidence.recipient").exists() {
        bail!("{} is not a Custos data directory", data.display());
    }
    let current = StorageConfig::resolve(data, None, None)?;
    if current.database.is_some() || current.blobs.is_some() {
        bail!(
            "{} already names {} storage; migrate moves SQLite + local files",
            data.display(),
            current.describe()
        );
    }
    let target = StorageConfig {
        database: Some(args.to_database.clone()),
        blobs: Some(args.to_blobs.clone()),
        s3: S3Settings {
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            ..Default::default()
        },
    };
    eprintln!(
        "Moving {} from SQLite + local files to PostgreSQL + S3.",
        data.display()
    );
    eprintln!("Stop `custos serve` on this deployment first: what it writes meanwhile would not be moved.");

    // 1. The catalog, table by table, then compared row by row.
    let source = custos_catalog_postgres::import::open_sqlite(data).await?;
    let catalog = custos_catalog_postgres::connect(&args.to_database)
        .await
        .context("connecting to the PostgreSQL catalog")?;
    let progress = bar(
        custos_catalog_postgres::import::TABLES.len() as u64,
        "catalog",
    );
    let reports =
        custos_catalog_postgres::import::import_sqlite(&catalog, &source, &|table, done, total| {
            progress.set_message(format!("{table} {done}/{total}"));
        })
        .await?;
    progress.finish_and_clear();
    for r in &reports {
        if r.rows > 0 {
            eprintln!(
                "  {:<18} {:>8} row(s){}",
                r.table,
                r.rows,
                if r.already > 0 {
                    format!(" ({} were there already)", r.already)
                } else {
                    String::new()
                }
            );
        }
    }
    custos_catalog_postgres::import::compare_with_sqlite(&catalog, &source)
        .await
        .context("the PostgreSQL catalog differs from the SQLite one")?;
    eprintln!("catalog: every table compared row by row: identical");
    // Fresh statistics for the planner, as autovacuum would make in time.
    custos_catalog_postgres::vacuum_analyze(&catalog).await?;

    // 2. The blobs, each read back and hashed.
    let blobs = target.open_blobs(data)?;
    let files = blob_files(&data.join("blobs"))?;
    let progress = bar(files.len() as u64, "blobs");
    let (mut copied, mut present) = (0u64, 0u64);
    for (key, path) in &files {
        let size = std::fs::metadata(path)?.len();
        let local = file_sha256(path)?;
        let there = blobs.size(key).await?;
        if there != Some(size) || stored_sha256(&blobs, key, size).await? != local {
            blobs.put_file(key, path).await?;
            copied += 1;
        } else {
            present += 1;
        }
        if stored_sha256(&blobs, key, size).await? != local {
            bail!("blob {key}: what the store holds does not hash like the local file");
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    eprintln!(
        "blobs: {} copied, {} there already; every one read back and SHA-256 compared",
        copied, present
    );

    // 3. The audit log, recomputed where it now lives.
    let verifier = custos_server::audit::load_verifier(data)?;
    match custos_server::audit::verify_stored(&catalog, &verifier).await? {
        Ok(log) => eprintln!(
            "audit log: {} entries and {} signed checkpoints verified in PostgreSQL",
            log.size, log.checkpoints
        ),
        Err(t) => bail!("the moved audit log does not verify: {t}"),
    }
    let signer = custos_server::audit::load_or_create_signer(data)?;
    custos_server::audit::append(
        &catalog,
        &signer,
        vec![custos_audit::AuditEvent::new(
            custos_format::UtcMillis::now(),
            "system:cli",
            "storage.migrate",
            custos_audit::Outcome::Ok,
        )
        .object("storage")
        .detail(format!(
            "sqlite + local files -> {}; {} blob(s)",
            target.describe(),
            files.len()
        ))],
    )
    .await?;

    // 4. From now on this data directory names the new storage.
    let mut toml = format!(
        "# Written by `custos migrate` on {}.\ndatabase = {:?}\nblobs = {:?}\n",
        custos_format::UtcMillis::now(),
        args.to_database,
        args.to_blobs
    );
    if args.s3_endpoint.is_some() || args.s3_region.is_some() {
        toml.push_str("[s3]\n");
        if let Some(e) = &args.s3_endpoint {
            toml.push_str(&format!("endpoint = {e:?}\n"));
        }
        if let Some(r) = &args.s3_region {
            toml.push_str(&format!("region = {r:?}\n"));
        }
    }
    let path = data.join(CONFIG_FILE);
    let staged = data.join(format!("{CONFIG_FILE}.new"));
    std::fs::write(&staged, toml)?;
    std::fs::File::open(&staged)?.sync_all()?;
    std::fs::rename(&staged, &path)?;
    eprintln!("{} now names the new storage.", path.display());
    eprintln!(
        "The SQLite catalog and local blobs are left as they were. Once `custos serve` runs on the new storage, delete {} and {}: the old catalog holds the keys of recordings that retention will delete, and would let them outlive their deletion.",
        data.join("catalog.sqlite*").display(),
        data.join("blobs").display()
    );
    Ok(ExitCode::SUCCESS)
}
