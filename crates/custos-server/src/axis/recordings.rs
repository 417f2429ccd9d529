//! An Axis recording in Custos's model (issue 23 point 3): what its
//! container's `Complete` makes of it (camera, officer, times, retention,
//! the facts the statistics count), and what the API shows of it.

use custos_axis::metadata::Metadata;
use custos_axis::names::{Container, Object};
use custos_axis::recording::RecordingFacts;
use custos_catalog::{
    AxisCompletion, AxisContainer, AxisFacts, AxisObject, AxisRecording, Device, DeviceKind,
    Provenance, Recording,
};
use custos_format::UtcMillis;
use sha2::Digest;

use crate::Deployment;

/// What a complete container's recording is made of, read by the caller.
pub(super) struct Completing<'a> {
    pub container: &'a AxisContainer,
    /// Its metadata as completed (already checked by
    /// [`RecordingFacts::read`], which gave `facts`).
    pub merged: &'a Metadata,
    pub facts: &'a RecordingFacts,
    pub objects: &'a [AxisObject],
    /// The `Users/<uuid>` object of its officer.
    pub user: Option<&'a AxisObject>,
    /// Its camera, if Custos knows it already.
    pub camera: Option<&'a Device>,
}

/// The recording a complete container becomes.
pub(super) fn completion(d: &Deployment, c: Completing, now: UtcMillis) -> Option<AxisCompletion> {
    let Completing {
        container,
        merged,
        facts,
        objects,
        user,
        camera,
    } = c;
    let recording_id = container.recording_id?;
    let retention = d.retention();
    // The camera's category (an administrator's choice, as for a Custos
    // camera), and a category the officer chose on the camera, which
    // arrives as a bookmark (the spec's `CategoryID`): of those this
    // deployment has, the longest period applies. Others are shown, not
    // applied.
    let parsed = Container::parse(&container.name).ok()?;
    let category = objects
        .iter()
        .filter(|o| matches!(Object::parse(&parsed, &o.name), Ok(Object::Bookmark(_))))
        .filter_map(|o| Metadata::from_json(&o.metadata).ok())
        .filter_map(|m| m.get("CategoryID").map(str::to_owned))
        // A camera not yet known is in the standard category: a bookmark
        // may lengthen the period, never shorten it below the camera's.
        .chain(std::iter::once(camera.map_or_else(
            || crate::retention::STANDARD_CATEGORY.to_owned(),
            |c| c.retention_category.clone(),
        )))
        .filter_map(|c| retention.period(&c).map(|p| (p, c)))
        .max();
    let (retention_category, period) = match category {
        Some((period, c)) => (c, period),
        None => (
            crate::retention::STANDARD_CATEGORY.to_owned(),
            retention.default_millis,
        ),
    };
    // The officer: the Axis user's own `UserID` (the city's staff number,
    // stored when `StoreUserIDKey` is on), else the Axis user's UUID,
    // which no Custos account's officer id is.
    let officer = user
        .and_then(|u| Metadata::from_json(&u.metadata).ok())
        .and_then(|m| m.get("UserID").filter(|v| !v.is_empty()).map(str::to_owned))
        .unwrap_or_else(|| format!("axis:{}", facts.user));
    let json = merged.to_json();
    Some(AxisCompletion {
        expected: container.metadata.clone(),
        metadata: json.clone(),
        device: Device {
            device_id: facts.serial.clone(),
            public_key: String::new(),
            enrolled_at: now,
            revoked_at: None,
            retention_category: crate::retention::STANDARD_CATEGORY.into(),
            assigned_officer: None,
            team: None,
            kind: DeviceKind::Axis,
        },
        recording: Recording {
            recording_id,
            device_id: facts.serial.clone(),
            sequence: 0,
            officer_id: Some(officer),
            started_at: facts.start,
            ended_at: facts.stop,
            truncated: false,
            stored_at: now,
            delete_after: facts.stop.plus_millis(period),
            retention_category,
            provenance: Provenance::Axis(AxisRecording {
                connection: container.connection.clone(),
                container: container.name.clone(),
                length: objects.iter().map(|o| o.length).sum(),
                content_sha256: custos_catalog::axis_content_digest(objects),
                metadata_sha256: sha2::Sha256::digest(json.as_bytes()).into(),
            }),
        },
        objects: objects.to_vec(),
        facts: AxisFacts {
            prerecord_ms: Some(facts.trigger_on.as_millis() - facts.start.as_millis())
                .filter(|ms| *ms >= 0),
            trigger: facts.trigger_on_reason.clone(),
            stop_reason: facts.trigger_off_reason.clone(),
            firmware: facts.firmware.clone(),
        },
    })
}

/// What the recording page shows of an Axis recording.
#[derive(serde::Serialize)]
pub struct AxisDetail {
    pub connection: String,
    pub container: String,
    /// The Axis user the camera was assigned to.
    pub user: String,
    pub trigger_on: UtcMillis,
    pub trigger_off: Option<UtcMillis>,
    pub trigger_on_reason: Option<String>,
    pub trigger_off_reason: Option<String>,
    pub trigger_on_location: Option<String>,
    pub trigger_off_location: Option<String>,
    pub firmware: Option<String>,
    pub model: Option<String>,
    /// The system controller's serial number.
    pub controller: Option<String>,
    pub time_zone: Option<String>,
    /// Its clips, in recording order: `?part=N` plays one.
    pub parts: Vec<PartDetail>,
    /// Its bookmarks' metadata (a category chosen on the camera is one).
    pub bookmarks: Vec<std::collections::BTreeMap<String, String>>,
    /// Whether a GNSS trail came with it.
    pub gnss_trail: bool,
    /// Where the camera was, as read from the trail once the recording
    /// completed; `None` until read.
    pub gnss: Option<GnssDetail>,
    /// Key files (Axis' own content encryption), by clip.
    pub key_files: usize,
    /// What the check of its signed video found; `None` until checked.
    pub signed_video: Option<SignedVideoDetail>,
}

