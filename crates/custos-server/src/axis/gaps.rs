//! What Custos can tell of an Axis recording's completeness (issue 23
//! point 6). An Axis camera keeps no sequence chain and its controller's
//! recording ids are random, so a recording that never arrives leaves no
//! trace here. What can be seen, from the controller's own times, is a
//! recording whose clips leave part of its span uncovered (a clip lost on
//! the way) and a recording overlapping another of the same camera (a
//! camera records one thing at a time: a clock or controller fault, or the
//! same footage twice under two names). Each is an `axis-gap` incident for
//! the privacy officer; the recording is stored either way.

use custos_catalog::{IncidentKind, NewIncident, Recording, RecordingQuery};
use custos_format::UtcMillis;

use crate::parts::Part;

/// Uncovered time shorter than this is the clips' own rounding (their
/// times are whole seconds).
const SLACK_MS: i64 = 2_000;

/// The spans of `[start, stop]` no clip covers, where every clip's times
/// are known (`None` if one's are not: nothing can be said).
pub fn uncovered(start: UtcMillis, stop: UtcMillis, parts: &[Part]) -> Option<Vec<(i64, i64)>> {
    let mut spans = Vec::with_capacity(parts.len());
    for p in parts {
        let clip = p.clip.as_ref()?;
        spans.push((clip.start?.as_millis(), clip.stop?.as_millis()));
    }
    spans.sort_unstable();
    let mut holes = Vec::new();
    let mut covered = start.as_millis();
    for (from, to) in spans {
        if from - covered > SLACK_MS {
            holes.push((covered, from));
        }
        covered = covered.max(to);
    }
    if stop.as_millis() - covered > SLACK_MS {
        holes.push((covered, stop.as_millis()));
    }
    Some(holes)
}

/// Looks at a just completed Axis recording and records what it finds.
/// Never fails the completion: a look that cannot be made is logged.
pub async fn check(d: &crate::Deployment, r: &Recording) {
    if let Err(e) = look(d, r).await {
        tracing::error!(error = %e, "checking an Axis recording for gaps failed");
    }
}

async fn look(d: &crate::Deployment, r: &Recording) -> Result<(), custos_catalog::CatalogError> {
    let mut findings = Vec::new();
    let parts = crate::parts::parts(&*d.catalog, r).await?;
    match uncovered(r.started_at, r.ended_at, &parts) {
        Some(holes) if !holes.is_empty() => {
            let missing: i64 = holes.iter().map(|(a, b)| b - a).sum();
            let first = holes[0];
            findings.push(format!(
                "its clips leave {} s of its time uncovered in {} span(s), the first from {} to {}",
                missing / 1000,
                holes.len(),
                UtcMillis::from_millis(first.0)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                UtcMillis::from_millis(first.1)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            ));
        }
        _ => {}
    }
    let around = d
        .catalog
        .search_recordings(&RecordingQuery {
            device_id: Some(r.device_id.clone()),
            started_from: Some(
                r.started_at
                    .plus_millis(-custos_axis::recording::MAX_DURATION_MS),
            ),
            started_before: Some(r.ended_at),
            limit: 100,
            ..Default::default()
        })
        .await?;
    for (other, _) in &around.recordings {
        if other.recording_id != r.recording_id
            && other.started_at < r.ended_at
            && other.ended_at > r.started_at
        {
            findings.push(format!(
                "it overlaps recording {} of the same camera",
                other.recording_id
            ));
        }
    }
    for detail in findings {
        d.catalog
            .add_incident(
                &NewIncident {
                    kind: IncidentKind::AxisGap,
                    device_id: Some(r.device_id.clone()),
                    dock_id: None,
                    sequence: Some(r.sequence),
                    recording_id: Some(r.recording_id),
                    detail,
                },
                (d.clock)(),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts::Clip;

    fn part(start: i64, stop: Option<i64>) -> Part {
        Part {
            index: 0,
            blob_key: String::new(),
            age_header: Vec::new(),
            ciphertext_length: 0,
            clip: Some(Clip {
                name: String::new(),
                kind: custos_axis::names::ClipType::Mp4,
                start: UtcMillis::from_millis(start),
                stop: stop.and_then(UtcMillis::from_millis),
                length: 0,
                sha256: [0; 32],
                md5: String::new(),
                key_file: None,
            }),
        }
    }

    #[test]
    fn uncovered_time_is_found_and_rounding_is_not() {
        let t = |s: i64| UtcMillis::from_millis(1_787_485_620_000 + s * 1000).unwrap();
        let at = |s: i64| 1_787_485_620_000 + s * 1000;
        // Contiguous, in any order, within a second of the ends: whole.
        let whole = [part(at(40), Some(at(80))), part(at(1), Some(at(40)))];
        assert_eq!(uncovered(t(0), t(81), &whole), Some(vec![]));
        // A clip missing in the middle, and the end.
        let holed = [part(at(0), Some(at(20))), part(at(40), Some(at(60)))];
        assert_eq!(
            uncovered(t(0), t(80), &holed),
            Some(vec![(at(20), at(40)), (at(60), at(80))])
        );
        // Overlapping clips cover what either covers.
        let overlapping = [part(at(0), Some(at(50))), part(at(30), Some(at(80)))];
        assert_eq!(uncovered(t(0), t(80), &overlapping), Some(vec![]));
        // A clip without its times: nothing can be said.
        assert_eq!(uncovered(t(0), t(80), &[part(at(0), None)]), None);
        assert_eq!(uncovered(t(0), t(80), &[]), Some(vec![(at(0), at(80))]));
    }
}
