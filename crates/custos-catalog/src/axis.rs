//! What the catalog keeps of Axis system controllers' connections and
//! uploads (ADR 0017), and how an Axis recording becomes a recording.

use custos_format::UtcMillis;
use uuid::Uuid;

use crate::{Device, Recording};

/// An Axis system controller's connection (ADR 0017): the credentials of
/// one connection file. Only hashes are kept; a rotation replaces the key
/// and ends its tokens, a revocation ends both for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisConnection {
    pub name: String,
    /// SHA-256 of the connection's key (hex): a random 32-byte secret needs
    /// no slow hash.
    pub key_sha256: String,
    pub created_at: UtcMillis,
    pub rotated_at: Option<UtcMillis>,
    pub revoked_at: Option<UtcMillis>,
}

/// An RSA key a connection's cameras wrap each clip's AES key to (Axis'
/// own encryption, `WantEncryption`; issue 23 point 4). The private half is
/// sealed to the evidence key (age), as the receipt key is: one passphrase
/// opens it, a stolen disk or database does not. A connection's newest key
/// is the one its connection file names; older ones stay, for the clips
/// wrapped to them.
#[derive(Clone, PartialEq, Eq)]
pub struct AxisContentKey {
    pub connection: String,
    /// `custos-` and 16 hex digits of its public key's SHA-256.
    pub key_id: String,
    /// SubjectPublicKeyInfo PEM.
    pub public_pem: String,
    /// The PKCS#8 private key, age-encrypted to the evidence key.
    pub sealed: Vec<u8>,
    pub created_at: UtcMillis,
}

/// What the check of an Axis recording's signed video found
/// (docs/SIGNED-VIDEO.md): made once per recording, after it completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVideoCheck {
    pub recording_id: Uuid,
    /// `authentic`, `incomplete`, `unsigned`, `unverifiable` or `altered`.
    pub outcome: String,
    /// Its clips' reports, JSON (GOPs, frames, the key's fingerprint).
    pub report: String,
    /// SHA-256 of the signing key's SubjectPublicKeyInfo, hex, if signed.
    pub key_sha256: Option<String>,
    pub checked_at: UtcMillis,
}

/// One position of an Axis camera, from its recording's GNSS trail: when
/// (the trail's `Timestamp`) and where, in 1e-7 degrees as a Custos
/// camera's manifest gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailPoint {
    pub at: UtcMillis,
    pub lat_e7: i32,
    pub lon_e7: i32,
}

/// What reading an Axis recording's GNSS trail found: made once per
/// recording, after it completes; it goes with the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisTrail {
    pub recording_id: Uuid,
    pub outcome: TrailOutcome,
    /// The positions, in the trail's order (none unless `Read`).
    pub points: Vec<TrailPoint>,
    /// Why a trail could not be read (no personal data: a reason only).
    pub detail: Option<String>,
    pub read_at: UtcMillis,
}

/// Whether a recording's place is known from its trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrailOutcome {
    /// Read: its points (maybe none: the camera had no fix).
    Read,
    /// No trail came with the recording.
    None,
    /// A trail came but does not read (not the spec's JSON, not opened by
    /// its key file): the place is unknown.
    Unreadable,
}

impl TrailOutcome {
    pub const ALL: [Self; 3] = [Self::Read, Self::None, Self::Unreadable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::None => "none",
            Self::Unreadable => "unreadable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Debug for AxisContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxisContentKey")
            .field("connection", &self.connection)
            .field("key_id", &self.key_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A token `GET /auth/v1.0` handed out, by its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisToken {
    pub token_sha256: String,
    pub connection: String,
    pub expires_at: UtcMillis,
}

/// A container an Axis system controller made on its connection (ADR
/// 0017): `System`, `Users`, `Devices`, a recording's or a rejected
/// recording's. Names are unique within a connection (its Swift account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisContainer {
    pub connection: String,
    pub name: String,
    /// The Custos recording a recording's container becomes.
    pub recording_id: Option<Uuid>,
    /// Its metadata as `custos_axis::metadata::Metadata::to_json` writes it.
    pub metadata: String,
    pub created_at: UtcMillis,
    pub updated_at: UtcMillis,
    /// When `Status=Complete` arrived: from then on nothing in it changes.
    pub completed_at: Option<UtcMillis>,
}

/// An object in an [`AxisContainer`]: a clip, a key file, a bookmark, a
/// GNSS trail, a user or a device. Its bytes are in the blob store,
/// encrypted to the evidence key on arrival; the age header that opens
/// them is here only, so deleting the row shreds the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisObject {
    pub connection: String,
    pub container: String,
    pub name: String,
    pub metadata: String,
    /// The bytes as they arrived: their length, SHA-256 and MD5 (hex, the
    /// Swift `Etag`).
    pub length: u64,
    pub sha256: [u8; 32],
    pub md5: String,
    pub blob_key: String,
    pub age_header: Vec<u8>,
    pub stored_at: UtcMillis,
}

/// An Axis system controller's recording: a completed container of an Axis
/// connection. Its clips, key files, bookmarks and GNSS trail stay the
/// container's objects (each with its own age header in the catalog);
/// deleting the recording deletes them with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisRecording {
    pub connection: String,
    pub container: String,
    /// The bytes its objects arrived with, in all.
    pub length: u64,
    /// SHA-256 over the container's objects' names and SHA-256s, in name
    /// order ([`axis_content_digest`]): what a tombstone keeps.
    pub content_sha256: [u8; 32],
    /// SHA-256 of the container's metadata as completed.
    pub metadata_sha256: [u8; 32],
}

/// The digest an Axis recording's tombstone keeps of its objects
/// ([`custos_format::axis_content_digest`]).
pub fn axis_content_digest<'a>(objects: impl IntoIterator<Item = &'a AxisObject>) -> [u8; 32] {
    custos_format::axis_content_digest(objects.into_iter().map(|o| (o.name.as_str(), &o.sha256)))
}

/// What completes an Axis recording, in one transaction
/// ([`crate::AxisStore::complete_axis_recording`]): the container's last
/// metadata, its camera (made on its first recording) and the recording,
/// with the facts the statistics count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisCompletion {
    /// The container's metadata as it was read (compare-and-swap).
    pub expected: String,
    pub metadata: String,
    /// Its camera as it is to be made if the catalog has none of its id
    /// (`kind` Axis); an existing camera of another kind is `AlreadyExists`.
    pub device: Device,
    /// Its `provenance` is [`crate::Provenance::Axis`]; its `sequence` is
    /// given by the catalog (the camera's next).
    pub recording: Recording,
    pub facts: AxisFacts,
    /// The container's objects as the caller read them to make the above
    /// (digest, length, retention from bookmarks): the completion is taken
    /// only if they are still exactly these.
    pub objects: Vec<AxisObject>,
}

/// The statistics' facts of an Axis recording (a camera's come from its
/// manifest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AxisFacts {
    /// The pre-buffer: from the recording's start to its trigger.
    pub prerecord_ms: Option<i64>,
    pub trigger: Option<String>,
    pub stop_reason: Option<String>,
    pub firmware: Option<String>,
}
