//! Where an Axis camera was (issue 23 point 3): a recording's GNSS trail
//! (`…_gpstrail.json`, README "Location file format") is read once the
//! recording completes — decrypted from the evidence key, and from Axis'
//! own encryption with its key file if the camera encrypted it — and its
//! positions are kept with the recording, as a Custos camera's manifest
//! keeps its own, for the subject access search by place. The trail
//! itself stays stored as it arrived, for exports.

use std::io::Read;

use custos_audit::{AuditEvent, Outcome as AuditOutcome};
use custos_axis::names::{Container, Object};
use custos_catalog::{AxisObject, AxisTrail, TrailOutcome, TrailPoint};
use uuid::Uuid;

use crate::parts::StoredObject;
use crate::Deployment;

/// The reading's own grant: opens one recording's trails (and their key
/// files) for the parser only, which keeps positions and times.
struct TrailRead {
    blobs: Vec<String>,
}

impl crate::keys::Grant for TrailRead {
    fn covers(&self, blob_key: &str) -> bool {
        self.blobs.iter().any(|b| b == blob_key)
    }
}

/// The largest trail read: a point a second for a day is about 10 MiB.
const MAX_TRAIL_BYTES: u64 = 16 << 20;

/// Recordings read per maintenance pass.
const PER_PASS: u64 = 50;

/// Reads a just completed recording's trail before `Complete` is
/// answered. Never fails the completion: a reading that cannot be made now
/// (the store failing) is logged and made by the next maintenance.
pub async fn read(d: &Deployment, recording_id: Uuid) {
    if let Err(e) = read_one(d, recording_id).await {
        tracing::error!(error = %e, "reading an Axis recording's GNSS trail failed; maintenance tries again");
    }
}

/// Reads the trails of Axis recordings not yet read, oldest first;
/// returns how many were. One that cannot be read now is tried again next
/// time and does not hold up the rest.
pub async fn read_pending(d: &Deployment) -> usize {
    let ids = match d.catalog.unread_axis_trails(PER_PASS).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, "listing Axis recordings' trails to read failed");
            return 0;
        }
    };
    let mut read = 0;
    for id in ids {
        match read_one(d, id).await {
            Ok(()) => read += 1,
            Err(e) => tracing::error!(error = %e, "reading an Axis recording's GNSS trail failed"),
        }
    }
    read
}

/// What one trail gave: its points, or why it does not read.
type Reading = Result<Vec<TrailPoint>, String>;

async fn read_one(d: &Deployment, id: Uuid) -> anyhow::Result<()> {
    let Some(recording) = d.catalog.recording(id).await? else {
        return Ok(()); // deleted meanwhile
    };
    let Some(axis) = recording.axis() else {
        return Ok(());
    };
    let objects = d
        .catalog
        .axis_objects(&axis.connection, &axis.container)
        .await?;
    let container = Container::parse(&axis.container)?;
    let (keys, rest): (Vec<AxisObject>, Vec<AxisObject>) = objects
        .into_iter()
        .partition(|o| matches!(Object::parse(&container, &o.name), Ok(Object::Key { .. })));
    let trails: Vec<AxisObject> = rest
        .into_iter()
        .filter(|o| matches!(Object::parse(&container, &o.name), Ok(Object::Trail(_))))
        .collect();
    let now = (d.clock)();
    if trails.is_empty() {
        d.catalog
            .add_axis_trail(&AxisTrail {
                recording_id: id,
                outcome: TrailOutcome::None,
                points: Vec::new(),
                detail: None,
                read_at: now,
            })
            .await?;
        return Ok(());
    }
    let encrypted = trails
        .iter()
        .any(|t| crate::parts::key_file_of(&t.name, &keys).is_some());
    let content_keys = if encrypted {
        crate::parts::content_keys(&*d.catalog, &axis.connection).await?
    } else {
        Vec::new()
    };
    // Every trail of the recording (the controller sends one; more are
    // read in name order, their points one after another).
    let mut points = Vec::new();
    let mut unreadable = None;
    for trail in &trails {
        match read_trail(d, trail, &keys, content_keys.clone()).await? {
            Ok(mut p) => points.append(&mut p),
            Err(why) => {
                unreadable = Some(format!("{}: {why}", trail.name.escape_default()));
                break;
            }
        }
    }
    let (outcome, detail) = match unreadable {
        Some(why) => (
            TrailOutcome::Unreadable,
            format!("GNSS trail unreadable: {why}"),
        ),
        None => (
            TrailOutcome::Read,
            format!("GNSS trail read: {} positions", points.len()),
        ),
    };
    if outcome == TrailOutcome::Unreadable {
        points.clear();
    }
    // On record before it is kept: where the camera was was read.
    d.audit
        .record(
            AuditEvent::new(
                now,
                "system:gnss-trail",
                "axis.gnss-trail",
                AuditOutcome::Ok,
            )
            .object(format!("recording:{id}"))
            .detail(detail.clone()),
        )
        .await?;
    d.catalog
        .add_axis_trail(&AxisTrail {
            recording_id: id,
            outcome,
            points,
            detail: (outcome == TrailOutcome::Unreadable).then_some(detail),
            read_at: now,
        })
        .await?;
    Ok(())
}

