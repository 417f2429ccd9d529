//! Every refusal the server gives, by name, and the one place that says
//! which HTTP status and which wire code each one has.
//!
//! Services return an [`ApiError`] carrying a [`Code`]; the web pages and
//! the tests match on the variant, clients on the wire code
//! (`{"error": {"code": …, "message": …}}`). A new refusal is a new variant
//! here, so its status cannot differ between the places that give it, and
//! the OpenAPI document lists exactly these codes (a test compares them).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal => $status:ident,)*) => {
        /// A refusal's name. `as_str` is its stable wire form.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order written here.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable, machine-readable form clients see.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $wire,)*
                }
            }

            /// The HTTP status this refusal is answered with: here only.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

codes! {
    // The request itself.
    /// A request the server could not make sense of (a body that is no JSON of the right shape).
    BadRequest = "bad-request" => BAD_REQUEST,
    /// A field out of its allowed form.
    Invalid = "invalid" => BAD_REQUEST,
    /// A path, query or header refused at the edge before any handler ran.
    MalformedRequest = "malformed-request" => BAD_REQUEST,
    BadFilter = "bad-filter" => BAD_REQUEST,
    BadKey = "bad-key" => BAD_REQUEST,
    BadPeriod = "bad-period" => BAD_REQUEST,
    BadPlan = "bad-plan" => BAD_REQUEST,
    BadCategory = "bad-category" => BAD_REQUEST,
    BadPurposes = "bad-purposes" => BAD_REQUEST,
    BadWindow = "bad-window" => BAD_REQUEST,
    BadPlace = "bad-place" => BAD_REQUEST,
    BadReceived = "bad-received" => BAD_REQUEST,
    BadExtension = "bad-extension" => BAD_REQUEST,
    BadRecipientKey = "bad-recipient-key" => BAD_REQUEST,
    BadLink = "bad-link" => BAD_REQUEST,
    BadTimeZone = "bad-time-zone" => BAD_REQUEST,
    ReferenceNeeded = "reference-needed" => BAD_REQUEST,
    UnknownCategory = "unknown-category" => BAD_REQUEST,
    RecipientRequired = "recipient-required" => BAD_REQUEST,
    ProtectionRequired = "protection-required" => BAD_REQUEST,
    BadRange = "bad-range" => RANGE_NOT_SATISFIABLE,

    // Who is asking.
    Unauthorized = "unauthorized" => UNAUTHORIZED,
    BadCredentials = "bad-credentials" => UNAUTHORIZED,
    SlowDown = "slow-down" => TOO_MANY_REQUESTS,
    Csrf = "csrf" => FORBIDDEN,
    PasswordChangeRequired = "password-change-required" => FORBIDDEN,
    /// The role may not do this at all.
    Forbidden = "forbidden" => FORBIDDEN,
    DockRevoked = "dock-revoked" => FORBIDDEN,

    // Purpose and case (footage).
    PurposeRequired = "purpose-required" => FORBIDDEN,
    PurposeNotAllowed = "purpose-not-allowed" => FORBIDDEN,
    /// No such case (for footage and exports alike: 403, not 404).
    CaseUnknown = "case-unknown" => FORBIDDEN,
    /// The recording is neither held for nor linked to the case.
    NotAttached = "not-attached" => FORBIDDEN,
    /// Subject-access-request cases are the privacy officer's only.
    SubjectRequestCase = "subject-request-case" => FORBIDDEN,
    CaseFilterNotAllowed = "case-filter-not-allowed" => FORBIDDEN,
    FilterNotAllowed = "filter-not-allowed" => FORBIDDEN,
    /// The second approval must come from someone else.
    FourEyes = "four-eyes" => FORBIDDEN,

    // Things that are not there.
    NotFound = "not-found" => NOT_FOUND,
    RecordingNotFound = "recording-not-found" => NOT_FOUND,
    LinkUnknown = "link-unknown" => NOT_FOUND,
    RequestUnknown = "request-unknown" => NOT_FOUND,
    NoCheckpoint = "no-checkpoint" => NOT_FOUND,
    NoFrame = "no-frame" => NOT_FOUND,

    // The state does not allow it.
    Exists = "exists" => CONFLICT,
    AwaitingApproval = "awaiting-approval" => CONFLICT,
    OfficerIdTaken = "officer-id-taken" => CONFLICT,
    CaseClosed = "case-closed" => CONFLICT,
    CategoryInUse = "category-in-use" => CONFLICT,
    NotHeld = "not-held" => CONFLICT,
    NotLater = "not-later" => CONFLICT,
    NotPending = "not-pending" => CONFLICT,
    Released = "released" => CONFLICT,
    Revoked = "revoked" => CONFLICT,
    /// A download link revoked before.
    AlreadyRevoked = "already-revoked" => CONFLICT,
    /// One's own request cannot be one's own second approval.
    SelfApproval = "self" => CONFLICT,
    NothingToExport = "nothing-to-export" => CONFLICT,
    NotSecured = "not-secured" => CONFLICT,
    ApprovalRequired = "approval-required" => CONFLICT,
    NotApproved = "not-approved" => CONFLICT,
    RequestUsed = "request-used" => CONFLICT,
    RequestMismatch = "request-mismatch" => CONFLICT,
    NothingToDeliver = "nothing-to-deliver" => CONFLICT,
    NotACopy = "not-a-copy" => CONFLICT,
    SourceGone = "source-gone" => CONFLICT,
    Expired = "expired" => GONE,

    // A download link that no longer opens.
    LinkRevoked = "link-revoked" => GONE,
    LinkExpired = "link-expired" => GONE,
    LinkUsedUp = "link-used-up" => GONE,
    LinkRemoved = "link-removed" => GONE,

    // Video the server cannot work with.
    RenderFailed = "render-failed" => UNPROCESSABLE_ENTITY,
    Undecodable = "undecodable" => UNPROCESSABLE_ENTITY,

    // Ingest (docks).
    CameraUnknown = "camera-unknown" => FORBIDDEN,
    CameraRevoked = "camera-revoked" => FORBIDDEN,
    MalformedManifest = "malformed-manifest" => UNPROCESSABLE_ENTITY,
    BadSignature = "bad-signature" => UNPROCESSABLE_ENTITY,
    WrongEvidenceKey = "wrong-evidence-key" => UNPROCESSABLE_ENTITY,
    BrokenChain = "broken-chain" => UNPROCESSABLE_ENTITY,
    CiphertextMismatch = "ciphertext-mismatch" => UNPROCESSABLE_ENTITY,
    Replay = "replay" => CONFLICT,
    OffsetMismatch = "offset-mismatch" => CONFLICT,
    UploadBusy = "upload-busy" => CONFLICT,
    Incomplete = "incomplete" => CONFLICT,
    UploadNotFound = "upload-not-found" => NOT_FOUND,
    RecordingDeleted = "recording-deleted" => GONE,
    TooLarge = "too-large" => PAYLOAD_TOO_LARGE,
    StorageFull = "storage-full" => INSUFFICIENT_STORAGE,

    // The server's own trouble.
    Damaged = "damaged" => INTERNAL_SERVER_ERROR,
    ExportFailed = "export-failed" => INTERNAL_SERVER_ERROR,
    Unavailable = "unavailable" => SERVICE_UNAVAILABLE,
    StorageUnavailable = "storage-unavailable" => SERVICE_UNAVAILABLE,
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal as a service returns it: its code and a sentence for people.
pub struct ApiError {
    code: Code,
    message: String,
    offset: Option<u64>,
    retry_after: Option<u64>,
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status(), self.message)
    }
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            offset: None,
            retry_after: None,
        }
    }

    /// The human-readable part of the answer.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Which refusal this is.
    pub fn code(&self) -> Code {
        self.code
    }

    /// Says when to try again (`Retry-After`, seconds).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// When to try again, if the answer says.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// Where an upload stands (`Upload-Offset`), for a dock to resume from.
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(custos_protocol::ErrorBody {
            error: custos_protocol::ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message,
            },
        });
        let mut response = (status, body).into_response();
        if let Some(offset) = self.offset {
            response
                .headers_mut()
                .insert(crate::http::UPLOAD_OFFSET, HeaderValue::from(offset));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_wire_form_and_an_error_status() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let wire = code.as_str();
            assert!(seen.insert(wire), "{wire} is used by two codes");
            assert!(
                !wire.is_empty() && wire.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{wire}"
            );
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{wire}: {status}"
            );
        }
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_codes_given() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json parses");
        let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
            ["properties"]["code"]["enum"]
            .as_array()
            .expect("the Error schema enumerates its codes")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let given: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, given);
    }
}
