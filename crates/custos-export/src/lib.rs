//! Evidence export packages: what a reviewer hands to the police, a
//! prosecutor or a court, and what they can check without trusting us.
//!
//! A package is a tree of files (carried as one tar archive, encrypted with
//! age to its recipient). `SHA256SUMS` lists every other file with its
//! SHA-256 in `sha256sum`'s own format and is signed by the server
//! (`SHA256SUMS.sig`, raw Ed25519, as `openssl pkeyutl -rawin` checks it), so
//! standard tools can check the whole package. See docs/FORMAT.md.
//!
//! ```text
//! SHA256SUMS, SHA256SUMS.sig, server.pub.pem
//! export.json                     what, for whom, why (ExportDescription)
//! report.html                     the chain-of-custody report, for people
//! audit/checkpoint.txt            signed audit checkpoint (C2SP signed note)
//! audit/log.vkey                  the audit log's note verifier key
//! recordings/DEVICE-SEQUENCE/
//!   video.mp4                     the original, byte for byte as the camera encrypted it
//!   manifest.json, manifest.sig   the camera's signed manifest
//!   camera.pub.pem, enrollment.json
//!   receipt.json, receipt.sig     the server's ingest receipt
//!   audit.json                    this recording's audit entries with inclusion proofs
//!   previous.manifest.json/.sig or previous.deleted.json   sequence neighbours
//!   next.manifest.json/.sig     or next.deleted.json
//! axis/SERIAL-SEQUENCE/            an Axis system controller's recording
//!   axis.json                     what the controller said, what arrived (AxisRecordingRecord)
//!   objects/NAME                  each object of its container, as it arrived
//!   audit.json                    as above
//! derived/DERIVATIVE-ID/            a redacted copy (subject access requests)
//!   video.mp4                     the derived MP4, as the server rendered it
//!   derivative.json               what it was made from and how (DerivativeRecord)
//! ```
#![forbid(unsafe_code)]

pub mod axis;
pub mod package;
pub mod read;
pub mod report;
pub mod sums;
pub mod verify;

use custos_format::UtcMillis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const EXPORT_FORMAT: &str = "custos.export/1";

pub const SUMS: &str = "SHA256SUMS";
pub const SUMS_SIGNATURE: &str = "SHA256SUMS.sig";
pub const SERVER_KEY: &str = "server.pub.pem";
pub const DESCRIPTION: &str = "export.json";
pub const REPORT: &str = "report.html";
pub const CHECKPOINT: &str = "audit/checkpoint.txt";
pub const LOG_KEY: &str = "audit/log.vkey";

/// Files in each recording's directory.
pub mod item {
    pub const VIDEO: &str = "video.mp4";
    pub const MANIFEST: &str = "manifest.json";
    pub const MANIFEST_SIGNATURE: &str = "manifest.sig";
    pub const CAMERA_KEY: &str = "camera.pub.pem";
    pub const ENROLLMENT: &str = "enrollment.json";
    pub const RECEIPT: &str = "receipt.json";
    pub const RECEIPT_SIGNATURE: &str = "receipt.sig";
    pub const AUDIT: &str = "audit.json";
    pub const PREVIOUS_MANIFEST: &str = "previous.manifest.json";
    pub const PREVIOUS_SIGNATURE: &str = "previous.manifest.sig";
    pub const PREVIOUS_DELETED: &str = "previous.deleted.json";
    pub const NEXT_MANIFEST: &str = "next.manifest.json";
    pub const NEXT_SIGNATURE: &str = "next.manifest.sig";
    pub const NEXT_DELETED: &str = "next.deleted.json";
    /// In a derived item's directory.
    pub const DERIVATIVE: &str = "derivative.json";
}

/// The directory of one derived item (a redacted copy) in a package.
pub fn derived_dir(derivative_id: Uuid) -> String {
    format!("derived/{derivative_id}")
}

