//! The evaluation statistics.

use custos_catalog::*;
use custos_format::UtcMillis;
use uuid::Uuid;

use crate::*;

/// Day `d` of the statistics story at `hour`: day 0 is Monday 2026-11-02 (UTC).
fn day_at(d: i64, hour: i64) -> UtcMillis {
    UtcMillis::from_millis(1_793_577_600_000 + d * 86_400_000 + hour * 3_600_000).unwrap()
}

/// What a story recording's manifest says: seconds long, stored hours
/// after its end, pre-record kept, display switched on, how it stopped.
struct Facts(i64, i64, u64, usize, &'static str);

/// A recording whose manifest carries the facts the statistics read.
fn recording_with_facts(
    device: &str,
    seq: u64,
    officer: &str,
    started: UtcMillis,
    facts: Facts,
) -> Recording {
    let Facts(seconds, stored_after_hours, prerecord_ms, display_on, stop_reason) = facts;
    let ended = UtcMillis::from_millis(started.as_millis() + seconds * 1000).unwrap();
    let mut display = Vec::new();
    for i in 0..display_on {
        display.push(serde_json::json!({"at": started.to_string(), "on": true}));
        display.push(serde_json::json!({"at": started.to_string(), "on": false, "i": i}));
    }
    let manifest = serde_json::json!({
        "format": "custos.manifest/1",
        "prerecord_included_ms": prerecord_ms,
        "display_events": display,
        "trigger": "record-button",
        "stop_reason": stop_reason,
        "firmware": if device == "cam-a" { "1.2.0" } else { "1.3.1" },
    });
    let mut r = Recording {
        officer_id: Some(officer.into()),
        started_at: started,
        ended_at: ended,
        stored_at: UtcMillis::from_millis(ended.as_millis() + stored_after_hours * 3_600_000)
            .unwrap(),
        ..recording(device, seq)
    };
    if let Provenance::Camera(c) = &mut r.provenance {
        c.manifest = serde_json::to_vec(&manifest).unwrap();
    }
    r
}

/// Everything the statistics read from, in the catalog: what the stories
/// below seed.
pub trait StatisticsSources:
    DeviceStore
    + RecordingStore
    + RetentionStore
    + CaseStore
    + IncidentStore
    + AuditStore
    + StatisticsStore
{
}
impl<T> StatisticsSources for T where
    T: DeviceStore
        + RecordingStore
        + RetentionStore
        + CaseStore
        + IncidentStore
        + AuditStore
        + StatisticsStore
        + ?Sized
{
}

/// `r` deleted on schedule on `day`.
fn tombstone(r: &Recording, day: i64) -> Tombstone {
    r.tombstone(day_at(day, 3), "retention-period")
}

/// The two weeks the stories read: day 0 (a Monday) to day 14.
fn two_weeks() -> custos_catalog::statistics::StatisticsQuery {
    custos_catalog::statistics::StatisticsQuery {
        from: day_at(0, 0),
        to: day_at(14, 0),
        team: None,
        device_id: None,
        officer_id: None,
    }
}

/// The statistics' sources (ADR 0011): every count read back exactly, with
/// each filter, a deleted recording still counted, and an officer's own view.
async fn seeded(catalog: &(impl StatisticsSources + ?Sized)) -> Vec<Recording> {
    for (id, team) in [("cam-a", Some("noord")), ("cam-b", Some("zuid"))] {
        catalog
            .add_device(&Device {
                device_id: id.into(),
                public_key: "ab".repeat(32),
                enrolled_at: day_at(-10, 0),
                revoked_at: None,
                retention_category: STANDARD_CATEGORY.into(),
                assigned_officer: None,
                team: team.map(str::to_owned),
                kind: DeviceKind::Custos,
            })
            .await
            .unwrap();
    }
    let recordings = seeded_recordings(catalog).await;
    seeded_holds_and_deletions(catalog, &recordings).await;
    seeded_accesses(catalog, &recordings).await;
    recordings
}

async fn seeded_recordings(catalog: &(impl StatisticsSources + ?Sized)) -> Vec<Recording> {
    // Week 45: cam-a three recordings on day 0, one on day 1 (with officer
    // boa-1); cam-b one on day 2 (boa-2). Week 46: cam-b one on day 8.
    let recordings = [
        recording_with_facts(
            "cam-a",
            1,
            "boa-1",
            day_at(0, 9),
            Facts(60, 2, 30_000, 1, "stop-button"),
        ),
        recording_with_facts(
            "cam-a",
            2,
            "boa-1",
            day_at(0, 10),
            Facts(120, 2, 0, 0, "stop-button"),
        ),
        recording_with_facts(
            "cam-a",
            3,
            "boa-1",
            day_at(0, 11),
            Facts(30, 30, 5_000, 2, "storage-full"),
        ),
        recording_with_facts(
            "cam-a",
            4,
            "boa-1",
            day_at(1, 9),
            Facts(90, 1, 0, 0, "power-loss"),
        ),
        recording_with_facts(
            "cam-b",
            1,
            "boa-2",
            day_at(2, 9),
            Facts(45, 5, 10_000, 0, "stop-button"),
        ),
        recording_with_facts(
            "cam-b",
            2,
            "boa-2",
            day_at(8, 9),
            Facts(15, 50, 0, 1, "stop-button"),
        ),
    ];
    for r in &recordings {
        catalog.commit_recording(r, None).await.unwrap();
    }
    // Moving cam-a to another team changes its next recordings, not these.
    catalog
        .set_device_team("cam-a", Some("centrum"))
        .await
        .unwrap();
    assert_eq!(
        catalog
            .device("cam-a")
            .await
            .unwrap()
            .unwrap()
            .team
            .as_deref(),
        Some("centrum")
    );
    assert!(matches!(
        catalog.set_device_team("cam-x", None).await,
        Err(CatalogError::NotFound { .. })
    ));

    recordings.to_vec()
}

async fn seeded_holds_and_deletions(
    catalog: &(impl StatisticsSources + ?Sized),
    recordings: &[Recording],
) {
    // A hold on recording 1 (a complaint) and on 5 (an incident); recording 2
    // is deleted on schedule on day 9, recording 1 after its hold, day 10.
    for (case, kind, r, day) in [("C-1", "complaint", 0, 3), ("C-2", "incident", 4, 3)] {
        catalog
            .add_case(&Case {
                case_id: case.into(),
                kind: kind.into(),
                reference: None,
                label: "story".into(),
                opened_by: "user:rita".into(),
                opened_at: day_at(day, 8),
                due_at: None,
                closed_by: None,
                closed_at: None,
            })
            .await
            .unwrap();
        catalog
            .add_hold(&Hold {
                hold_id: Uuid::now_v7(),
                case_id: case.into(),
                recording_id: recordings[r].recording_id,
                reason: "kept".into(),
                placed_by: "user:rita".into(),
                placed_at: day_at(day, 9),
                approved_by: None,
                approved_at: None,
                released_by: None,
                released_at: None,
            })
            .await
            .unwrap();
    }
    catalog
        .replace_with_tombstones(&[tombstone(&recordings[1], 9)])
        .await
        .unwrap();
    catalog
        .replace_with_tombstones(&[tombstone(&recordings[0], 10)])
        .await
        .unwrap();
}

async fn seeded_accesses(catalog: &(impl StatisticsSources + ?Sized), recordings: &[Recording]) {
    use custos_audit::{AuditEvent, Outcome};
    // Accesses: anna plays recording 1 three times (one access), and its
    // thumbnail (another action, the same access); bert plays it for another
    // case (a second access); the next day anna again (a third). One refused.
    let play = |d: i64, who: &str, r: usize, purpose: &str, case: &str, action: &str| {
        AuditEvent::new(day_at(d, 12), format!("user:{who}"), action, Outcome::Ok)
            .object(format!("recording:{}", recordings[r].recording_id))
            .purpose(purpose, case)
    };
    let events = vec![
        play(3, "anna", 0, "complaint", "C-1", "recording.play"),
        play(3, "anna", 0, "complaint", "C-1", "recording.play"),
        play(3, "anna", 0, "complaint", "C-1", "recording.play"),
        play(3, "anna", 0, "complaint", "C-1", "recording.thumbnail"),
        play(3, "bert", 0, "investigation", "C-2", "recording.player"),
        play(4, "anna", 0, "complaint", "C-1", "recording.play"),
        play(4, "anna", 4, "investigation", "C-2", "recording.download"),
        AuditEvent::new(
            day_at(4, 13),
            "user:carl",
            "recording.play",
            Outcome::Refused,
        )
        .object(format!("recording:{}", recordings[4].recording_id)),
        AuditEvent::new(day_at(4, 14), "user:anna", "export.create", Outcome::Ok)
            .object("case:C-2")
            .purpose("investigation", "C-2"),
        AuditEvent::new(day_at(5, 14), "link:x", "export.download", Outcome::Ok)
            .object("case:C-2")
            .purpose("investigation", "C-2"),
        AuditEvent::new(day_at(5, 15), "dock:d1", "ingest.complete", Outcome::Failed),
        AuditEvent::new(day_at(5, 16), "dock:d1", "ingest.complete", Outcome::Ok),
        AuditEvent::new(day_at(6, 1), "system:sweeper", "upload.expire", Outcome::Ok),
        // Outside the period asked below.
        play(20, "anna", 4, "complaint", "C-1", "recording.play"),
    ];
    let key = custos_format::SigningKey::from_seed(&[9; 32]);
    let signer = custos_audit::NoteSigner::new("test.example/audit", key).unwrap();
    let mut frontier = custos_audit::Frontier::new();
    assert!(
        catalog.audit_tip().await.unwrap().is_none(),
        "the statistics story starts on an empty log"
    );
    let (rows, checkpoint) = custos_audit::append_batch(&mut frontier, events, &signer).unwrap();
    catalog
        .append_audit(0, &rows, &checkpoint, &frontier.to_bytes())
        .await
        .unwrap();
    for (device, kind) in [
        ("cam-a", IncidentKind::Gap),
        ("cam-b", IncidentKind::BrokenChain),
    ] {
        catalog
            .add_incident(
                &NewIncident {
                    kind,
                    device_id: Some(device.into()),
                    dock_id: None,
                    sequence: None,
                    recording_id: None,
                    detail: "story".into(),
                },
                day_at(6, 2),
            )
            .await
            .unwrap();
    }
}

/// Counted per week: recordings, delays, stops, firmware, deletions, holds,
/// accesses, exports, incidents and failures, as the seed made them.
pub async fn statistics_story(catalog: &(impl StatisticsSources + ?Sized)) {
    seeded(catalog).await;
    // The projection of accesses says what the log says.
    assert_eq!(
        catalog.statistics_projection_differences().await.unwrap(),
        0
    );
    let two_weeks = two_weeks();
    let s = catalog.statistics(&two_weeks).await.unwrap();
    let days: Vec<_> = s
        .recordings
        .iter()
        .map(|r| (r.day - 20_759, r.recordings))
        .collect();
    // Grouped by week (day 0 is a Monday): days 0–2, then day 8.
    assert_eq!(days, [(0, 5), (7, 1)]);
    let day0 = &s.recordings[0];
    assert_eq!(
        (
            day0.recorded_ms,
            day0.known,
            day0.with_prerecord,
            day0.with_display,
            day0.display_activations,
            day0.uploaded_within_24h
        ),
        (345_000, 5, 3, 2, 3, 4),
        "deleted recordings 1 and 2 are still counted: {day0:?}"
    );
    let delays: Vec<_> = s
        .upload_delays
        .iter()
        .map(|u| (u.day - 20_759, u.hours, u.recordings))
        .collect();
    assert_eq!(
        delays,
        [(0, 1, 1), (0, 2, 2), (0, 5, 1), (0, 30, 1), (7, 50, 1)]
    );
    let stops: Vec<_> = s
        .stop_reasons
        .iter()
        .map(|k| (k.day - 20_759, k.kind.as_str(), k.count))
        .collect();
    assert_eq!(
        stops,
        [
            (0, "power-loss", 1),
            (0, "stop-button", 3),
            (0, "storage-full", 1),
            (7, "stop-button", 1)
        ]
    );
    let firmware: Vec<_> = s
        .firmware
        .iter()
        .map(|f| (f.firmware.as_deref(), f.cameras, f.recordings))
        .collect();
    assert_eq!(firmware, [(Some("1.2.0"), 1, 4), (Some("1.3.1"), 1, 2)]);
    let holds: Vec<_> = s
        .holds
        .iter()
        .map(|k| (k.day - 20_759, k.kind.as_str(), k.count))
        .collect();
    assert_eq!(holds, [(0, "complaint", 1), (0, "incident", 1)]);
    let accesses: Vec<_> = s
        .accesses
        .iter()
        .map(|a| {
            (
                a.day - 20_759,
                a.purpose.as_deref(),
                a.outcome.as_str(),
                a.accesses,
            )
        })
        .collect();
    assert_eq!(
        accesses,
        [
            (3, Some("complaint"), "ok", 1),
            (3, Some("investigation"), "ok", 1),
            (4, None, "refused", 1),
            (4, Some("complaint"), "ok", 1),
            (4, Some("investigation"), "ok", 1),
        ]
    );
    let exports: Vec<_> = s
        .exports
        .iter()
        .map(|e| (e.day - 20_759, e.action.as_str(), e.count))
        .collect();
    assert_eq!(
        exports,
        [(4, "export.create", 1), (5, "export.download", 1)]
    );
    let deletions: Vec<_> = s
        .deletions
        .iter()
        .map(|d| (d.day - 20_759, d.reason.as_str(), d.after_hold, d.count))
        .collect();
    assert_eq!(
        deletions,
        [
            (7, "retention-period", false, 1),
            (7, "retention-period", true, 1)
        ]
    );
    let incidents: Vec<_> = s
        .incidents
        .iter()
        .map(|k| (k.kind.as_str(), k.count))
        .collect();
    assert_eq!(incidents, [("broken-chain", 1), ("gap", 1)]);
    let failures: Vec<_> = s
        .upload_failures
        .iter()
        .map(|k| (k.day - 20_759, k.kind.as_str(), k.count))
        .collect();
    assert_eq!(
        failures,
        [(5, "ingest.complete", 1)],
        "an expired upload is audited ok: not a failure"
    );
    assert!(s.subject_requests.is_empty());
}

/// A team, a camera, an officer's own numbers and a shorter period each
/// narrow every number.
pub async fn statistics_filter_story(catalog: &(impl StatisticsSources + ?Sized)) {
    use custos_catalog::statistics::*;
    seeded(catalog).await;
    let two_weeks = two_weeks();
    // A team: the team each recording was made in (cam-a's were "noord").
    let noord = catalog
        .statistics(&StatisticsQuery {
            team: Some("noord".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        noord.recordings.iter().map(|r| r.recordings).sum::<u64>(),
        4
    );
    assert_eq!(
        noord.accesses.iter().map(|a| a.accesses).sum::<u64>(),
        3,
        "accesses to noord's recordings only"
    );
    assert_eq!(noord.holds.len(), 1);
    assert_eq!(noord.deletions.iter().map(|d| d.count).sum::<u64>(), 2);
    assert_eq!(
        noord.incidents.len(),
        0,
        "incidents follow the camera's team now"
    );
    let centrum = catalog
        .statistics(&StatisticsQuery {
            team: Some("centrum".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert!(centrum.recordings.is_empty());
    assert_eq!(centrum.incidents.len(), 1);
    // A camera.
    let cam_b = catalog
        .statistics(&StatisticsQuery {
            device_id: Some("cam-b".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        cam_b.recordings.iter().map(|r| r.recordings).sum::<u64>(),
        2
    );
    assert_eq!(cam_b.firmware.len(), 1);
    assert_eq!(cam_b.incidents.len(), 1);
    // An officer's own numbers: their recordings, and nothing about others.
    let own = catalog
        .statistics(&StatisticsQuery {
            officer_id: Some("boa-2".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(own.recordings.iter().map(|r| r.recordings).sum::<u64>(), 2);
    assert_eq!(own.accesses.iter().map(|a| a.accesses).sum::<u64>(), 2);
    assert!(own.exports.is_empty() && own.incidents.is_empty() && own.upload_failures.is_empty());
    // The period is half-open and narrows everything.
    let first_day = catalog
        .statistics(&StatisticsQuery {
            to: day_at(1, 0),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(first_day.recordings.len(), 1);
    assert!(first_day.accesses.is_empty() && first_day.deletions.is_empty());
}

/// The weekly cache answers as counting live does, and what changes a
/// counted week (a late recording, a deletion) is counted at the next asking.
pub async fn statistics_cache_story(catalog: &(impl StatisticsSources + ?Sized)) {
    use custos_catalog::statistics::*;
    let recordings = seeded(catalog).await;
    let two_weeks = two_weeks();
    let s = catalog.statistics(&two_weeks).await.unwrap();
    // The weekly cache: asking again gives the same (now from the cache);
    // a recording arriving late for a counted week, and a deletion in one,
    // are counted at the next asking.
    assert_eq!(catalog.statistics(&two_weeks).await.unwrap(), s);
    let late = recording_with_facts(
        "cam-b",
        3,
        "boa-2",
        day_at(1, 20),
        Facts(10, 200, 0, 0, "stop-button"),
    );
    catalog.commit_recording(&late, None).await.unwrap();
    catalog
        .replace_with_tombstones(&[tombstone(&recordings[3], 12)])
        .await
        .unwrap();
    let again = catalog.statistics(&two_weeks).await.unwrap();
    let counts: Vec<_> = again.recordings.iter().map(|r| r.recordings).collect();
    assert_eq!(counts, [6, 1]);
    assert_eq!(again.deletions.iter().map(|d| d.count).sum::<u64>(), 3);
    assert!(again
        .upload_delays
        .iter()
        .any(|u| u.day == 20_759 && u.hours == 200));
    // The same numbers as counting every week live: a camera's filter
    // bypasses the cache, and the two cameras are everything.
    let mut by_camera = 0;
    for c in ["cam-a", "cam-b"] {
        let q = StatisticsQuery {
            device_id: Some(c.into()),
            ..two_weeks.clone()
        };
        by_camera += catalog
            .statistics(&q)
            .await
            .unwrap()
            .recordings
            .iter()
            .map(|r| r.recordings)
            .sum::<u64>();
    }
    assert_eq!(by_camera, 7);
    assert_eq!(
        catalog.statistics_projection_differences().await.unwrap(),
        0
    );
}
