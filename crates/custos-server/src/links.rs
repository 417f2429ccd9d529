//! Download links for export packages (ADR 0009): instead of answering
//! with the package, the server keeps it — still encrypted to the
//! recipient, so the blob store holds nothing it could read — and hands
//! out a link that serves it until it expires, is used up or is revoked.
//! Whoever holds the link downloads without an account; each download,
//! refused or broken off, is in the audit log with the export's purpose
//! and case, and the package leaves the blob store when the link closes.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use bytes::Bytes;
use custos_access::Action;
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::{ExportLink, LinkClosed};
use custos_format::UtcMillis;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{unavailable, Authenticated};
use crate::audit::AuditLog;
use crate::export::PreparedExport;
use crate::http::{ApiError, Code};
use crate::Deployment;

/// Where a link's token goes: `POST` here downloads (the web UI's landing
/// page, `GET /download/{token}`, has the button that does it).
pub const DOWNLOAD_PATH: &str = "/api/v1/downloads/";

/// What the creator learns, once: the token is in `path` and nowhere else.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CreatedLink {
    #[serde(flatten)]
    pub link: ExportLink,
    /// `/download/{token}`: the landing page to send the recipient.
    pub page: String,
    /// `/api/v1/downloads/{token}`: `POST` downloads (for scripts).
    pub path: String,
}

/// The blob key of an export's kept package.
fn blob_key(export_id: Uuid) -> String {
    format!("exports/{export_id}.tar.age")
}

/// Makes the package into the blob store as it is written (no copy on
/// local disk), then records the link. The export was audited in
/// `prepare`; the link's terms are audited here before it can serve.
pub async fn keep_for_link(
    d: Arc<Deployment>,
    a: &Authenticated,
    prepared: PreparedExport,
) -> Result<CreatedLink, ApiError> {
    let terms = prepared
        .link_terms()
        .expect("keep_for_link is for exports with link terms");
    let export_id = prepared.export_id;
    let file_name = prepared.file_name.clone();
    let (purpose, case_id, recipient) = prepared.scope();
    let failed = prepared.failed_event();
    let key = blob_key(export_id);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let hasher = Arc::new(std::sync::Mutex::new(Sha256::new()));
    let parts = {
        let hasher = hasher.clone();
        futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .inspect(move |part| {
            if let Ok(bytes) = part {
                hasher
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .update(bytes);
            }
        })
        .boxed()
    };
    let blobs = d.blobs.clone();
    let key2 = key.clone();
    let stored = tokio::spawn(async move { blobs.put_stream(&key2, parts).await });
    let writer = crate::export::ChannelWriter::new(tx.clone());
    let d2 = d.clone();
    let written = tokio::task::spawn_blocking(move || {
        let result = prepared.write(&d2, Box::new(writer));
        if result.is_err() {
            // The store must abandon the upload, not keep half a package.
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
        result
    })
    .await
    .map_err(unavailable)?;
    let stored = stored.await.map_err(unavailable)?;
    let size = match (written, stored) {
        (Ok(_), Ok(size)) => size,
        (written, stored) => {
            let why = match (&written, &stored) {
                (Err(e), _) => format!("{e:#}"),
                (_, Err(e)) => e.to_string(),
                _ => unreachable!(),
            };
            tracing::error!(%export_id, error = %why, "an export for a download link failed");
            let _ = d.blobs.delete(&key).await;
            let mut event = failed.detail(format!(
                "export {export_id} not kept for a download link: {}",
                if written.is_err() {
                    "a recording could not be read"
                } else {
                    "the blob store did not take it"
                }
            ));
            event.at = (d.clock)();
            d.audit.record(event).await.map_err(unavailable)?;
            return Err(ApiError::new(
                Code::ExportFailed,
                "the package could not be made whole; nothing was kept (see the audit log)",
            ));
        }
    };
    let package_sha256 = hex::encode(
        hasher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .finalize(),
    );
    let token = crate::auth::random_token();
    let now = (d.clock)();
    let link = ExportLink {
        link_id: Uuid::now_v7(),
        export_id,
        case_id: case_id.clone(),
        purpose: purpose.clone(),
        recipient,
        token_sha256: crate::auth::token_hash(&token),
        blob_key: key.clone(),
        file_name,
        size,
        package_sha256,
        created_by: a.caller.name.clone(),
        created_at: now,
        expires_at: now.plus_millis(terms.valid_millis),
        max_downloads: terms.max_downloads,
        downloads: 0,
        revoked_by: None,
        revoked_at: None,
        removed_at: None,
    };
    d.audit
        .record(
            a.event(&d, "export-link.create", Outcome::Ok)
                .object(format!("export:{export_id}"))
                .purpose(&purpose, &case_id)
                .detail(format!(
                    "link {} until {}, {} downloads, package sha256 {}",
                    link.link_id, link.expires_at, link.max_downloads, link.package_sha256
                )),
        )
        .await
        .map_err(unavailable)?;
    if let Err(e) = d.catalog.add_export_link(&link).await {
        let _ = d.blobs.delete(&key).await;
        return Err(unavailable(e));
    }
    Ok(CreatedLink {
        page: format!("/download/{}", token.as_str()),
        path: format!("{DOWNLOAD_PATH}{}", token.as_str()),
        link,
    })
}

/// What the landing page may show about a link: nothing about the case.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LinkFacts {
    pub file_name: String,
    pub size: u64,
    pub package_sha256: String,
    pub expires_at: UtcMillis,
    pub downloads_left: u32,
    /// Why it no longer serves, if it does not.
    pub closed: Option<LinkClosed>,
}