/// The GNSS trail as read (docs/AXIS.md).
#[derive(serde::Serialize)]
pub struct GnssDetail {
    /// `read`, `none` (no trail came) or `unreadable`.
    pub outcome: &'static str,
    /// In the trail's order.
    pub positions: Vec<GnssPosition>,
    /// Why the trail does not read.
    pub detail: Option<String>,
}

#[derive(serde::Serialize)]
pub struct GnssPosition {
    pub at: UtcMillis,
    /// Degrees × 10^7, as a Custos camera's manifest gives them.
    pub lat_e7: i32,
    pub lon_e7: i32,
}

/// The signed-video check as the recording page shows it.
#[derive(serde::Serialize)]
pub struct SignedVideoDetail {
    /// `authentic`, `incomplete`, `unsigned`, `unverifiable` or `altered`.
    pub outcome: String,
    pub checked_at: UtcMillis,
    /// SHA-256 of the camera's signing key (SubjectPublicKeyInfo), hex.
    pub key_sha256: Option<String>,
    pub clips: Vec<super::signed::ClipCheck>,
}

#[derive(serde::Serialize)]
pub struct PartDetail {
    pub index: usize,
    pub name: String,
    /// `mp4` or `mkv`.
    pub kind: &'static str,
    pub started_at: Option<UtcMillis>,
    pub ended_at: Option<UtcMillis>,
    /// The bytes as they arrived.
    pub length: u64,
    pub sha256: String,
    pub md5: String,
    /// Its key file's name, if the camera encrypted it (Axis' own
    /// encryption); playback decrypts it with the connection's key.
    pub key_file: Option<String>,
}

fn corrupt(what: impl std::fmt::Display) -> crate::error::ApiError {
    crate::api::unavailable(format!("stored Axis recording: {what}"))
}

pub async fn detail(
    d: &Deployment,
    recording_id: uuid::Uuid,
    a: &AxisRecording,
) -> Result<AxisDetail, crate::error::ApiError> {
    let row = d
        .catalog
        .axis_container(&a.connection, &a.container)
        .await
        .map_err(crate::api::unavailable)?
        .ok_or_else(|| corrupt("its container is gone"))?;
    let name = Container::parse(&row.name).map_err(corrupt)?;
    let Container::Recording(ref recording_name) = name else {
        return Err(corrupt("not a recording's container"));
    };
    let meta = Metadata::from_json(&row.metadata).map_err(corrupt)?;
    let at = row.completed_at.unwrap_or(row.updated_at);
    let facts = RecordingFacts::read(recording_name, &meta, at).map_err(corrupt)?;
    let objects = d
        .catalog
        .axis_objects(&a.connection, &a.container)
        .await
        .map_err(crate::api::unavailable)?;
    let mut bookmarks = Vec::new();
    let (mut gnss_trail, mut key_files) = (false, 0);
    for o in &objects {
        match Object::parse(&name, &o.name) {
            Ok(Object::Bookmark(_)) => {
                bookmarks.push(Metadata::from_json(&o.metadata).map_err(corrupt)?.to_map())
            }
            Ok(Object::Trail(_)) => gnss_trail = true,
            Ok(Object::Key { .. }) => key_files += 1,
            _ => {}
        }
    }
    let parts = crate::parts::clips(&a.container, objects)
        .map_err(crate::api::unavailable)?
        .into_iter()
        .enumerate()
        .map(|(index, (clip, _))| PartDetail {
            index,
            name: clip.name,
            kind: clip.kind.extension(),
            started_at: clip.start,
            ended_at: clip.stop,
            length: clip.length,
            sha256: hex::encode(clip.sha256),
            md5: clip.md5,
            key_file: clip.key_file.map(|k| k.name),
        })
        .collect();
    Ok(AxisDetail {
        connection: a.connection.clone(),
        container: a.container.clone(),
        user: facts.user.to_string(),
        trigger_on: facts.trigger_on,
        trigger_off: facts.trigger_off,
        trigger_on_reason: facts.trigger_on_reason,
        trigger_off_reason: facts.trigger_off_reason,
        trigger_on_location: facts.trigger_on_location,
        trigger_off_location: facts.trigger_off_location,
        firmware: facts.firmware,
        model: facts.model,
        controller: facts.controller,
        time_zone: facts.time_zone,
        parts,
        bookmarks,
        gnss_trail,
        gnss: d
            .catalog
            .axis_trail(recording_id)
            .await
            .map_err(crate::api::unavailable)?
            .map(|t| GnssDetail {
                outcome: t.outcome.as_str(),
                positions: t
                    .points
                    .iter()
                    .map(|p| GnssPosition {
                        at: p.at,
                        lat_e7: p.lat_e7,
                        lon_e7: p.lon_e7,
                    })
                    .collect(),
                detail: t.detail,
            }),
        key_files,
        signed_video: signed_video(d, recording_id).await?,
    })
}

async fn signed_video(
    d: &Deployment,
    recording_id: uuid::Uuid,
) -> Result<Option<SignedVideoDetail>, crate::error::ApiError> {
    let Some(check) = d
        .catalog
        .signed_video_check(recording_id)
        .await
        .map_err(crate::api::unavailable)?
    else {
        return Ok(None);
    };
    let kept: super::signed::RecordingCheck =
        serde_json::from_str(&check.report).map_err(corrupt)?;
    Ok(Some(SignedVideoDetail {
        outcome: check.outcome,
        checked_at: check.checked_at,
        key_sha256: check.key_sha256,
        clips: kept.clips,
    }))
}
