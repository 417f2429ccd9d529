//! Redacted copies for subject access requests (ADR 0010, FORMAT.md §13):
//! the privacy officer sends a plan for one recording the request holds;
//! the server decrypts the original as it reads it, renders the derived MP4
//! in process, and encrypts it to the evidence key before it reaches the
//! disk. The derivative is stored as recordings are (age header in the
//! catalog, zeros in its place in the blob), has its own SHA-256 and a link
//! to its source, and is deleted with its source by the sweeper.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use custos_audit::Outcome;
use custos_catalog::Derivative;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{unavailable, Authenticated};
use crate::http::{ApiError, Code};
use crate::subject::PURPOSE;
use crate::Deployment;

/// `POST /api/v1/subject-requests/{case}/derivatives`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDerivative {
    pub recording_id: Uuid,
    pub plan: custos_redact::Plan,
}

/// Counts and hashes the plaintext on its way into the encryptor.
struct Hashing<W> {
    inner: W,
    sha256: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct Made {
    sha256: String,
    plaintext_length: u64,
    frames: u64,
    age_header: Vec<u8>,
    ciphertext_length: u64,
}

/// Opens one part's plaintext, on the blocking thread that renders.
type OpenPart = Box<dyn FnOnce() -> std::io::Result<Box<dyn crate::playback::ReadSeek>> + Send>;

/// Renders `plan` over the recording's parts (their plaintext, part by
/// part) into `staged`, encrypted to the evidence key, and moves the age
/// header out of the file.
fn make(
    parts: Vec<(u64, OpenPart)>,
    plan: &custos_redact::Plan,
    recipient: &age::x25519::Recipient,
    staged: &std::path::Path,
) -> anyhow::Result<Made> {
    let file = std::fs::File::create_new(staged)?;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))?;
    let encrypted = encryptor.wrap_output(std::io::BufWriter::with_capacity(1 << 20, file))?;
    let mut hashing = Hashing {
        inner: encrypted,
        sha256: Sha256::new(),
        bytes: 0,
    };
    let sources = parts
        .into_iter()
        .map(|(offset_millis, open)| custos_redact::Source {
            offset_millis,
            open: move || {
                open()
                    .map(|plain| std::io::BufReader::with_capacity(1 << 20, plain))
                    .map_err(|e| custos_video::VideoError::Io(e).into())
            },
        });
    let rendered = custos_redact::render_parts(sources, plan, &mut hashing)?;
    let Hashing {
        inner,
        sha256,
        bytes,
    } = hashing;
    let mut file = inner
        .finish()?
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing the derivative: {}", e.error()))?;
    file.sync_all()?;
    // Crypto-shredding as for recordings: the header (the wrapped file key)
    // goes to the catalog; zeros take its place in the blob.
    let mut head = vec![0u8; 4096];
    file.seek(SeekFrom::Start(0))?;
    let n = file.read(&mut head)?;
    let length = crate::ingest::age_header_length(&head[..n])
        .ok_or_else(|| anyhow::anyhow!("the derivative's age header was not found"))?;
    let age_header = head[..length].to_vec();
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&vec![0u8; length])?;
    file.sync_all()?;
    let ciphertext_length = file.metadata()?.len();
    Ok(Made {
        sha256: hex::encode(sha256.finalize()),
        plaintext_length: bytes,
        frames: rendered.frames,
        age_header,
        ciphertext_length,
    })
}

