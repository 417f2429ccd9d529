//! An Axis recording's clips as one video (`…/joined`): one fragmented
//! MP4 laid out from the clips' sample tables by `custos_join`, with
//! ranges, sent a message at a time. Given a [`Footage`] that opens every
//! clip of the recording, so it was checked, and audited before the first
//! byte.

use super::*;

/// An Axis recording's clips as one video: a fragmented MP4 made on the
/// fly from the clips' sample tables, their samples unchanged
/// (`custos_join`), with ranges. Each clip follows the one before, so the
/// video's time is not the recording's where the camera left a gap
/// between clips: the `Custos-Clip-Starts` header says where each clip
/// starts in it. A Custos camera's recording is one fragmented MP4 already
/// and is sent as `/video` sends it.
pub(crate) async fn joined(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    const ACTION: &str = "recording.play";
    let q = query(q)?;
    if q.part.is_some() {
        return Err(ApiError::new(
            Code::Invalid,
            "the joined video is every part of the recording: ask /video for one part",
        ));
    }
    let mut footage = a
        .footage(
            &d,
            &id,
            q.purpose.as_deref(),
            q.case.as_deref(),
            None,
            ACTION,
        )
        .await?;
    let Some(axis) = footage.recording().axis().cloned() else {
        return stream_footage(&d, &a, footage, &headers, ACTION, None).await;
    };
    footage.open_every_part(&d).await?;
    let refuse = |footage: &Footage, why: String| {
        let event = footage
            .event(&d, &a, ACTION, Outcome::Failed)
            .detail(why.clone());
        (event, ApiError::new(Code::Undecodable, why))
    };
    let matroska = footage.parts().iter().find(|p| {
        p.clip
            .as_ref()
            .is_some_and(|c| c.kind != custos_axis::names::ClipType::Mp4)
    });
    if let Some(p) = matroska {
        let (event, answer) = refuse(
            &footage,
            format!(
                "{}is Matroska: only MP4 clips are joined; play the clips as parts",
                clip_label(p)
            ),
        );
        return Err(a.refused(&d, event, answer).await);
    }
    if footage.parts().is_empty() {
        let (event, answer) = refuse(&footage, "the recording has no clip".into());
        return Err(a.refused(&d, event, answer).await);
    }
    let encrypted = footage
        .parts()
        .iter()
        .any(|p| p.clip.as_ref().is_some_and(|c| c.key_file.is_some()));
    let keys = if encrypted {
        crate::parts::content_keys(&*d.catalog, &axis.connection)
            .await
            .map_err(unavailable)?
    } else {
        Vec::new()
    };
    let opens: Vec<_> = footage
        .parts()
        .iter()
        .map(|p| crate::playback::decrypting_reader(&d, &footage, p.stored(), keys.clone()))
        .collect();
    let laid_out = tokio::task::spawn_blocking(move || lay_out(opens))
        .await
        .map_err(unavailable)?;
    let (joined, readers) = match laid_out {
        Ok(done) => done,
        Err(JoinFault::Server(e)) => {
            tracing::error!(error = %e, "a stored clip does not open");
            return Err(unavailable(e));
        }
        Err(JoinFault::Recording(why)) => {
            let (event, answer) = refuse(
                &footage,
                format!("the clips cannot be joined: {why}; play them as parts"),
            );
            return Err(a.refused(&d, event, answer).await);
        }
        Err(JoinFault::Clip(clip, why)) => {
            let label = footage
                .parts()
                .get(clip)
                .map(clip_label)
                .unwrap_or_default();
            let (event, answer) = refuse(
                &footage,
                format!("{label}cannot be joined: {why}; play the clips as parts"),
            );
            return Err(a.refused(&d, event, answer).await);
        }
    };
    let length = joined.length();
    let range = match asked_range(&headers, length)? {
        Ok(range) => range,
        Err(outside) => return Ok(outside),
    };
    let (start, end) = range.map_or((0, length - 1), |r| (r.start, r.end));
    a.record(
        &d,
        footage.event(&d, &a, ACTION, Outcome::Ok).detail(format!(
            "all {} clips joined, bytes {start}-{end} of {length}",
            footage.parts().len()
        )),
    )
    .await?;
    let starts: Vec<String> = joined
        .clip_starts_millis()
        .iter()
        .map(u64::to_string)
        .collect();
    let body = futures::stream::try_unfold(
        Reading {
            cursor: joined.cursor(start, end),
            joined,
            queue: std::collections::VecDeque::new(),
            readers,
        },
        |mut reading| async move {
            let Some(batch) = reading.batch() else {
                return Ok::<_, std::io::Error>(None);
            };
            let (bytes, readers) = read_batch(batch, std::mem::take(&mut reading.readers))
                .await
                .inspect_err(|e| tracing::error!(error = %e, "joined playback failed"))?;
            reading.readers = readers;
            Ok(Some((bytes, reading)))
        },
    );
    let mut response = video_head(
        "video/mp4",
        range.is_some(),
        (start, end),
        end - start + 1,
        length,
    );
    // A controller decides how many clips a recording has: past 8 KiB
    // (about a thousand clips) the list is left out rather than make a
    // header a client refuses.
    let starts = starts.join(",");
    if starts.len() <= 8 * 1024 {
        response = response.header("custos-clip-starts", starts);
    }
    response
        .body(axum::body::Body::from_stream(body))
        .map_err(unavailable)
}

