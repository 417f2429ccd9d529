//! The Axis content destination (issue 23, ADR 0017): the Swift subset the
//! Axis system controller uploads to, on a listener of its own. Every
//! request is authenticated with a connection's token and audited with the
//! connection as actor, like a dock's; every object is encrypted to the
//! evidence key as it arrives; a refusal is the spec's status code with the
//! reason in the body.

mod auth;
pub mod http;
mod receive;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use custos_axis::AxisError;
use custos_catalog::CatalogError;

/// How long a token from `GET /auth/v1.0` is good for (the spec's example
/// server's lifetime).
pub const TOKEN_MILLIS: i64 = 15 * 60 * 1000;

/// The Axis listener's settings (`custos serve --axis-listen`, `[axis]` in
/// `custos.toml`).
#[derive(Clone, Debug)]
pub struct AxisSettings {
    pub listen: SocketAddr,
    /// The largest object taken: a larger one can never be stored (`400`).
    pub max_object_bytes: u64,
    /// Objects received at once, all connections together; one more is
    /// `503`, which the system controller retries.
    pub uploads_at_once: usize,
    /// Recordings in transfer on one connection; one more is `503`.
    pub open_containers: u64,
    /// Free space kept on the staging disk: an object that would use it is
    /// `507`.
    pub reserve_bytes: u64,
}

impl AxisSettings {
    pub fn new(listen: SocketAddr) -> Self {
        AxisSettings {
            listen,
            max_object_bytes: 64 << 30,
            uploads_at_once: 64,
            open_containers: 10_000,
            reserve_bytes: 1 << 30,
        }
    }
}

/// The destination's state beside the deployment's.
pub struct Destination {
    pub settings: AxisSettings,
    /// Permits for objects being received.
    uploads: Arc<tokio::sync::Semaphore>,
    /// Where objects are encrypted to while they arrive: a directory of the
    /// Axis listener's own, emptied at start (a crash leaves only parts of
    /// objects no one was told were stored).
    staging: std::path::PathBuf,
}

impl Destination {
    pub fn open(data: &std::path::Path, settings: AxisSettings) -> anyhow::Result<Self> {
        let staging = data.join("staging-axis");
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        Ok(Destination {
            uploads: Arc::new(tokio::sync::Semaphore::new(settings.uploads_at_once)),
            settings,
            staging,
        })
    }
}

/// Why a request of the system controller is refused, and the one place
/// that says which status the spec gives it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No token, an unknown or expired one, or wrong credentials.
    #[error("a valid X-Auth-Token is required (GET /auth/v1.0 gives one)")]
    Unauthorized,
    /// Not this connection's to do: another account, a `System` object
    /// Custos writes itself, a change to a completed recording.
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("{0} does not exist")]
    NotFound(String),
    /// Names or metadata the spec does not allow.
    #[error("{0}")]
    Invalid(#[from] AxisError),
    /// Can never be stored, for a reason of Custos's own.
    #[error("{1}")]
    NeverStorable(&'static str, String),
    /// The bytes are not those the client's `Etag` names.
    #[error("the object's MD5 is {0}, not the Etag sent")]
    ChecksumMismatch(String),
    #[error("{0}; try again soon")]
    Busy(String),
    #[error("the evidence store is full")]
    Full,
    #[error("the server could not do this now")]
    Unavailable(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden(..) => StatusCode::FORBIDDEN,
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::Invalid(_) | Refusal::NeverStorable(..) => StatusCode::BAD_REQUEST,
            Refusal::ChecksumMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Full => StatusCode::INSUFFICIENT_STORAGE,
            Refusal::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The refusal's name: first in the answer's body, and the audit
    /// entry's detail.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden(code, _) | Refusal::NeverStorable(code, _) => code,
            Refusal::NotFound(_) => "not-found",
            Refusal::Invalid(e) => e.code(),
            Refusal::ChecksumMismatch(_) => "etag-mismatch",
            Refusal::Busy(_) => "busy",
            Refusal::Full => "storage-full",
            Refusal::Unavailable(_) => "unavailable",
        }
    }
}

impl From<CatalogError> for Refusal {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Full(_) => Refusal::Full,
            other => Refusal::Unavailable(other.to_string()),
        }
    }
}

impl From<custos_blobs::BlobError> for Refusal {
    fn from(e: custos_blobs::BlobError) -> Self {
        match e {
            custos_blobs::BlobError::Io(io) if custos_blobs::is_out_of_space(&io) => Refusal::Full,
            other => Refusal::Unavailable(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Refusal {
    fn from(e: std::io::Error) -> Self {
        if custos_blobs::is_out_of_space(&e) {
            Refusal::Full
        } else {
            Refusal::Unavailable(e.to_string())
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(code = self.code(), error = %self, "Axis request failed on the server side");
        }
        // The reason, never what the server knows of its own insides.
        let message = match &self {
            Refusal::Unavailable(_) => "the server could not do this now; try again".to_owned(),
            other => other.to_string(),
        };
        let mut answer = (status, format!("{}: {message}\n", self.code())).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            answer
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("5"));
        }
        answer
    }
}
