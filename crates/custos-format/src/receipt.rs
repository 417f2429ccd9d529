//! The server's ingest receipt: "I hold this recording durably". Signed with
//! the server's receipt key, which every camera pins at enrollment; a camera
//! deletes a recording only against a receipt that verifies with that key and
//! names exactly that recording, its manifest and its ciphertext.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical;
use crate::signing::{Canonical, Signed, VerifyingKey};
use crate::{FormatError, SignedManifest, UtcMillis};

pub const RECEIPT_FORMAT: &str = "custos.ingest-receipt/1";
const MAX_RECEIPT_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    /// SHA-256 of the manifest bytes the server accepted.
    #[serde(with = "canonical::hex32")]
    pub manifest_sha256: [u8; 32],
    #[serde(with = "canonical::hex32")]
    pub ciphertext_sha256: [u8; 32],
    pub ciphertext_length: u64,
    /// When the server's copy became durable (fsync / object store acknowledged).
    pub stored_at: UtcMillis,
    /// Which deployment's server signed this.
    pub server_id: String,
}

/// A receipt signed by the server.
pub type SignedReceipt = Signed<Receipt>;

impl Receipt {
    /// The receipt a server issues for an accepted manifest.
    pub fn for_manifest(manifest: &SignedManifest, stored_at: UtcMillis, server_id: &str) -> Self {
        let m = manifest.manifest();
        Self {
            format: RECEIPT_FORMAT.into(),
            recording_id: m.recording_id,
            device_id: m.device_id.clone(),
            sequence: m.sequence,
            manifest_sha256: manifest.sha256(),
            ciphertext_sha256: m.ciphertext.sha256,
            ciphertext_length: m.ciphertext.length,
            stored_at,
            server_id: server_id.into(),
        }
    }

    pub fn validate(&self) -> Result<(), FormatError> {
        check_fields(
            (&self.format, RECEIPT_FORMAT),
            &self.device_id,
            &self.server_id,
            self.sequence,
            self.ciphertext_length,
        )
    }
}

fn bad(field: &'static str, reason: &str) -> FormatError {
    FormatError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// The rules both receipts share: their format, the identifiers, the
/// sequence and the length as JSON can carry them exactly.
fn check_fields(
    (format, expected): (&str, &str),
    device_id: &str,
    server_id: &str,
    sequence: u64,
    ciphertext_length: u64,
) -> Result<(), FormatError> {
    if format != expected {
        return Err(FormatError::UnsupportedFormat(format.to_owned()));
    }
    crate::manifest::check_identifier(device_id).map_err(|r| bad("device_id", &r))?;
    crate::manifest::check_identifier(server_id).map_err(|r| bad("server_id", &r))?;
    if sequence == 0 || sequence > crate::manifest::MAX_SAFE_INTEGER {
        return Err(bad("sequence", "must be between 1 and 2^53-1"));
    }
    if ciphertext_length > crate::manifest::MAX_SAFE_INTEGER {
        return Err(bad("ciphertext_length", "too large"));
    }
    Ok(())
}

impl Canonical for Receipt {
    fn to_canonical_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        canonical::encode(self)
    }

    fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        canonical::parse(bytes, RECEIPT_FORMAT, MAX_RECEIPT_BYTES, |r: &Receipt| {
            r.to_canonical_bytes()
        })
    }
}

/// Why a receipt does not allow deleting a recording.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptMismatch {
    #[error("the receipt is not signed by the pinned server key")]
    Signature,
    #[error("the receipt names another recording")]
    Recording,
    #[error("the receipt names another manifest")]
    Manifest,
    #[error("the receipt names other ciphertext than the manifest")]
    Ciphertext,
}

/// Proof, checked against the pinned server key, that the server holds
/// exactly this recording. Only [`SignedReceipt::confirm`] makes one, so code
/// that deletes a recording can demand it in its signature.
#[derive(Debug)]
pub struct ConfirmedReceipt<'a> {
    receipt: &'a SignedReceipt,
}

