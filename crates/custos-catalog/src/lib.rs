//! The catalog: what the evidence server knows about cameras, docks,
//! recordings, uploads in progress, integrity incidents and the audit log. Domain code depends on the
//! [`Catalog`] trait only; each backend is its own crate with its own
//! migrations, and one story test runs against all of them.
#![forbid(unsafe_code)]

pub mod activations;
mod axis;
pub use axis::*;
pub mod admission;
pub mod rows;
pub use admission::SignInBackoff;
pub mod statistics;
pub mod stores;
pub use stores::*;

pub use custos_audit::{Hash, StoredCheckpoint, StoredEntry};
use custos_format::UtcMillis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("{what} `{id}` already exists")]
    AlreadyExists { what: &'static str, id: String },
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    /// A concurrent writer changed what this write depended on.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A storage outage or a corrupt row: a server error, never the client's fault.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// The database's disk is full: nothing new can be stored until there
    /// is room (a dock waits for it; reading still works).
    #[error("catalog storage full: {0}")]
    Full(String),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub device_id: String,
    /// Ed25519 public key, 64 hex digits.
    pub public_key: String,
    pub enrolled_at: UtcMillis,
    pub revoked_at: Option<UtcMillis>,
    /// The retention category its recordings start in ([`STANDARD_CATEGORY`]
    /// unless the deployment put the camera in another).
    pub retention_category: String,
    /// A personal camera's officer: docks check it out to them unless told
    /// otherwise. `None` for pooled cameras.
    #[serde(default)]
    pub assigned_officer: Option<String>,
    /// The team or district it serves, for the statistics.
    #[serde(default)]
    pub team: Option<String>,
    /// A Custos camera (signs its recordings with `public_key`) or an Axis
    /// camera its system controller reported (no key of its own here).
    #[serde(default)]
    pub kind: DeviceKind,
}

/// Where a camera's recordings come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A Custos camera: signed manifests, a sequence chain, docks.
    #[default]
    Custos,
    /// An Axis body-worn camera, known from `Devices/<serial>` of an Axis
    /// connection; it has no signing key in Custos and never docks.
    Axis,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Custos => "custos",
            DeviceKind::Axis => "axis",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "custos" => Some(DeviceKind::Custos),
            "axis" => Some(DeviceKind::Axis),
            _ => None,
        }
    }
}

/// The retention category every camera and recording is in unless moved:
/// the deployment's default period applies.
pub const STANDARD_CATEGORY: &str = "standard";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dock {
    pub dock_id: String,
    /// SHA-256 of the dock's bearer token (hex); the token itself is never stored.
    pub token_sha256: String,
    pub enrolled_at: UtcMillis,
    pub revoked_at: Option<UtcMillis>,
}

/// The last accepted recording of a camera: where its chain continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub sequence: u64,
    pub manifest_sha256: [u8; 32],
}

/// A recording the server holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    pub recording_id: Uuid,
    pub device_id: String,
    /// A Custos camera's: its place in the camera's chain. An Axis
    /// camera's: the order the server completed its recordings in (Axis
    /// cameras keep no chain; docs/AXIS.md).
    pub sequence: u64,
    pub officer_id: Option<String>,
    /// Pre-record (an Axis camera's pre-buffer) included.
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    pub truncated: bool,
    pub stored_at: UtcMillis,
    pub delete_after: UtcMillis,
    /// Which of the deployment's retention periods gave `delete_after`.
    pub retention_category: String,
    /// What proves where it came from, and where its bytes are.
    pub provenance: Provenance,
}

/// Where a recording came from and where its bytes are. Code that needs a
/// camera's manifest, its receipt or its one blob matches on this and so
/// cannot forget a recording that has none (ADR 0017).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provenance {
    Camera(CameraRecording),
    Axis(AxisRecording),
}

/// A Custos camera's recording: signed by the camera, encrypted on it, one
/// blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraRecording {
    pub ciphertext_sha256: [u8; 32],
    pub ciphertext_length: u64,
    /// The manifest's exact bytes and the camera's signature.
    pub manifest: Vec<u8>,
    pub manifest_signature: Vec<u8>,
    pub manifest_sha256: [u8; 32],
    pub blob_key: String,
    /// The receipt's exact bytes and the server's signature: a re-sent
    /// recording gets exactly this receipt again.
    pub receipt: Vec<u8>,
    pub receipt_signature: Vec<u8>,
    /// The age header (holds the wrapped file key). The blob has zeros in
    /// its place; deleting this destroys the recording (crypto-shredding).
    pub age_header: Vec<u8>,
}