/// One trail's points, or why it does not read (the trail's fault: kept
/// as the recording's verdict); the store failing is an error (tried
/// again).
async fn read_trail(
    d: &Deployment,
    trail: &AxisObject,
    keys: &[AxisObject],
    content_keys: Vec<crate::parts::SealedContentKey>,
) -> anyhow::Result<Reading> {
    if trail.length > MAX_TRAIL_BYTES {
        return Ok(Err(format!(
            "{} bytes, more than a trail of {MAX_TRAIL_BYTES} bytes",
            trail.length
        )));
    }
    let key_file = crate::parts::key_file_of(&trail.name, keys);
    let grant = TrailRead {
        blobs: std::iter::once(trail.blob_key.clone())
            .chain(key_file.as_ref().map(|k| k.blob_key.clone()))
            .collect(),
    };
    let stored = StoredObject {
        blob_key: &trail.blob_key,
        age_header: &trail.age_header,
        ciphertext_length: crate::parts::ciphertext_length(
            trail.length,
            trail.age_header.len() as u64,
        ),
        encrypted: key_file.as_ref().map(|k| (k, trail.length)),
    };
    let open = crate::playback::decrypting_reader(d, &grant, stored, content_keys);
    let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        open()?.take(MAX_TRAIL_BYTES + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    })
    .await?;
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => {
            if let Some(fault) = crate::playback::clip_fault(&e) {
                return Ok(Err(format!(
                    "it does not decrypt with its key file: {fault}"
                )));
            }
            return Err(e.into());
        }
    };
    Ok(custos_axis::gnss::parse(&bytes)
        .map(|points| points.iter().map(point).collect())
        .map_err(|e| e.to_string()))
}

/// Degrees (checked on Earth by the parser) as 1e-7 degrees, rounded.
fn point(p: &custos_axis::gnss::TrackPoint) -> TrailPoint {
    let e7 = |deg: f64| (deg * 1e7).round() as i32;
    TrailPoint {
        at: p.at,
        lat_e7: e7(p.latitude),
        lon_e7: e7(p.longitude),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_become_tenths_of_microdegrees_rounded_and_the_extremes_fit() {
        let at = custos_format::UtcMillis::from_millis(0).unwrap();
        let p = |latitude, longitude| custos_axis::gnss::TrackPoint {
            longitude,
            latitude,
            seconds_from_start: 0.0,
            at,
        };
        assert_eq!(
            point(&p(55.718409, 13.221184)),
            TrailPoint {
                at,
                lat_e7: 557_184_090,
                lon_e7: 132_211_840
            }
        );
        let extreme = point(&p(-90.0, 180.0));
        assert_eq!(
            (extreme.lat_e7, extreme.lon_e7),
            (-900_000_000, 1_800_000_000)
        );
        assert_eq!(point(&p(0.000_000_06, -0.000_000_04)).lat_e7, 1);
    }
}
