//! The offline verifier behind `custos verify PACKAGE`: every hash, every
//! signature, the sequence neighbours, the inclusion proofs and the
//! checkpoint, with a verdict per item. Trusts nothing in the package but
//! what the keys given to it (or, failing those, the package's own keys,
//! whose fingerprints it prints for comparison) vouch for.

use std::collections::BTreeMap;

use custos_audit::merkle;
use custos_audit::{AuditEntry, NoteVerifier};
use custos_format::{sha256, SignedManifest, SignedReceipt, VerifyingKey};
use serde::Serialize;

use crate::read::Contents;
use crate::sums::Sums;
use crate::*;

/// Keys the recipient got out of band (the deployment publishes them).
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub server_key: Option<VerifyingKey>,
    /// The audit log's note verifier key (`NAME+HASH+KEY`).
    pub log_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `package`, a file's path, `audit checkpoint`, `recording zuid-01 #3`.
    pub item: String,
    pub ok: bool,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    /// SHA-256 of the server's public key, to compare with the published one.
    pub server_key_sha256: Option<String>,
    pub log_key: Option<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        !self.findings.is_empty() && self.findings.iter().all(|f| f.ok)
    }

    fn pass(&mut self, item: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            item: item.into(),
            ok: true,
            message: message.into(),
        });
    }

    fn fail(&mut self, item: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            item: item.into(),
            ok: false,
            message: message.into(),
        });
    }
}