impl Recording {
    /// A Custos camera's proof and blob, if it is one.
    pub fn camera(&self) -> Option<&CameraRecording> {
        match &self.provenance {
            Provenance::Camera(c) => Some(c),
            Provenance::Axis(_) => None,
        }
    }

    pub fn camera_mut(&mut self) -> Option<&mut CameraRecording> {
        match &mut self.provenance {
            Provenance::Camera(c) => Some(c),
            Provenance::Axis(_) => None,
        }
    }

    pub fn axis(&self) -> Option<&AxisRecording> {
        match &self.provenance {
            Provenance::Axis(a) => Some(a),
            Provenance::Camera(_) => None,
        }
    }
}

/// An upload in progress (resumable; see docs/PROTOCOL.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub upload_id: Uuid,
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    pub manifest: Vec<u8>,
    pub manifest_signature: Vec<u8>,
    pub dock_id: String,
    pub created_at: UtcMillis,
    /// Kept once the server has moved the header out of the staged file.
    pub age_header: Option<Vec<u8>>,
}

impl Recording {
    /// What is left of this recording once deleted at `deleted_at` for
    /// `reason` (its blobs still to be deleted; the catalog adds an Axis
    /// recording's objects' blobs as it deletes them).
    pub fn tombstone(&self, deleted_at: UtcMillis, reason: &str) -> Tombstone {
        let (content, description, blob_keys) = match &self.provenance {
            Provenance::Camera(c) => (
                c.ciphertext_sha256,
                c.manifest_sha256,
                vec![c.blob_key.clone()],
            ),
            Provenance::Axis(a) => (a.content_sha256, a.metadata_sha256, Vec::new()),
        };
        Tombstone {
            recording_id: self.recording_id,
            device_id: self.device_id.clone(),
            sequence: self.sequence,
            started_at: self.started_at,
            ended_at: self.ended_at,
            ciphertext_sha256: content,
            manifest_sha256: description,
            deleted_at,
            reason: reason.to_owned(),
            blob_keys,
            blob_deleted: false,
        }
    }
}

/// What is left of a deleted recording: no content, no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tombstone {
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    /// A camera's ciphertext; an Axis recording's [`axis_content_digest`].
    #[serde(with = "hex_hash")]
    pub ciphertext_sha256: [u8; 32],
    /// A camera's manifest; an Axis recording's completed metadata.
    #[serde(with = "hex_hash")]
    pub manifest_sha256: [u8; 32],
    pub deleted_at: UtcMillis,
    /// `retention-period`, …
    pub reason: String,
    /// The blobs left to delete: a camera's one, an Axis recording's
    /// objects'.
    #[serde(skip)]
    pub blob_keys: Vec<String>,
    pub blob_deleted: bool,
}

mod hex_hash {
    pub fn serialize<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    pub case_id: String,
    /// `incident`, `complaint`, `subject-access-request`, `police-request`.
    pub kind: String,
    /// An external reference (a PV number for a police request).
    pub reference: Option<String>,
    pub label: String,
    pub opened_by: String,
    pub opened_at: UtcMillis,
    /// Subject access requests: one month after receipt.
    pub due_at: Option<UtcMillis>,
    pub closed_by: Option<String>,
    pub closed_at: Option<UtcMillis>,
}

/// An export asked for where the deployment wants a second person to
/// approve each export: what may leave, for whom and why, fixed when asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportRequest {
    pub request_id: Uuid,
    pub case_id: String,
    pub purpose: String,
    pub recipient: String,
    pub recordings: Vec<Uuid>,
    pub requested_by: String,
    pub requested_at: UtcMillis,
    pub approved_by: Option<String>,
    pub approved_at: Option<UtcMillis>,
    /// When the approved export was made: an approval serves once.
    pub used_at: Option<UtcMillis>,
}

/// Where a data subject says they were filmed: a point and a radius.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Degrees × 10^7, as manifests' GPS points.
    pub lat_e7: i64,
    pub lon_e7: i64,
    pub radius_m: u32,
}

