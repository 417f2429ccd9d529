//! The dock: checks a docked camera out to an officer, offloads its
//! recordings to the evidence server over TLS with the resumable protocol of
//! docs/PROTOCOL.md, and has the camera wipe each one only against the
//! server's signed receipt.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use custos_camera::storage::RecordingPaths;
use custos_camera::wipe::{finish_interrupted_wipes, wipe, NotConfirmed};
use custos_camera::CameraDir;
use custos_format::{Handover, SignedDeletionReceipt, SignedReceipt};
use custos_protocol::{
    camera_path, complete_path, upload_path, CameraStanding, ErrorBody, OfferRequest,
    OfferResponse, SetAsideReport, DOCK_PATH, OFFER_PATH, SET_ASIDE_PATH, UPLOAD_OFFSET,
};
use serde::{Deserialize, Serialize};

/// How a report begins when another dock holds the camera.
pub const IN_USE: &str = "in use";

/// Bytes per PATCH request: a broken connection costs at most this much.
pub const PIECE_SIZE: u64 = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct DockConfig {
    /// `https://host:port`
    pub server: String,
    pub dock_id: String,
    pub token: String,
    /// The server's certificate (PEM), pinned as the only trusted root.
    pub server_certificate_pem: String,
}

/// How one camera's offload went.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CameraReport {
    pub device_id: String,
    pub stored: usize,
    pub already_stored: usize,
    /// Copies of recordings the server held and has deleted for good (its
    /// retention period ended before this copy came back): wiped against
    /// the server's deletion receipt, never stored again.
    #[serde(default)]
    pub deleted_on_server: usize,
    pub wiped: usize,
    /// (recording stem, error code): refused by the server, kept on the camera.
    pub refused: Vec<(String, String)>,
    /// (recording stem, code): the camera's own copy is damaged or
    /// unreadable (`damaged-on-camera`, `unreadable-on-camera`), does not
    /// match its receipt (`not-wiped`), or a local fault kept it from being
    /// wiped (`wipe-failed`): set aside on the camera with a local report,
    /// and the recordings after it went on.
    #[serde(default)]
    pub set_aside: Vec<(String, String)>,
    /// Why offloading stopped early (server unreachable, storage full, …);
    /// the rest stays on the camera for the next docking.
    pub interrupted: Option<String>,
}

/// How a recording came to be let go of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handed {
    /// Sent now and stored.
    Stored,
    /// The server had it already (an earlier docking's receipt was lost).
    AlreadyStored,
    /// The server had it and has deleted it for good.
    DeletedOnServer,
}

/// A fault of the camera's own copy of one recording: that recording is
/// set aside (a local report on the camera) and the next one goes on.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SetAside {
    pub code: &'static str,
    pub message: String,
}

fn unreadable(what: &std::path::Path, e: impl std::fmt::Display) -> anyhow::Error {
    SetAside {
        code: "unreadable-on-camera",
        message: format!("{}: {e}", file_name(what)),
    }
    .into()
}

/// A file's name without the dock's directories (the message goes to the
/// server).
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn damaged(message: String) -> anyhow::Error {
    SetAside {
        code: "damaged-on-camera",
        message,
    }
    .into()
}

/// A refusal the server will repeat however often we ask.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refused {
    pub code: String,
    pub message: String,
}

pub struct Dock {
    agent: ureq::Agent,
    config: DockConfig,
    /// Request latencies (request sent to response head received), for benchmarks.
    latencies: Option<Arc<std::sync::Mutex<Vec<Duration>>>>,
}