/// The verdict on a package read into `contents`.
pub fn verify(contents: &Contents, expected: &Expected) -> Verdict {
    let mut v = Verdict::default();
    let Some(server_key) = check_signature(contents, expected, &mut v) else {
        return v;
    };
    let sums = match contents.bytes(SUMS).map(Sums::parse) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            v.fail(SUMS, e.to_string());
            return v;
        }
        None => {
            v.fail(SUMS, "missing");
            return v;
        }
    };
    check_files(contents, &sums, &mut v);
    // From here on only files SHA256SUMS vouches for are read.
    let listed = |path: &str| -> Option<&[u8]> {
        let seen = contents.files.get(path)?;
        (sums.0.get(path) == Some(&seen.sha256))
            .then_some(())
            .and(seen.bytes.as_deref())
    };
    let description: ExportDescription = match listed(DESCRIPTION).map(serde_json::from_slice) {
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            v.fail(DESCRIPTION, format!("unreadable: {e}"));
            return v;
        }
        None => {
            v.fail(DESCRIPTION, "missing or not as listed");
            return v;
        }
    };
    if description.format != EXPORT_FORMAT {
        v.fail(
            DESCRIPTION,
            format!("format {:?}, expected {EXPORT_FORMAT}", description.format),
        );
        return v;
    }
    v.pass(
        DESCRIPTION,
        format!(
            "export {} of case {} ({}) for {}, purpose {}, made by {} at {}{}",
            description.export_id,
            description.case.case_id,
            description.case.kind,
            description.recipient,
            description.purpose,
            description.created_by,
            description.created_at,
            description
                .approved_by
                .as_ref()
                .map(|a| format!(", approved by {a}"))
                .unwrap_or_default()
        ),
    );
    let checkpoint = check_checkpoint(&listed, expected, &description, &mut v);
    let exported: BTreeMap<(String, u64), &ExportedRecording> = description
        .recordings
        .iter()
        .map(|r| ((r.device_id.clone(), r.sequence), r))
        .collect();
    if exported.len() != description.recordings.len() {
        v.fail(DESCRIPTION, "the same recording listed twice");
    }
    for r in &description.recordings {
        let item = format!("recording {} #{}", r.device_id, r.sequence);
        match check_recording(&listed, contents, &server_key, r, checkpoint.as_ref()) {
            Ok(notes) => v.pass(item, notes.join("; ")),
            Err(problem) => v.fail(item, problem),
        }
    }
    let mut axis_seen = std::collections::BTreeSet::new();
    for r in &description.axis_recordings {
        let item = format!("Axis recording {} #{}", r.device_id, r.sequence);
        if !axis_seen.insert((r.device_id.as_str(), r.sequence)) {
            v.fail(DESCRIPTION, "the same Axis recording listed twice");
            continue;
        }
        let checked = crate::axis::check(&listed, contents, r).and_then(|(_, mut notes)| {
            notes.push(check_audit(
                &listed,
                &r.dir,
                r.recording_id,
                checkpoint.as_ref(),
            )?);
            Ok(notes)
        });
        match checked {
            Ok(notes) => v.pass(item, notes.join("; ")),
            Err(problem) => v.fail(item, problem),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for x in &description.derived {
        let item = format!("redacted copy {}", x.derivative_id);
        if !seen.insert(x.derivative_id) {
            v.fail(DESCRIPTION, "the same redacted copy listed twice");
            continue;
        }
        match check_derived(&listed, contents, x) {
            Ok(note) => v.pass(item, note),
            Err(problem) => v.fail(item, problem),
        }
    }
    if description.recordings.is_empty()
        && description.axis_recordings.is_empty()
        && description.derived.is_empty()
    {
        v.fail(DESCRIPTION, "the package holds no recording");
    }
    v
}

/// A redacted copy: its record and video as listed, the video's hash as
/// the record and `export.json` say, in its own directory.
fn check_derived<'a>(
    listed: &dyn Fn(&str) -> Option<&'a [u8]>,
    contents: &Contents,
    x: &ExportedDerivative,
) -> Result<String, String> {
    if x.dir != derived_dir(x.derivative_id) {
        return Err(format!(
            "its directory is {}, expected {}",
            x.dir,
            derived_dir(x.derivative_id)
        ));
    }
    let path = |name: &str| format!("{}/{name}", x.dir);
    let record: DerivativeRecord = match listed(&path(item::DERIVATIVE)).map(serde_json::from_slice)
    {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(format!("derivative.json unreadable: {e}")),
        None => return Err("derivative.json missing or not as listed".into()),
    };
    // (Whether it is listed in SHA256SUMS, and as listed, is checked for
    // every file above; here: is it the copy the records name.)
    let video = contents
        .files
        .get(&path(item::VIDEO))
        .ok_or("video.mp4 missing")?;
    let sha256 = hex::encode(video.sha256);
    if record.derivative_id != x.derivative_id
        || record.source_recording_id != x.source_recording_id
    {
        return Err("derivative.json names another copy or source than export.json".into());
    }
    if sha256 != record.sha256 || sha256 != x.sha256 {
        return Err("video.mp4 is not the copy its record names (SHA-256 differs)".into());
    }
    if video.length != record.length {
        return Err("video.mp4 has another length than its record".into());
    }
    Ok(format!(
        "redacted copy of recording {} ({} #{}, {} to {}), {} frames, SHA-256 {}, made by {} at {}",
        record.source_recording_id,
        record.source_device_id,
        record.source_sequence,
        record.source_started_at,
        record.source_ended_at,
        record.frames,
        record.sha256,
        record.made_by,
        record.made_at
    ))
}

fn check_signature(
    contents: &Contents,
    expected: &Expected,
    v: &mut Verdict,
) -> Option<VerifyingKey> {
    let key = match contents
        .bytes(SERVER_KEY)
        .map(|b| VerifyingKey::from_pem(&String::from_utf8_lossy(b)))
    {
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            v.fail(SERVER_KEY, format!("unreadable: {e}"));
            return None;
        }
        None => {
            v.fail(SERVER_KEY, "missing");
            return None;
        }
    };
    let fingerprint = hex::encode(sha256(&key.to_bytes()));
    v.server_key_sha256 = Some(fingerprint.clone());
    let key = match expected.server_key {
        Some(k) if k != key => {
            v.fail(
                SERVER_KEY,
                format!("not the server key you named (this one's SHA-256 is {fingerprint})"),
            );
            return None;
        }
        Some(k) => {
            v.pass(SERVER_KEY, "the server key you named");
            k
        }
        None => {
            v.pass(
                SERVER_KEY,
                format!("SHA-256 {fingerprint}: compare it with the one your deployment publishes (or pass --server-key)"),
            );
            key
        }
    };
    let (Some(sums), Some(signature)) = (contents.bytes(SUMS), contents.bytes(SUMS_SIGNATURE))
    else {
        v.fail(SUMS_SIGNATURE, "SHA256SUMS or its signature is missing");
        return None;
    };
    match key.verify(sums, signature) {
        Ok(()) => {
            v.pass(SUMS_SIGNATURE, "SHA256SUMS is signed by the server");
            Some(key)
        }
        Err(_) => {
            v.fail(SUMS_SIGNATURE, "SHA256SUMS is not signed by the server key");
            None
        }
    }
}