/// A token as links carry it: 64 lowercase hex digits.
fn well_formed(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

async fn find(d: &Deployment, token: &str) -> Result<Option<ExportLink>, ApiError> {
    if !well_formed(token) {
        return Ok(None);
    }
    d.catalog
        .export_link_by_token(&crate::auth::token_hash(token))
        .await
        .map_err(unavailable)
}

fn unknown() -> ApiError {
    ApiError::new(Code::LinkUnknown, "there is no such download link")
}

/// For the landing page: `None` for a token that names no link. Looking
/// is not downloading: it is not counted, and not audited.
pub async fn facts(d: &Deployment, token: &str) -> Result<Option<LinkFacts>, ApiError> {
    Ok(find(d, token).await?.map(|l| LinkFacts {
        closed: l.closed((d.clock)()),
        downloads_left: l.max_downloads.saturating_sub(l.downloads),
        file_name: l.file_name,
        size: l.size,
        package_sha256: l.package_sha256,
        expires_at: l.expires_at,
    }))
}

/// `POST /api/v1/downloads/{token}`: the package, if the link still
/// serves. The download is counted and audited before the first byte;
/// one that breaks off is audited again as failed.
pub async fn download(
    d: &Arc<Deployment>,
    client: &str,
    token: &str,
) -> Result<axum::response::Response, ApiError> {
    let now = (d.clock)();
    let Some(link) = find(d, token).await? else {
        d.audit
            .record(
                AuditEvent::new(now, "anonymous", "export.download", Outcome::Refused)
                    .object("export-link:unknown")
                    .client(client)
                    .detail("no such download link"),
            )
            .await
            .map_err(unavailable)?;
        return Err(unknown());
    };
    let event = |outcome| {
        AuditEvent::new(
            (d.clock)(),
            format!("link:{}", link.link_id),
            "export.download",
            outcome,
        )
        .object(format!("export:{}", link.export_id))
        .purpose(&link.purpose, &link.case_id)
        .client(client)
    };
    let claimed = link.closed(now).is_none()
        && d.catalog
            .claim_export_download(link.link_id, now)
            .await
            .map_err(unavailable)?;
    if !claimed {
        // Closed already, or a racing download took the last one.
        let fresh = d
            .catalog
            .export_link(link.link_id)
            .await
            .map_err(unavailable)?
            .unwrap_or(link.clone());
        let why = fresh.closed(now).unwrap_or(LinkClosed::UsedUp);
        d.audit
            .record(event(Outcome::Refused).detail(format!("link {}", why.as_str())))
            .await
            .map_err(unavailable)?;
        return Err(ApiError::new(
            match why {
                LinkClosed::Revoked => Code::LinkRevoked,
                LinkClosed::Expired => Code::LinkExpired,
                LinkClosed::UsedUp => Code::LinkUsedUp,
                LinkClosed::Removed => Code::LinkRemoved,
            },
            match why {
                LinkClosed::Revoked => "this download link was revoked",
                LinkClosed::Expired => "this download link has expired",
                LinkClosed::UsedUp => "this download link has been used as often as it allows",
                LinkClosed::Removed => "this download link's package is gone",
            },
        ));
    }
    let number = link.downloads + 1;
    d.audit
        .record(event(Outcome::Ok).detail(format!(
            "download {number} of {} ({} bytes, sha256 {})",
            link.max_downloads, link.size, link.package_sha256
        )))
        .await
        .map_err(unavailable)?;
    let parts = match d.blobs.get_stream(&link.blob_key).await {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!(link = %link.link_id, error = %e, "a kept export package is missing");
            d.audit
                .record(event(Outcome::Failed).detail("the kept package could not be read"))
                .await
                .map_err(unavailable)?;
            return Err(unavailable(e));
        }
    };
    let progress = Progress {
        parts,
        sent: 0,
        size: link.size,
        finished: false,
        on_failure: Some((d.audit.clone(), event(Outcome::Failed))),
        number,
        clock: d.clock.clone(),
    };
    let body = futures::stream::unfold(Some(progress), |state| async move {
        let mut p = state?;
        match p.parts.next().await {
            Some(Ok(bytes)) => {
                p.sent += bytes.len() as u64;
                // With the length sent, the server may never ask for the end.
                p.finished = p.sent == p.size;
                Some((Ok(bytes), Some(p)))
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "a kept export package failed while sent");
                p.failed("the blob store failed").await;
                Some((
                    Err(std::io::Error::other("the package could not be read")),
                    None,
                ))
            }
            None if p.sent == p.size => {
                p.finished = true;
                None
            }
            None => {
                p.failed("the kept package is shorter than recorded").await;
                Some((Err(std::io::Error::other("the package is damaged")), None))
            }
        }
    });
    axum::response::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, link.size)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", link.file_name),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .header("referrer-policy", "no-referrer")
        .header("custos-export-id", link.export_id.to_string())
        .header("custos-package-sha256", &link.package_sha256)
        .body(axum::body::Body::from_stream(body))
        .map_err(unavailable)
}