impl ConfirmedReceipt<'_> {
    pub fn receipt(&self) -> &Receipt {
        self.receipt.content()
    }

    pub fn signed(&self) -> &SignedReceipt {
        self.receipt
    }
}

impl Signed<Receipt> {
    pub fn receipt(&self) -> &Receipt {
        self.content()
    }

    /// Checks the signature with the pinned key and that the receipt names
    /// exactly `manifest` (recording, device, sequence, manifest hash) and its
    /// ciphertext (hash and length).
    pub fn confirm<'a>(
        &'a self,
        pinned: &VerifyingKey,
        manifest: &SignedManifest,
    ) -> Result<ConfirmedReceipt<'a>, ReceiptMismatch> {
        self.verify(pinned)
            .map_err(|_| ReceiptMismatch::Signature)?;
        let r = self.receipt();
        let m = manifest.manifest();
        if r.recording_id != m.recording_id
            || r.device_id != m.device_id
            || r.sequence != m.sequence
        {
            return Err(ReceiptMismatch::Recording);
        }
        if r.manifest_sha256 != manifest.sha256() {
            return Err(ReceiptMismatch::Manifest);
        }
        if r.ciphertext_sha256 != m.ciphertext.sha256 || r.ciphertext_length != m.ciphertext.length
        {
            return Err(ReceiptMismatch::Ciphertext);
        }
        Ok(ConfirmedReceipt { receipt: self })
    }
}

pub const DELETION_RECEIPT_FORMAT: &str = "custos.deletion-receipt/1";

/// The server's answer to an offer of a recording it once held and has
/// since deleted (its retention period ended): "I had exactly this
/// recording; it is gone and stays gone". A camera that still holds a copy
/// (a dock died before the ingest receipt reached it, or the camera was
/// copied) may wipe it against this, exactly as against an ingest receipt;
/// the server never stores it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionReceipt {
    /// Always [`DELETION_RECEIPT_FORMAT`].
    pub format: String,
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    /// SHA-256 of the manifest bytes the server once accepted.
    #[serde(with = "canonical::hex32")]
    pub manifest_sha256: [u8; 32],
    #[serde(with = "canonical::hex32")]
    pub ciphertext_sha256: [u8; 32],
    pub ciphertext_length: u64,
    /// When the server deleted its copy (and the key that opened it).
    pub deleted_at: UtcMillis,
    /// Why, as in the tombstone: `retention-period`, …
    pub reason: String,
    pub server_id: String,
}

/// A deletion receipt signed by the server's receipt key.
pub type SignedDeletionReceipt = Signed<DeletionReceipt>;

impl DeletionReceipt {
    /// The receipt for `manifest`, which the caller has matched to its
    /// tombstone (same manifest hash).
    pub fn for_manifest(
        manifest: &SignedManifest,
        deleted_at: UtcMillis,
        reason: &str,
        server_id: &str,
    ) -> Self {
        let m = manifest.manifest();
        Self {
            format: DELETION_RECEIPT_FORMAT.into(),
            recording_id: m.recording_id,
            device_id: m.device_id.clone(),
            sequence: m.sequence,
            manifest_sha256: manifest.sha256(),
            ciphertext_sha256: m.ciphertext.sha256,
            ciphertext_length: m.ciphertext.length,
            deleted_at,
            reason: reason.into(),
            server_id: server_id.into(),
        }
    }

    pub fn validate(&self) -> Result<(), FormatError> {
        check_fields(
            (&self.format, DELETION_RECEIPT_FORMAT),
            &self.device_id,
            &self.server_id,
            self.sequence,
            self.ciphertext_length,
        )?;
        crate::manifest::check_identifier(&self.reason).map_err(|r| bad("reason", &r))
    }
}

impl Canonical for DeletionReceipt {
    fn to_canonical_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        canonical::encode(self)
    }

    fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        canonical::parse(
            bytes,
            DELETION_RECEIPT_FORMAT,
            MAX_RECEIPT_BYTES,
            |r: &DeletionReceipt| r.to_canonical_bytes(),
        )
    }
}