fn check_files(contents: &Contents, sums: &Sums, v: &mut Verdict) {
    let mut bad = false;
    for (path, hash) in &sums.0 {
        match contents.files.get(path) {
            None => {
                bad = true;
                v.fail(path.clone(), "listed in SHA256SUMS but missing");
            }
            Some(seen) if seen.sha256 != *hash => {
                bad = true;
                v.fail(path.clone(), "changed: its SHA-256 is not the one listed");
            }
            Some(_) => {}
        }
    }
    for path in contents.files.keys() {
        if path != SUMS && path != SUMS_SIGNATURE && !sums.0.contains_key(path) {
            bad = true;
            v.fail(path.clone(), "not listed in SHA256SUMS: added");
        }
    }
    if !bad {
        v.pass(
            "files",
            format!("all {} files as listed, none added", sums.0.len()),
        );
    }
}

fn check_checkpoint<'a>(
    listed: &dyn Fn(&str) -> Option<&'a [u8]>,
    expected: &Expected,
    description: &ExportDescription,
    v: &mut Verdict,
) -> Option<custos_audit::Checkpoint> {
    let item = "audit checkpoint";
    let vkey = match listed(LOG_KEY).map(|b| String::from_utf8_lossy(b).trim().to_owned()) {
        Some(k) => k,
        None => {
            v.fail(item, "audit/log.vkey missing");
            return None;
        }
    };
    v.log_key = Some(vkey.clone());
    if let Some(want) = &expected.log_key {
        if want.trim() != vkey {
            v.fail(item, "the log key is not the one you named");
            return None;
        }
    }
    let verifier = match NoteVerifier::parse(&vkey) {
        Ok(k) => k,
        Err(e) => {
            v.fail(item, format!("audit/log.vkey: {e}"));
            return None;
        }
    };
    let Some(note) = listed(CHECKPOINT) else {
        v.fail(item, "audit/checkpoint.txt missing");
        return None;
    };
    match verifier.open(&String::from_utf8_lossy(note)) {
        Ok(c) if c.size == description.audit_tree_size => {
            v.pass(
                item,
                format!(
                    "signed by {} over {} entries{}",
                    verifier.name(),
                    c.size,
                    if expected.log_key.is_some() {
                        ""
                    } else {
                        " (compare the log key with the published one, or pass --log-key)"
                    }
                ),
            );
            Some(c)
        }
        Ok(c) => {
            v.fail(
                item,
                format!(
                    "covers {} entries, export.json says {}",
                    c.size, description.audit_tree_size
                ),
            );
            None
        }
        Err(e) => {
            v.fail(item, format!("signature does not verify: {e}"));
            None
        }
    }
}

