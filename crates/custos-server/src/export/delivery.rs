//! Delivering a package: as a response body, behind a download link, or to
//! a person who asked for their own footage.

use super::*;

/// The export as asked: the package as the response, or kept for a
/// download link whose details are the response (`201`).
pub async fn deliver(
    d: Arc<Deployment>,
    a: &Authenticated,
    prepared: PreparedExport,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    if prepared.link_terms().is_some() {
        let created = crate::links::keep_for_link(d, a, prepared).await?;
        Ok((StatusCode::CREATED, axum::Json(created)).into_response())
    } else {
        respond(d, prepared)
    }
}

/// The package as an HTTP download, streamed as it is made: encrypted to
/// its recipient, so nothing readable is ever buffered or stored outside
/// the server. A failure part-way ends the body early (the client's copy
/// lacks age's last chunk and does not decrypt).
pub fn respond(
    d: Arc<Deployment>,
    prepared: PreparedExport,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    let (export_id, file_name) = (prepared.export_id, prepared.file_name.clone());
    let failed = prepared.failed.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let writer = ChannelWriter { tx: tx.clone() };
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = prepared.write(&d, Box::new(writer)) {
            tracing::error!(error = %e, %export_id, "export failed part-way");
            // The log said the export was made; it must also say it was
            // not delivered whole, before the client sees the end.
            let went_away = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                || format!("{e:#}").contains("the client went away");
            let mut event = failed.detail(format!(
                "export {export_id} not delivered whole: {}",
                if went_away {
                    "the download was broken off"
                } else {
                    "a recording could not be read"
                }
            ));
            event.at = (d.clock)();
            if let Err(e) = runtime.block_on(d.audit.record(event)) {
                tracing::error!(error = %e, %export_id, "could not audit the failed export");
            }
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    axum::response::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        )
        .header("custos-export-id", export_id.to_string())
        .header(header::CACHE_CONTROL, "no-store")
        .body(axum::body::Body::from_stream(body))
        .map_err(unavailable)
}

/// A blocking writer whose bytes become a stream (a response body, a blob).
pub(crate) struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
}