/// `clip N (NAME) ` of a part, as refusals name it.
fn clip_label(p: &crate::parts::Part) -> String {
    match &p.clip {
        Some(c) => format!("clip {} ({}) ", p.index, c.name.escape_default()),
        None => String::new(),
    }
}

/// Why clips were not joined: the server's fault (a blob that does not
/// read or decrypt: 503); a clip's (what it holds, or its own encryption:
/// 422), with its index; or the recording's as a whole (too long for one
/// file: 422).
enum JoinFault {
    Server(std::io::Error),
    Clip(usize, String),
    Recording(String),
}

/// On a blocking thread: opens every clip, reads its tables, and lays the
/// joined file out. The clips stay open for the range to be read.
fn lay_out<F>(
    opens: Vec<F>,
) -> Result<(custos_join::Joined, Vec<Box<dyn crate::playback::ReadSeek>>), JoinFault>
where
    F: FnOnce() -> std::io::Result<Box<dyn crate::playback::ReadSeek>> + Send,
{
    use std::io::Seek;
    let io = |clip: usize, e: std::io::Error| match crate::playback::clip_fault(&e) {
        Some(fault) => JoinFault::Clip(
            clip,
            format!("it does not decrypt with its key file: {fault}"),
        ),
        None => JoinFault::Server(e),
    };
    let mut readers = Vec::with_capacity(opens.len());
    let mut tracks = Vec::with_capacity(opens.len());
    // The clips together hold no more samples than one joined file may:
    // each is refused as soon as it would pass what the ones before left.
    let mut budget = custos_join::MAX_SAMPLES;
    for (clip, open) in opens.into_iter().enumerate() {
        let mut reader = open().map_err(|e| io(clip, e))?;
        let found = custos_join::read_moov(&mut reader)
            .and_then(|moov| custos_join::tracks_within(&moov, budget))
            .and_then(|t| {
                let length = reader.seek(std::io::SeekFrom::End(0))?;
                custos_join::check_within(&t, length).map(|()| t)
            });
        match found {
            Ok(t) => {
                budget -= t.iter().map(|t| t.samples.len()).sum::<usize>();
                tracks.push(t);
            }
            Err(custos_join::JoinError::Io(e)) => return Err(io(clip, e)),
            Err(e) => return Err(JoinFault::Clip(clip, e.to_string())),
        }
        readers.push(reader);
    }
    let joined = custos_join::Joined::new(tracks).map_err(|e| match e {
        custos_join::JoinError::Differ { clip, what } => JoinFault::Clip(
            clip,
            format!("it differs from the clips before it in {what}"),
        ),
        other => JoinFault::Recording(other.to_string()),
    })?;
    Ok((joined, readers))
}

/// A joined range being sent: what is left of it, and the clips open.
struct Reading {
    joined: custos_join::Joined,
    cursor: custos_join::Cursor,
    queue: std::collections::VecDeque<custos_join::Span>,
    readers: Vec<Box<dyn crate::playback::ReadSeek>>,
}

/// Bytes per message: a read of a clip holds a blocking thread for this
/// much at most, never while the client is slow to take it.
const MESSAGE: u64 = 256 * 1024;

impl Reading {
    /// The next message's pieces, up to [`MESSAGE`] bytes; `None` when the
    /// range is sent.
    fn batch(&mut self) -> Option<Vec<custos_join::Span>> {
        use custos_join::Span;
        let mut batch = Vec::new();
        let mut room = MESSAGE;
        while room > 0 {
            if self.queue.is_empty() {
                match self.joined.next_part(&mut self.cursor) {
                    Some(part) => self.queue.extend(part),
                    None => break,
                }
                continue;
            }
            let Some(span) = self.queue.pop_front() else {
                break;
            };
            let (now, later) = match span {
                Span::Made(mut b) if b.len() as u64 > room => {
                    let rest = b.split_off(room as usize);
                    (Span::Made(b), Some(Span::Made(rest)))
                }
                Span::Clip {
                    clip,
                    offset,
                    length,
                } if length > room => (
                    Span::Clip {
                        clip,
                        offset,
                        length: room,
                    },
                    Some(Span::Clip {
                        clip,
                        offset: offset + room,
                        length: length - room,
                    }),
                ),
                whole => (whole, None),
            };
            room -= match &now {
                Span::Made(b) => b.len() as u64,
                Span::Clip { length, .. } => *length,
            };
            batch.push(now);
            if let Some(later) = later {
                self.queue.push_front(later);
            }
        }
        (!batch.is_empty()).then_some(batch)
    }
}

/// One message's pieces, the clips' read on a blocking thread (decryption
/// included), which is let go as soon as they are read.
async fn read_batch(
    batch: Vec<custos_join::Span>,
    mut readers: Vec<Box<dyn crate::playback::ReadSeek>>,
) -> std::io::Result<(bytes::Bytes, Vec<Box<dyn crate::playback::ReadSeek>>)> {
    use std::io::{Read, Seek};
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(MESSAGE as usize);
        for span in batch {
            match span {
                custos_join::Span::Made(b) => out.extend_from_slice(&b),
                custos_join::Span::Clip {
                    clip,
                    offset,
                    length,
                } => {
                    let reader = readers
                        .get_mut(clip)
                        .ok_or_else(|| std::io::Error::other("a piece of no clip"))?;
                    reader.seek(std::io::SeekFrom::Start(offset))?;
                    let at = out.len();
                    out.resize(at + length as usize, 0);
                    reader.read_exact(&mut out[at..])?;
                }
            }
        }
        Ok((bytes::Bytes::from(out), readers))
    })
    .await
    .map_err(std::io::Error::other)?
}
