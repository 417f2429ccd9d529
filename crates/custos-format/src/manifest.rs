//! The recording manifest: what a camera asserts, under its signature, about
//! one recording. Encoded as RFC 8785 (JCS) canonical JSON; numbers are
//! integers only (no floats anywhere), so every implementation agrees on the
//! bytes that are signed and hashed.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{FormatError, UtcMillis, MANIFEST_FORMAT};

/// Largest integer allowed anywhere in a manifest: JCS numbers are IEEE-754
/// doubles, so larger integers would not round-trip in other languages.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// Upper bound on a manifest's encoded size; a parser refuses anything larger
/// before touching it.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
const MAX_ID_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// UUID v7, lowercase hyphenated.
    pub recording_id: Uuid,
    pub device_id: String,
    /// 1 for a camera's first recording, then +1 for every recording started.
    pub sequence: u64,
    /// SHA-256 of the previous recording's manifest bytes; all zeros for sequence 1.
    #[serde(with = "crate::canonical::hex32")]
    pub previous_manifest_sha256: [u8; 32],
    /// The officer checked out to the camera, if any.
    pub officer_id: Option<String>,
    /// First frame's capture time (start of the pre-record footage, if any).
    pub started_at: UtcMillis,
    /// When the officer triggered recording.
    pub triggered_at: UtcMillis,
    /// Capture time just after the last frame that is in the content.
    pub ended_at: UtcMillis,
    pub trigger: Trigger,
    pub stop_reason: StopReason,
    /// The camera's configured pre-record window.
    pub prerecord_seconds: u64,
    /// How much pre-record footage the content actually starts with.
    pub prerecord_included_ms: u64,
    pub video: VideoParams,
    pub gps: Vec<GpsPoint>,
    pub bookmarks: Vec<Bookmark>,
    pub display_events: Vec<DisplayEvent>,
    pub encryption: Encryption,
    pub ciphertext: Ciphertext,
    /// Digest of the plaintext MP4; `null` when truncated (the camera never
    /// learnt what reached the disk in plaintext terms).
    pub plaintext: Option<Plaintext>,
    pub firmware: String,
    /// The recording was cut short by a power loss or crash; this manifest was
    /// written at the next start and describes the ciphertext actually on disk.
    pub truncated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    RecordButton,
    /// Deployments where touching the front display starts recording (Bocholt).
    DisplayTouch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    StopButton,
    StorageFull,
    Shutdown,
    SourceEnded,
    PowerLoss,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoParams {
    /// `"h264"`.
    pub codec: String,
    /// `"fmp4"`: ISO BMFF with `moov`+`mvex`, then `moof`+`mdat` fragments.
    pub container: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Upper bound on one fragment's duration.
    pub max_fragment_ms: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpsPoint {
    pub at: UtcMillis,
    /// Degrees × 10^7 (integers keep the encoding canonical).
    pub lat_e7: i64,
    pub lon_e7: i64,
    pub accuracy_m: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bookmark {
    pub at: UtcMillis,
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayEvent {
    pub at: UtcMillis,
    pub on: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// `"age-v1"`.
    pub scheme: String,
    /// The evidence key's age recipient (`age1…`) the content was encrypted to.
    pub recipient: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ciphertext {
    pub length: u64,
    #[serde(with = "crate::canonical::hex32")]
    pub sha256: [u8; 32],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plaintext {
    pub length: u64,
    #[serde(with = "crate::canonical::hex32")]
    pub sha256: [u8; 32],
}

impl crate::signing::Canonical for Manifest {
    fn to_canonical_bytes(&self) -> Result<Vec<u8>, FormatError> {
        Manifest::to_canonical_bytes(self)
    }

    fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        Manifest::from_canonical_bytes(bytes)
    }
}

impl Manifest {
    /// The canonical bytes: what is signed, hashed into the chain, and stored.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        crate::canonical::encode(self)
    }

    /// Parses manifest bytes, accepting only the canonical encoding of a valid
    /// manifest: any other spelling of the same content is refused, so there is
    /// exactly one byte string per manifest and its hash identifies it.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        crate::canonical::parse(
            bytes,
            MANIFEST_FORMAT,
            MAX_MANIFEST_BYTES,
            Manifest::to_canonical_bytes,
        )
    }

    /// Checks the rules JSON types cannot express.
    pub fn validate(&self) -> Result<(), FormatError> {
        fn bad(field: &'static str, reason: impl Into<String>) -> FormatError {
            FormatError::InvalidField {
                field,
                reason: reason.into(),
            }
        }
        if self.format != MANIFEST_FORMAT {
            return Err(FormatError::UnsupportedFormat(self.format.clone()));
        }
        if self.recording_id.get_version_num() != 7 {
            return Err(bad("recording_id", "must be a UUID version 7"));
        }
        check_identifier(&self.device_id).map_err(|r| bad("device_id", r))?;
        if let Some(officer) = &self.officer_id {
            check_identifier(officer).map_err(|r| bad("officer_id", r))?;
        }
        if self.sequence == 0 || self.sequence > MAX_SAFE_INTEGER {
            return Err(bad("sequence", "must be between 1 and 2^53-1"));
        }
        if (self.sequence == 1) != (self.previous_manifest_sha256 == crate::GENESIS_HASH) {
            return Err(bad(
                "previous_manifest_sha256",
                "must be all zeros exactly for sequence 1",
            ));
        }
        if !(self.started_at <= self.triggered_at && self.triggered_at <= self.ended_at) {
            return Err(bad(
                "ended_at",
                "times must satisfy started_at <= triggered_at <= ended_at",
            ));
        }
        let prerecord = (self.triggered_at.as_millis() - self.started_at.as_millis()) as u64;
        if prerecord != self.prerecord_included_ms {
            return Err(bad(
                "prerecord_included_ms",
                "must equal triggered_at - started_at",
            ));
        }
        if self.prerecord_seconds > 120 {
            return Err(bad("prerecord_seconds", "must be 0..=120"));
        }
        // A pre-record window may start up to one GOP early (recording starts on a keyframe).
        if self.prerecord_included_ms > (self.prerecord_seconds + 2) * 1000 {
            return Err(bad(
                "prerecord_included_ms",
                "exceeds the configured window",
            ));
        }
        let v = &self.video;
        if v.codec != "h264" || v.container != "fmp4" {
            return Err(bad("video", "only h264 in fmp4 is defined"));
        }
        if !(16..=7680).contains(&v.width) || !(16..=4320).contains(&v.height) {
            return Err(bad("video", "width/height out of range"));
        }
        if !(1..=240).contains(&v.fps) || !(1..=2000).contains(&v.max_fragment_ms) {
            return Err(bad(
                "video",
                "fps must be 1..=240 and max_fragment_ms 1..=2000",
            ));
        }
        let within = |t: UtcMillis| self.started_at <= t && t <= self.ended_at;
        for p in &self.gps {
            if !within(p.at) {
                return Err(bad("gps", "point outside the recording's time span"));
            }
            if p.lat_e7.abs() > 900_000_000 || p.lon_e7.abs() > 1_800_000_000 {
                return Err(bad("gps", "coordinate out of range"));
            }
        }
        if !self.gps.windows(2).all(|w| w[0].at <= w[1].at) {
            return Err(bad("gps", "points must be in time order"));
        }
        for b in &self.bookmarks {
            if !within(b.at) {
                return Err(bad(
                    "bookmarks",
                    "bookmark outside the recording's time span",
                ));
            }
            if let Some(label) = &b.label {
                if label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control) {
                    return Err(bad("bookmarks", "label too long or has control characters"));
                }
            }
        }
        if !self.bookmarks.windows(2).all(|w| w[0].at <= w[1].at) {
            return Err(bad("bookmarks", "must be in time order"));
        }
        if !self.display_events.iter().all(|d| within(d.at))
            || !self.display_events.windows(2).all(|w| w[0].at <= w[1].at)
        {
            return Err(bad(
                "display_events",
                "must be in time order within the recording",
            ));
        }
        if self.encryption.scheme != "age-v1" {
            return Err(bad("encryption", "only age-v1 is defined"));
        }
        if self
            .encryption
            .recipient
            .parse::<age::x25519::Recipient>()
            .is_err()
        {
            return Err(bad(
                "encryption",
                "recipient is not an age X25519 recipient",
            ));
        }
        if self.ciphertext.length > MAX_SAFE_INTEGER {
            return Err(bad("ciphertext", "length too large"));
        }
        match (&self.plaintext, self.truncated) {
            (None, true) => {}
            (Some(p), false) if p.length <= MAX_SAFE_INTEGER => {}
            (Some(_), false) => return Err(bad("plaintext", "length too large")),
            (Some(_), true) => return Err(bad("plaintext", "must be null when truncated")),
            (None, false) => return Err(bad("plaintext", "required unless truncated")),
        }
        if self.truncated != (self.stop_reason == StopReason::PowerLoss) {
            return Err(bad(
                "truncated",
                "set exactly when stop_reason is power-loss",
            ));
        }
        if self.firmware.is_empty() || self.firmware.len() > MAX_ID_LEN * 2 {
            return Err(bad("firmware", "must be 1..=128 bytes"));
        }
        Ok(())
    }

    pub fn duration_ms(&self) -> u64 {
        (self.ended_at.as_millis() - self.started_at.as_millis()) as u64
    }
}

/// Device and officer ids: 1–64 of `A-Z a-z 0-9 . _ -`, starting alphanumeric.
/// Kept narrow because they end up in file names, URLs and court reports.
pub fn check_identifier(id: &str) -> Result<(), String> {
    let ok_len = !id.is_empty() && id.len() <= MAX_ID_LEN;
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let ok_first = id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_first {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an identifier (1-64 of A-Z a-z 0-9 . _ -, starting alphanumeric)",
            id.escape_debug()
        ))
    }
}