impl ChannelWriter {
    pub(crate) fn new(tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>) -> Self {
        Self { tx }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A one-time passphrase: 25 characters of base32 from the OS's generator
/// (125 bits) in groups of five, easy to read out over the phone.
pub fn one_time_passphrase() -> zeroize::Zeroizing<String> {
    use rand::RngCore;
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = zeroize::Zeroizing::new([0u8; 25]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    let groups: Vec<String> = bytes
        .chunks(5)
        .map(|c| {
            c.iter()
                .map(|b| ALPHABET[(*b & 31) as usize] as char)
                .collect()
        })
        .collect();
    zeroize::Zeroizing::new(groups.join("-"))
}

/// `POST /api/v1/subject-requests/{case}/delivery`: the answer to a data
/// subject's access request, as an export package (FORMAT.md §12) holding
/// only the request's redacted copies.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDelivery {
    /// Default: every redacted copy made for the request.
    #[serde(default)]
    pub derivatives: Option<Vec<Uuid>>,
    #[serde(default)]
    pub age_recipient: Option<String>,
    #[serde(default)]
    pub passphrase: Option<String>,
    /// A download link instead of the package (default one download).
    #[serde(default)]
    pub link: Option<NewLink>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Checks and audits a delivery (one entry for the request, one per copy,
/// durable before anything is written) and records it on the request. The
/// package names no requester: its recipient is "the data subject of
/// request CASE"; no original, neighbour or audit trail goes in.
pub async fn prepare_subject_delivery(
    d: &Arc<Deployment>,
    a: &Authenticated,
    case_id: &str,
    request: NewDelivery,
) -> Result<PreparedExport, ApiError> {
    let purpose = crate::subject::PURPOSE;
    let refusals = Refusals::new(d, a, "subject-request.deliver", case_id, purpose);
    a.permit(
        d,
        Action::HandleSubjectRequests,
        "subject-request.deliver",
        &refusals.object,
    )
    .await?;
    let case = match d.catalog.case(case_id).await.map_err(unavailable)? {
        Some(c) if c.kind == crate::subject::KIND && c.closed_at.is_none() => c,
        Some(c) if c.kind == crate::subject::KIND => {
            return refusals
                .refuse(Code::CaseClosed, "that request is closed")
                .await
        }
        _ => {
            return refusals
                .refuse(Code::NotFound, "no subject access request for that case")
                .await
        }
    };
    let live: Vec<custos_catalog::Derivative> = d
        .catalog
        .derivatives_for_case(case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|x| x.deleted_at.is_none())
        .collect();
    let chosen: Vec<custos_catalog::Derivative> = match &request.derivatives {
        None => live,
        Some(ids) => {
            let mut wanted = ids.clone();
            wanted.sort();
            wanted.dedup();
            let found: Vec<_> = live
                .into_iter()
                .filter(|x| wanted.contains(&x.derivative_id))
                .collect();
            if found.len() != wanted.len() {
                return refusals
                    .refuse(
                        Code::NotACopy,
                        "one of those is not a redacted copy of this request",
                    )
                    .await;
            }
            found
        }
    };
    if chosen.is_empty() {
        return refusals
            .refuse(
                Code::NothingToDeliver,
                "make a redacted copy first: the answer holds only redacted copies",
            )
            .await;
    }
    let mut derived = Vec::new();
    for x in chosen {
        match d
            .catalog
            .recording(x.recording_id)
            .await
            .map_err(unavailable)?
        {
            Some(source) => derived.push((x, source)),
            None => {
                return refusals
                    .refuse(
                        Code::SourceGone,
                        "the recording a copy was made from has been deleted",
                    )
                    .await
            }
        }
    }
    let Terms {
        protection,
        link,
        zone_name,
        time_zone,
    } = terms(
        d,
        &refusals,
        request.age_recipient,
        request.passphrase,
        request.link.map(|l| NewLink {
            max_downloads: l.max_downloads.or(Some(1)),
            ..l
        }),
        request.time_zone,
    )
    .await?;
    let export_id = Uuid::now_v7();
    let recipient = format!("the data subject of request {case_id}");
    let mut events = vec![a
        .event(d, "subject-request.deliver", Outcome::Ok)
        .object(&refusals.object)
        .purpose(purpose, case_id)
        .detail(format!(
            "export {export_id}: {} redacted copies",
            derived.len()
        ))];
    for (x, _) in &derived {
        events.push(
            a.event(d, "derivative.export", Outcome::Ok)
                .object(format!("derivative:{}", x.derivative_id))
                .purpose(purpose, case_id)
                .detail(format!("export {export_id}")),
        );
    }
    d.audit.record_all(events).await.map_err(unavailable)?;
    d.catalog
        .record_subject_delivery(case_id, export_id, (d.clock)())
        .await
        .map_err(unavailable)?;
    let verifier = d.audit.verifier().clone();
    let (note, checkpoint, _) = crate::audit::newest_tree(&*d.catalog, &verifier)
        .await
        .map_err(unavailable)?;
    let description = ExportDescription {
        format: EXPORT_FORMAT.into(),
        export_id,
        server_id: d.ingest.server_id().to_owned(),
        created_at: (d.clock)(),
        created_by: a.caller.name.clone(),
        approved_by: None,
        purpose: purpose.into(),
        case: ExportCase {
            case_id: case.case_id.clone(),
            kind: case.kind.clone(),
            reference: None,
            label: case.label.clone(),
        },
        recipient: recipient.clone(),
        audit_tree_size: checkpoint.size,
        recordings: Vec::new(),
        axis_recordings: Vec::new(),
        derived: derived
            .iter()
            .map(|(x, _)| ExportedDerivative {
                derivative_id: x.derivative_id,
                source_recording_id: x.recording_id,
                sha256: x.sha256.clone(),
                dir: derived_dir(x.derivative_id),
            })
            .collect(),
    };
    let safe_case: String = case_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let opens = ExportGrant {
        blob_keys: derived.iter().map(|(x, _)| x.blob_key.clone()).collect(),
    };
    Ok(PreparedExport {
        export_id,
        file_name: format!("custos-access-{safe_case}-{export_id}.tar.age"),
        description,
        gathered: Vec::new(),
        trails: Vec::new(),
        axis: Vec::new(),
        axis_trails: Vec::new(),
        verifier,
        checkpoint_note: note,
        protection,
        language: Language::from_code(request.language.as_deref().unwrap_or("en")),
        time_zone,
        zone_name,
        failed: a
            .event(d, "subject-request.deliver", Outcome::Failed)
            .object(&refusals.object)
            .purpose(purpose, case_id),
        link,
        purpose: purpose.into(),
        case_id: case_id.to_owned(),
        recipient,
        derived,
        opens,
    })
}