/// A data subject's access request (GDPR art. 15), the intake of a case of
/// kind `subject-access-request`: who asked, how their identity was
/// checked, and what they describe. Personal data of the requester: shown
/// to the privacy officer only, never written to logs or the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectRequest {
    pub case_id: String,
    pub requester: String,
    /// How to reach them (an address, an e-mail), if given.
    pub contact: Option<String>,
    /// How their identity was verified (e.g. "passport shown at the desk").
    pub identity_check: String,
    /// What they describe: the situation, their clothing, …
    pub description: String,
    /// When they say they were filmed.
    pub window_from: UtcMillis,
    pub window_to: UtcMillis,
    pub place: Option<Place>,
    /// When the request reached the city (the month runs from here).
    pub received_at: UtcMillis,
    /// Art. 12(3): up to two more months, with a reason given to the requester.
    pub extension_reason: Option<String>,
    pub extended_by: Option<String>,
    pub extended_at: Option<UtcMillis>,
    /// The latest answer: its export package and when it was made.
    pub delivered_export: Option<Uuid>,
    pub delivered_at: Option<UtcMillis>,
}

/// A redacted copy of a recording, made for a subject access request:
/// its own MP4 (FORMAT.md §13), encrypted to the evidence key and stored
/// as recordings are (age header here, zeros in its place in the blob).
/// It lives only as long as its source recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Derivative {
    pub derivative_id: Uuid,
    /// The original it was made from.
    pub recording_id: Uuid,
    pub case_id: String,
    /// The redaction plan (JSON, FORMAT.md §13.1).
    pub plan: String,
    /// Hex SHA-256 of the derived MP4 (plaintext).
    pub sha256: String,
    pub plaintext_length: u64,
    #[serde(skip)]
    pub age_header: Vec<u8>,
    #[serde(skip)]
    pub blob_key: String,
    pub ciphertext_length: u64,
    pub frames: u64,
    pub created_by: String,
    pub created_at: UtcMillis,
    /// Set when its source was deleted and it went with it.
    pub deleted_at: Option<UtcMillis>,
}

/// A download link for an export package kept, encrypted to its recipient,
/// in the blob store: whoever holds the link's token may fetch the package
/// until it expires, is used up or is revoked. The token itself is never
/// stored, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportLink {
    pub link_id: Uuid,
    pub export_id: Uuid,
    pub case_id: String,
    pub purpose: String,
    pub recipient: String,
    /// Hex SHA-256 of the token in the link.
    #[serde(skip)]
    pub token_sha256: String,
    #[serde(skip)]
    pub blob_key: String,
    pub file_name: String,
    /// Bytes of the (age-encrypted) package.
    pub size: u64,
    /// Hex SHA-256 of the package as downloaded.
    pub package_sha256: String,
    pub created_by: String,
    pub created_at: UtcMillis,
    pub expires_at: UtcMillis,
    pub max_downloads: u32,
    /// Downloads begun (each one audited).
    pub downloads: u32,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<UtcMillis>,
    /// When the package was removed from the blob store.
    pub removed_at: Option<UtcMillis>,
}

