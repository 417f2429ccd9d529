//! P7: the statistics page for one year of a city's cameras (issue 9: 400
//! cameras, about 1 M recordings and 10 M audit entries, rendered in ≤ 1 s).
//! The year is built through the catalog's own paths: recordings imported
//! with their facts, retention turning 92 % of them into tombstones, holds
//! for cases, and a real, signed audit log whose entries are the mix a
//! deployment writes (uploads, page views, sign-ins, and accesses to
//! footage: a viewing is a player opening plus a burst of range requests).
//! Then it measures the statistics (catalog query and tables) in process,
//! and the whole page over HTTPS as an evaluator sees it.

use custos_catalog::stores::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::{Catalog, Recording, Tombstone};
use custos_format::UtcMillis;

const DAY: i64 = 86_400_000;
const TEAMS: u64 = 8;

fn manifest(i: u64) -> Vec<u8> {
    // A third keep pre-record, one in eight shows the front display, a few
    // stop on a full memory or an empty battery; two firmware versions.
    let display: Vec<_> = if i.is_multiple_of(8) {
        vec![
            serde_json::json!({"at": "2026-01-01T00:00:00.000Z", "on": true}),
            serde_json::json!({"at": "2026-01-01T00:00:10.000Z", "on": false}),
        ]
    } else {
        Vec::new()
    };
    let stop = match i % 500 {
        0 => "storage-full",
        1 => "power-loss",
        _ => "stop-button",
    };
    serde_json::to_vec(&serde_json::json!({
        "prerecord_included_ms": if i.is_multiple_of(3) { 30_000 } else { 0 },
        "display_events": display,
        "trigger": "record-button",
        "stop_reason": stop,
        "firmware": if i.is_multiple_of(5) { "1.4.2" } else { "1.5.0" },
    }))
    .expect("json")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn stats(
    recordings: u64,
    entries: u64,
    cameras: u64,
    runs: usize,
    dir: Option<std::path::PathBuf>,
    keep: bool,
) -> Result<std::process::ExitCode> {
    let (tmp, data) = crate::bench_server::workdir(dir)?;
    let _tmp = if keep {
        eprintln!("keeping {}", tmp.keep().display());
        None
    } else {
        Some(tmp)
    };
    let pass = custos_keys::secrecy::SecretString::from("bench passphrase".to_owned());
    custos_keys::EvidenceKeyStore::new(&data).init(&pass, 10)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let now = UtcMillis::now();
        let year_start = now.plus_millis(-365 * DAY);
        let sqlite = custos_catalog_sqlite::open(&data).await?;
        for c in 0..cameras {
            sqlite
                .add_device(&custos_catalog::Device {
                    device_id: format!("cam-{c}"),
                    public_key: "00".repeat(32),
                    enrolled_at: year_start,
                    revoked_at: None,
                    retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                    assigned_officer: None,
                    team: Some(format!("team-{}", c % TEAMS)),
                    kind: custos_catalog::DeviceKind::Custos,
                })
                .await?;
        }

        // Recordings, evenly over the year, with their facts.
        let built = Instant::now();
        let mut ids = Vec::with_capacity(recordings as usize);
        let mut batch = Vec::with_capacity(20_000);
        let mut tombstones: Vec<Tombstone> = Vec::new();
        for i in 0..recordings {
            let started = year_start.plus_millis((i as i64) * 365 * DAY / recordings as i64);
            let ended = started.plus_millis(60_000 + (i % 600) as i64 * 1000);
            let r = Recording {
                recording_id: uuid::Uuid::now_v7(),
                device_id: format!("cam-{}", i % cameras),
                sequence: i / cameras + 1,
                officer_id: Some(format!("boa-{}", i % (cameras * 3 / 2).max(1))),
                started_at: started,
                ended_at: ended,
                truncated: false,
                stored_at: ended.plus_millis(((i % 48) as i64 + 1) * 3_600_000),
                delete_after: ended.plus_millis(28 * DAY),
                retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                provenance: custos_catalog::Provenance::Camera(custos_catalog::CameraRecording {
                    ciphertext_sha256: [1; 32],
                    ciphertext_length: 1 << 20,
                    manifest: manifest(i),
                    manifest_signature: vec![0; 64],
                    manifest_sha256: [2; 32],
                    blob_key: format!("cam-{}/{:08}.age", i % cameras, i),
                    receipt: b"{}".to_vec(),
                    receipt_signature: vec![0; 64],
                    age_header: vec![7; 200],
                }),
            };
            ids.push(r.recording_id);
            if r.delete_after < now && i % 97 != 0 {
                tombstones.push(Tombstone {
                    blob_deleted: true,
                    ..r.tombstone(r.delete_after.plus_millis(600_000), "retention-period")
                });
            }
            batch.push(r);
            if batch.len() == batch.capacity() || i + 1 == recordings {
                sqlite.import_recordings(&batch).await?;
                batch.clear();
            }
        }
        for part in tombstones.chunks(10_000) {
            sqlite.replace_with_tombstones(part).await?;
        }
        // About one in a hundred recordings is held for a case (those the sweep
        // left alone above), in a few hundred cases of each kind.
        let kinds = ["incident", "complaint", "subject-access-request", "police-request"];
        for c in 0..400 {
            sqlite
                .add_case(&custos_catalog::Case {
                    case_id: format!("case-{c}"),
                    kind: kinds[c % 4].into(),
                    reference: None,
                    label: "bench".into(),
                    opened_by: "user:bench".into(),
                    opened_at: year_start,
                    due_at: None,
                    closed_by: None,
                    closed_at: None,
                })
                .await?;
        }
        for (n, i) in (0..recordings).step_by(97).enumerate() {
            let started = year_start.plus_millis((i as i64) * 365 * DAY / recordings as i64);
            sqlite
                .add_hold(&custos_catalog::Hold {
                    hold_id: uuid::Uuid::now_v7(),
                    case_id: format!("case-{}", n % 400),
                    recording_id: ids[i as usize],
                    reason: "bench".into(),
                    placed_by: "user:bench".into(),
                    placed_at: started.plus_millis(DAY),
                    approved_by: None,
                    approved_at: None,
                    released_by: None,
                    released_at: None,
                })
                .await?;
        }
        eprintln!(
            "{recordings} recordings ({} deleted, {} held) in {:.1} s",
            tombstones.len(),
            recordings.div_ceil(97),
            built.elapsed().as_secs_f64()
        );

        // The audit log: a year of entries, appended and signed in batches.
        let catalog: Arc<dyn Catalog> = Arc::new(sqlite);
        let signer = custos_server::audit::load_or_create_signer(&data)?;
        let built = Instant::now();
        let mut events = Vec::with_capacity(50_000);
        let purposes = ["investigation", "complaint", "subject-access-request"];
        for i in 0..entries {
            let at = year_start.plus_millis((i as i64) * 365 * DAY / entries as i64);
            // A recording made shortly before, which is what gets looked at
            // (from any camera, so every team has its viewings).
            let now_made = ((i as u128 * recordings as u128) / entries as u128) as usize;
            let near = now_made.saturating_sub(((i / 16) % 97) as usize);
            let recording = format!("recording:{}", ids[near.min(ids.len() - 1)]);
            let person = format!("user:reviewer{}", (i / 16) % 12);
            let event = match i % 100 {
                // Uploads: an offer and a completion per recording.
                0..=19 => AuditEvent::new(
                    at,
                    format!("dock:dock-{}", i % 20),
                    if i % 2 == 0 { "ingest.offer" } else { "ingest.complete" },
                    if i % 997 == 0 { Outcome::Failed } else { Outcome::Ok },
                )
                .object(recording),
                // Footage: viewings of 16 entries (the player, a thumbnail,
                // range requests), by one person for one purpose and case.
                20..=28 => {
                    let action = match i % 16 {
                        0 => "recording.player",
                        1 => "recording.thumbnail",
                        _ => "recording.play",
                    };
                    let case = format!("case-{}", (i / 16) % 400);
                    AuditEvent::new(at, person, action, Outcome::Ok)
                        .role("reviewer")
                        .object(recording)
                        .purpose(purposes[((i / 16) % 3) as usize], &case)
                }
                29 if i % 1000 == 29 => {
                    AuditEvent::new(at, person, "recording.play", Outcome::Refused)
                        .object(recording)
                }
                30 if i % 3000 == 30 => AuditEvent::new(at, person, "export.create", Outcome::Ok)
                    .object(format!("case:case-{}", i % 400))
                    .purpose("investigation", format!("case-{}", i % 400)),
                // What people do all day: sign in, lists, pages, the log.
                n => AuditEvent::new(
                    at,
                    person,
                    ["session.sign-in", "recordings.html", "recording.html", "recordings.list", "cases.html"]
                        [(n % 5) as usize],
                    Outcome::Ok,
                )
                .role("reviewer"),
            };
            events.push(event);
            if events.len() == 50_000 || i + 1 == entries {
                custos_server::audit::append(&*catalog, &signer, std::mem::take(&mut events))
                    .await?;
            }
            if i > 0 && i % 1_000_000 == 0 {
                eprintln!("  {i} audit entries, {:.0} s", built.elapsed().as_secs_f64());
            }
        }
        eprintln!(
            "{entries} audit entries in {:.1} s",
            built.elapsed().as_secs_f64()
        );
        let file = ["catalog.sqlite", "catalog.sqlite-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(data.join(f)).ok())
            .map(|m| m.len())
            .sum::<u64>();

        // The computation, in process: the catalog's query and the tables.
        // The first reading after the year was written counts every week
        // into the cache; later ones read it. Half of them ask for a team.
        let catalog_file = custos_catalog_sqlite::open(&data).await?;
        custos_catalog_sqlite::checkpoint(&catalog_file).await?;
        let to = custos_format::UtcMillis::from_millis(now.as_millis()).expect("now");
        let period = custos_stats::Period::ending(to, 365);
        let mut all_timings = Vec::new();
        let mut team_timings = Vec::new();
        let mut first = Duration::ZERO;
        let mut report = None;
        for run in 0..=runs {
            let mut q = period.query();
            if run % 2 == 0 && run > 0 {
                q.team = Some("team-3".into());
            }
            let started = Instant::now();
            let sources = catalog.statistics(&q).await?;
            let built = custos_stats::build(period, custos_stats::Scope::default(), 5, &sources);
            let took = started.elapsed();
            match run {
                0 => {
                    first = took;
                    report = Some(built);
                }
                r if r % 2 == 0 => team_timings.push(took),
                _ => all_timings.push(took),
            }
        }
        let report = report.context("no run")?;
        let cell = |table: &str, key: &str| {
            report
                .table(table)
                .and_then(|t| t.rows.iter().find(|r| r.key == key))
                .and_then(|r| r.cells.last())
                .map(|c| c.text())
                .unwrap_or_default()
        };
        eprintln!(
            "year: {} activations, {} complaint accesses, {} deleted on schedule",
            cell("activations", "recordings"),
            cell("accesses", "complaint"),
            cell("deletions", "on-schedule")
        );
        all_timings.sort();
        team_timings.sort();

        // The page, over HTTPS, as an evaluator opens it.
        let config = custos_server::ServerConfig {
            axis: None,
            limits: Default::default(),
            storage: Default::default(),
            data: data.clone(),
            listen: "127.0.0.1:0".parse()?,
            tls: None,
            server_id: "bench".into(),
            retention: custos_server::retention::RetentionPolicy::new(28 * DAY),
            policy: Default::default(),
        };
        let server = custos_server::start_with_pages(
            config,
            &pass,
            custos_server::system_clock(),
            custos_web::routes(custos_web::WebConfig::default()),
        )
        .await?;
        let base = format!("https://localhost:{}", server.addr.port());
        let agent = crate::bench_server::bench_agent(&server.certificate_pem)?;
        let token = crate::bench_server::signed_in(&data, &agent, &base, "bench-evaluator", custos_access::Role::Evaluator).await?;
        let path = format!("/statistics?from={}&to={}", period.from, period.to);
        let page_timings = tokio::task::spawn_blocking(move || -> Result<(Vec<Duration>, Vec<Duration>, usize)> {
            let (mut all, mut team) = (Vec::new(), Vec::new());
            let mut size = 0;
            for run in 0..2 * runs {
                let url = if run % 2 == 0 {
                    format!("{base}{path}")
                } else {
                    format!("{base}{path}&team=team-3")
                };
                let started = Instant::now();
                let mut response = agent
                    .get(url)
                    .header("cookie", &format!("__Host-custos_session={token}"))
                    .call()?;
                anyhow::ensure!(response.status() == 200, "page: {}", response.status());
                let body = response.body_mut().read_to_vec()?;
                if run % 2 == 0 {
                    size = body.len();
                    all.push(started.elapsed());
                } else {
                    team.push(started.elapsed());
                }
            }
            all.sort();
            team.sort();
            Ok((all, team, size))
        })
        .await??;
        let (page_all, page_team, size) = page_timings;
        server.shutdown().await;
        println!(
            "P7 statistics over a year: {recordings} recordings ({} kept, the rest tombstones), {entries} audit entries, {cameras} cameras; catalog {:.1} GB",
            recordings - tombstones.len() as u64,
            file as f64 / 1e9
        );
        println!(
            "P7 first reading (counts 51 weeks into the cache): {:.0} ms",
            ms(first)
        );
        println!(
            "P7 catalog and tables, whole deployment: median {:.0} ms, max {:.0} ms; one team: median {:.0} ms, max {:.0} ms ({runs} runs)",
            ms(percentile(&all_timings, 0.5)),
            ms(*all_timings.last().expect("runs")),
            ms(percentile(&team_timings, 0.5)),
            ms(*team_timings.last().expect("runs"))
        );
        println!(
            "P7 page over HTTPS (charts, tables, {} KiB), whole deployment: median {:.0} ms, max {:.0} ms; one team: median {:.0} ms, max {:.0} ms (goal ≤ 1000 ms)",
            size / 1024,
            ms(percentile(&page_all, 0.5)),
            ms(*page_all.last().expect("runs")),
            ms(percentile(&page_team, 0.5)),
            ms(*page_team.last().expect("runs"))
        );
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
