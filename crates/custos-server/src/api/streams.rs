//! What playback sends of one part of a recording: decrypted as it
//! streams, with ranges ([`stream_footage`]). Given a [`Footage`], so it
//! was checked, and audited before the first byte.

use super::*;

pub(crate) async fn stream_footage(
    d: &Deployment,
    a: &Authenticated,
    footage: Footage,
    headers: &axum::http::HeaderMap,
    audit_action: &str,
    disposition: Option<String>,
) -> Result<Response, ApiError> {
    let (recording, part) = (footage.recording(), footage.part());
    let source = crate::playback::CiphertextSource::open(&d.blobs, &part.blob_key);
    let opened = match d.payloads.get(recording.recording_id, part.index) {
        Some(opened) => opened,
        None => match open_part(d, &footage, &source).await? {
            Ok(opened) => {
                let opened = Arc::new(opened);
                d.payloads
                    .put(recording.recording_id, part.index, opened.clone());
                opened
            }
            Err(e) => {
                // The refusal's reason is the audit entry's detail.
                let event = footage.event(d, a, audit_action, Outcome::Failed);
                let answer = ApiError::new(
                    Code::Undecodable,
                    format!(
                        "clip {} does not decrypt with its key file: {e}",
                        footage.part().index
                    ),
                );
                return Err(a.refused(d, event, answer).await);
            }
        },
    };
    let length = match &opened.clip {
        Some((_, length)) => *length,
        None => {
            crate::playback::plaintext_length(part.ciphertext_length, part.age_header.len() as u64)
                .ok_or_else(|| unavailable("stored recording has an impossible length"))?
        }
    };
    let range = match asked_range(headers, length)? {
        Ok(range) => range,
        Err(outside) => return Ok(outside),
    };
    let (start, end) = match range {
        Some(r) => (r.start, r.end),
        None if length == 0 => (0, 0),
        None => (0, length - 1),
    };
    let count = if length == 0 { 0 } else { end - start + 1 };
    // The entry is durable before the first byte leaves.
    a.record(
        d,
        footage
            .event(d, a, audit_action, Outcome::Ok)
            .detail(format!(
                "{}bytes {start}-{end} of {length}",
                footage.part_label()
            )),
    )
    .await?;
    let body = if count == 0 {
        axum::body::Body::empty()
    } else {
        let log = |item: &std::io::Result<bytes::Bytes>| {
            if let Err(e) = item {
                tracing::error!(error = %e, "playback failed");
            }
        };
        match &opened.clip {
            None => {
                let stream =
                    crate::playback::plaintext_range(opened.payload.clone(), source, start, end);
                axum::body::Body::from_stream(futures::StreamExt::inspect(stream, log))
            }
            Some((key, _)) => {
                // The camera's ciphertext of the range (and the block
                // before it), decrypted as it streams.
                let (from, to) = custos_axis::content::ciphertext_span(start, end);
                let stream =
                    crate::playback::plaintext_range(opened.payload.clone(), source, from, to);
                let mut clip = custos_axis::content::RangeDecryptor::new(key.clone(), start, end);
                let stream = futures::StreamExt::map(stream, move |item| {
                    item.map(|cipher| bytes::Bytes::from(clip.push(&cipher)))
                });
                axum::body::Body::from_stream(futures::StreamExt::inspect(stream, log))
            }
        }
    };
    let kind = match &part.clip {
        Some(c) if c.kind == custos_axis::names::ClipType::Mkv => "video/x-matroska",
        _ => "video/mp4",
    };
    let mut response = video_head(kind, range.is_some(), (start, end), count, length);
    if let Some(disposition) = disposition {
        response = response.header(header::CONTENT_DISPOSITION, disposition);
    }
    response.body(body).map_err(unavailable)
}