fn check_recording<'a>(
    listed: &dyn Fn(&str) -> Option<&'a [u8]>,
    contents: &Contents,
    server_key: &VerifyingKey,
    r: &ExportedRecording,
    checkpoint: Option<&custos_audit::Checkpoint>,
) -> Result<Vec<String>, String> {
    let dir = recording_dir(&r.device_id, r.sequence);
    if r.dir != dir {
        return Err(format!("listed in {}, expected {dir}", r.dir));
    }
    let file = |name: &str| -> Result<&'a [u8], String> {
        listed(&format!("{dir}/{name}")).ok_or_else(|| format!("{dir}/{name} missing"))
    };
    let mut notes = Vec::new();
    // The camera, as enrolled.
    let camera = VerifyingKey::from_pem(&String::from_utf8_lossy(file(item::CAMERA_KEY)?))
        .map_err(|e| format!("camera.pub.pem: {e}"))?;
    let enrollment: EnrollmentRecord = serde_json::from_slice(file(item::ENROLLMENT)?)
        .map_err(|e| format!("enrollment.json: {e}"))?;
    if enrollment.device_id != r.device_id || enrollment.public_key != camera.to_hex() {
        return Err("enrollment.json names another camera or key than camera.pub.pem".into());
    }
    // The camera's signed manifest.
    let manifest = SignedManifest::parse(file(item::MANIFEST)?, file(item::MANIFEST_SIGNATURE)?)
        .map_err(|e| format!("manifest.json: {e}"))?;
    manifest
        .verify(&camera)
        .map_err(|_| "manifest.sig: not the camera's signature of manifest.json".to_owned())?;
    let m = manifest.manifest();
    if m.recording_id != r.recording_id || m.device_id != r.device_id || m.sequence != r.sequence {
        return Err("manifest.json is another recording than export.json lists".into());
    }
    notes.push(format!("manifest signed by camera {}", r.device_id));
    // The server's receipt.
    let receipt = SignedReceipt::parse(file(item::RECEIPT)?, file(item::RECEIPT_SIGNATURE)?)
        .map_err(|e| format!("receipt.json: {e}"))?;
    receipt
        .verify(server_key)
        .map_err(|_| "receipt.sig: not the server's signature of receipt.json".to_owned())?;
    let rc = receipt.content();
    if rc.manifest_sha256 != manifest.sha256()
        || rc.recording_id != m.recording_id
        || rc.ciphertext_sha256 != m.ciphertext.sha256
    {
        return Err("receipt.json is for another manifest or ciphertext".into());
    }
    notes.push(format!("received by the server at {}", rc.stored_at));
    // The video: exactly what the camera recorded.
    let video_path = format!("{dir}/{}", item::VIDEO);
    let video = contents
        .files
        .get(&video_path)
        .ok_or_else(|| format!("{video_path} missing"))?;
    match &m.plaintext {
        Some(p) if p.sha256 == video.sha256 && p.length == video.length => {
            notes.push(format!(
                "video.mp4 is the camera's original ({} bytes, SHA-256 {})",
                video.length,
                hex::encode(video.sha256)
            ));
        }
        Some(_) => {
            return Err("video.mp4 is not what the camera recorded (SHA-256 or length differs from the manifest)".into())
        }
        None => notes.push(
            "the manifest has no content hash (a truncated recording): video.mp4 is vouched for by the server's signature only".into(),
        ),
    }
    // The sequence neighbours.
    let previous = m.previous_manifest_sha256;
    if r.sequence == 1 {
        notes.push("the camera's first recording".into());
    } else {
        notes.push(neighbour(
            listed,
            &dir,
            &camera,
            r,
            r.sequence - 1,
            Side::Previous(previous),
            &manifest.sha256(),
        )?);
    }
    notes.push(neighbour(
        listed,
        &dir,
        &camera,
        r,
        r.sequence + 1,
        Side::Next,
        &manifest.sha256(),
    )?);
    // Its audit trail, each entry proven to be in the signed log.
    notes.push(check_audit(listed, &dir, r.recording_id, checkpoint)?);
    Ok(notes)
}

/// A recording's `audit.json`: every entry about it, each proven in the
/// signed log up to the package's checkpoint.
fn check_audit<'a>(
    listed: &dyn Fn(&str) -> Option<&'a [u8]>,
    dir: &str,
    recording_id: uuid::Uuid,
    checkpoint: Option<&custos_audit::Checkpoint>,
) -> Result<String, String> {
    let bytes = listed(&format!("{dir}/{}", item::AUDIT))
        .ok_or_else(|| format!("{dir}/{} missing", item::AUDIT))?;
    let audit: RecordingAudit =
        serde_json::from_slice(bytes).map_err(|e| format!("audit.json: {e}"))?;
    let checkpoint = checkpoint.ok_or("no valid audit checkpoint to prove its entries against")?;
    if audit.tree_size != checkpoint.size {
        return Err("audit.json refers to another checkpoint".into());
    }
    let object = format!("recording:{recording_id}");
    for e in &audit.entries {
        let entry = AuditEntry::parse(e.entry.as_bytes())
            .map_err(|err| format!("audit entry {}: {err}", e.index))?;
        if entry.index != e.index || entry.event.object.as_deref() != Some(object.as_str()) {
            return Err(format!(
                "audit entry {} is not about this recording",
                e.index
            ));
        }
        let proof = e
            .inclusion_proof
            .iter()
            .map(|h| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out).map(|()| out)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("audit entry {}: a proof hash is not hex", e.index))?;
        let leaf = merkle::leaf_hash(e.entry.as_bytes());
        if !merkle::verify_inclusion(e.index, checkpoint.size, &leaf, &proof, &checkpoint.root) {
            return Err(format!(
                "audit entry {} is not in the signed log (its inclusion proof fails)",
                e.index
            ));
        }
    }
    Ok(format!(
        "{} audit entries, each proven in the signed log",
        audit.entries.len()
    ))
}