/// Makes a redacted copy of a recording held for the request. Audited
/// `recording.redact` (purpose `subject-access-request`, the case) before
/// the original is read; a render that fails is audited again, as failed,
/// and leaves nothing behind.
pub async fn create(
    d: &Arc<Deployment>,
    a: &Authenticated,
    case_id: &str,
    body: NewDerivative,
) -> Result<Derivative, ApiError> {
    let view = crate::subject::request_named(d, a, case_id, "recording.redact").await?;
    if view.case.closed_at.is_some() {
        return Err(ApiError::new(Code::CaseClosed, "that request is closed"));
    }
    if let Err(e) = body.plan.check() {
        return Err(ApiError::new(Code::BadPlan, e.to_string()));
    }
    let footage =
        crate::api::Footage::held_for_subject_request(d, a, case_id, body.recording_id).await?;
    let recording = footage.recording().clone();
    let derivative_id = Uuid::now_v7();
    let event = |outcome| {
        a.event(d, "recording.redact", outcome)
            .object(format!("recording:{}", recording.recording_id))
            .purpose(PURPOSE, case_id)
    };
    a.record(
        d,
        event(Outcome::Ok).detail(format!("derivative {derivative_id}")),
    )
    .await?;
    let staging = d
        .ingest
        .staging_dir()
        .join(format!("derived-{derivative_id}.part"));
    // An Axis recording's clips, each at its place in the recording, and
    // the connection's keys for those its camera encrypted.
    let encrypted = footage
        .parts()
        .iter()
        .any(|p| p.clip.as_ref().is_some_and(|c| c.key_file.is_some()));
    let keys = match recording.axis() {
        Some(axis) if encrypted => crate::parts::content_keys(&*d.catalog, &axis.connection)
            .await
            .map_err(unavailable)?,
        _ => Vec::new(),
    };
    let offsets = crate::parts::offsets(&recording, footage.parts());
    let parts: Vec<(u64, OpenPart)> = footage
        .parts()
        .iter()
        .zip(offsets)
        .map(|(part, offset)| {
            let open = crate::playback::decrypting_reader(d, &footage, part.stored(), keys.clone());
            (offset, Box::new(open) as OpenPart)
        })
        .collect();
    let (plan, recipient, staged) = (body.plan.clone(), d.keys.recipient.clone(), staging.clone());
    // A render that panics (a decoder's fault on a hostile clip) is a
    // failed render like any other: cleaned up and on record.
    let made = tokio::task::spawn_blocking(move || -> anyhow::Result<Made> {
        make(parts, &plan, &recipient, &staged)
    })
    .await
    .unwrap_or_else(|e| Err(anyhow::anyhow!("the render stopped: {e}")));
    let key = format!("derived/{derivative_id}.age");
    let stored = match made {
        Ok(made) => d
            .blobs
            .adopt_file(&key, &staging)
            .await
            .map(|_| made)
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let made = match stored {
        Ok(made) => made,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), %derivative_id, "a redaction failed");
            let _ = std::fs::remove_file(&staging);
            let _ = d.blobs.delete(&key).await;
            a.record(
                d,
                event(Outcome::Failed).detail(format!("derivative {derivative_id} not made")),
            )
            .await?;
            return Err(render_refusal(&e));
        }
    };
    let derivative = Derivative {
        derivative_id,
        recording_id: recording.recording_id,
        case_id: case_id.to_owned(),
        plan: serde_json::to_string(&body.plan).map_err(unavailable)?,
        sha256: made.sha256,
        plaintext_length: made.plaintext_length,
        age_header: made.age_header,
        blob_key: key.clone(),
        ciphertext_length: made.ciphertext_length,
        frames: made.frames,
        created_by: a.caller.name.clone(),
        created_at: (d.clock)(),
        deleted_at: None,
    };
    if let Err(e) = d.catalog.add_derivative(&derivative).await {
        let _ = d.blobs.delete(&key).await;
        return Err(unavailable(e));
    }
    Ok(derivative)
}

/// Why a redacted copy was not made, for whoever asked: the video's own
/// fault with its reason (a codec or stream the decoder here does not
/// take, clips of different sizes, a clip that does not open with its key
/// file) is `422 undecodable`; anything else is the render's, said
/// without detail.
fn render_refusal(e: &anyhow::Error) -> ApiError {
    use custos_redact::RedactError;
    let why = match e.downcast_ref::<RedactError>() {
        Some(RedactError::Unsupported(why)) => Some(why.clone()),
        Some(RedactError::Decode(why)) => {
            Some(format!("a clip's video could not be decoded here: {why}"))
        }
        Some(RedactError::Video(custos_video::VideoError::Io(io))) => {
            crate::playback::clip_fault(io)
                .map(|fault| format!("a clip does not decrypt with its key file: {fault}"))
        }
        _ => None,
    };
    match why {
        Some(why) => ApiError::new(
            Code::Undecodable,
            format!("the redacted copy could not be made (the original is unchanged): {why}"),
        ),
        None => ApiError::new(
            Code::RenderFailed,
            "the redacted copy could not be made (the original is unchanged)",
        ),
    }
}

/// `GET /api/v1/subject-requests/{case}/derivatives`.
pub async fn list(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
) -> Result<Vec<Derivative>, ApiError> {
    crate::subject::request_named(d, a, case_id, "derivative.list").await?;
    let derivatives = d
        .catalog
        .derivatives_for_case(case_id)
        .await
        .map_err(unavailable)?;
    // Which redacted copies exist for whom is itself personal data: read
    // only with an entry naming the request.
    a.ok(d, "derivative.list", &format!("case:{case_id}"))
        .await?;
    Ok(derivatives)
}

/// A redacted copy checked to belong to the request it is seen for, by the
/// person who handles requests: the grant that opens it.
struct CopyForItsRequest<'a>(&'a custos_catalog::Derivative);

impl crate::keys::Grant for CopyForItsRequest<'_> {
    fn covers(&self, blob_key: &str) -> bool {
        self.0.blob_key == blob_key
    }
}

