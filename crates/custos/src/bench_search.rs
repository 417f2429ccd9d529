//! P6: the recordings list's searches over a large catalog, as the web UI
//! asks them (a page of 25 and the total), on SQLite or on PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use custos_catalog::{Catalog, Hold, Recording, RecordingQuery};
use custos_format::UtcMillis;

const CAMERAS: u64 = 200;
const OFFICERS: u64 = 400;
const DAY: i64 = 86_400_000;

fn recording(i: u64, now: UtcMillis, rows: u64) -> Recording {
    // Spread over the retention period (28 days), as a catalog the sweeper
    // keeps would be: a national force's month, newest last.
    let age = (rows - i) as i64 * 28 * DAY / rows as i64;
    let started = now.plus_millis(-age);
    Recording {
        recording_id: uuid::Uuid::now_v7(),
        device_id: format!("cam-{}", i % CAMERAS),
        sequence: i / CAMERAS + 1,
        officer_id: Some(format!("boa-{}", (i * 7) % OFFICERS)),
        started_at: started,
        ended_at: started.plus_millis(60_000 + (i % 600) as i64 * 1000),
        truncated: i.is_multiple_of(997),
        stored_at: started,
        delete_after: started.plus_millis(28 * DAY),
        retention_category: custos_catalog::STANDARD_CATEGORY.into(),
        provenance: custos_catalog::Provenance::Camera(custos_catalog::CameraRecording {
            ciphertext_sha256: [1; 32],
            ciphertext_length: 1 << 20,
            manifest: b"{}".to_vec(),
            manifest_signature: vec![0; 64],
            manifest_sha256: [2; 32],
            blob_key: format!("cam-{}/{:08}.age", i % CAMERAS, i),
            receipt: b"{}".to_vec(),
            receipt_signature: vec![0; 64],
            age_header: vec![7; 200],
        }),
    }
}