/// The directory of one recording in a package.
pub fn recording_dir(device_id: &str, sequence: u64) -> String {
    format!("recordings/{device_id}-{sequence:06}")
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Format(#[from] custos_format::FormatError),
    #[error("{path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// `export.json`: what the package holds, for whom and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportDescription {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    pub export_id: Uuid,
    /// The deployment whose server made and signed the package.
    pub server_id: String,
    pub created_at: UtcMillis,
    /// The reviewer who made it.
    pub created_by: String,
    /// The second person who approved it, where the deployment asks for one.
    pub approved_by: Option<String>,
    /// From the deployment's purpose list (`investigation`, …).
    pub purpose: String,
    pub case: ExportCase,
    /// Who receives it, in words (`Politie Rotterdam, PV 2026-0142`).
    pub recipient: String,
    /// The audit checkpoint every proof in the package refers to.
    pub audit_tree_size: u64,
    pub recordings: Vec<ExportedRecording>,
    /// Recordings an Axis system controller uploaded (`dir` is
    /// `axis/SERIAL-SEQUENCE`): no camera signature, their objects as they
    /// arrived ([`axis::AxisRecordingRecord`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub axis_recordings: Vec<ExportedRecording>,
    /// Redacted copies (a subject access request's answer holds only these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<ExportedDerivative>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedDerivative {
    pub derivative_id: Uuid,
    /// The recording it was made from (not in the package).
    pub source_recording_id: Uuid,
    /// Hex SHA-256 of its `video.mp4`.
    pub sha256: String,
    /// Its directory in the package (`derived/ID`).
    pub dir: String,
}

/// `derivative.json`: a redacted copy, linked to its source by the source
/// manifest's hash (the camera-signed evidence stays with the city), with
/// the plan that made it (FORMAT.md §13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivativeRecord {
    pub derivative_id: Uuid,
    pub source_recording_id: Uuid,
    pub source_device_id: String,
    pub source_sequence: u64,
    pub source_started_at: UtcMillis,
    pub source_ended_at: UtcMillis,
    /// Hex SHA-256 of the source's camera-signed manifest.
    pub source_manifest_sha256: String,
    /// Hex SHA-256 and length of the derived MP4.
    pub sha256: String,
    pub length: u64,
    pub frames: u64,
    pub plan: serde_json::Value,
    pub made_by: String,
    pub made_at: UtcMillis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportCase {
    pub case_id: String,
    pub kind: String,
    pub reference: Option<String>,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedRecording {
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    pub officer_id: Option<String>,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    /// Its directory in the package (`recordings/DEVICE-SEQUENCE`).
    pub dir: String,
}

/// `enrollment.json`: the camera as the server registered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRecord {
    pub device_id: String,
    /// Ed25519, hex; the same key as `camera.pub.pem`.
    pub public_key: String,
    pub enrolled_at: UtcMillis,
    pub revoked_at: Option<UtcMillis>,
}

/// `previous.deleted.json` / `next.deleted.json`: a neighbour that retention
/// deleted, as its content-free tombstone says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedRecording {
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    /// Hex SHA-256 of the deleted recording's manifest.
    pub manifest_sha256: String,
    pub deleted_at: UtcMillis,
    pub reason: String,
}

/// `audit.json`: a recording's audit entries, each with its RFC 6962
/// inclusion proof against `audit/checkpoint.txt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingAudit {
    pub tree_size: u64,
    pub entries: Vec<ProvenEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEntry {
    pub index: u64,
    /// The entry's canonical bytes (JSON), as text.
    pub entry: String,
    /// Hex hashes, leaf to root.
    pub inclusion_proof: Vec<String>,
}

/// Paths inside a package: relative, `/`-separated, made of letters, digits,
/// `.`, `_` and `-`, no empty or dot-only parts. Anything else (an absolute
/// path, `..`, a backslash) is refused before it can name a file.
pub fn check_path(path: &str) -> Result<(), ExportError> {
    let refuse = |reason: &str| {
        Err(ExportError::Refused {
            path: path.escape_debug().to_string(),
            reason: reason.into(),
        })
    };
    if path.is_empty() || path.len() > 200 {
        return refuse("paths are 1 to 200 bytes");
    }
    for part in path.split('/') {
        if part.is_empty() || part.chars().all(|c| c == '.') {
            return refuse("empty, `.` or `..` path part");
        }
        if !part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return refuse("only letters, digits, `.`, `_` and `-` in a path");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_or_confuse_are_refused() {
        for good in [
            "SHA256SUMS",
            "recordings/zuid-01-000001/video.mp4",
            "audit/log.vkey",
        ] {
            check_path(good).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a\\b",
            "a b",
            "video.mp4\n",
            "ü.mp4",
            &"a".repeat(201),
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
