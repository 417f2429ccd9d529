//! The catalog: what the evidence server knows about cameras, docks,
//! recordings, uploads in progress, integrity incidents and the audit log. Domain code depends on the
//! [`Catalog`] trait only; each backend is its own crate with its own
//! migrations, and one story test runs against all of them.
#![forbid(unsafe_code)]

pub mod activations;
pub mod admission;
pub mod rows;
pub use admission::SignInBackoff;
pub mod statistics;

use async_trait::async_trait;
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
    pub sequence: u64,
    pub officer_id: Option<String>,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    pub truncated: bool,
    pub ciphertext_sha256: [u8; 32],
    pub ciphertext_length: u64,
    /// The manifest's exact bytes and the camera's signature.
    pub manifest: Vec<u8>,
    pub manifest_signature: Vec<u8>,
    pub manifest_sha256: [u8; 32],
    pub blob_key: String,
    pub stored_at: UtcMillis,
    /// The receipt's exact bytes and the server's signature: a re-sent
    /// recording gets exactly this receipt again.
    pub receipt: Vec<u8>,
    pub receipt_signature: Vec<u8>,
    pub delete_after: UtcMillis,
    /// The age header (holds the wrapped file key). The blob has zeros in
    /// its place; deleting this destroys the recording (crypto-shredding).
    pub age_header: Vec<u8>,
    /// Which of the deployment's retention periods gave `delete_after`.
    pub retention_category: String,
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
    /// `reason` (its blob still to be deleted).
    pub fn tombstone(&self, deleted_at: UtcMillis, reason: &str) -> Tombstone {
        Tombstone {
            recording_id: self.recording_id,
            device_id: self.device_id.clone(),
            sequence: self.sequence,
            started_at: self.started_at,
            ended_at: self.ended_at,
            ciphertext_sha256: self.ciphertext_sha256,
            manifest_sha256: self.manifest_sha256,
            deleted_at,
            reason: reason.to_owned(),
            blob_key: self.blob_key.clone(),
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
    #[serde(with = "hex_hash")]
    pub ciphertext_sha256: [u8; 32],
    #[serde(with = "hex_hash")]
    pub manifest_sha256: [u8; 32],
    pub deleted_at: UtcMillis,
    /// `retention-period`, …
    pub reason: String,
    #[serde(skip)]
    pub blob_key: String,
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

    pub const ALL: [IncidentKind; 11] = [
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

#[async_trait]
pub trait Catalog: Send + Sync {
    /// Which backend this is (`sqlite`, `postgres`): tests assert on it.
    fn backend(&self) -> &'static str;

    async fn add_device(&self, device: &Device) -> Result<()>;
    async fn device(&self, device_id: &str) -> Result<Option<Device>>;
    async fn revoke_device(&self, device_id: &str, at: UtcMillis) -> Result<()>;
    async fn devices(&self) -> Result<Vec<Device>>;
    async fn chain_head(&self, device_id: &str) -> Result<Option<ChainHead>>;

    async fn add_dock(&self, dock: &Dock) -> Result<()>;
    async fn dock(&self, dock_id: &str) -> Result<Option<Dock>>;
    async fn revoke_dock(&self, dock_id: &str, at: UtcMillis) -> Result<()>;

    async fn create_upload(&self, upload: &Upload) -> Result<()>;
    async fn upload(&self, upload_id: Uuid) -> Result<Option<Upload>>;
    async fn upload_for_recording(&self, recording_id: Uuid) -> Result<Option<Upload>>;
    async fn delete_upload(&self, upload_id: Uuid) -> Result<()>;
    async fn set_upload_age_header(&self, upload_id: Uuid, header: &[u8]) -> Result<()>;
    /// Hands an upload to the dock now sending it (the camera moved to
    /// another dock mid-upload). Only that dock may append to it or
    /// complete it from then on. False if there is no such upload.
    async fn move_upload(&self, upload_id: Uuid, dock_id: &str) -> Result<bool>;
    /// Uploads begun before `before`, oldest first.
    async fn uploads_begun_before(&self, before: UtcMillis) -> Result<Vec<Upload>>;

    /// Stores an accepted recording, advances the camera's chain head if this
    /// is its newest recording, and removes the upload — in one transaction.
    async fn commit_recording(&self, recording: &Recording, upload_id: Option<Uuid>) -> Result<()>;
    async fn recording(&self, recording_id: Uuid) -> Result<Option<Recording>>;
    async fn recording_by_sequence(
        &self,
        device_id: &str,
        sequence: u64,
    ) -> Result<Option<Recording>>;
    async fn recordings(&self) -> Result<Vec<Recording>>;
    /// Recordings matching `query`, newest first, one page of them.
    async fn search_recordings(&self, query: &RecordingQuery) -> Result<RecordingPage>;
    /// A case and a recording, each if it exists, and whether the one is
    /// attached to the other (every access to footage needs all three;
    /// backends answer in one query).
    async fn case_and_recording(
        &self,
        case_id: &str,
        recording_id: Uuid,
    ) -> Result<CaseAndRecording>;
    /// Attaches a recording to a case for viewing; false if it already was
    /// (the first link and its reason stand).
    async fn link_recording(&self, link: &CaseLink) -> Result<bool>;
    /// A case's links, oldest first.
    async fn case_links(&self, case_id: &str) -> Result<Vec<CaseLink>>;

    /// Recordings whose time is up and that no unreleased hold keeps, oldest
    /// deadline first; found by index, never by scanning the catalog.
    async fn due_recordings(&self, now: UtcMillis, limit: u64) -> Result<Vec<Recording>>;
    /// In one transaction: the tombstones in, their recordings (and with them
    /// their age headers, the only copies of their keys) out. Recordings
    /// already gone are skipped; returns the ids replaced now.
    async fn replace_with_tombstones(&self, tombstones: &[Tombstone]) -> Result<Vec<Uuid>>;
    async fn tombstone(&self, recording_id: Uuid) -> Result<Option<Tombstone>>;
    async fn tombstone_by_sequence(
        &self,
        device_id: &str,
        sequence: u64,
    ) -> Result<Option<Tombstone>>;
    /// Tombstones whose blob deletion has not been confirmed.
    async fn tombstones_with_blob(&self) -> Result<Vec<Tombstone>>;
    async fn mark_blobs_deleted(&self, recording_ids: &[Uuid]) -> Result<()>;
    async fn set_delete_after(&self, recording_id: Uuid, at: UtcMillis) -> Result<()>;
    /// The category new recordings of this camera start in.
    async fn set_device_retention_category(&self, device_id: &str, category: &str) -> Result<()>;
    /// Assigns a camera to an officer, or (`None`) returns it to the pool.
    async fn assign_officer(&self, device_id: &str, officer_id: Option<&str>) -> Result<()>;
    /// Puts a camera in a team or district (`None`: none). Its next
    /// recordings are counted for that team in the statistics.
    async fn set_device_team(&self, device_id: &str, team: Option<&str>) -> Result<()>;
    /// Rows by which the statistics' projection of accesses differs from
    /// the audit log ([`statistics::projection_differences_sql`]).
    async fn statistics_projection_differences(&self) -> Result<u64>;
    /// What the evaluation statistics count, per day (module [`statistics`]).
    async fn statistics(
        &self,
        query: &statistics::StatisticsQuery,
    ) -> Result<statistics::StatisticsSources>;
    /// Every dock, revoked or not, by id.
    async fn docks(&self) -> Result<Vec<Dock>>;
    /// Takes (or renews) the lease on periodic job `name` for `holder` until
    /// `until`: `true` if it is now `holder`'s, `false` if another holder's
    /// lease is still running at `now`.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<bool>;
    /// Who holds lease `name`, and until when.
    async fn lease(&self, name: &str) -> Result<Option<(String, UtcMillis)>>;
    /// Ends `holder`'s lease on `name` (nothing if another holds it).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// A deployment setting saved at run time (JSON), if any.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str, at: UtcMillis) -> Result<()>;
    /// Moves a recording to another retention category with its new deadline.
    async fn set_recording_retention(
        &self,
        recording_id: Uuid,
        category: &str,
        delete_after: UtcMillis,
    ) -> Result<()>;

    async fn add_case(&self, case: &Case) -> Result<()>;
    async fn case(&self, case_id: &str) -> Result<Option<Case>>;
    async fn cases(&self) -> Result<Vec<Case>>;
    /// Closes the case and releases its holds, in one transaction; returns
    /// the holds it released.
    async fn close_case(&self, case_id: &str, by: &str, at: UtcMillis) -> Result<Vec<Hold>>;
    async fn add_hold(&self, hold: &Hold) -> Result<()>;
    async fn hold(&self, hold_id: Uuid) -> Result<Option<Hold>>;
    async fn approve_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()>;
    /// Releases one hold (approved or not) that is still in force; `NotFound`
    /// if there is none such.
    async fn release_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()>;
    async fn holds_for_recording(&self, recording_id: Uuid) -> Result<Vec<Hold>>;
    async fn holds_for_case(&self, case_id: &str) -> Result<Vec<Hold>>;

    async fn add_export_request(&self, request: &ExportRequest) -> Result<()>;
    async fn export_request(&self, request_id: Uuid) -> Result<Option<ExportRequest>>;
    /// A case's export requests, oldest first.
    async fn export_requests_for_case(&self, case_id: &str) -> Result<Vec<ExportRequest>>;
    /// The second person's approval; `NotFound` unless one is awaited.
    async fn approve_export_request(&self, request_id: Uuid, by: &str, at: UtcMillis)
        -> Result<()>;
    /// Spends an approval; `NotFound` unless approved and not yet used, so
    /// two exports can never share one.
    async fn use_export_request(&self, request_id: Uuid, at: UtcMillis) -> Result<()>;

    /// Opens the request's case and records the request, in one transaction.
    async fn open_subject_request(&self, case: &Case, request: &SubjectRequest) -> Result<()>;
    async fn subject_request(&self, case_id: &str) -> Result<Option<SubjectRequest>>;
    /// Moves the case's deadline to `due_at` with a reason, in one
    /// transaction; `NotFound` unless the request exists and is open.
    async fn extend_subject_request(
        &self,
        case_id: &str,
        due_at: UtcMillis,
        reason: &str,
        by: &str,
        at: UtcMillis,
    ) -> Result<()>;

    /// Records that an answer (export `export_id`) was made for the request.
    async fn record_subject_delivery(
        &self,
        case_id: &str,
        export_id: Uuid,
        at: UtcMillis,
    ) -> Result<()>;

    async fn add_derivative(&self, derivative: &Derivative) -> Result<()>;
    async fn derivative(&self, derivative_id: Uuid) -> Result<Option<Derivative>>;
    /// A case's derivatives, oldest first (deleted ones too).
    async fn derivatives_for_case(&self, case_id: &str) -> Result<Vec<Derivative>>;
    /// Derivatives not yet deleted whose source recording is gone.
    async fn orphaned_derivatives(&self, limit: u64) -> Result<Vec<Derivative>>;
    /// Forgets the derivative's key (its age header) and marks it deleted.
    async fn delete_derivative(&self, derivative_id: Uuid, at: UtcMillis) -> Result<()>;

    async fn add_export_link(&self, link: &ExportLink) -> Result<()>;
    async fn export_link(&self, link_id: Uuid) -> Result<Option<ExportLink>>;
    async fn export_link_by_token(&self, token_sha256: &str) -> Result<Option<ExportLink>>;
    /// A case's download links, oldest first.
    async fn export_links_for_case(&self, case_id: &str) -> Result<Vec<ExportLink>>;
    /// Counts one more download if the link still serves at `at` (not
    /// revoked, removed, expired or used up), atomically: two downloads
    /// racing for the last one cannot both get it. `false` if it does not.
    async fn claim_export_download(&self, link_id: Uuid, at: UtcMillis) -> Result<bool>;
    /// `NotFound` unless the link exists and is not revoked yet.
    async fn revoke_export_link(&self, link_id: Uuid, by: &str, at: UtcMillis) -> Result<()>;
    /// Links whose package is still stored but no longer serves at `now`
    /// (revoked or expired), at most `limit`.
    async fn export_links_to_remove(&self, now: UtcMillis, limit: u64) -> Result<Vec<ExportLink>>;
    /// The link's package is gone from the blob store.
    async fn mark_export_link_removed(&self, link_id: Uuid, at: UtcMillis) -> Result<()>;

    async fn add_incident(&self, incident: &NewIncident, at: UtcMillis) -> Result<i64>;
    /// An incident that is a fact about one camera's recording (its camera
    /// and sequence number known): one row per kind and recording, however
    /// often it is seen (each docking offers a refused recording again);
    /// `occurrences` counts the sightings, `last_at` says the latest and
    /// `detail` what the latest said (`at` stays the first). A fact a
    /// dock reports about no nameable recording is counted into the first
    /// one of its kind from that dock with the very same detail. Anything
    /// else is added as it comes.
    async fn sight_incident(&self, incident: &NewIncident, at: UtcMillis) -> Result<i64>;
    /// `count` refused credentials from `source`, seen from `first` to
    /// `last`, counted into the one incident that source has for its kind,
    /// detail and the window starting at `window_start` (made if there is
    /// none): a flood of refusals is one row with a count, in one statement
    /// however many race.
    async fn count_refused_credential(
        &self,
        incident: &NewIncident,
        source: &str,
        window_start: UtcMillis,
        seen: (UtcMillis, UtcMillis),
        count: u64,
    ) -> Result<i64>;
    /// Incidents after `after_id`, oldest first, at most `limit`.
    async fn incidents_page(&self, after_id: i64, limit: u64) -> Result<Vec<Incident>>;
    /// Incidents newest first, narrowed as `query` says.
    async fn search_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>>;
    /// The incidents about one recording: naming it, or its camera and
    /// sequence number; oldest first, at most `limit`.
    async fn incidents_for_recording(
        &self,
        recording_id: Uuid,
        device_id: &str,
        sequence: u64,
        limit: u64,
    ) -> Result<Vec<Incident>>;
    /// Every incident, oldest first (read page by page).
    async fn incidents(&self) -> Result<Vec<Incident>> {
        let mut all: Vec<Incident> = Vec::new();
        loop {
            let after = all.last().map_or(0, |i| i.id);
            let page = self.incidents_page(after, 1000).await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    async fn add_user(&self, user: &User) -> Result<()>;
    async fn user(&self, name: &str) -> Result<Option<User>>;
    async fn users(&self) -> Result<Vec<User>>;
    async fn add_activation(&self, a: &Activation) -> Result<()>;
    async fn activation(&self, id: Uuid) -> Result<Option<Activation>>;
    async fn activation_by_token(&self, token_sha256: &str) -> Result<Option<Activation>>;
    /// The newest 200, newest first.
    async fn activations(&self) -> Result<Vec<Activation>>;
    /// Requests for `name` still open at `now` (see [`activations`]).
    async fn open_activations_for(&self, name: &str, now: UtcMillis) -> Result<u64>;
    /// False if it was decided already.
    async fn approve_activation(
        &self,
        id: Uuid,
        by: &str,
        at: UtcMillis,
        token_sha256: &str,
        expires_at: UtcMillis,
    ) -> Result<bool>;
    /// False if it was decided already.
    async fn reject_activation(&self, id: Uuid, by: &str, at: UtcMillis) -> Result<bool>;
    /// False unless approved, unused and unexpired at `at`.
    async fn finish_activation(&self, id: Uuid, at: UtcMillis) -> Result<bool>;
    /// One more consecutive failed sign-in, counted in one statement (each
    /// of many parallel failures counts): returns the failures now and the
    /// time before which the next attempt is not looked at, as
    /// [`SignInBackoff`] sets it. `None` if there is no such user.
    async fn count_failed_sign_in(
        &self,
        name: &str,
        at: UtcMillis,
        backoff: &SignInBackoff,
    ) -> Result<Option<(u32, Option<UtcMillis>)>>;
    /// Claims the one attempt an account in back-off may have once its
    /// wait is over, holding off the next until `hold_until` and counting
    /// it as a failure until [`Catalog::accept_sign_in`] says otherwise:
    /// true for exactly one of many racing attempts.
    async fn claim_sign_in_attempt(
        &self,
        name: &str,
        at: UtcMillis,
        hold_until: UtcMillis,
    ) -> Result<bool>;
    /// A sign-in whose code matched TOTP step `step`: taken only if no
    /// sign-in took this step or a later one (a code opens one session,
    /// however many race), clearing failures and back-off.
    async fn accept_sign_in(&self, name: &str, step: i64) -> Result<bool>;
    /// Failed attempts, lock and last TOTP step, set as given (an admin's unlock).
    async fn set_login_state(
        &self,
        name: &str,
        failed_attempts: u32,
        locked_until: Option<UtcMillis>,
        totp_last_step: Option<i64>,
    ) -> Result<()>;
    /// A new password hash (clearing failed attempts and any lock); every
    /// other session of the user ends, all but `keep_session` (a token hash).
    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        at: UtcMillis,
    ) -> Result<()>;
    async fn disable_user(&self, name: &str, at: UtcMillis) -> Result<()>;
    /// A new (sealed) TOTP secret for a lost or replaced phone: the last used
    /// step, failed attempts and any lock are cleared, every session ends.
    async fn reset_totp(&self, name: &str, totp_secret_sealed: &[u8], at: UtcMillis) -> Result<()>;

    async fn add_session(&self, session: &Session) -> Result<()>;
    async fn session(&self, token_sha256: &str) -> Result<Option<Session>>;
    /// A session and its user together (every authenticated request asks;
    /// backends answer in one query).
    async fn session_with_user(&self, token_sha256: &str) -> Result<Option<(Session, User)>> {
        let Some(session) = self.session(token_sha256).await? else {
            return Ok(None);
        };
        Ok(self.user(&session.user_name).await?.map(|u| (session, u)))
    }
    async fn touch_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()>;
    async fn end_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()>;

    /// The audit log's newest checkpoint and frontier (`None` when empty).
    async fn audit_tip(&self) -> Result<Option<AuditTip>>;
    /// Appends `rows` and their checkpoint in one transaction, provided the
    /// log still has `expected_size` entries (else [`CatalogError::Conflict`]:
    /// another writer came first; reload the tip and rebuild the batch).
    async fn append_audit(
        &self,
        expected_size: u64,
        rows: &[StoredEntry],
        checkpoint: &StoredCheckpoint,
        frontier: &[u8],
    ) -> Result<()>;
    /// Up to `limit` entries from index `from` on, in index order.
    async fn audit_entries(&self, from: u64, limit: u64) -> Result<Vec<StoredEntry>>;
    /// Entries naming `object` (`recording:UUID`, …), oldest first, at most `limit`.
    async fn audit_entries_for_object(&self, object: &str, limit: u64) -> Result<Vec<StoredEntry>>;
    /// The entries an [`AuditQuery`] selects, and how many match in all.
    async fn search_audit(&self, q: &AuditQuery) -> Result<(Vec<StoredEntry>, u64)>;
    /// The leaf hashes of the first `size` entries (for proofs).
    async fn audit_leaf_hashes(&self, size: u64) -> Result<Vec<Hash>>;
    /// Every checkpoint, ascending by size.
    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
    async fn audit_checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>>;
}