impl Dock {
    pub fn new(config: DockConfig) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = ureq::tls::Certificate::from_pem(config.server_certificate_pem.as_bytes())
            .map_err(|e| anyhow!("the server certificate is not PEM: {e}"))?;
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(600)))
            .build()
            .into();
        Ok(Self {
            agent,
            config,
            latencies: None,
        })
    }

    /// Records every request's latency into `sink` (benchmarks).
    pub fn record_latencies(mut self, sink: Arc<std::sync::Mutex<Vec<Duration>>>) -> Self {
        self.latencies = Some(sink);
        self
    }

    fn timed<T>(&self, request: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let result = request();
        if let Some(sink) = &self.latencies {
            sink.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(started.elapsed());
        }
        result
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.config.server.trim_end_matches('/'))
    }

    fn auth(&self) -> String {
        format!("Bearer {}:{}", self.config.dock_id, self.config.token)
    }

    /// Checks the camera out to an officer for a shift.
    pub fn checkout(cam: &CameraDir, officer: &str) -> Result<()> {
        custos_format::manifest::check_identifier(officer).map_err(anyhow::Error::msg)?;
        let mut config = cam.load_config()?;
        config.officer_id = Some(officer.to_owned());
        cam.save_config(&config)
    }

    /// Checks a personal camera out to the officer the server assigned it
    /// to; returns that officer. Refuses a camera the server does not know,
    /// one it revoked (it must not go out), and a pool camera (someone must
    /// say who takes it).
    pub fn checkout_assigned(&self, cam: &CameraDir) -> Result<String> {
        let device_id = cam.load_config()?.device_id;
        let answer = self.timed(|| {
            self.agent
                .get(&self.url(&camera_path(&device_id)))
                .header("authorization", &self.auth())
                .call()
        })?;
        if answer.status().as_u16() == 404 {
            bail!("the server does not know camera {device_id}: enroll it first");
        }
        let assignment: CameraStanding = parse_response(answer)?;
        if assignment.revoked {
            bail!("camera {device_id} is revoked: do not hand it out");
        }
        let Some(officer) = assignment.assigned_officer else {
            bail!("camera {device_id} is a pool camera: name the officer who takes it (--officer)");
        };
        Self::checkout(cam, &officer)?;
        Ok(officer)
    }

    /// Offloads every pending recording of one docked camera, in sequence
    /// order, wiping each only against its receipt. `progress` is told the
    /// bytes sent.
    pub fn offload(&self, cam: &CameraDir, progress: &dyn Fn(u64)) -> Result<CameraReport> {
        let config = cam.load_config()?;
        if config.server_receipt_key.is_none() {
            bail!(
                "camera {} is not enrolled: it has no pinned server key and could never be wiped",
                config.device_id
            );
        }
        let mut report = CameraReport {
            device_id: config.device_id.clone(),
            ..Default::default()
        };
        // One dock at a time: a camera moved to a second dock mid-offload
        // (or docked twice) would otherwise have its files read while the
        // first dock wipes them. The lock goes with the process, so a dock
        // that dies frees the camera. The second dock says so and leaves
        // everything for the next docking.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(cam.dock_lock_path())
            .with_context(|| format!("opening {}", cam.dock_lock_path().display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                report.interrupted = Some(format!(
                    "{IN_USE}: camera {} is being offloaded by another dock; try again when it is done",
                    config.device_id
                ));
                return Ok(report);
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).context("locking the camera for this dock")
            }
        }
        // Wipes a power cut interrupted: finished where they can be; one that
        // cannot (a full or read-only camera) is reported and the offload
        // goes on, as every other recording's fate is its own.
        match finish_interrupted_wipes(cam) {
            Ok(n) => report.wiped += n,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "an interrupted wipe could not be finished");
                report
                    .set_aside
                    .push(("interrupted wipes".into(), "wipe-failed".into()));
            }
        }
        // The dock's own standing first: a revoked or unknown dock learns it
        // even with nothing to send.
        let standing = self.timed(|| {
            self.agent
                .get(&self.url(DOCK_PATH))
                .header("authorization", &self.auth())
                .call()
        });
        if let Err(e) = standing
            .map_err(anyhow::Error::from)
            .and_then(parse_response::<serde_json::Value>)
        {
            report.interrupted = Some(format!("{e:#}"));
            return Ok(report);
        }
        for paths in in_signed_order(cam.pending_recordings()?) {
            match self.upload_recording(cam, &paths, progress) {
                Ok((receipt, how)) => {
                    match how {
                        Handed::Stored => report.stored += 1,
                        Handed::AlreadyStored => report.already_stored += 1,
                        Handed::DeletedOnServer => report.deleted_on_server += 1,
                    }
                    custos_faults::crash_point("dock:before-wipe");
                    // A copy that no longer matches its receipt is kept (only
                    // a confirmed copy is wiped), and the rest go on.
                    match wipe(cam, &paths, &receipt) {
                        Ok(_) => report.wiped += 1,
                        // The copy is not what the server received: the
                        // server hears of it, as of any damaged copy.
                        Err(e) if e.downcast_ref::<NotConfirmed>().is_some() => {
                            let fault = SetAside {
                                code: "not-wiped",
                                message: format!("{e:#}"),
                            };
                            self.tell_the_server(&paths, &fault);
                            set_aside(&mut report, &paths, fault);
                        }
                        // A local fault (no room for the receipt, a file
                        // that will not go): this camera's, not evidence.
                        Err(e) => set_aside(
                            &mut report,
                            &paths,
                            SetAside {
                                code: "wipe-failed",
                                message: format!("{e:#}"),
                            },
                        ),
                    }
                }
                Err(e) => match e.downcast::<Refused>() {
                    Ok(refused) => {
                        // Kept on the camera, shown in its status; the next one goes on.
                        let note = serde_json::json!({"code": refused.code, "message": refused.message, "at": custos_format::UtcMillis::now()});
                        if let Err(e) =
                            std::fs::write(&paths.refused, serde_json::to_vec_pretty(&note)?)
                        {
                            tracing::warn!(recording = %paths.stem, error = %e, "could not write the refusal beside the recording");
                        }
                        tracing::warn!(recording = %paths.stem, code = %refused.code, "server refused a recording; kept on the camera");
                        report.refused.push((paths.stem.clone(), refused.code));
                    }
                    Err(other) => match other.downcast::<SetAside>() {
                        Ok(fault) => {
                            self.tell_the_server(&paths, &fault);
                            set_aside(&mut report, &paths, fault);
                        }
                        Err(other) => {
                            // Transient: keep the order, try again at the next docking.
                            report.interrupted = Some(format!("{other:#}"));
                            break;
                        }
                    },
                },
            }
        }
        Ok(report)
    }

    /// Tells the server which recording was set aside and why, so it is an
    /// incident there (one per recording) and a gap before a later one
    /// names it set aside, not missing. Only a recording whose manifest and
    /// signature can be read can be named; the report is best effort (the
    /// camera's own report is what keeps the recording).
    fn tell_the_server(&self, paths: &RecordingPaths, fault: &SetAside) {
        let (Ok(manifest), Ok(signature)) = (
            std::fs::read_to_string(&paths.manifest),
            std::fs::read(&paths.signature),
        ) else {
            return;
        };
        let sent = self
            .timed(|| {
                self.agent
                    .post(&self.url(SET_ASIDE_PATH))
                    .header("authorization", &self.auth())
                    .send_json(SetAsideReport {
                        manifest: manifest.clone(),
                        signature: hex::encode(&signature),
                        code: fault.code.to_owned(),
                        detail: fault.message.clone(),
                    })
            })
            .map_err(anyhow::Error::from)
            .and_then(parse_response::<serde_json::Value>);
        if let Err(e) = sent {
            tracing::warn!(recording = %paths.stem, error = %format!("{e:#}"), "could not report a recording set aside");
        }
    }

    /// Uploads one recording (offer, resumable send, complete) without
    /// wiping it; returns the receipt and how the server came to give it.
    pub fn upload_recording(
        &self,
        cam: &CameraDir,
        paths: &RecordingPaths,
        progress: &dyn Fn(u64),
    ) -> Result<(Handover, Handed)> {
        let manifest =
            std::fs::read_to_string(&paths.manifest).map_err(|e| unreadable(&paths.manifest, e))?;
        let signature =
            std::fs::read(&paths.signature).map_err(|e| unreadable(&paths.signature, e))?;
        let _ = cam;
        // The camera's copy against what its signed manifest says, before
        // anything is offered: a short or missing file is set aside here,
        // not found out half-way. (What the manifest says is the server's
        // to judge: one that does not parse is offered and refused there.)
        let declared = serde_json::from_str::<serde_json::Value>(&manifest)
            .ok()
            .and_then(|m| m["ciphertext"]["length"].as_u64());
        let on_disk = std::fs::metadata(&paths.ciphertext)
            .map_err(|e| unreadable(&paths.ciphertext, e))?
            .len();
        if let Some(declared) = declared.filter(|d| *d != on_disk) {
            return Err(damaged(format!(
                "{} holds {on_disk} bytes, its manifest says {declared}",
                file_name(&paths.ciphertext)
            )));
        }
        let response = self
            .timed(|| {
                self.agent
                    .post(&self.url(OFFER_PATH))
                    .header("authorization", &self.auth())
                    .send_json(OfferRequest {
                        manifest: manifest.clone(),
                        signature: hex::encode(&signature),
                    })
            })
            .context("offering a recording to the server")?;
        let offer: OfferResponse = parse_response(response)?;
        custos_faults::crash_point("dock:after-offer");
        let (upload_id, mut offset, length) = match offer {
            OfferResponse::Stored {
                receipt,
                receipt_signature,
            } => {
                let receipt = parse_receipt(&receipt, &receipt_signature)?;
                return Ok((receipt.into(), Handed::AlreadyStored));
            }
            OfferResponse::Deleted {
                receipt,
                receipt_signature,
            } => {
                let signature =
                    hex::decode(&receipt_signature).context("receipt signature is not hex")?;
                let receipt = SignedDeletionReceipt::parse(receipt.as_bytes(), &signature)?;
                return Ok((receipt.into(), Handed::DeletedOnServer));
            }
            OfferResponse::Upload {
                upload_id,
                offset,
                length,
            } => (upload_id, offset, length),
        };
        let mut file =
            File::open(&paths.ciphertext).map_err(|e| unreadable(&paths.ciphertext, e))?;
        let mut retried_offset = false;
        let mut buffer = Vec::with_capacity(PIECE_SIZE as usize);
        while offset < length {
            let piece = PIECE_SIZE.min(length - offset);
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| unreadable(&paths.ciphertext, e))?;
            // One buffer per piece: sent with a Content-Length in large writes.
            buffer.clear();
            (&mut file)
                .take(piece)
                .read_to_end(&mut buffer)
                .map_err(|e| unreadable(&paths.ciphertext, e))?;
            if buffer.len() as u64 != piece {
                return Err(damaged(format!(
                    "{} changed while being sent",
                    file_name(&paths.ciphertext)
                )));
            }
            let response = self
                .timed(|| {
                    self.agent
                        .patch(&self.url(&upload_path(upload_id)))
                        .header("authorization", &self.auth())
                        .header(UPLOAD_OFFSET, &offset.to_string())
                        .header("content-type", "application/offset+octet-stream")
                        .send(&buffer[..])
                })
                .context("sending ciphertext")?;
            let status = response.status().as_u16();
            let server_offset = response
                .headers()
                .get(UPLOAD_OFFSET)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            match (status, server_offset) {
                (204, Some(new)) => {
                    custos_faults::crash_point("dock:after-patch");
                    progress(new - offset);
                    offset = new;
                    retried_offset = false;
                }
                (409, Some(current)) if !retried_offset => {
                    // Another try got further (or less far) than we thought: follow the server.
                    offset = current;
                    retried_offset = true;
                }
                _ => {
                    return Err(parse_response::<serde_json::Value>(response)
                        .err()
                        .unwrap_or_else(|| anyhow!("unexpected answer {status}")))
                }
            }
        }
        let response = self
            .timed(|| {
                self.agent
                    .post(&self.url(&complete_path(upload_id)))
                    .header("authorization", &self.auth())
                    .send_empty()
            })
            .context("completing an upload")?;
        match parse_response(response)? {
            OfferResponse::Stored {
                receipt,
                receipt_signature,
            } => Ok((
                parse_receipt(&receipt, &receipt_signature)?.into(),
                Handed::Stored,
            )),
            other => bail!("unexpected answer to complete: {other:?}"),
        }
    }
}

