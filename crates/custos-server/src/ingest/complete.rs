//! Completion: the whole ciphertext checked against the signed manifest,
//! stored durably, the catalog row committed, and only then the receipt.

use super::*;

impl Ingest {
    /// Verifies the whole ciphertext, stores it durably, commits the catalog
    /// row, and signs the receipt — in that order.
    pub async fn complete(
        &self,
        dock: &str,
        upload_id: Uuid,
    ) -> Result<SignedReceipt, IngestError> {
        let result = self.complete_inner(dock, upload_id).await;
        let outcome = if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Refused
        };
        // A stored recording's entry names the recording, so its trail
        // (and an export's extract of it) shows when it arrived; a refusal
        // names the upload, which may belong to no recording at all.
        let (object, detail) = match &result {
            Ok(signed) => (
                format!("recording:{}", signed.receipt().recording_id),
                format!("upload {upload_id}"),
            ),
            Err(e) => (format!("upload:{upload_id}"), e.code().as_str().to_owned()),
        };
        self.audit(dock, "ingest.complete", object, outcome, detail)
            .await;
        result
    }

    pub(super) async fn complete_inner(
        &self,
        dock: &str,
        upload_id: Uuid,
    ) -> Result<SignedReceipt, IngestError> {
        let upload = self.upload_of(dock, upload_id).await?;
        let _writing = self.claim(upload_id).await?;
        let signed = parse_stored(&upload)?;
        let m = signed.manifest().clone();
        // Deleted while this upload waited (or begun before this check
        // existed): nothing of it is kept.
        if self.catalog.tombstone(m.recording_id).await?.is_some() {
            self.discard(upload_id).await?;
            return Err(IngestError::RecordingDeleted(m.recording_id));
        }
        let staging = self.staging_path(upload_id);
        let have = tokio::fs::metadata(&staging)
            .await
            .map(|md| md.len())
            .unwrap_or(0);
        if have < m.ciphertext.length {
            return Err(IngestError::Incomplete {
                have,
                length: m.ciphertext.length,
            });
        }
        // A crash after the header was moved out of the staged file: put it
        // back, so the file is again exactly what the camera sent.
        if let Some(header) = upload.age_header.clone() {
            let path = staging.clone();
            tokio::task::spawn_blocking(move || write_prefix(&path, &header))
                .await
                .map_err(|e| IngestError::Unavailable(e.to_string()))??;
        }
        // Hash and header check off the async threads: a recording can be gigabytes.
        let keys = self.keys.clone();
        let path = staging.clone();
        let truncated = m.truncated;
        let hashed = self
            .hashers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&upload_id)
            .filter(|(at, _)| *at == have)
            .map(|(at, h)| (at, <[u8; 32]>::from(h.finalize())));
        let (length, sha256, opens) = tokio::task::spawn_blocking(
            move || -> std::io::Result<(u64, [u8; 32], Result<(), String>)> {
                // Hashed while arriving, unless the server restarted meanwhile.
                let (length, sha256) = match hashed {
                    Some(done) => done,
                    None => digest_reader(BufReader::new(std::fs::File::open(&path)?))?,
                };
                let opens = if length == 0 && truncated {
                    Ok(()) // power was lost before the first byte
                } else {
                    keys.evidence.check_opens(&path, !truncated)
                };
                Ok((length, sha256, opens))
            },
        )
        .await
        .map_err(|e| IngestError::Unavailable(e.to_string()))??;
        if length != m.ciphertext.length || sha256 != m.ciphertext.sha256 {
            let detail = if length != m.ciphertext.length {
                "length differs"
            } else {
                "SHA-256 differs"
            };
            self.incident(
                IncidentKind::CiphertextMismatch,
                dock,
                Some(&signed),
                None,
                detail.into(),
            )
            .await;
            self.discard(upload_id).await?;
            return Err(IngestError::CiphertextMismatch(detail.into()));
        }
        if let Err(e) = opens {
            self.incident(
                IncidentKind::WrongEvidenceKey,
                dock,
                Some(&signed),
                None,
                e.clone(),
            )
            .await;
            self.discard(upload_id).await?;
            return Err(IngestError::WrongEvidenceKey);
        }
        // Crypto-shredding: the age header (the wrapped file key) goes into
        // the catalog and is zeroed in the blob, so deleting one catalog row
        // makes every copy of the blob unreadable. Saved in the upload row
        // first, so a crash in between loses nothing.
        let age_header = match upload.age_header.clone() {
            Some(h) => h,
            None => {
                let path = staging.clone();
                let header = tokio::task::spawn_blocking(move || read_age_header(&path))
                    .await
                    .map_err(|e| IngestError::Unavailable(e.to_string()))??;
                self.catalog
                    .set_upload_age_header(upload_id, &header)
                    .await?;
                header
            }
        };
        {
            let (path, zeros) = (staging.clone(), vec![0u8; age_header.len()]);
            tokio::task::spawn_blocking(move || write_prefix(&path, &zeros))
                .await
                .map_err(|e| IngestError::Unavailable(e.to_string()))??;
        }
        custos_faults::crash_point("server:header-moved");
        let blob_key = format!("{}/{:08}-{}.age", m.device_id, m.sequence, m.recording_id);
        custos_faults::crash_point("server:before-blob");
        self.blobs.adopt_file(&blob_key, &staging).await?;
        custos_faults::crash_point("server:after-blob");
        let stored_at = (self.clock)();
        let (retention_category, retention_millis) = self.retention_for(&m.device_id).await?;
        let receipt = SignedReceipt::sign(
            Receipt::for_manifest(&signed, stored_at, &self.server_id),
            &self.keys.receipt,
        )
        .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        let recording = Recording {
            recording_id: m.recording_id,
            device_id: m.device_id.clone(),
            sequence: m.sequence,
            officer_id: m.officer_id.clone(),
            started_at: m.started_at,
            ended_at: m.ended_at,
            truncated: m.truncated,
            stored_at,
            delete_after: m.ended_at.plus_millis(retention_millis),
            retention_category,
            provenance: custos_catalog::Provenance::Camera(custos_catalog::CameraRecording {
                ciphertext_sha256: m.ciphertext.sha256,
                ciphertext_length: m.ciphertext.length,
                manifest: signed.bytes().to_vec(),
                manifest_signature: signed.signature().to_vec(),
                manifest_sha256: signed.sha256(),
                blob_key,
                receipt: receipt.bytes().to_vec(),
                receipt_signature: receipt.signature().to_vec(),
                age_header,
            }),
        };
        match self
            .catalog
            .commit_recording(&recording, Some(upload_id))
            .await
        {
            Ok(()) => {}
            Err(CatalogError::AlreadyExists { .. }) => {
                // Completed concurrently by another request: that receipt stands.
                let stored = self
                    .catalog
                    .recording(m.recording_id)
                    .await?
                    .ok_or_else(|| IngestError::Unavailable("recording vanished".into()))?;
                let _ = tokio::fs::remove_file(&staging).await;
                let camera = stored.camera().ok_or_else(|| {
                    IngestError::Unavailable("an Axis recording took this recording's id".into())
                })?;
                return SignedReceipt::parse(&camera.receipt, &camera.receipt_signature)
                    .map_err(|e| IngestError::Unavailable(e.to_string()));
            }
            Err(e) => {
                // Deleted between the check above and the commit: the blob
                // just written must go again, with the upload row that holds
                // its header.
                if self.catalog.tombstone(m.recording_id).await?.is_some() {
                    if let Some(camera) = recording.camera() {
                        self.blobs.delete(&camera.blob_key).await?;
                    }
                    self.discard(upload_id).await?;
                    return Err(IngestError::RecordingDeleted(m.recording_id));
                }
                return Err(e.into());
            }
        }
        custos_faults::crash_point("server:after-commit");
        let _ = tokio::fs::remove_file(&staging).await;
        tracing::info!(device = %m.device_id, sequence = m.sequence, bytes = length, "recording stored");
        Ok(receipt)
    }

    pub(super) async fn discard(&self, upload_id: Uuid) -> Result<(), IngestError> {
        self.catalog.delete_upload(upload_id).await?;
        let _ = tokio::fs::remove_file(self.staging_path(upload_id)).await;
        Ok(())
    }
}

