//! Writing the package: recordings, their trails and proofs, and the
//! report, encrypted to the recipient as they are written.

use super::*;

impl PreparedExport {
    /// Set when the package is to be kept for a download link.
    pub(crate) fn link_terms(&self) -> Option<LinkTerms> {
        self.link
    }

    /// Purpose, case and recipient.
    pub(crate) fn scope(&self) -> (String, String, String) {
        (
            self.purpose.clone(),
            self.case_id.clone(),
            self.recipient.clone(),
        )
    }

    /// The entry that says the package was not delivered whole.
    pub(crate) fn failed_event(&self) -> custos_audit::AuditEvent {
        self.failed.clone()
    }

    /// Writes the encrypted package to `out`; on a blocking thread inside
    /// the runtime (blob reads wait on it). A failure part-way leaves `out`
    /// without age's final chunk, which every decryptor refuses.
    pub fn write(self, d: &Deployment, out: Box<dyn Write + Send>) -> Result<ExportSummary> {
        write(d, tokio::runtime::Handle::current(), self, out)
    }
}

pub(super) fn write(
    d: &Deployment,
    runtime: tokio::runtime::Handle,
    prepared: PreparedExport,
    out: Box<dyn Write + Send>,
) -> Result<ExportSummary> {
    let PreparedExport {
        description,
        gathered,
        trails,
        axis,
        axis_trails,
        verifier,
        checkpoint_note,
        protection,
        language,
        time_zone,
        zone_name,
        derived,
        opens,
        ..
    } = prepared;
    let (description, gathered, trails, verifier) = (&description, &gathered, &trails, &verifier);
    let encryptor = match protection {
        Protection::Recipient(r) => {
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))?
        }
        Protection::Passphrase(p) => {
            // age would pick a work factor of about a second here: 2^20 on
            // this kind of machine, a GiB of memory per export. 2^16 is 64
            // MiB; the passphrases the CLI and the web UI make carry 125
            // random bits, which no work factor needs to stretch.
            let mut recipient = age::scrypt::Recipient::new(p);
            recipient.set_work_factor(SCRYPT_WORK_FACTOR);
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?
        }
    };
    let encrypted = encryptor.wrap_output(std::io::BufWriter::with_capacity(1 << 20, out))?;
    let mtime = (description.created_at.as_millis() / 1000).max(0) as u64;
    let mut package = PackageWriter::new(TarSink::new(encrypted, mtime));
    let mut video_bytes = 0u64;
    let mut report_items = Vec::new();
    let mut parsed_trails = Vec::new();
    for trail in trails {
        parsed_trails.push(
            trail
                .entries
                .iter()
                .map(|e| AuditEntry::parse(e.entry.as_bytes()))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    for ((g, trail), entries) in gathered.iter().zip(trails).zip(parsed_trails) {
        let r = &g.recording;
        let c = r
            .camera()
            .context("an Axis recording is not exported by this version")?;
        let dir = recording_dir(&r.device_id, r.sequence);
        let path = |name: &str| format!("{dir}/{name}");
        // The original: decrypted as it streams into the (encrypted) archive.
        let stored = crate::playback::StoredCiphertext::new(
            c.age_header.clone(),
            d.blobs.clone(),
            c.blob_key.clone(),
            c.ciphertext_length,
            runtime.clone(),
        );
        let length =
            crate::playback::plaintext_length(c.ciphertext_length, c.age_header.len() as u64)
                .context("the stored ciphertext has an impossible length")?;
        let identity = d.keys.evidence.identity(&opens, &c.blob_key)?;
        let decryptor =
            age::Decryptor::new_buffered(std::io::BufReader::with_capacity(1 << 20, stored))?;
        let mut plaintext = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .context("the recording does not open with the evidence key")?;
        let video_sha256 = package.add_stream(&path(item::VIDEO), length, &mut plaintext)?;
        video_bytes += length;
        package.add_bytes(&path(item::MANIFEST), g.manifest.bytes())?;
        package.add_bytes(&path(item::MANIFEST_SIGNATURE), g.manifest.signature())?;
        package.add_bytes(&path(item::CAMERA_KEY), g.camera_pem.as_bytes())?;
        package.add_bytes(
            &path(item::ENROLLMENT),
            &serde_json::to_vec_pretty(&g.enrollment)?,
        )?;
        package.add_bytes(&path(item::RECEIPT), g.receipt.bytes())?;
        package.add_bytes(&path(item::RECEIPT_SIGNATURE), g.receipt.signature())?;
        package.add_bytes(&path(item::AUDIT), &serde_json::to_vec_pretty(trail)?)?;
        let mut noted = Vec::new();
        for (n, seq, manifest, signature, deleted) in [
            (
                &g.previous,
                r.sequence - 1,
                item::PREVIOUS_MANIFEST,
                item::PREVIOUS_SIGNATURE,
                item::PREVIOUS_DELETED,
            ),
            (
                &g.next,
                r.sequence + 1,
                item::NEXT_MANIFEST,
                item::NEXT_SIGNATURE,
                item::NEXT_DELETED,
            ),
        ] {
            noted.push(match n {
                Neighbour::None if seq == 0 => ReportNeighbour::First,
                Neighbour::None => ReportNeighbour::NotYet,
                Neighbour::InPackage => ReportNeighbour::InPackage,
                Neighbour::Manifest(m, s) => {
                    package.add_bytes(&path(manifest), m)?;
                    package.add_bytes(&path(signature), s)?;
                    ReportNeighbour::Signed
                }
                Neighbour::Deleted(t) => {
                    package.add_bytes(&path(deleted), &serde_json::to_vec_pretty(t)?)?;
                    ReportNeighbour::Deleted {
                        at: t.deleted_at,
                        reason: t.reason.clone(),
                    }
                }
            });
        }
        let next = noted.pop().expect("two sides");
        let previous = noted.pop().expect("two sides");
        report_items.push((g, video_sha256, length, previous, next, entries));
    }
    let mut axis_reports = Vec::new();
    for (g, trail) in axis.iter().zip(&axis_trails) {
        video_bytes += super::axis::write(d, &runtime, &opens, &mut package, g, trail)?;
        let audit = trail
            .entries
            .iter()
            .map(|e| AuditEntry::parse(e.entry.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        axis_reports.push(custos_export::report::ReportAxis {
            record: &g.record,
            officer_id: g.recording.officer_id.as_deref(),
            started_at: g.recording.started_at,
            ended_at: g.recording.ended_at,
            audit,
        });
    }
    let mut derived_records = Vec::new();
    for (x, source) in &derived {
        let dir = derived_dir(x.derivative_id);
        let stored = crate::playback::StoredCiphertext::new(
            x.age_header.clone(),
            d.blobs.clone(),
            x.blob_key.clone(),
            x.ciphertext_length,
            runtime.clone(),
        );
        let identity = d.keys.evidence.identity(&opens, &x.blob_key)?;
        let decryptor =
            age::Decryptor::new_buffered(std::io::BufReader::with_capacity(1 << 20, stored))?;
        let mut plaintext = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .context("a redacted copy does not open with the evidence key")?;
        let sha = package.add_stream(
            &format!("{dir}/{}", item::VIDEO),
            x.plaintext_length,
            &mut plaintext,
        )?;
        anyhow::ensure!(
            hex::encode(sha) == x.sha256,
            "redacted copy {} is not what was rendered",
            x.derivative_id
        );
        let record = DerivativeRecord {
            derivative_id: x.derivative_id,
            source_recording_id: source.recording_id,
            source_device_id: source.device_id.clone(),
            source_sequence: source.sequence,
            source_started_at: source.started_at,
            source_ended_at: source.ended_at,
            source_manifest_sha256: hex::encode(
                source
                    .camera()
                    .context("a redacted copy of an Axis recording")?
                    .manifest_sha256,
            ),
            sha256: x.sha256.clone(),
            length: x.plaintext_length,
            frames: x.frames,
            plan: serde_json::from_str(&x.plan)?,
            made_by: x.created_by.clone(),
            made_at: x.created_at,
        };
        package.add_bytes(
            &format!("{dir}/{}", item::DERIVATIVE),
            &serde_json::to_vec_pretty(&record)?,
        )?;
        derived_records.push(record);
    }
    package.add_bytes(CHECKPOINT, checkpoint_note.as_bytes())?;
    package.add_bytes(LOG_KEY, format!("{}\n", verifier.to_vkey()).as_bytes())?;
    package.add_bytes(DESCRIPTION, &serde_json::to_vec_pretty(description)?)?;
    let server_key_sha256 = hex::encode(sha256(&d.keys.receipt_public().to_bytes()));
    let report = custos_export::report::render(&ReportInput {
        description,
        server_key_sha256,
        log_key: verifier.to_vkey(),
        recordings: report_items
            .into_iter()
            .map(
                |(g, video_sha256, video_length, previous, next, audit)| ReportRecording {
                    manifest: g.manifest.manifest(),
                    manifest_sha256: g.manifest.sha256(),
                    receipt: g.receipt.content(),
                    video_sha256,
                    video_length,
                    previous,
                    next,
                    audit,
                },
            )
            .collect(),
        axis: axis_reports,
        derived: derived_records.iter().collect(),
        language,
        zone_name,
        format_time: &|t| local_time(&time_zone, t),
    });
    package.add_bytes(REPORT, report.as_bytes())?;
    let sink = package.finish(&d.keys.receipt)?;
    let encrypted = sink.finish()?;
    let mut buffered = encrypted.finish()?;
    buffered.flush()?;
    Ok(ExportSummary {
        export_id: description.export_id,
        recordings: gathered.len() + axis.len() + derived.len(),
        video_bytes,
    })
}

/// `2026-11-24 17:15:44 CET (+01:00)`: a moment as the report's reader
/// knows it, with its offset, so it converts back without doubt.
pub(super) fn local_time(zone: &jiff::tz::TimeZone, at: custos_format::UtcMillis) -> String {
    match jiff::Timestamp::from_millisecond(at.as_millis()) {
        Ok(t) => t
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S %Z (%:z)")
            .to_string(),
        Err(_) => at.to_string(),
    }
}