enum Side {
    /// The hash this recording's manifest says its predecessor has.
    Previous([u8; 32]),
    Next,
}

/// The neighbour at `sequence`: its signed manifest (which must link), or
/// its tombstone (deleted on schedule), or — for the next one only — none
/// yet. A neighbour that is itself in the package is checked there.
fn neighbour<'a>(
    listed: &dyn Fn(&str) -> Option<&'a [u8]>,
    dir: &str,
    camera: &VerifyingKey,
    r: &ExportedRecording,
    sequence: u64,
    side: Side,
    own_hash: &[u8; 32],
) -> Result<String, String> {
    let (manifest, signature, deleted, word) = match side {
        Side::Previous(_) => (
            item::PREVIOUS_MANIFEST,
            item::PREVIOUS_SIGNATURE,
            item::PREVIOUS_DELETED,
            "previous",
        ),
        Side::Next => (
            item::NEXT_MANIFEST,
            item::NEXT_SIGNATURE,
            item::NEXT_DELETED,
            "next",
        ),
    };
    let in_package = listed(&format!(
        "{}/{}",
        recording_dir(&r.device_id, sequence),
        item::MANIFEST
    ));
    if let Some(bytes) = in_package {
        let hash = sha256(bytes);
        return match side {
            Side::Previous(want) if want != hash => Err(format!(
                "does not follow #{sequence}, which is in the package"
            )),
            Side::Previous(_) => Ok(format!("follows #{sequence} of the package")),
            Side::Next => Ok(format!("#{sequence} follows it in the package")),
        };
    }
    if let (Some(bytes), Some(sig)) = (
        listed(&format!("{dir}/{manifest}")),
        listed(&format!("{dir}/{signature}")),
    ) {
        let n = SignedManifest::parse(bytes, sig).map_err(|e| format!("{manifest}: {e}"))?;
        n.verify(camera)
            .map_err(|_| format!("{signature}: not the camera's signature"))?;
        let nm = n.manifest();
        if nm.sequence != sequence || nm.device_id != r.device_id {
            return Err(format!("{manifest} is not #{sequence} of this camera"));
        }
        return match side {
            Side::Previous(want) if want != n.sha256() => Err(format!(
                "the chain is broken: #{sequence} is not the recording this one follows"
            )),
            Side::Next if nm.previous_manifest_sha256 != *own_hash => Err(format!(
                "the chain is broken: #{sequence} does not follow this recording"
            )),
            _ => Ok(format!(
                "{word} recording #{sequence} links to it (camera-signed)"
            )),
        };
    }
    if let Some(bytes) = listed(&format!("{dir}/{deleted}")) {
        let d: DeletedRecording =
            serde_json::from_slice(bytes).map_err(|e| format!("{deleted}: {e}"))?;
        if d.sequence != sequence || d.device_id != r.device_id {
            return Err(format!("{deleted} is not #{sequence} of this camera"));
        }
        if let Side::Previous(want) = side {
            if d.manifest_sha256 != hex::encode(want) {
                return Err(format!(
                    "the chain is broken: deleted #{sequence} is not the recording this one follows"
                ));
            }
        }
        return Ok(format!(
            "{word} recording #{sequence} was deleted at {} ({})",
            d.deleted_at, d.reason
        ));
    }
    match side {
        Side::Previous(_) => Err(format!(
            "the previous recording #{sequence} is not accounted for"
        )),
        Side::Next => Ok(format!(
            "no recording #{sequence} had reached the server when the package was made"
        )),
    }
}