/// The camera's recordings in the order of the sequence numbers their
/// manifests carry, not of their file names: a copy whose names were
/// shuffled (a restore, a tool, a tamperer) would otherwise offer #3
/// before #2 and raise a gap for #2 that is not one. A manifest that cannot
/// be read keeps its file name's place; it is set aside when its turn comes.
fn in_signed_order(mut pending: Vec<RecordingPaths>) -> Vec<RecordingPaths> {
    let place = |paths: &RecordingPaths| -> Option<u64> {
        let bytes = std::fs::read(&paths.manifest).ok()?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        manifest["sequence"].as_u64()
    };
    let named = |paths: &RecordingPaths| -> u64 {
        paths
            .stem
            .split_once('-')
            .and_then(|(sequence, _)| sequence.parse().ok())
            .unwrap_or(u64::MAX)
    };
    pending.sort_by_cached_key(|p| (place(p).unwrap_or_else(|| named(p)), p.stem.clone()));
    pending
}

/// Writes the camera's local report of a recording set aside (its status
/// shows it) and counts it; the offload goes on with the next one.
/// (A camera with no room for even this note still has the recording, and
/// the dock's report lists it: the offload goes on.)
fn set_aside(report: &mut CameraReport, paths: &RecordingPaths, fault: SetAside) {
    let note = serde_json::json!({"code": fault.code, "message": fault.message,
        "by": "dock", "at": custos_format::UtcMillis::now()});
    let written = serde_json::to_vec_pretty(&note)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&paths.refused, bytes));
    if let Err(e) = written {
        tracing::warn!(recording = %paths.stem, error = %e, "could not write the note beside a recording set aside");
    }
    tracing::warn!(recording = %paths.stem, code = fault.code, "recording set aside on the camera");
    report
        .set_aside
        .push((paths.stem.clone(), fault.code.to_owned()));
}

fn parse_receipt(receipt: &str, signature: &str) -> Result<SignedReceipt> {
    let signature = hex::decode(signature).context("receipt signature is not hex")?;
    Ok(SignedReceipt::parse(receipt.as_bytes(), &signature)?)
}

/// Success bodies are parsed as `T`; permanent refusals become [`Refused`];
/// anything else (5xx, 507, unreadable) is a transient error.
fn parse_response<T: serde::de::DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<T> {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if (200..300).contains(&status) {
        return serde_json::from_str(&text)
            .with_context(|| format!("unexpected answer from the server: {text}"));
    }
    let detail = serde_json::from_str::<ErrorBody>(&text)
        .ok()
        .map(|b| b.error);
    let (code, message) = detail
        .map(|d| (d.code, d.message))
        .unwrap_or_else(|| (format!("http-{status}"), text.clone()));
    let permanent = matches!(status, 403 | 409 | 410 | 413 | 422)
        && !matches!(
            code.as_str(),
            "offset-mismatch" | "upload-busy" | "incomplete"
        );
    if permanent {
        Err(Refused { code, message }.into())
    } else {
        Err(anyhow!("server answered {status} {code}: {message}"))
    }
}