/// The n-th search of a kind.
type SearchOf = Box<dyn Fn(usize) -> RecordingQuery>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn search(
    rows: u64,
    queries: usize,
    database: Option<String>,
    dir: Option<std::path::PathBuf>,
) -> Result<std::process::ExitCode> {
    let (_tmp, data) = crate::bench_server::workdir(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let now = UtcMillis::now();
        let started = Instant::now();
        let mut batch = Vec::with_capacity(50_000);
        let (catalog, backend): (Arc<dyn Catalog>, &str) = match &database {
            None => (
                Arc::new(custos_catalog_sqlite::open(&data).await?),
                "sqlite",
            ),
            Some(url) => (
                Arc::new(
                    custos_catalog_postgres::connect_in_schema(
                        url,
                        &format!("bench_search_{}", std::process::id()),
                    )
                    .await?,
                ),
                "postgres",
            ),
        };
        for c in 0..CAMERAS {
            catalog
                .add_device(&custos_catalog::Device {
                    device_id: format!("cam-{c}"),
                    public_key: "00".repeat(32),
                    enrolled_at: now,
                    revoked_at: None,
                    retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                    assigned_officer: None,
                    team: None,
                    kind: custos_catalog::DeviceKind::Custos,
                })
                .await?;
        }
        // Imports go through each backend's bulk path.
        let sqlite = custos_catalog_sqlite::open(&data).await?;
        let postgres = match &database {
            Some(url) => Some(
                custos_catalog_postgres::connect_in_schema(
                    url,
                    &format!("bench_search_{}", std::process::id()),
                )
                .await?,
            ),
            None => None,
        };
        let mut held = Vec::new();
        for i in 0..rows {
            let r = recording(i, now, rows);
            if i % 5_000 == 0 {
                held.push(r.recording_id);
            }
            batch.push(r);
            if batch.len() == 50_000 || i + 1 == rows {
                match &postgres {
                    Some(pg) => pg.import_recordings(&batch).await?,
                    None => sqlite.import_recordings(&batch).await?,
                }
                batch.clear();
            }
        }
        // A few hundred holds in a few cases, as a city would have.
        for (n, id) in held.iter().enumerate() {
            let case_id = format!("case-{}", n % 20);
            if n < 20 {
                catalog
                    .add_case(&custos_catalog::Case {
                        case_id: case_id.clone(),
                        kind: "complaint".into(),
                        reference: None,
                        label: "bench".into(),
                        opened_by: "bench".into(),
                        opened_at: now,
                        due_at: None,
                        closed_by: None,
                        closed_at: None,
                    })
                    .await?;
            }
            catalog
                .add_hold(&Hold {
                    hold_id: uuid::Uuid::now_v7(),
                    case_id,
                    recording_id: *id,
                    reason: "bench".into(),
                    placed_by: "bench".into(),
                    placed_at: now,
                    approved_by: Some("bench".into()),
                    approved_at: Some(now),
                    released_by: None,
                    released_at: None,
                })
                .await?;
        }
        if let Some(pg) = &postgres {
            // As autovacuum would have by the time anyone searches.
            custos_catalog_postgres::vacuum_analyze(pg).await?;
        }
        eprintln!(
            "{backend}: {rows} recordings, {} holds in {:.1} s",
            held.len(),
            started.elapsed().as_secs_f64()
        );

        // The searches people make in the list, pages of 25 with the total.
        let page = |q: RecordingQuery| RecordingQuery { limit: 25, ..q };
        let kinds: Vec<(&str, SearchOf)> = vec![
            ("newest", Box::new(move |_| page(RecordingQuery::default()))),
            (
                "officer, a week",
                Box::new(move |n| {
                    page(RecordingQuery {
                        officer_id: Some(format!("boa-{}", n as u64 % OFFICERS)),
                        started_from: Some(now.plus_millis(-((n % 4) as i64 + 1) * 7 * DAY)),
                        started_before: Some(now.plus_millis(-((n % 4) as i64) * 7 * DAY)),
                        ..Default::default()
                    })
                }),
            ),
            (
                "camera, a day",
                Box::new(move |n| {
                    page(RecordingQuery {
                        device_id: Some(format!("cam-{}", n as u64 % CAMERAS)),
                        started_from: Some(now.plus_millis(-((n % 28) as i64 + 1) * DAY)),
                        started_before: Some(now.plus_millis(-((n % 28) as i64) * DAY)),
                        ..Default::default()
                    })
                }),
            ),
            (
                "secured",
                Box::new(move |_| {
                    page(RecordingQuery {
                        held: Some(true),
                        ..Default::default()
                    })
                }),
            ),
            (
                "case",
                Box::new(move |n| {
                    page(RecordingQuery {
                        case_id: Some(format!("case-{}", n % 20)),
                        ..Default::default()
                    })
                }),
            ),
            (
                "deleted within 7 days",
                Box::new(move |_| {
                    page(RecordingQuery {
                        due_before: Some(now.plus_millis(7 * DAY)),
                        ..Default::default()
                    })
                }),
            ),
            (
                "cut short",
                Box::new(move |_| {
                    page(RecordingQuery {
                        truncated: Some(true),
                        ..Default::default()
                    })
                }),
            ),
            (
                "page 40",
                Box::new(move |_| {
                    page(RecordingQuery {
                        offset: 39 * 25,
                        ..Default::default()
                    })
                }),
            ),
        ];
        let mut all = Vec::new();
        let per_kind = (queries / kinds.len()).max(5);
        println!("P6 {backend}, {rows} recordings: search latency (a page of 25 and the total)");
        for (name, query) in &kinds {
            // One warm-up, as a server that has been running would be.
            catalog.search_recordings(&query(0)).await?;
            let mut times = Vec::with_capacity(per_kind);
            for n in 0..per_kind {
                let q = query(n + 1);
                let t = Instant::now();
                let result = catalog.search_recordings(&q).await?;
                times.push(t.elapsed());
                std::hint::black_box(result);
            }
            times.sort();
            println!(
                "  {name:<22} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms",
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.95).as_secs_f64() * 1e3,
                times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
            );
            all.extend(times);
        }
        all.sort();
        let p95 = percentile(&all, 0.95);
        println!(
            "P6 {backend}: all {} searches p50 {:.2} ms, p95 {:.2} ms (goal ≤ 50 ms): {}",
            all.len(),
            percentile(&all, 0.5).as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            if p95 <= Duration::from_millis(50) {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "{}",
            serde_json::json!({
                "bench": "search", "backend": backend, "recordings": rows,
                "p50_ms": percentile(&all, 0.5).as_secs_f64() * 1e3,
                "p95_ms": p95.as_secs_f64() * 1e3,
            })
        );
        drop(catalog);
        if let Some(pg) = postgres {
            custos_catalog_postgres::drop_schema(
                pg,
                &format!("bench_search_{}", std::process::id()),
            )
            .await?;
        }
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