/// The package's bytes on their way out. If they stop before the end, the
/// log says so: durably before the body breaks off where the server
/// notices (the store failed, the package is damaged), as soon as it can
/// where the recipient went away (the body is dropped).
struct Progress {
    parts: futures::stream::BoxStream<'static, custos_blobs::Result<Bytes>>,
    sent: u64,
    size: u64,
    finished: bool,
    on_failure: Option<(AuditLog, AuditEvent)>,
    number: u32,
    clock: crate::Clock,
}

impl Progress {
    fn failure(&mut self, why: &str) -> Option<(AuditLog, AuditEvent)> {
        let (audit, event) = self.on_failure.take()?;
        let mut event = event.detail(format!(
            "download {} broken off after {} of {} bytes: {why}",
            self.number, self.sent, self.size
        ));
        event.at = (self.clock)();
        Some((audit, event))
    }

    async fn failed(&mut self, why: &str) {
        if let Some((audit, event)) = self.failure(why) {
            if let Err(e) = audit.record(event).await {
                tracing::error!(error = %e, "could not audit a broken-off download");
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Some((audit, event)) = self.failure("the recipient went away") else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = audit.record(event).await {
                        tracing::error!(error = %e, "could not audit a broken-off download");
                    }
                });
            }
            Err(_) => tracing::error!("a broken-off download could not be audited: no runtime"),
        }
    }
}

/// `GET /api/v1/cases/{id}/export-links`: the case's links (never their
/// tokens), for those who may export.
pub async fn links_for_case(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
) -> Result<Vec<ExportLink>, ApiError> {
    let object = format!("case:{}", case_id.escape_default());
    a.permit(d, Action::ExportFootage, "export-link.list", &object)
        .await?;
    if let Some(case) = d.catalog.case(case_id).await.map_err(unavailable)? {
        crate::api::subject_case_guard(d, a, &case, "export-link.list", &object).await?;
    }
    let links = d
        .catalog
        .export_links_for_case(case_id)
        .await
        .map_err(unavailable)?;
    // Who received footage, and how often they fetched it, is read only
    // with an entry naming the case.
    a.ok(d, "export-link.list", &object).await?;
    Ok(links)
}

/// `POST /api/v1/export-links/{id}/revoke`: the link stops serving at once
/// and its package leaves the blob store (the sweeper finishes that if the
/// store fails now).
pub async fn revoke(
    d: &Deployment,
    a: &Authenticated,
    link_id: &str,
) -> Result<ExportLink, ApiError> {
    let object = format!("export-link:{}", link_id.escape_default());
    a.permit(d, Action::ExportFootage, "export-link.revoke", &object)
        .await?;
    let found = match link_id.parse::<Uuid>() {
        Ok(id) => d.catalog.export_link(id).await.map_err(unavailable)?,
        Err(_) => None,
    };
    // Like a hold or an export request that is not there: 404, as the
    // permission to revoke was granted (and would have been audited if not).
    let Some(link) = found else {
        return Err(unknown());
    };
    if let Some(case) = d.catalog.case(&link.case_id).await.map_err(unavailable)? {
        crate::api::subject_case_guard(d, a, &case, "export-link.revoke", &object).await?;
    }
    let event = |outcome| {
        a.event(d, "export-link.revoke", outcome)
            .object(format!("export:{}", link.export_id))
            .purpose(&link.purpose, &link.case_id)
    };
    let now = (d.clock)();
    // Revoked already is the only refusal; an outage is an outage.
    match d
        .catalog
        .revoke_export_link(link.link_id, &a.caller.name, now)
        .await
    {
        Ok(()) => {}
        Err(custos_catalog::CatalogError::NotFound { .. }) => {
            return Err(ApiError::new(
                Code::AlreadyRevoked,
                "that link was revoked already",
            ))
        }
        Err(e) => return Err(unavailable(e)),
    }
    d.audit
        .record(event(Outcome::Ok).detail(format!(
            "link {} revoked after {} of {} downloads",
            link.link_id, link.downloads, link.max_downloads
        )))
        .await
        .map_err(unavailable)?;
    if link.removed_at.is_none() {
        match d.blobs.delete(&link.blob_key).await {
            Ok(()) => d
                .catalog
                .mark_export_link_removed(link.link_id, now)
                .await
                .map_err(unavailable)?,
            Err(e) => {
                tracing::warn!(link = %link.link_id, error = %e, "the sweeper will remove the package")
            }
        }
    }
    d.catalog
        .export_link(link.link_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(unknown)
}
