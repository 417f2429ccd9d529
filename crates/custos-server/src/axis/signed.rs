//! Axis signed video, checked once a recording is complete (issue 23 point
//! 5, docs/SIGNED-VIDEO.md). Each MP4 clip is read through its grant, as
//! stored (decrypted from the evidence key, and from Axis' own encryption
//! if the camera used it), and verified GOP by GOP; the recording keeps
//! what was found, the log says so, and a failure — or a camera that signs
//! sending footage that is not wholly signed — is an incident.
//!
//! A camera's key travels in its stream, so the first key a camera signs
//! with is pinned for it (trust on first use, as ssh does): a recording
//! signed later with another key fails. Axis' attestation of the key is
//! not checked (docs/SIGNED-VIDEO.md, "What is not checked").

use std::io::BufReader;

use custos_audit::{AuditEvent, Outcome as AuditOutcome};
use custos_catalog::{IncidentKind, NewIncident, Recording, SignedVideoCheck};
use custos_signed_video::{Options, Outcome, Report};
use uuid::Uuid;

use crate::parts::Part;
use crate::Deployment;

/// The check's own grant: opens the blobs of one clip (and its key file)
/// for the verifier only, which keeps hashes and frame numbers, never
/// content.
struct SignatureCheck {
    blobs: Vec<String>,
}

impl crate::keys::Grant for SignatureCheck {
    fn covers(&self, blob_key: &str) -> bool {
        self.blobs.iter().any(|b| b == blob_key)
    }
}

/// Checks a just completed recording before `Complete` is answered, so
/// its verdict is there when it is first listed. Never fails the
/// completion: a check that cannot be made now (the store failing) is
/// logged and made by the next maintenance.
pub async fn check(d: &Deployment, r: &Recording) {
    if let Err(e) = check_one(d, r.recording_id).await {
        tracing::error!(error = %e, "checking an Axis recording's signed video failed; maintenance tries again");
    }
}

/// Recordings checked per pass: each is read whole.
const PER_PASS: u64 = 20;

/// What one clip showed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ClipCheck {
    pub clip: String,
    pub outcome: Outcome,
    /// The first GOP that fails, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Why it could not be read, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<String>,
    /// GOPs checked; the report keeps only those that fail (at most
    /// [`KEPT_FAILURES`]): a shift's clip has tens of thousands.
    #[serde(default)]
    pub gops: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

/// Failing GOPs kept per clip, and bad frames per GOP; the first of them
/// is the one named.
const KEPT_FAILURES: usize = 100;

/// What a recording's check keeps, as its JSON.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RecordingCheck {
    pub outcome: Outcome,
    pub clips: Vec<ClipCheck>,
}

/// Checks the Axis recordings not yet checked, oldest first; returns how
/// many were. A recording that cannot be read now is logged and tried
/// again next time; nothing is kept for a recording not read to its end.
pub async fn check_pending(d: &Deployment) -> usize {
    let ids = match d.catalog.unchecked_axis_recordings(PER_PASS).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, "listing Axis recordings to check failed");
            return 0;
        }
    };
    let mut checked = 0;
    for id in ids {
        // One recording that cannot be read now does not hold up the rest.
        match check_one(d, id).await {
            Ok(()) => checked += 1,
            Err(e) => {
                tracing::error!(error = %e, "checking an Axis recording's signed video failed")
            }
        }
    }
    checked
}

/// The worst of the clips' outcomes; clips of which some are signed and
/// some not make an incomplete recording.
fn overall(clips: &[ClipCheck]) -> Outcome {
    let has = |o: Outcome| clips.iter().any(|c| c.outcome == o);
    if has(Outcome::Altered) {
        Outcome::Altered
    } else if has(Outcome::Unverifiable) {
        Outcome::Unverifiable
    } else if clips.is_empty() || clips.iter().all(|c| c.outcome == Outcome::Unsigned) {
        Outcome::Unsigned
    } else if has(Outcome::Incomplete) || has(Outcome::Unsigned) {
        Outcome::Incomplete
    } else {
        Outcome::Authentic
    }
}

