//! The Axis content destination (issue 23, ADR 0017): the Swift subset the
//! Axis system controller uploads to, on a listener of its own. Every
//! request is authenticated with a connection's token and audited with the
//! connection as actor, like a dock's; every object is encrypted to the
//! evidence key as it arrives; a refusal is the spec's status code with the
//! reason in the body.

mod auth;
pub(crate) mod content;
mod expiry;
pub mod gaps;
pub mod http;
mod objects;
mod receive;
pub mod recordings;
pub mod signed;
mod store;
pub mod trail;

pub use expiry::expire_containers;

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
    /// Objects received at once from one connection, so one (slow, or
    /// hostile) system controller cannot hold every upload's place.
    pub uploads_per_connection: usize,
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
            uploads_at_once: 128,
            uploads_per_connection: 64,
            open_containers: 10_000,
            reserve_bytes: 1 << 30,
        }
    }
}

/// The destination's state beside the deployment's.
pub struct Destination {
    pub settings: AxisSettings,
    /// Permits for objects being received: in all, and per connection.
    uploads: Arc<tokio::sync::Semaphore>,
    per_connection:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
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
            per_connection: Default::default(),
            settings,
            staging,
        })
    }
}

/// An object's places among those received at once.
pub(crate) type Permits = (
    tokio::sync::OwnedSemaphorePermit,
    tokio::sync::OwnedSemaphorePermit,
);

impl Destination {
    /// Places for one more object of `connection`, or `503`.
    pub(crate) fn permits(&self, connection: &str) -> Result<Permits, Refusal> {
        let mine = self
            .per_connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(connection.to_owned())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    self.settings.uploads_per_connection,
                ))
            })
            .clone();
        let busy =
            |what: &str, n: usize| Refusal::Busy(format!("{n} objects {what} are being received"));
        let own = mine
            .try_acquire_owned()
            .map_err(|_| busy("of this connection", self.settings.uploads_per_connection))?;
        let all = self
            .uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("in all", self.settings.uploads_at_once))?;
        Ok((own, all))
    }
}

/// Blobs named as pending longer than this are taken to have had their
/// request end without a row (a crash, a lost database). Should a request
/// still be writing one (a 64 GiB object to a slow S3), the clean-up takes
/// the name first and the request's commit is then refused (`503`, sent
/// again), so no object is ever answered `201` without its blob.
pub const PENDING_MILLIS: i64 = 3_600_000;

/// Removes the blobs of objects whose rows never committed; `serve` runs
/// it at start and in each maintenance round. A blob that cannot be
/// deleted now is logged and left for a later round (its name is taken
/// back, so the next round tries it again).
pub async fn remove_abandoned_blobs(d: &crate::Deployment) -> Result<usize, Refusal> {
    let mut removed = 0;
    let now = (d.clock)();
    for key in d
        .catalog
        .axis_pending_blobs(now.plus_millis(-PENDING_MILLIS))
        .await?
    {
        // The name first: whoever takes it decides the blob's fate.
        if !d.catalog.remove_axis_pending_blob(&key).await? {
            continue; // its object committed meanwhile
        }
        match d.blobs.delete(&key).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::error!(error = %e, "a blob of an Axis object never stored stays for now");
                let connection = "(clean-up)";
                let _ = d
                    .catalog
                    .add_axis_pending_blob(&key, connection, now.plus_millis(-PENDING_MILLIS - 1))
                    .await;
            }
        }
    }
    Ok(removed)
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
    /// The body stopped arriving (a cut cable, a stalled sender): nothing
    /// of it is kept, and the controller sends it again.
    #[error("the object's bytes stopped arriving ({0}); nothing of it was kept, send it again")]
    Interrupted(String),
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
            Refusal::Busy(_) | Refusal::Interrupted(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            Refusal::Interrupted(_) => "interrupted",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_connection_cannot_take_every_place_and_all_together_are_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let mut settings = AxisSettings::new("127.0.0.1:0".parse().unwrap());
        settings.uploads_at_once = 3;
        settings.uploads_per_connection = 2;
        let d = Destination::open(tmp.path(), settings).unwrap();
        let a1 = d.permits("a").unwrap();
        let _a2 = d.permits("a").unwrap();
        let refused = d.permits("a").unwrap_err();
        assert_eq!(refused.code(), "busy");
        assert!(refused.to_string().contains("of this connection"));
        let _b1 = d.permits("b").unwrap();
        let refused = d.permits("b").unwrap_err();
        assert!(refused.to_string().contains("in all"), "{refused}");
        drop(a1);
        assert!(d.permits("b").is_ok(), "a place given back is taken again");
    }

    #[test]
    fn refusals_have_the_specs_status_and_a_name() {
        let cases = [
            (Refusal::Unauthorized, 401, "unauthorized"),
            (Refusal::Forbidden("complete", "x".into()), 403, "complete"),
            (Refusal::NotFound("x".into()), 404, "not-found"),
            (
                Refusal::NeverStorable("too-large", "x".into()),
                400,
                "too-large",
            ),
            (Refusal::ChecksumMismatch("x".into()), 422, "etag-mismatch"),
            (Refusal::Busy("x".into()), 503, "busy"),
            (Refusal::Interrupted("x".into()), 503, "interrupted"),
            (Refusal::Full, 507, "storage-full"),
            (
                Refusal::Unavailable("secret detail".into()),
                500,
                "unavailable",
            ),
        ];
        for (refusal, status, code) in cases {
            assert_eq!((refusal.status().as_u16(), refusal.code()), (status, code));
        }
        let answer = Refusal::Unavailable("secret detail".into()).into_response();
        assert_eq!(answer.status(), 500);
    }
}