/// What lets a camera let go of a recording: the server holds it, or held
/// it and deleted it. Both name the recording, its manifest and its
/// ciphertext, and are checked the same way.
#[derive(Clone, Debug)]
pub enum Handover {
    Stored(SignedReceipt),
    Deleted(SignedDeletionReceipt),
}

impl From<SignedReceipt> for Handover {
    fn from(r: SignedReceipt) -> Self {
        Self::Stored(r)
    }
}

impl From<SignedDeletionReceipt> for Handover {
    fn from(r: SignedDeletionReceipt) -> Self {
        Self::Deleted(r)
    }
}

impl Handover {
    /// Parses either receipt, told apart by its `format`.
    pub fn parse(bytes: &[u8], signature: &[u8]) -> Result<Self, FormatError> {
        match SignedReceipt::parse(bytes, signature) {
            Ok(r) => Ok(Self::Stored(r)),
            Err(FormatError::UnsupportedFormat(f)) if f == DELETION_RECEIPT_FORMAT => Ok(
                Self::Deleted(SignedDeletionReceipt::parse(bytes, signature)?),
            ),
            Err(e) => Err(e),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Stored(r) => r.bytes(),
            Self::Deleted(r) => r.bytes(),
        }
    }

    pub fn signature(&self) -> &[u8; crate::signing::SIGNATURE_LEN] {
        match self {
            Self::Stored(r) => r.signature(),
            Self::Deleted(r) => r.signature(),
        }
    }

    fn names(&self) -> (Uuid, &str, u64, [u8; 32], [u8; 32], u64) {
        match self {
            Self::Stored(r) => {
                let r = r.content();
                (
                    r.recording_id,
                    &r.device_id,
                    r.sequence,
                    r.manifest_sha256,
                    r.ciphertext_sha256,
                    r.ciphertext_length,
                )
            }
            Self::Deleted(r) => {
                let r = r.content();
                (
                    r.recording_id,
                    &r.device_id,
                    r.sequence,
                    r.manifest_sha256,
                    r.ciphertext_sha256,
                    r.ciphertext_length,
                )
            }
        }
    }

    /// As [`SignedReceipt::confirm`], for either kind.
    pub fn confirm<'a>(
        &'a self,
        pinned: &VerifyingKey,
        manifest: &SignedManifest,
    ) -> Result<ConfirmedHandover<'a>, ReceiptMismatch> {
        let verified = match self {
            Self::Stored(r) => r.verify(pinned),
            Self::Deleted(r) => r.verify(pinned),
        };
        verified.map_err(|_| ReceiptMismatch::Signature)?;
        let (recording_id, device_id, sequence, manifest_sha256, ciphertext_sha256, length) =
            self.names();
        let m = manifest.manifest();
        if recording_id != m.recording_id || device_id != m.device_id || sequence != m.sequence {
            return Err(ReceiptMismatch::Recording);
        }
        if manifest_sha256 != manifest.sha256() {
            return Err(ReceiptMismatch::Manifest);
        }
        if ciphertext_sha256 != m.ciphertext.sha256 || length != m.ciphertext.length {
            return Err(ReceiptMismatch::Ciphertext);
        }
        Ok(ConfirmedHandover { handover: self })
    }
}

/// A [`Handover`] checked against the pinned key and a manifest: only
/// [`Handover::confirm`] makes one.
#[derive(Debug)]
pub struct ConfirmedHandover<'a> {
    handover: &'a Handover,
}

impl ConfirmedHandover<'_> {
    pub fn handover(&self) -> &Handover {
        self.handover
    }

    /// The ciphertext the camera must still hold, byte for byte, to wipe it.
    pub fn ciphertext(&self) -> ([u8; 32], u64) {
        let (_, _, _, _, sha256, length) = self.handover.names();
        (sha256, length)
    }

    pub fn is_deletion(&self) -> bool {
        matches!(self.handover, Handover::Deleted(_))
    }
}
