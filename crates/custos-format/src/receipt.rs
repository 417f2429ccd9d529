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
        let bad = |field: &'static str, reason: &str| FormatError::InvalidField {
            field,
            reason: reason.into(),
        };
        if self.format != RECEIPT_FORMAT {
            return Err(FormatError::UnsupportedFormat(self.format.clone()));
        }
        crate::manifest::check_identifier(&self.device_id).map_err(|r| bad("device_id", &r))?;
        crate::manifest::check_identifier(&self.server_id).map_err(|r| bad("server_id", &r))?;
        if self.sequence == 0 || self.sequence > crate::manifest::MAX_SAFE_INTEGER {
            return Err(bad("sequence", "must be between 1 and 2^53-1"));
        }
        if self.ciphertext_length > crate::manifest::MAX_SAFE_INTEGER {
            return Err(bad("ciphertext_length", "too large"));
        }
        Ok(())
    }
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