impl ExportLink {
    /// Why the link no longer serves at `now`, if it does not.
    pub fn closed(&self, now: UtcMillis) -> Option<LinkClosed> {
        if self.revoked_at.is_some() {
            Some(LinkClosed::Revoked)
        } else if self.expires_at <= now {
            Some(LinkClosed::Expired)
        } else if self.removed_at.is_some() {
            Some(LinkClosed::Removed)
        } else if self.downloads >= self.max_downloads {
            Some(LinkClosed::UsedUp)
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkClosed {
    Revoked,
    Expired,
    UsedUp,
    Removed,
}

impl LinkClosed {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::UsedUp => "used-up",
            Self::Removed => "removed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub hold_id: Uuid,
    pub case_id: String,
    pub recording_id: Uuid,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: UtcMillis,
    pub approved_by: Option<String>,
    pub approved_at: Option<UtcMillis>,
    pub released_by: Option<String>,
    pub released_at: Option<UtcMillis>,
}

/// A request to create, or to renew the credentials of, an account that
/// can see footage: made by an administrator, decided by the privacy
/// officer; once approved, the person sets their own password and gets
/// their own TOTP secret through a one-time link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    pub activation_id: Uuid,
    pub user_name: String,
    /// `add` (a new account) or `reset` (new credentials for an existing one).
    pub kind: String,
    pub role: String,
    pub officer_id: Option<String>,
    pub requested_by: String,
    pub requested_at: UtcMillis,
    pub approved_by: Option<String>,
    pub approved_at: Option<UtcMillis>,
    pub rejected_by: Option<String>,
    pub rejected_at: Option<UtcMillis>,
    /// SHA-256 (hex) of the link's token while it can be used.
    #[serde(skip)]
    pub token_sha256: Option<String>,
    pub expires_at: Option<UtcMillis>,
    pub activated_at: Option<UtcMillis>,
}

/// A recording attached to a case for viewing, with its reason, before
/// anyone looks at it for that case. A hold attaches too; a link does not
/// keep the recording past its deletion date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLink {
    pub case_id: String,
    pub recording_id: Uuid,
    pub reason: String,
    pub linked_by: String,
    pub linked_at: UtcMillis,
}

/// What every access to footage needs, read in one query: the case, the
/// recording, and whether the recording is attached to the case (a hold
/// of that case, in any state, or a [`CaseLink`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseAndRecording {
    pub case: Option<Case>,
    pub recording: Option<Recording>,
    pub attached: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum IncidentKind {
    /// Sequence numbers missing: recordings deleted or lost on the camera.
    Gap,
    /// `previous_manifest_sha256` does not link to the stored predecessor.
    BrokenChain,
    /// The manifest's signature does not verify with the enrolled key.
    BadSignature,
    /// The uploaded ciphertext is not what the manifest names.
    CiphertextMismatch,
    /// A sequence number or recording id seen before, with other content.
    Replay,
    /// The content is not encrypted to this deployment's evidence key.
    WrongEvidenceKey,
    /// The manifest does not parse or breaks the format's rules.
    MalformedManifest,
    /// An unknown or revoked camera or dock tried to upload.
    UnknownOrRevoked,
    /// A recording deleted for good was offered again: a copy outlived the
    /// server's (a dock died before the receipt, a camera was copied). It
    /// was not stored; the camera was told to wipe it.
    DeletedOffered,
    /// The retention sweep could not delete one recording (a row it could
    /// not replace, a blob the store would not delete) and went on with
    /// the rest; the next sweep tries it again.
    SweepFailed,
    /// A dock set a recording aside on the camera: the camera's copy is
    /// damaged or unreadable, or does not match its receipt. Its signed
    /// manifest names it; it stays on the camera.
    SetAsideOnCamera,
    /// An Axis recording whose clips leave part of its span uncovered, or
    /// that overlaps another recording of the same camera: a clip lost on
    /// the way, or a clock or controller fault (Axis cameras keep no chain;
    /// docs/AXIS.md).
    AxisGap,
    /// An Axis recording whose signed video fails (a frame, a signature,
    /// a link or the camera's key), or that comes unsigned, incomplete or
    /// uncheckable from a camera that signs (docs/SIGNED-VIDEO.md).
    SignedVideo,
}

impl IncidentKind {
    /// An offered recording, validly signed by its camera, was refused for
    /// this: it was seen, not lost. (A bad signature or a manifest that
    /// does not parse proves nothing about which recording it was.)
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::BrokenChain | Self::CiphertextMismatch | Self::Replay | Self::WrongEvidenceKey
        )
    }

    pub const ALL: [IncidentKind; 13] = [
        Self::Gap,
        Self::BrokenChain,
        Self::BadSignature,
        Self::CiphertextMismatch,
        Self::Replay,
        Self::WrongEvidenceKey,
        Self::MalformedManifest,
        Self::UnknownOrRevoked,
        Self::DeletedOffered,
        Self::SweepFailed,
        Self::SetAsideOnCamera,
        Self::AxisGap,
        Self::SignedVideo,
    ];

    /// The stable name stored and shown (`gap`, `broken-chain`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gap => "gap",
            Self::BrokenChain => "broken-chain",
            Self::BadSignature => "bad-signature",
            Self::CiphertextMismatch => "ciphertext-mismatch",
            Self::Replay => "replay",
            Self::WrongEvidenceKey => "wrong-evidence-key",
            Self::MalformedManifest => "malformed-manifest",
            Self::UnknownOrRevoked => "unknown-or-revoked",
            Self::DeletedOffered => "deleted-offered",
            Self::SweepFailed => "sweep-failed",
            Self::SetAsideOnCamera => "set-aside-on-camera",
            Self::AxisGap => "axis-gap",
            Self::SignedVideo => "signed-video",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    /// When it happened (for a group: the first time in its window).
    pub at: UtcMillis,
    pub kind: IncidentKind,
    pub device_id: Option<String>,
    pub dock_id: Option<String>,
    pub sequence: Option<u64>,
    pub recording_id: Option<Uuid>,
    pub detail: String,
    /// For refused credentials: the network source they came from (an
    /// IPv4 address, or an IPv6 /64), grouped per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How many times it happened (a group counts each refusal once).
    #[serde(default = "one")]
    pub occurrences: u64,
    /// The last time it happened, for a group of more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<UtcMillis>,
}