/// `GET /api/v1/derivatives/{id}/video?purpose=subject-access-request&case=…`:
/// the redacted copy, decrypted on the fly (HTTP ranges), for the privacy
/// officer to check before it is delivered; audited like playback.
pub async fn video(
    d: &Arc<Deployment>,
    a: &Authenticated,
    id: &str,
    purpose: Option<&str>,
    case: Option<&str>,
    range: Option<&str>,
) -> Result<axum::response::Response, ApiError> {
    let object = format!("derivative:{}", id.escape_default());
    a.permit(
        d,
        custos_access::Action::HandleSubjectRequests,
        "derivative.play",
        &object,
    )
    .await?;
    let refuse = |why: &'static str| {
        let mut event = a
            .event(d, "derivative.play", Outcome::Refused)
            .object(&object);
        event.purpose = purpose.map(str::to_owned).filter(|p| p.len() <= 100);
        event.case = case.map(str::to_owned).filter(|c| c.len() <= 100);
        (event, ApiError::new(Code::PurposeRequired, why))
    };
    // As for footage: no purpose, no access (refused and audited) — asked
    // before anything about the copy is looked up.
    let Some(case) = case.filter(|_| purpose == Some(PURPOSE)) else {
        let (event, answer) = refuse(
            "a redacted copy is seen for its request: purpose=subject-access-request and its case",
        );
        return Err(a.refused(d, event, answer).await);
    };
    let found = match id.parse::<Uuid>() {
        Ok(id) => d.catalog.derivative(id).await.map_err(unavailable)?,
        Err(_) => None,
    };
    let Some(derivative) = found.filter(|x| x.deleted_at.is_none()) else {
        return Err(ApiError::new(Code::NotFound, "no such redacted copy"));
    };
    if case != derivative.case_id {
        let (event, answer) = refuse("that redacted copy belongs to another request");
        return Err(a.refused(d, event, answer).await);
    }
    let copy = CopyForItsRequest(&derivative);
    let length = derivative.plaintext_length;
    let (start, end, partial) = match range {
        None => (0, length.saturating_sub(1), false),
        Some(h) => match crate::playback::parse_range(h, length) {
            Ok(r) => (r.start, r.end, true),
            Err(_) => {
                return Err(ApiError::new(
                    Code::BadRange,
                    "a single byte range within the video",
                ))
            }
        },
    };
    a.record(
        d,
        a.event(d, "derivative.play", Outcome::Ok)
            .object(format!("derivative:{}", derivative.derivative_id))
            .purpose(PURPOSE, &derivative.case_id)
            .detail(format!("bytes {start}-{end}")),
    )
    .await?;
    let source = crate::playback::CiphertextSource::open(&d.blobs, &copy.0.blob_key);
    let payload = crate::playback::open_payload(
        &copy.0.age_header,
        &source,
        copy.0.ciphertext_length,
        d.keys
            .evidence
            .identity(&copy, &copy.0.blob_key)
            .map_err(unavailable)?,
    )
    .await
    .map_err(unavailable)?;
    let body = crate::playback::plaintext_range(Arc::new(payload), source, start, end);
    crate::api::video_head("video/mp4", partial, (start, end), end + 1 - start, length)
        .header("custos-sha256", &derivative.sha256)
        .body(axum::body::Body::from_stream(body))
        .map_err(unavailable)
}

/// Deletes the derivatives whose source recording is gone (the sweeper's
/// last step): key forgotten, blob deleted, audited.
pub async fn sweep_orphans(
    catalog: &(impl custos_catalog::ExportStore + ?Sized),
    blobs: &custos_blobs::BlobStore,
    audit: &crate::retention::AuditSink,
    now: custos_format::UtcMillis,
) -> Result<u64, crate::retention::SweepError> {
    let mut removed = 0;
    loop {
        let orphans = catalog.orphaned_derivatives(500).await?;
        if orphans.is_empty() {
            return Ok(removed);
        }
        let events = orphans
            .iter()
            .map(|x| {
                custos_audit::AuditEvent::new(
                    now,
                    "system:sweeper",
                    "derivative.delete",
                    Outcome::Ok,
                )
                .object(format!("derivative:{}", x.derivative_id))
                .detail(format!(
                    "its source recording {} was deleted",
                    x.recording_id
                ))
            })
            .collect();
        audit.record_all(events).await?;
        for x in &orphans {
            blobs.delete(&x.blob_key).await?;
            catalog.delete_derivative(x.derivative_id, now).await?;
        }
        removed += orphans.len() as u64;
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/redaction_plan.rs`): bytes as a
/// plan posted by the editor (the API's JSON body and the web form's
/// field parse it the same way): refused, or checked and then asked for
/// its boxes at any time — never a panic.
#[doc(hidden)]
pub fn fuzz_plan(data: &[u8]) {
    let Ok(plan) = serde_json::from_slice::<custos_redact::Plan>(data) else {
        return;
    };
    if plan.check().is_ok() {
        for at in [0, 1, 999, 60_000, u64::MAX / 2, u64::MAX] {
            let _ = plan.boxes_at(at);
            for track in &plan.tracks {
                let _ = track.region_at(at);
            }
        }
    }
}
