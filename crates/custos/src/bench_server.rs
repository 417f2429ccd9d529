//! Benchmarks of the evidence server's bookkeeping: P4 (audit appends with
//! group commit, `audit verify` of a million entries) and P5 (a retention
//! sweep of 10,000 due recordings among a million).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::{Catalog, Recording};
use custos_catalog_sqlite::SqliteCatalog;
use custos_format::UtcMillis;
use custos_server::audit::{self, AuditLog};

fn workdir(dir: Option<std::path::PathBuf>) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let tmp = match dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let path = tmp.path().to_owned();
    std::fs::create_dir_all(path.join("keys"))?;
    Ok((tmp, path))
}

fn event(i: u64) -> AuditEvent {
    AuditEvent::new(
        UtcMillis::now(),
        format!("user:reviewer{}", i % 7),
        "recording.play",
        Outcome::Ok,
    )
    .role("reviewer")
    .object(format!("recording:0190f0c4-0000-7000-8000-{i:012}"))
    .purpose("complaint", "case-2026-0042")
    .client("10.0.0.7")
    .detail("bytes 0-1048575 of 734003200")
}

/// P4.
pub fn audit_appends(
    entries: u64,
    writers: usize,
    verify: u64,
    dir: Option<std::path::PathBuf>,
) -> Result<std::process::ExitCode> {
    let (_tmp, data) = workdir(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let catalog: Arc<dyn Catalog> = Arc::new(SqliteCatalog::open(&data).await?);
        let signer = audit::load_or_create_signer(&data)?;
        let verifier = signer.verifier();
        let log = AuditLog::start(catalog.clone(), signer);
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (log, next) = (log.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= entries {
                        return anyhow::Ok(());
                    }
                    log.record(event(i)).await?;
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        let elapsed = started.elapsed();
        let batches = catalog.audit_checkpoints().await?.len();
        println!(
            "P4 audit appends: {entries} durable entries from {writers} concurrent writers in {:.2} s = {:.0} entries/s ({batches} group commits, {:.0} entries each; goal ≥ 10,000/s)",
            elapsed.as_secs_f64(),
            entries as f64 / elapsed.as_secs_f64(),
            entries as f64 / batches as f64
        );
        // Grow the log to `verify` entries in large batches, then verify it all.
        let signer = audit::load_or_create_signer(&data)?;
        let mut have = entries;
        while have < verify {
            let n = (verify - have).min(4096);
            audit::append(&*catalog, &signer, (have..have + n).map(event).collect()).await?;
            have += n;
        }
        let started = Instant::now();
        let verdict = audit::verify_stored(&*catalog, &verifier).await?;
        let elapsed = started.elapsed();
        let v = verdict.map_err(|t| anyhow::anyhow!("benchmark log does not verify: {t}"))?;
        println!(
            "P4 audit verify: {} entries, {} checkpoints in {:.2} s (goal ≤ 5 s)",
            v.size,
            v.checkpoints,
            elapsed.as_secs_f64()
        );
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// P5.
pub fn sweep(
    rows: u64,
    due: u64,
    dir: Option<std::path::PathBuf>,
) -> Result<std::process::ExitCode> {
    let (_tmp, data) = workdir(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let sqlite = SqliteCatalog::open(&data).await?;
        let now = UtcMillis::now();
        let blobs = custos_blobs::BlobStore::local(&data.join("blobs"))?;
        for c in 0..200 {
            sqlite
                .add_device(&custos_catalog::Device {
                    device_id: format!("cam-{c}"),
                    public_key: "00".repeat(32),
                    enrolled_at: now,
                    revoked_at: None,
                })
                .await?;
        }
        let started = Instant::now();
        let mut batch = Vec::with_capacity(50_000);
        for i in 0..rows {
            // The first `due` are past their time; the rest are not.
            let delete_after = if i < due { now.plus_millis(-1000 - i as i64) } else { now.plus_millis(86_400_000 + i as i64) };
            let blob_key = format!("cam-{}/{:08}.age", i % 200, i);
            if i < due {
                let path = data.join("blobs").join(&blob_key);
                std::fs::create_dir_all(path.parent().expect("in a camera dir"))?;
                std::fs::write(&path, [0u8; 1024])?;
            }
            batch.push(Recording {
                recording_id: uuid::Uuid::now_v7(),
                device_id: format!("cam-{}", i % 200),
                sequence: i / 200 + 1,
                officer_id: Some("boa-1".into()),
                started_at: now.plus_millis(-100_000),
                ended_at: now.plus_millis(-40_000),
                truncated: false,
                ciphertext_sha256: [1; 32],
                ciphertext_length: 1024,
                manifest: b"{}".to_vec(),
                manifest_signature: vec![0; 64],
                manifest_sha256: [2; 32],
                blob_key,
                stored_at: now,
                receipt: b"{}".to_vec(),
                receipt_signature: vec![0; 64],
                delete_after,
                age_header: vec![7; 200],
            });
            if batch.len() == 50_000 {
                sqlite.import_recordings(&batch).await?;
                batch.clear();
            }
        }
        sqlite.import_recordings(&batch).await?;
        eprintln!("catalog of {rows} recordings built in {:.1} s", started.elapsed().as_secs_f64());
        let plan = sqlite.due_query_plan().await?;
        let catalog: Arc<dyn Catalog> = Arc::new(sqlite);
        let signer = Arc::new(audit::load_or_create_signer(&data)?);
        let sink = custos_server::retention::AuditSink::Direct { catalog: catalog.clone(), signer };
        let started = Instant::now();
        let report = custos_server::retention::sweep(&*catalog, &blobs, &sink, now).await?;
        let elapsed = started.elapsed();
        println!(
            "P5 sweep: {} of {rows} recordings deleted (keys, blobs, tombstones, audit entries) in {:.2} s (goal ≤ 30 s)",
            report.deleted,
            elapsed.as_secs_f64()
        );
        println!("P5 query plan: {}", plan.join(" / "));
        anyhow::ensure!(report.deleted == due, "expected {due} deletions");
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