fn one() -> u64 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIncident {
    pub kind: IncidentKind,
    pub device_id: Option<String>,
    pub dock_id: Option<String>,
    pub sequence: Option<u64>,
    pub recording_id: Option<Uuid>,
    pub detail: String,
}

/// Which incidents to list, newest first: every field narrows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentQuery {
    pub kind: Option<IncidentKind>,
    pub device_id: Option<String>,
    /// Only incidents with a smaller id (the next page after one ending there).
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// The newest signed checkpoint and the tree's right edge at that size: where
/// the next batch of audit entries continues.
#[derive(Clone, Debug)]
pub struct AuditTip {
    pub checkpoint: StoredCheckpoint,
    /// [`custos_audit::Frontier::to_bytes`] at `checkpoint.size`.
    pub frontier: Vec<u8>,
}

/// A person who may sign in. Secrets are stored only in forms that do not
/// reveal them: the password as an Argon2id hash, the TOTP secret encrypted
/// to the evidence key (only the running server can use it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// `officer`, `reviewer`, `privacy-officer`, `admin`, `auditor`.
    pub role: String,
    /// For officers: the officer id their cameras write into manifests.
    pub officer_id: Option<String>,
    /// Argon2id, PHC string.
    pub password_hash: String,
    /// The TOTP secret, age-encrypted to the evidence key.
    pub totp_secret_sealed: Vec<u8>,
    pub failed_attempts: u32,
    pub locked_until: Option<UtcMillis>,
    /// The last TOTP time step accepted: a code is good once.
    pub totp_last_step: Option<i64>,
    pub created_at: UtcMillis,
    pub disabled_at: Option<UtcMillis>,
    /// The password was set by someone else (initial or reset): the next
    /// session may do nothing but replace it.
    pub password_must_change: bool,
}

/// Which recordings to list, newest first (with `due_before`: the soonest
/// deleted first): every field narrows; `None` does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingQuery {
    /// Started at or after.
    pub started_from: Option<UtcMillis>,
    /// Started before.
    pub started_before: Option<UtcMillis>,
    pub officer_id: Option<String>,
    pub device_id: Option<String>,
    /// `Some(true)`: only recordings cut short by a power loss or crash.
    pub truncated: Option<bool>,
    /// Only recordings a hold of this case (released or not) names.
    pub case_id: Option<String>,
    /// `Some(true)`: only recordings an unreleased hold keeps; `Some(false)`: none such.
    pub held: Option<bool>,
    /// Only recordings the sweeper will delete before this moment (not held).
    pub due_before: Option<UtcMillis>,
    pub offset: u64,
    /// At most this many (backends cap it at 1,000).
    pub limit: u64,
}

/// Which audit entries to show: every field narrows; `None` does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// At or after.
    pub from: Option<UtcMillis>,
    pub before: Option<UtcMillis>,
    /// `user:anna`, `dock:dock-1`, `system:sweeper`, …
    pub actor: Option<String>,
    /// An action (`recording.play`), or a family ending in a dot (`hold.`).
    pub action: Option<String>,
    /// `ok`, `refused` or `failed`.
    pub outcome: Option<String>,
    pub object: Option<String>,
    pub case: Option<String>,
    pub purpose: Option<String>,
    /// Index order (for exports) rather than newest first (for reading).
    pub oldest_first: bool,
    pub offset: u64,
    /// At most this many (backends cap it at 10,000).
    pub limit: u64,
}

/// A page of [`RecordingQuery`] results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingPage {
    /// Each recording, and whether an unreleased hold keeps it.
    pub recordings: Vec<(Recording, bool)>,
    /// How many match in all.
    pub total: u64,
}

/// A signed-in session (browser cookie or a script's bearer token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session token (hex); the token itself is never stored.
    pub token_sha256: String,
    pub user_name: String,
    pub csrf_token: String,
    pub created_at: UtcMillis,
    pub last_seen: UtcMillis,
    pub ended_at: Option<UtcMillis>,
}