async fn check_one(d: &Deployment, id: Uuid) -> anyhow::Result<()> {
    let Some(recording) = d.catalog.recording(id).await? else {
        return Ok(()); // deleted meanwhile
    };
    let Some(axis) = recording.axis() else {
        return Ok(());
    };
    let parts = crate::parts::parts(&*d.catalog, &recording).await?;
    let encrypted = parts
        .iter()
        .any(|p| p.clip.as_ref().is_some_and(|c| c.key_file.is_some()));
    let content_keys = if encrypted {
        crate::parts::content_keys(&*d.catalog, &axis.connection).await?
    } else {
        Vec::new()
    };
    let pinned_before = d.catalog.axis_signing_key(&recording.device_id).await?;
    let mut pinned = pinned_before.clone();
    let mut clips = Vec::new();
    for part in &parts {
        let mut clip = verify_part(d, part, content_keys.clone(), pinned.as_deref()).await?;
        // A key is pinned only from a clip whose signatures hold.
        if let (None, Some(key), Outcome::Authentic | Outcome::Incomplete) = (
            &pinned,
            clip.report.as_ref().and_then(|r| r.key_sha256.clone()),
            clip.outcome,
        ) {
            let kept = d
                .catalog
                .pin_axis_signing_key(&recording.device_id, &key, (d.clock)())
                .await?;
            // Another recording of the camera, checked at the same time,
            // pinned first: this clip is held to that key.
            if kept != key {
                clip.outcome = Outcome::Altered;
                clip.failure = Some("it is signed with another key than its camera's".into());
            }
            pinned = Some(kept);
        }
        clips.push(clip);
    }
    let outcome = overall(&clips);
    let check = RecordingCheck { outcome, clips };
    let now = (d.clock)();
    let detail = summary(&check);
    // On record before it is kept: the footage was read.
    d.audit
        .record(
            AuditEvent::new(
                now,
                "system:signed-video",
                "axis.signed-video",
                AuditOutcome::Ok,
            )
            .object(format!("recording:{id}"))
            .detail(detail.clone()),
        )
        .await?;
    let key_sha256 = check
        .clips
        .iter()
        .find_map(|c| c.report.as_ref().and_then(|r| r.key_sha256.clone()));
    let kept = d
        .catalog
        .add_signed_video_check(&SignedVideoCheck {
            recording_id: id,
            outcome: outcome.word().into(),
            report: serde_json::to_string(&check)?,
            key_sha256,
            checked_at: now,
        })
        .await?;
    // Another node's check came first: its incident is the one.
    if kept && needs_incident(outcome, pinned_before.is_some()) {
        let detail = if outcome == Outcome::Altered {
            detail
        } else {
            format!(
                "{detail}, though camera `{}` signs",
                recording.device_id.escape_default()
            )
        };
        d.catalog
            .add_incident(&incident(&recording, detail), now)
            .await?;
    }
    Ok(())
}

/// A failure always is one; anything short of authentic is one from a
/// camera known to sign.
fn needs_incident(outcome: Outcome, camera_signs: bool) -> bool {
    outcome == Outcome::Altered || (camera_signs && outcome != Outcome::Authentic)
}

fn incident(r: &Recording, detail: String) -> NewIncident {
    NewIncident {
        kind: IncidentKind::SignedVideo,
        device_id: Some(r.device_id.clone()),
        dock_id: None,
        sequence: Some(r.sequence),
        recording_id: Some(r.recording_id),
        detail,
    }
}

/// `signed video altered: clip X: GOP 4 (frames 124–186): …`.
fn summary(check: &RecordingCheck) -> String {
    let mut text = format!("signed video {}", check.outcome.word());
    if let Some(c) = check
        .clips
        .iter()
        .find(|c| c.outcome == check.outcome && (c.failure.is_some() || c.unread.is_some()))
    {
        let why = c.failure.as_deref().or(c.unread.as_deref()).unwrap_or("");
        text.push_str(&format!(": clip {}: {why}", c.clip.escape_default()));
    }
    text
}