/// Opens a part for playback: its age payload, and for a clip its camera
/// encrypted, the clip key (key file and connection key, on a blocking
/// thread) and the clip's length from its padding. The outer error is the
/// server's; the inner one the clip's (a key file that does not open it).
async fn open_part(
    d: &Deployment,
    footage: &Footage,
    source: &crate::playback::CiphertextSource,
) -> Result<Result<crate::playback::Opened, custos_axis::content::ContentError>, ApiError> {
    use custos_axis::content::{ContentError, BLOCK};
    let part = footage.part();
    let payload = crate::playback::open_payload(
        &part.age_header,
        source,
        part.ciphertext_length,
        d.keys
            .evidence
            .identity(footage, &part.blob_key)
            .map_err(unavailable)?,
    )
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "a stored recording does not open");
        unavailable(e)
    })?;
    let payload = Arc::new(payload);
    let Some(clip) = &part.clip else {
        return Ok(Ok(crate::playback::Opened {
            payload,
            clip: None,
        }));
    };
    let Some(key_file) = clip.key_file.clone() else {
        return Ok(Ok(crate::playback::Opened {
            payload,
            clip: None,
        }));
    };
    let identity = d
        .keys
        .evidence
        .identity(footage, &key_file.blob_key)
        .map_err(unavailable)?
        .clone();
    let axis = footage
        .recording()
        .axis()
        .ok_or_else(|| unavailable("a key file of no Axis recording"))?;
    let keys = crate::parts::content_keys(&*d.catalog, &axis.connection)
        .await
        .map_err(unavailable)?;
    let blobs = d.blobs.clone();
    let runtime = tokio::runtime::Handle::current();
    let key = match tokio::task::spawn_blocking(move || {
        crate::axis::content::clip_key(&identity, &key_file, &keys, &blobs, runtime)
    })
    .await
    .map_err(unavailable)?
    {
        Ok(key) => key,
        Err(ContentError::Io(e)) => return Err(unavailable(e)),
        Err(e) => return Ok(Err(e)),
    };
    let arrived = clip.length;
    if arrived == 0 || !arrived.is_multiple_of(BLOCK as u64) {
        return Ok(Err(ContentError::Length(arrived)));
    }
    let tail = arrived.min(2 * BLOCK as u64);
    let last_two = futures::TryStreamExt::try_fold(
        crate::playback::plaintext_range(
            payload.clone(),
            source.clone(),
            arrived - tail,
            arrived - 1,
        ),
        Vec::new(),
        |mut all, piece| async move {
            all.extend_from_slice(&piece);
            Ok(all)
        },
    )
    .await
    .map_err(unavailable)?;
    Ok(key
        .plaintext_length(arrived, &last_two)
        .map(|length| crate::playback::Opened {
            payload,
            clip: Some((key, length)),
        }))
}

/// What a request's `Range` header asks of `length` bytes: `Ok(None)` the
/// whole, `Ok(Some)` one range; `Err` a range outside them, answered
/// `416` with the length (RFC 9110). One that does not parse is `400`.
pub(super) fn asked_range(
    headers: &axum::http::HeaderMap,
    length: u64,
) -> Result<Result<Option<crate::playback::ByteRange>, Response>, ApiError> {
    let Some(h) = headers.get(header::RANGE) else {
        return Ok(Ok(None));
    };
    match crate::playback::parse_range(h.to_str().unwrap_or(""), length) {
        Ok(r) => Ok(Ok(Some(r))),
        Err(crate::playback::RangeError::Unsatisfiable) => Ok(Err((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{length}"))],
        )
            .into_response())),
        Err(crate::playback::RangeError::Malformed) => {
            Err(ApiError::new(Code::Invalid, "unsupported Range header"))
        }
    }
}

/// The head of a video answer: `200`, or `206` with its `Content-Range`;
/// ranges accepted; never cached.
pub(crate) fn video_head(
    content_type: &str,
    partial: bool,
    (start, end): (u64, u64),
    count: u64,
    length: u64,
) -> axum::http::response::Builder {
    let mut head = Response::builder()
        .status(if partial {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, count)
        .header(header::CACHE_CONTROL, "no-store");
    if partial {
        head = head.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{length}"),
        );
    }
    head
}
