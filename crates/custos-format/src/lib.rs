//! The Custos evidence format.
//!
//! A recording is two things: a fragmented MP4 encrypted with [age] to the
//! deployment's evidence key, and a manifest describing it, encoded as RFC 8785
//! canonical JSON and signed with the camera's Ed25519 key. Manifests of one
//! camera form a hash chain by sequence number, so a missing, replayed or
//! altered recording is visible.
//!
//! This crate does no I/O of its own: it works on `Read`/`Write` and byte
//! slices, so the camera, the dock, the server and an offline verifier all
//! share exactly one definition. `docs/FORMAT.md` is the normative text.
//!
//! [age]: https://age-encryption.org/v1
#![forbid(unsafe_code)]

pub mod canonical;
mod error;
pub mod manifest;
pub mod payload;
pub mod receipt;
pub mod signing;
pub mod stream;
pub mod timestamp;
pub mod verify;

pub use error::FormatError;
pub use manifest::{
    Bookmark, Ciphertext, DisplayEvent, Encryption, GpsPoint, Manifest, Plaintext, StopReason,
    Trigger, VideoParams,
};
pub use receipt::{
    ConfirmedHandover, ConfirmedReceipt, DeletionReceipt, Handover, Receipt, ReceiptMismatch,
    SignedDeletionReceipt, SignedReceipt, DELETION_RECEIPT_FORMAT, RECEIPT_FORMAT,
};
pub use signing::{Canonical, Signed, SignedManifest, SigningKey, VerifyingKey};
pub use stream::{RecordingWriter, AGE_CHUNK_SIZE, AGE_ENCRYPTED_CHUNK_SIZE};
pub use timestamp::UtcMillis;

/// Value of the manifest's `format` field. Bumped on any incompatible change.
pub const MANIFEST_FORMAT: &str = "custos.recording-manifest/1";

/// `previous_manifest_sha256` of a camera's first recording.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// SHA-256 of arbitrary bytes; the one hash a court or an outside tool checks.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
