//! The dock protocol's messages (docs/PROTOCOL.md, "Dock → server"),
//! written once for the dock that sends them and the server that answers,
//! so the two cannot drift apart. Paths are under `/api/v1`.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How far an upload's bytes reach (request and answer header).
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// The whole ciphertext's length (answer header of a status request).
pub const UPLOAD_LENGTH: &str = "upload-length";

/// `GET`: the dock's own standing.
pub const DOCK_PATH: &str = "/dock";
/// `POST` an [`OfferRequest`]; the answer is an [`OfferResponse`].
pub const OFFER_PATH: &str = "/uploads";
/// `POST` a [`SetAsideReport`].
pub const SET_ASIDE_PATH: &str = "/dock/set-aside";

/// `HEAD`/`PATCH` an upload (status, a piece of ciphertext).
pub fn upload_path(upload_id: Uuid) -> String {
    format!("/uploads/{upload_id}")
}

/// `POST`: complete an upload; the answer is an [`OfferResponse::Stored`].
pub fn complete_path(upload_id: Uuid) -> String {
    format!("/uploads/{upload_id}/complete")
}

/// `GET`: what the server says of a camera ([`CameraStanding`]).
pub fn camera_path(device_id: &str) -> String {
    format!("/dock/cameras/{device_id}")
}

/// An offer: the recording's signed manifest, as the camera wrote it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// The manifest's exact text.
    pub manifest: String,
    /// The camera's signature, 128 hex digits.
    pub signature: String,
}

/// The server's answer to an offer or a completion.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum OfferResponse {
    /// Stored (now or before): the signed receipt the camera is wiped against.
    Stored {
        receipt: String,
        receipt_signature: String,
    },
    /// Stored once, deleted for good: a deletion receipt, nothing stored.
    Deleted {
        receipt: String,
        receipt_signature: String,
    },
    /// Send the ciphertext from `offset` to `length`.
    Upload {
        upload_id: Uuid,
        offset: u64,
        length: u64,
    },
}

/// What a dock may report of a recording it set aside on the camera.
pub const SET_ASIDE_CODES: [&str; 3] = ["damaged-on-camera", "unreadable-on-camera", "not-wiped"];

/// A dock's report of a recording it set aside: named by its signed
/// manifest, so it is about a real recording of an enrolled camera.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SetAsideReport {
    /// The recording's manifest and the camera's signature (hex), as offered.
    pub manifest: String,
    pub signature: String,
    /// One of [`SET_ASIDE_CODES`].
    pub code: String,
    /// The dock's own words (the server keeps a bounded, plain excerpt).
    #[serde(default)]
    pub detail: String,
}

/// What the server says of a camera a dock holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CameraStanding {
    pub device_id: String,
    pub revoked: bool,
    pub assigned_officer: Option<String>,
}

/// Every refusal's body: `{"error": {"code", "message"}}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// A stable code (docs/PROTOCOL.md, "Errors").
    pub code: String,
    /// For people; never parsed.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire forms docs/PROTOCOL.md gives, byte for byte.
    #[test]
    fn messages_have_the_documented_wire_form() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let upload = OfferResponse::Upload {
            upload_id: id,
            offset: 5,
            length: 9,
        };
        assert_eq!(
            serde_json::to_string(&upload).unwrap(),
            r#"{"status":"upload","upload_id":"01900000-0000-7000-8000-000000000001","offset":5,"length":9}"#
        );
        let stored: OfferResponse =
            serde_json::from_str(r#"{"status":"stored","receipt":"r","receipt_signature":"s"}"#)
                .unwrap();
        assert_eq!(
            stored,
            OfferResponse::Stored {
                receipt: "r".into(),
                receipt_signature: "s".into()
            }
        );
        let error: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"storage-full","message":"m"}}"#).unwrap();
        assert_eq!(error.error.code, "storage-full");
        assert_eq!(
            upload_path(id),
            "/uploads/01900000-0000-7000-8000-000000000001"
        );
        assert_eq!(complete_path(id), format!("{}/complete", upload_path(id)));
        let standing: CameraStanding = serde_json::from_str(
            r#"{"assigned_officer":null,"device_id":"cam-1","revoked":false}"#,
        )
        .unwrap();
        assert_eq!(
            standing,
            CameraStanding {
                device_id: "cam-1".into(),
                revoked: false,
                assigned_officer: None
            }
        );
        let report = SetAsideReport {
            manifest: "m".into(),
            signature: "00".into(),
            code: SET_ASIDE_CODES[0].into(),
            detail: "d".into(),
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"manifest":"m","signature":"00","code":"damaged-on-camera","detail":"d"}"#
        );
    }

    /// Unknown fields in what a dock sends are refused, not ignored; a
    /// report's detail may be left out.
    #[test]
    fn requests_refuse_unknown_fields() {
        assert!(serde_json::from_str::<OfferRequest>(
            r#"{"manifest":"m","signature":"s","extra":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<SetAsideReport>(
            r#"{"manifest":"m","signature":"s","code":"not-wiped","x":0}"#
        )
        .is_err());
        let report: SetAsideReport =
            serde_json::from_str(r#"{"manifest":"m","signature":"s","code":"not-wiped"}"#).unwrap();
        assert_eq!(report.detail, "");
        for garbage in ["", "{", "null", "[]", r#"{"status":"teleported"}"#] {
            assert!(
                serde_json::from_str::<OfferResponse>(garbage).is_err(),
                "{garbage}"
            );
        }
    }
}