async fn verify_part(
    d: &Deployment,
    part: &Part,
    content_keys: Vec<crate::parts::SealedContentKey>,
    pinned: Option<&str>,
) -> anyhow::Result<ClipCheck> {
    let Some(clip) = &part.clip else {
        anyhow::bail!("a recording's part without a clip");
    };
    let unread = |why: String| ClipCheck {
        clip: clip.name.clone(),
        outcome: Outcome::Unverifiable,
        failure: None,
        unread: Some(why),
        gops: 0,
        report: None,
    };
    if clip.kind != custos_axis::names::ClipType::Mp4 {
        return Ok(unread(
            "a Matroska clip: signatures are read from MP4 clips only".into(),
        ));
    }
    let grant = SignatureCheck {
        blobs: std::iter::once(part.blob_key.clone())
            .chain(clip.key_file.as_ref().map(|k| k.blob_key.clone()))
            .collect(),
    };
    let open = crate::playback::decrypting_reader(d, &grant, part.stored(), content_keys);
    let options = Options {
        pinned_key_sha256: pinned.and_then(|k| hex::decode(k).ok()?.try_into().ok()),
    };
    let verified = tokio::task::spawn_blocking(move || {
        let reader = open()?;
        custos_signed_video::verify_mp4(BufReader::with_capacity(1 << 20, reader), options)
    })
    .await?;
    let report = match verified {
        Ok(report) => report,
        Err(custos_signed_video::SignedVideoError::Format(why)) => return Ok(unread(why)),
        Err(custos_signed_video::SignedVideoError::Io(e)) => {
            if let Some(fault) = crate::playback::clip_fault(&e) {
                return Ok(unread(format!(
                    "it does not decrypt with its key file: {fault}"
                )));
            }
            // The clip ends where its boxes say it goes on (or its blob is
            // shorter than it: no check of it will ever read more).
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                return Ok(unread(format!("it could not be read to its end: {e}")));
            }
            // The store failing or a damaged blob: not the clip's verdict.
            return Err(e.into());
        }
    };
    let (outcome, failure, gops) = (report.outcome(), report.first_failure(), report.gops.len());
    let mut report = report;
    report.gops.retain(|g| g.failure.is_some());
    report.gops.truncate(KEPT_FAILURES);
    for g in &mut report.gops {
        g.bad.truncate(KEPT_FAILURES);
    }
    Ok(ClipCheck {
        clip: clip.name.clone(),
        outcome,
        failure,
        unread: None,
        gops,
        report: Some(report),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(outcome: Outcome) -> ClipCheck {
        ClipCheck {
            clip: "c.mp4".into(),
            outcome,
            failure: None,
            unread: None,
            gops: 0,
            report: None,
        }
    }

    #[test]
    fn the_worst_clip_decides_and_a_mix_of_signed_and_not_is_incomplete() {
        use Outcome::*;
        let of = |os: &[Outcome]| overall(&os.iter().map(|o| clip(*o)).collect::<Vec<_>>());
        assert_eq!(of(&[Authentic, Altered, Unverifiable]), Altered);
        assert_eq!(of(&[Authentic, Unverifiable]), Unverifiable);
        assert_eq!(of(&[Authentic, Unsigned]), Incomplete);
        assert_eq!(of(&[Authentic, Incomplete]), Incomplete);
        assert_eq!(of(&[Unsigned, Unsigned]), Unsigned);
        assert_eq!(of(&[]), Unsigned);
        assert_eq!(of(&[Authentic, Authentic]), Authentic);
    }

    #[test]
    fn an_incident_for_every_failure_and_for_less_than_authentic_from_a_signer() {
        use Outcome::*;
        for o in [Unsigned, Authentic, Incomplete, Unverifiable, Altered] {
            assert_eq!(needs_incident(o, false), o == Altered, "{o:?}");
            assert_eq!(needs_incident(o, true), o != Authentic, "{o:?}");
        }
    }
}
