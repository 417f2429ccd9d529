//! The only place a recording leaves the camera: against a server receipt
//! that verifies with the pinned server key and names exactly this
//! recording's manifest and ciphertext — the ciphertext being re-hashed from
//! disk first, so what is deleted is what the server holds (or, for a
//! deletion receipt, what the server held and has deleted for good).

use std::fs;

use anyhow::{Context, Result};
use custos_format::verify::digest_reader;
use custos_format::{Handover, SignedManifest, VerifyingKey};

use crate::storage::{sync_dir, write_atomically, CameraDir, RecordingPaths};

/// The receipt does not confirm this copy (another recording, another key,
/// or a ciphertext that differs from what the server received): the copy
/// is kept. Every other failure of a wipe is a local fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotConfirmed(pub String);

#[derive(Debug, PartialEq, Eq)]
pub enum WipeOutcome {
    Wiped,
    /// Already gone (a wipe interrupted earlier was completed, or a re-sent receipt).
    AlreadyWiped,
}

/// Deletes one recording's ciphertext and manifest against `receipt` (an
/// ingest or a deletion receipt). Keeps the receipt itself, as the camera's
/// proof of handover.
pub fn wipe(dir: &CameraDir, paths: &RecordingPaths, receipt: &Handover) -> Result<WipeOutcome> {
    let pinned = pinned_key(dir)?;
    if !paths.manifest.exists() {
        return Ok(WipeOutcome::AlreadyWiped);
    }
    let manifest = SignedManifest::parse(&fs::read(&paths.manifest)?, &fs::read(&paths.signature)?)
        .with_context(|| format!("{} is damaged", paths.manifest.display()))?;
    let confirmed = receipt
        .confirm(&pinned, &manifest)
        .map_err(|e| NotConfirmed(format!("not wiping {}: {e}", paths.stem)))?;
    if paths.ciphertext.exists() {
        let (length, sha256) = digest_reader(fs::File::open(&paths.ciphertext)?)?;
        if (sha256, length) != confirmed.ciphertext() {
            return Err(NotConfirmed(format!(
                "not wiping {}: the ciphertext on the camera differs from what the server received",
                paths.stem
            ))
            .into());
        }
    }
    // The receipt first: should power fail mid-wipe, the next start finds it
    // beside what is left and completes the wipe (`finish_interrupted_wipes`).
    let handover = confirmed.handover();
    write_atomically(&paths.receipt_signature, handover.signature(), false)?;
    write_atomically(&paths.receipt, handover.bytes(), false)?;
    custos_faults::crash_point("dock:wipe-receipt-stored");
    remove_recording_files(dir, paths)?;
    tracing::info!(
        sequence = manifest.manifest().sequence,
        deleted_on_the_server = confirmed.is_deletion(),
        "recording wiped after server receipt"
    );
    Ok(WipeOutcome::Wiped)
}

/// Completes wipes a power cut interrupted: a stored receipt beside files
/// it names. Each is re-confirmed exactly as in [`wipe`].
pub fn finish_interrupted_wipes(dir: &CameraDir) -> Result<usize> {
    let mut done = 0;
    for paths in dir.receipts()? {
        if !paths.manifest.exists() {
            // Content and manifest are gone; at most the signature is left.
            remove_recording_files(dir, &paths)?;
            continue;
        }
        let receipt = Handover::parse(
            &fs::read(&paths.receipt)?,
            &fs::read(&paths.receipt_signature)?,
        )
        .with_context(|| format!("{} is damaged", paths.receipt.display()))?;
        if wipe(dir, &paths, &receipt)? == WipeOutcome::Wiped {
            done += 1;
        }
    }
    Ok(done)
}

fn pinned_key(dir: &CameraDir) -> Result<VerifyingKey> {
    dir.load_config()?.pinned_receipt_key()?.context(
        "the camera has no pinned server key (enroll it first); it never wipes without one",
    )
}

fn remove_recording_files(dir: &CameraDir, paths: &RecordingPaths) -> Result<()> {
    // Ciphertext first, the manifest's signature last: every state in between
    // still lets `finish_interrupted_wipes` re-confirm or tidy up.
    for path in [
        &paths.ciphertext,
        &paths.manifest,
        &paths.signature,
        &paths.refused,
    ] {
        match fs::remove_file(path) {
            Ok(()) => custos_faults::crash_point("dock:wipe-removed-one"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    sync_dir(&dir.recordings_dir())
}
