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

/// What an Axis recording's content is known by (docs/AXIS.md): SHA-256
/// over, for each object of its container in name order (byte order), its
/// name, a zero byte and the SHA-256 of its bytes as they arrived. Its
/// tombstone keeps it; an export's `axis.json` names it.
pub fn axis_content_digest<'a>(
    objects: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>,
) -> [u8; 32] {
    use sha2::Digest;
    let mut sorted: Vec<(&str, &[u8; 32])> = objects.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = sha2::Sha256::new();
    for (name, sha256) in sorted {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(sha256);
    }
    h.finalize().into()
}

#[cfg(test)]
mod axis_digest_tests {
    /// The test vector of docs/AXIS.md.
    #[test]
    fn the_axis_content_digest_of_two_objects() {
        let a = super::sha256(b"clip");
        let b = super::sha256(b"");
        let digest = super::axis_content_digest([("b.mp4", &b), ("a.mp4", &a)]);
        let mut by_hand = Vec::new();
        for (name, h) in [("a.mp4", a), ("b.mp4", b)] {
            by_hand.extend_from_slice(name.as_bytes());
            by_hand.push(0);
            by_hand.extend_from_slice(&h);
        }
        assert_eq!(digest, super::sha256(&by_hand));
        assert_eq!(
            hex::encode(digest),
            "664f9ba3cdc4d92e31bbd7bf41f2fa34a0e4d04bee9460b1452431d87815bcdc"
        );
    }
}
