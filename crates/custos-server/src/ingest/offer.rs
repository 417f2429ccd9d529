//! The offer: a dock presents a recording's signed manifest; the server
//! checks camera, signature, chain, replay and deletion before any byte of
//! ciphertext is taken, and says where to resume.

use super::*;

impl Ingest {
    /// A dock offers a recording: its manifest and the camera's signature.
    pub async fn offer(
        &self,
        dock: &str,
        manifest: &[u8],
        signature: &[u8],
    ) -> Result<Offer, IngestError> {
        let result = self.offer_inner(dock, manifest, signature).await;
        let target = SignedManifest::parse(manifest, signature)
            .map(|m| format!("recording:{}", m.manifest().recording_id))
            .unwrap_or_else(|_| "(unparsable manifest)".into());
        match &result {
            Ok(Offer::Stored(_)) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Ok,
                    "already stored".into(),
                )
                .await
            }
            Ok(Offer::Deleted(_)) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Refused,
                    "recording-deleted: answered with a deletion receipt".into(),
                )
                .await
            }
            Ok(Offer::Upload { offset, .. }) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Ok,
                    format!("upload from {offset}"),
                )
                .await
            }
            Err(e) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Refused,
                    e.code().as_str().into(),
                )
                .await
            }
        }
        result
    }

    pub(super) async fn offer_inner(
        &self,
        dock: &str,
        manifest: &[u8],
        signature: &[u8],
    ) -> Result<Offer, IngestError> {
        let signed = match SignedManifest::parse(manifest, signature) {
            Ok(s) => s,
            Err(e) => {
                // It names no recording the server can trust; the hash of
                // what was offered (manifest and signature, so two cameras'
                // empty manifests stay apart) makes the same bytes docked
                // again the same incident, counted, not one per docking.
                let offered = hex::encode(
                    &Sha256::new()
                        .chain_update(manifest)
                        .chain_update(signature)
                        .finalize()[..8],
                );
                self.incident(
                    IncidentKind::MalformedManifest,
                    dock,
                    None,
                    None,
                    format!("offered sha256 {offered}…: {e}"),
                )
                .await;
                return Err(IngestError::MalformedManifest(e.to_string()));
            }
        };
        let m = signed.manifest();
        let device = match self.catalog.device(&m.device_id).await? {
            // An Axis camera has no key here and never docks: to a dock it
            // is unknown.
            Some(d) if d.revoked_at.is_none() && d.kind == custos_catalog::DeviceKind::Custos => d,
            found => {
                let revoked = found
                    .as_ref()
                    .is_some_and(|d| d.kind == custos_catalog::DeviceKind::Custos);
                let what = if revoked {
                    "revoked camera"
                } else {
                    "unknown camera"
                };
                self.incident(
                    IncidentKind::UnknownOrRevoked,
                    dock,
                    Some(&signed),
                    None,
                    what.into(),
                )
                .await;
                return Err(if revoked {
                    IngestError::RevokedCamera(m.device_id.clone())
                } else {
                    IngestError::UnknownCamera(m.device_id.clone())
                });
            }
        };
        let key = VerifyingKey::from_hex(&device.public_key)
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        if signed.verify(&key).is_err() {
            self.incident(
                IncidentKind::BadSignature,
                dock,
                Some(&signed),
                None,
                "signature does not verify".into(),
            )
            .await;
            return Err(IngestError::BadSignature(m.device_id.clone()));
        }
        // A validly signed manifest says how far the camera got: numbers
        // before it that never arrived are a gap now, whatever becomes of
        // this recording's payload.
        self.gap_seen(dock, &signed).await?;
        if m.encryption.recipient != self.keys.recipient.to_string() {
            self.incident(
                IncidentKind::WrongEvidenceKey,
                dock,
                Some(&signed),
                None,
                format!("encrypted to {}", m.encryption.recipient),
            )
            .await;
            return Err(IngestError::WrongEvidenceKey);
        }
        // Seen before: the same bytes get the same receipt; other bytes are a replay.
        if let Some(existing) = self.catalog.recording(m.recording_id).await? {
            return self.same_or_replay(dock, &signed, existing).await;
        }
        if let Some(existing) = self
            .catalog
            .recording_by_sequence(&m.device_id, m.sequence)
            .await?
        {
            return self.same_or_replay(dock, &signed, existing).await;
        }
        // Deleted is final: a copy that comes back after the retention sweep
        // (a dock died before the receipt reached the camera, a camera was
        // copied) is refused before a byte is stored, or the deleted key
        // would be stored again and the crypto-shredding undone. Looked for
        // after the recording: a sweep only turns a recording into a
        // tombstone, so none can slip between the two reads unseen.
        if let Some(t) = self.catalog.tombstone(m.recording_id).await? {
            return self.deleted_or_replay(dock, &signed, t).await;
        }
        if let Some(t) = self
            .catalog
            .tombstone_by_sequence(&m.device_id, m.sequence)
            .await?
        {
            return self.deleted_or_replay(dock, &signed, t).await;
        }
        self.check_links(dock, &signed).await?;
        if let Some(upload) = self.catalog.upload_for_recording(m.recording_id).await? {
            if upload.manifest != manifest {
                self.incident(
                    IncidentKind::Replay,
                    dock,
                    Some(&signed),
                    None,
                    "a different manifest for a recording being uploaded".into(),
                )
                .await;
                return Err(IngestError::Replay(
                    "another manifest with this recording id is being uploaded".into(),
                ));
            }
            // The camera moved to this dock mid-upload: the upload moves
            // with it, and the dock it left can no longer write to it.
            if upload.dock_id != dock {
                self.catalog.move_upload(upload.upload_id, dock).await?;
                self.audit(
                    dock,
                    "upload.move",
                    format!("upload:{}", upload.upload_id),
                    Outcome::Ok,
                    format!("from dock {}", upload.dock_id),
                )
                .await;
            }
            let offset = tokio::fs::metadata(self.staging_path(upload.upload_id))
                .await
                .map(|md| md.len())
                .unwrap_or(0);
            return Ok(Offer::Upload {
                upload_id: upload.upload_id,
                offset,
                length: m.ciphertext.length,
            });
        }
        let upload = Upload {
            upload_id: Uuid::now_v7(),
            recording_id: m.recording_id,
            device_id: m.device_id.clone(),
            sequence: m.sequence,
            manifest: manifest.to_vec(),
            manifest_signature: signature.to_vec(),
            dock_id: dock.into(),
            created_at: (self.clock)(),
            age_header: None,
        };
        // The staging file exists before the row that names it.
        tokio::fs::File::create(self.staging_path(upload.upload_id)).await?;
        match self.catalog.create_upload(&upload).await {
            Ok(()) => Ok(Offer::Upload {
                upload_id: upload.upload_id,
                offset: 0,
                length: m.ciphertext.length,
            }),
            // Two docks offered the same recording at once: join the other upload.
            Err(CatalogError::AlreadyExists { .. }) => {
                let _ = tokio::fs::remove_file(self.staging_path(upload.upload_id)).await;
                Box::pin(self.offer_inner(dock, manifest, signature)).await
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn same_or_replay(
        &self,
        dock: &str,
        signed: &SignedManifest,
        existing: Recording,
    ) -> Result<Offer, IngestError> {
        if let Some(camera) = existing.camera() {
            if camera.manifest == signed.bytes() {
                let receipt = SignedReceipt::parse(&camera.receipt, &camera.receipt_signature)
                    .map_err(|e| IngestError::Unavailable(format!("stored receipt: {e}")))?;
                return Ok(Offer::Stored(Box::new(receipt)));
            }
        }
        let detail = format!(
            "sequence {} / recording {} already stored with other content",
            signed.manifest().sequence,
            signed.manifest().recording_id
        );
        self.incident(
            IncidentKind::Replay,
            dock,
            Some(signed),
            None,
            detail.clone(),
        )
        .await;
        Err(IngestError::Replay(detail))
    }

    /// An offer of a deleted recording: the same manifest gets a deletion
    /// receipt (and an incident: a copy existed outside the server); any
    /// other manifest under its id or sequence is a replay.
    pub(super) async fn deleted_or_replay(
        &self,
        dock: &str,
        signed: &SignedManifest,
        tombstone: Tombstone,
    ) -> Result<Offer, IngestError> {
        let m = signed.manifest();
        if tombstone.manifest_sha256 != signed.sha256() {
            let detail = format!(
                "sequence {} / recording {} was deleted and had other content",
                m.sequence, m.recording_id
            );
            self.incident(
                IncidentKind::Replay,
                dock,
                Some(signed),
                None,
                detail.clone(),
            )
            .await;
            return Err(IngestError::Replay(detail));
        }
        self.incident(
            IncidentKind::DeletedOffered,
            dock,
            Some(signed),
            None,
            format!(
                "deleted at {} ({}); a copy was offered again and wiped",
                tombstone.deleted_at, tombstone.reason
            ),
        )
        .await;
        // Tombstone reasons are identifiers; anything else still gets a
        // receipt the format accepts, so the camera can let go.
        let reason = if custos_format::manifest::check_identifier(&tombstone.reason).is_ok() {
            tombstone.reason.as_str()
        } else {
            "deleted"
        };
        let receipt = SignedDeletionReceipt::sign(
            DeletionReceipt::for_manifest(signed, tombstone.deleted_at, reason, &self.server_id),
            &self.keys.receipt,
        )
        .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        Ok(Offer::Deleted(Box::new(receipt)))
    }

    /// The manifest must link to a stored predecessor and be linked to by a
    /// stored successor. Missing neighbours are gaps, recorded at commit.
    pub(super) async fn check_links(
        &self,
        dock: &str,
        signed: &SignedManifest,
    ) -> Result<(), IngestError> {
        let m = signed.manifest();
        let broken = |detail: String| IngestError::BrokenChain {
            device: m.device_id.clone(),
            sequence: m.sequence,
            detail,
        };
        if m.sequence > 1 {
            if let Some(prev) = self
                .catalog
                .recording_by_sequence(&m.device_id, m.sequence - 1)
                .await?
            {
                let Some(prev_camera) = prev.camera() else {
                    return Err(IngestError::Unavailable(
                        "a Custos camera's predecessor is an Axis recording".into(),
                    ));
                };
                if check_chain(
                    Some((prev.sequence, prev_camera.manifest_sha256)),
                    std::slice::from_ref(signed),
                )
                .contains(&ChainFinding::BrokenLink {
                    sequence: m.sequence,
                }) {
                    let e = broken("does not name the stored predecessor's manifest hash".into());
                    self.incident(
                        IncidentKind::BrokenChain,
                        dock,
                        Some(signed),
                        None,
                        e.to_string(),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
        if let Some(next) = self
            .catalog
            .recording_by_sequence(&m.device_id, m.sequence + 1)
            .await?
        {
            let next = next.camera().ok_or_else(|| {
                IngestError::Unavailable("a Custos camera's successor is an Axis recording".into())
            })?;
            let next = SignedManifest::parse(&next.manifest, &next.manifest_signature)
                .map_err(|e| IngestError::Unavailable(format!("stored manifest: {e}")))?;
            if next.manifest().previous_manifest_sha256 != signed.sha256() {
                let e = broken("the stored successor names another predecessor".into());
                self.incident(
                    IncidentKind::BrokenChain,
                    dock,
                    Some(signed),
                    None,
                    e.to_string(),
                )
                .await;
                return Err(e);
            }
        }
        Ok(())
    }
}