/// The age header opens with the evidence key (and, for a complete
/// recording, its first chunk authenticates).
/// The age header's bytes: from the start to the end of its `--- MAC` line
/// (age-encryption.org/v1). Empty for an empty file (power lost at once).
pub fn read_age_header(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut start = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut start)?;
    if start.is_empty() {
        return Ok(start);
    }
    age_header_length(&start)
        .map(|n| start[..n].to_vec())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no age header"))
}

/// Length of the age header at the start of `bytes`, if complete.
pub fn age_header_length(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(b"age-encryption.org/v1\n") {
        return None;
    }
    let mac_line = bytes.windows(5).position(|w| w == b"\n--- ")? + 1;
    let end = bytes[mac_line..].iter().position(|&b| b == b'\n')?;
    Some(mac_line + end + 1)
}

/// Fuzz entry point (`fuzz/fuzz_targets/upload_header.rs`): the first bytes
/// of an upload, as ingest reads them — the age header's extent, then the
/// header opened with the age crate and with our own reader (against the
/// test vectors' evidence identity) — give an error, never a panic.
#[doc(hidden)]
pub fn fuzz_upload_header(data: &[u8]) {
    use std::str::FromStr;
    let identity = age::x25519::Identity::from_str(
        "AGE-SECRET-KEY-1ZQZ2V7TN60W3KG0EVYS0DKAYQPWKKNSZ920EPE6UFL25VK8SXK2SSULX4U",
    )
    .expect("a valid identity");
    let Some(length) = age_header_length(data) else {
        return;
    };
    if let Ok(decryptor) = age::Decryptor::new(data) {
        if let Ok(mut reader) = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        {
            let mut first = [0u8; 64];
            let _ = reader.read(&mut first);
        }
    }
    let mut nonce = [0u8; custos_format::payload::PAYLOAD_NONCE];
    let rest = &data[length..];
    let n = rest.len().min(nonce.len());
    nonce[..n].copy_from_slice(&rest[..n]);
    let _ = custos_format::payload::Payload::open(
        &data[..length],
        &nonce,
        data.len() as u64,
        &identity,
    );
}

/// Overwrites the first bytes of a file in place, durably.
pub(crate) fn write_prefix(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if bytes.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
