//! Footage and what is derived from it: every access checked (role,
//! purpose, an open case the recording is attached to) and audited before
//! the first byte.

use super::*;

// ---- Footage: purpose-bound, audited before the first byte ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurposeQuery {
    pub(crate) purpose: Option<String>,
    pub(crate) case: Option<String>,
    /// Which part of the recording (an Axis recording's clips, from 0);
    /// the first if not given.
    pub(crate) part: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThumbnailQuery {
    purpose: Option<String>,
    case: Option<String>,
    part: Option<usize>,
    /// Seconds from the start of the recording (default 0).
    at: Option<f64>,
}

impl Authenticated {
    /// Everything before footage (or anything derived from it) is touched:
    /// the role; a purpose from the deployment's list and an open case (a
    /// missing or wrong one is refused and audited); and the recording as
    /// this caller may see it (a miss is audited). The case and the
    /// recording are read together: every play of every range asks.
    pub async fn footage(
        &self,
        d: &Deployment,
        id: &str,
        purpose: Option<&str>,
        case: Option<&str>,
        part: Option<usize>,
        audit_action: &str,
    ) -> Result<Footage, ApiError> {
        let object = format!("recording:{}", id.escape_default());
        let scope = self
            .permit(d, Action::AccessFootage, audit_action, &object)
            .await?;
        let refuse = |why: &'static str, code: Code| {
            let object = object.clone();
            async move {
                self.record(
                    d,
                    self.event(d, audit_action, Outcome::Refused)
                        .object(&object)
                        .detail(why),
                )
                .await?;
                Err::<Footage, ApiError>(ApiError::new(code, why))
            }
        };
        let (Some(purpose), Some(case_id)) = (purpose, case) else {
            return refuse("a purpose and a case are required", Code::PurposeRequired).await;
        };
        if !d.policy().allows_purpose(purpose) {
            return refuse(
                "that purpose is not on this deployment's list",
                Code::PurposeNotAllowed,
            )
            .await;
        }
        let custos_catalog::CaseAndRecording {
            case,
            recording,
            attached,
        } = match id.parse::<Uuid>() {
            Ok(uuid) => d
                .catalog
                .case_and_recording(case_id, uuid)
                .await
                .map_err(unavailable)?,
            Err(_) => custos_catalog::CaseAndRecording {
                case: d.catalog.case(case_id).await.map_err(unavailable)?,
                recording: None,
                attached: false,
            },
        };
        // An officer (self-review) learns nothing about cases from the
        // refusal: one answer whether the case is unknown, closed, a
        // subject request's or not holding this recording.
        if scope == Scope::OwnRecordings
            && !matches!(&case, Some(c) if c.closed_at.is_none() && c.kind != crate::subject::KIND && attached)
        {
            return refuse("no such case for this recording", Code::CaseUnknown).await;
        }
        match case {
            Some(c) if c.closed_at.is_none() => {
                subject_case_guard(d, self, &c, audit_action, &object).await?;
            }
            Some(_) => return refuse("that case is closed", Code::CaseClosed).await,
            None => return refuse("no such case", Code::CaseUnknown).await,
        }
        let (purpose, case) = (purpose.to_owned(), case_id.to_owned());
        let Some(recording) = recording.filter(|r| visible(scope, &self.caller, r)) else {
            let event = self
                .event(d, audit_action, Outcome::Failed)
                .object(&object)
                .purpose(&purpose, &case);
            let answer = ApiError::new(Code::NotFound, "no such recording");
            return Err(self.refused(d, event, answer).await);
        };
        // The purpose is the case's, not the viewer's say-so: the recording
        // must have been attached to the case (a hold, or a link with its
        // reason) before anyone looks at it for that case.
        if !attached {
            let event = self
                .event(d, audit_action, Outcome::Refused)
                .object(&object)
                .purpose(&purpose, &case);
            let answer = ApiError::new(Code::NotAttached,
                "the recording is not attached to that case: secure it for the case, or link it to the case with a reason, first",
            );
            return Err(self.refused(d, event, answer).await);
        }
        let parts = crate::parts::parts(&*d.catalog, &recording)
            .await
            .map_err(unavailable)?;
        let Some(part) = parts.into_iter().nth(part.unwrap_or(0)) else {
            let event = self
                .event(d, audit_action, Outcome::Failed)
                .object(&object)
                .purpose(&purpose, &case);
            let answer = ApiError::new(Code::NotFound, "the recording has no such part");
            return Err(self.refused(d, event, answer).await);
        };
        Ok(Footage {
            recording,
            opens: vec![part.clone()],
            part,
            object,
            purpose,
            case,
        })
    }
}

/// A recording someone may touch now, and why: a capability. Only
/// [`Authenticated::footage`] makes one, after the role, the purpose, the
/// case and the recording's attachment to it were checked (and a refusal
/// audited); for a subject request's redaction, only
/// [`Footage::held_for_subject_request`], after its own checks. The reader
/// that decrypts footage ([`crate::playback::decrypting_reader`]) and the
/// audit entry of an access ([`Footage::event`]) take one, so code that
/// skipped the check has nothing to give them and does not compile.
pub struct Footage {
    recording: custos_catalog::Recording,
    /// The part this access is to (a camera's recording has one).
    part: crate::parts::Part,
    /// What the grant opens: the part played; for a subject request's
    /// redaction, every part of the recording (one redacted copy is made
    /// of all of an Axis recording's clips).
    opens: Vec<crate::parts::Part>,
    object: String,
    purpose: String,
    case: String,
}

impl crate::keys::Grant for Footage {
    fn covers(&self, blob_key: &str) -> bool {
        self.opens.iter().any(|p| {
            p.blob_key == blob_key
                || p.clip
                    .as_ref()
                    .and_then(|c| c.key_file.as_ref())
                    .is_some_and(|k| k.blob_key == blob_key)
        })
    }
}

impl Footage {
    /// For `crate::redaction`: a recording held (unreleased) for the open
    /// subject access request `case`, for the person who handles such
    /// requests (the privacy officer). Checks all of that itself; a
    /// recording not held for the request is `409 not-held`.
    pub(crate) async fn held_for_subject_request(
        d: &Deployment,
        a: &Authenticated,
        case: &str,
        recording_id: Uuid,
    ) -> Result<Footage, ApiError> {
        let object = format!("recording:{recording_id}");
        a.permit(
            d,
            Action::HandleSubjectRequests,
            "recording.redact",
            &object,
        )
        .await?;
        let open_request = d
            .catalog
            .case(case)
            .await
            .map_err(unavailable)?
            .is_some_and(|c| c.kind == crate::subject::KIND && c.closed_at.is_none());
        let held = open_request
            && d.catalog
                .holds_for_case(case)
                .await
                .map_err(unavailable)?
                .iter()
                .any(|h| h.recording_id == recording_id && h.released_at.is_none());
        let recording =
            match d
                .catalog
                .recording(recording_id)
                .await
                .map_err(unavailable)?
            {
                Some(r) if held => r,
                _ => return Err(ApiError::new(
                    Code::NotHeld,
                    "that recording is not held for this request: find it with the search first",
                )),
            };
        // One redacted copy of all the recording's parts: refused before
        // anything is read if a part is not an MP4 (an Axis camera's
        // Matroska clip), as frames are read from MP4 only.
        let parts = crate::parts::parts(&*d.catalog, &recording)
            .await
            .map_err(unavailable)?;
        if let Some(p) = parts.iter().find(|p| {
            p.clip
                .as_ref()
                .is_some_and(|c| c.kind != custos_axis::names::ClipType::Mp4)
        }) {
            return Err(ApiError::new(
                Code::Undecodable,
                format!(
                    "clip {} of this recording is Matroska: frames are read from MP4 clips only, so it cannot be redacted",
                    p.clip.as_ref().map_or(String::new(), |c| c.name.escape_default().to_string())
                ),
            ));
        }
        let Some(part) = parts.first().cloned() else {
            return Err(ApiError::new(
                Code::Undecodable,
                "this recording has no clip to redact",
            ));
        };
        Ok(Footage {
            object,
            part,
            opens: parts,
            recording,
            purpose: crate::subject::PURPOSE.to_owned(),
            case: case.to_owned(),
        })
    }

    pub fn recording(&self) -> &custos_catalog::Recording {
        &self.recording
    }

    pub fn part(&self) -> &crate::parts::Part {
        &self.part
    }

    /// Every part this access opens, in recording order.
    pub fn parts(&self) -> &[crate::parts::Part] {
        &self.opens
    }

    /// For a frame asked for at a moment of the whole recording (no part
    /// named): moves this access to the part that holds `at_millis`, and
    /// gives that part's offset in the recording. The same recording,
    /// attached to the same case: nothing already checked changes.
    async fn move_to_part_at(&mut self, d: &Deployment, at_millis: u64) -> Result<u64, ApiError> {
        let parts = crate::parts::parts(&*d.catalog, &self.recording)
            .await
            .map_err(unavailable)?;
        let offsets = crate::parts::offsets(&self.recording, &parts);
        let Some(i) = offsets.iter().rposition(|o| *o <= at_millis).or(
            // Before the first clip starts: the first clip.
            (!parts.is_empty()).then_some(0),
        ) else {
            return Ok(0);
        };
        self.part = parts[i].clone();
        self.opens = vec![self.part.clone()];
        Ok(offsets[i].min(at_millis))
    }

    /// For the joined video: this access opens every part of the
    /// recording, in order. The same recording, attached to the same case:
    /// nothing already checked changes.
    pub(crate) async fn open_every_part(&mut self, d: &Deployment) -> Result<(), ApiError> {
        self.opens = crate::parts::parts(&*d.catalog, &self.recording)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// `clip N (NAME), ` for an Axis recording's clip, so the audit entry
    /// says which was seen; empty for a camera's one part.
    pub(crate) fn part_label(&self) -> String {
        match &self.part.clip {
            Some(clip) => format!(
                "clip {} ({}), ",
                self.part.index,
                clip.name.escape_default()
            ),
            None => String::new(),
        }
    }

    /// `recording:ID`, as the audit log names it.
    pub fn object(&self) -> &str {
        &self.object
    }

    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    pub fn case(&self) -> &str {
        &self.case
    }

    /// The audit entry of this access: who, which recording, for which
    /// purpose and case.
    pub fn event(
        &self,
        d: &Deployment,
        a: &Authenticated,
        action: &str,
        outcome: Outcome,
    ) -> AuditEvent {
        a.event(d, action, outcome)
            .object(&self.object)
            .purpose(&self.purpose, &self.case)
    }

    /// Read + Seek over the plaintext, decrypted on the fly; the function
    /// runs on a blocking thread only.
    async fn plaintext(
        &self,
        d: &Deployment,
    ) -> Result<impl FnOnce() -> std::io::Result<Box<dyn ReadSeek>> + Send + 'static, ApiError>
    {
        let keys = match (&self.recording.axis(), self.encrypted_clip()) {
            (Some(axis), true) => crate::parts::content_keys(&*d.catalog, &axis.connection)
                .await
                .map_err(unavailable)?,
            _ => Vec::new(),
        };
        Ok(crate::playback::decrypting_reader(
            d,
            self,
            self.part.stored(),
            keys,
        ))
    }

    /// Whether this part is a clip its camera encrypted (it has a key file).
    fn encrypted_clip(&self) -> bool {
        self.part
            .clip
            .as_ref()
            .is_some_and(|c| c.key_file.is_some())
    }
}

pub(crate) async fn video(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let footage = a
        .footage(
            &d,
            &id,
            q.purpose.as_deref(),
            q.case.as_deref(),
            q.part,
            "recording.play",
        )
        .await?;
    stream_footage(&d, &a, footage, &headers, "recording.play", None).await
}

/// The same bytes as playback, as a file to keep: audited apart, because a
/// download leaves the server.
pub(crate) async fn download(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let footage = a
        .footage(
            &d,
            &id,
            q.purpose.as_deref(),
            q.case.as_deref(),
            q.part,
            "recording.download",
        )
        .await?;
    let name = match &footage.part.clip {
        None => format!(
            "attachment; filename=\"custos-{}.mp4\"",
            footage.recording.recording_id
        ),
        Some(clip) => format!(
            "attachment; filename=\"custos-{}-{}.{}\"",
            footage.recording.recording_id,
            footage.part.index,
            clip.kind.extension()
        ),
    };
    stream_footage(&d, &a, footage, &headers, "recording.download", Some(name)).await
}

/// Face proposals for one frame (the keyframe at or before `at` seconds),
/// for the redaction editor: derived from footage, so purpose-bound and
/// audited like a thumbnail. Boxes in fractions of the picture.
pub(crate) async fn faces(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (offset, (at_millis, faces)) =
        from_frame(&d, &a, &id, q, "recording.faces", |plain, at| {
            let mut mp4 = custos_video::Fmp4::open(plain)?;
            let keyframe = mp4.keyframe_at(at)?;
            let frame = custos_video::decode(&keyframe)?;
            let luma: Vec<u8> = frame
                .rgb
                .chunks_exact(3)
                .map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
                .collect();
            let faces = custos_faces::FaceDetector::new().detect(&luma, frame.width, frame.height);
            Ok((keyframe.at_millis, faces))
        })
        .await?;
    Ok(Json(serde_json::json!({
        "at_millis": offset + at_millis,
        "faces": faces,
    })))
}

/// What thumbnails and face proposals share: `at` checked, the footage
/// checks (purpose, case), the audit entry before anything is decoded,
/// `work` on the decrypted recording on a blocking thread, and its
/// failures as answers. Without a `part`, `at` is a moment of the whole
/// recording, and `work` gets the part that holds it and the moment in
/// that part; the part's offset in the recording comes back with its
/// result (0 for a camera's one part, or a part named).
pub(crate) async fn from_frame<T: Send + 'static>(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    q: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
    action: &str,
    work: impl FnOnce(Box<dyn ReadSeek>, u64) -> Result<T, custos_video::VideoError> + Send + 'static,
) -> Result<(u64, T), ApiError> {
    let q = query(q)?;
    let at_millis = match q.at {
        None => 0,
        Some(s) if s.is_finite() && (0.0..=7.0 * 86_400.0).contains(&s) => (s * 1000.0) as u64,
        Some(_) => {
            return Err(ApiError::new(
                Code::Invalid,
                "`at` is seconds from the start of the recording",
            ))
        }
    };
    let mut footage = a
        .footage(
            d,
            id,
            q.purpose.as_deref(),
            q.case.as_deref(),
            q.part,
            action,
        )
        .await?;
    let offset = match q.part {
        None if footage.recording.axis().is_some() => footage.move_to_part_at(d, at_millis).await?,
        _ => 0,
    };
    let at_millis = at_millis - offset;
    // Frames are read from MP4 only: a Matroska clip is refused before
    // anything is decrypted (and before an access is recorded).
    if footage
        .part
        .clip
        .as_ref()
        .is_some_and(|c| c.kind != custos_axis::names::ClipType::Mp4)
    {
        return Err(ApiError::new(
            Code::Undecodable,
            "frames are read from MP4 clips only; this clip is Matroska",
        ));
    }
    a.record(
        d,
        footage
            .event(d, a, action, Outcome::Ok)
            .detail(format!("{}frame at {at_millis} ms", footage.part_label())),
    )
    .await?;
    let open = footage.plaintext(d).await?;
    let done = tokio::task::spawn_blocking(move || {
        let plain = open().map_err(custos_video::VideoError::Io)?;
        work(plain, at_millis)
    })
    .await
    .map_err(unavailable)?;
    match done {
        Ok(t) => Ok((offset, t)),
        Err(custos_video::VideoError::NoFrame { .. }) => Err(ApiError::new(
            Code::NoFrame,
            "the recording has no frame there",
        )),
        Err(custos_video::VideoError::Io(e)) if crate::playback::clip_fault(&e).is_some() => {
            Err(ApiError::new(
                Code::Undecodable,
                format!("this clip does not decrypt with its key file: {e}"),
            ))
        }
        Err(custos_video::VideoError::Io(e)) => Err(unavailable(e)),
        Err(e) => {
            tracing::warn!(error = %e, action, "a frame of a stored recording failed");
            Err(ApiError::new(
                Code::Undecodable,
                "this recording's video could not be decoded",
            ))
        }
    }
}

/// Widest thumbnail served.
pub(crate) const THUMBNAIL_WIDTH: usize = 320;

/// A still of the keyframe at (or just before) `at` seconds: derived from
/// footage, so it needs a purpose and a case and is audited like playback.
pub(crate) async fn thumbnail(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (offset, thumbnail) = from_frame(&d, &a, &id, q, "recording.thumbnail", |plain, at| {
        custos_video::thumbnail(plain, at, THUMBNAIL_WIDTH)
    })
    .await?;
    Response::builder()
        .header(header::CONTENT_TYPE, "image/jpeg")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-custos-frame-at-ms", offset + thumbnail.at_millis)
        .body(axum::body::Body::from(thumbnail.jpeg))
        .map_err(unavailable)
}

#[cfg(test)]
mod tests {
    /// The footage capability holds only if nothing else makes one or
    /// reaches the evidence key: every place that does is named here, with
    /// the check it makes. A new one fails this test until it is added, and
    /// so looked at.
    #[test]
    fn only_named_places_make_a_footage_capability_or_use_the_evidence_key() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let mut makers = Vec::new();
        let mut key_users = Vec::new();
        let mut readers = Vec::new();
        let mut subject_makers = Vec::new();
        let mut grants = Vec::new();
        for path in &files {
            let name = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(path).unwrap();
            // This test's own text names what it looks for.
            let text = text.split("#[cfg(test)]").next().unwrap();
            if text.contains("Footage {\n") && !text.contains("pub struct Footage {") {
                makers.push(name.clone());
            }
            if text.contains("Ok(Footage {") || text.contains("\n        Footage {") {
                makers.push(name.clone());
            }
            // Every use of the key names what it is for; the grants are
            // counted below.
            // (rustfmt may break a chain over lines: looked at without spaces)
            let flat: String = text.split_whitespace().collect();
            for (i, _) in flat.match_indices("keys.evidence") {
                let rest = &flat[i + "keys.evidence".len()..];
                let what = rest.split('(').next().unwrap_or("").to_owned();
                key_users.push(format!("{name} {what}"));
            }
            if flat.contains("Grantfor") {
                grants.push(name.clone());
            }
            if text.contains("decrypting_reader(")
                || text.contains("open_payload(")
                || text.contains("plaintext_range(")
                || text.contains("payloads.")
            {
                readers.push(name.clone());
            }
            if text.contains("held_for_subject_request(") {
                subject_makers.push(name.clone());
            }
        }
        for list in [
            &mut makers,
            &mut key_users,
            &mut readers,
            &mut subject_makers,
            &mut grants,
        ] {
            list.sort();
            list.dedup();
        }
        // Authenticated::footage and the redaction's constructor.
        assert_eq!(makers, ["api/footage.rs"]);
        assert_eq!(
            readers,
            [
                "api/footage.rs",
                // Every clip of a recording joined: for a Footage only,
                // opened to the recording's clips.
                "api/joined.rs",
                // Playback of a part: for a Footage only.
                "api/streams.rs",
                // The signed-video check: its own grant, for one clip.
                "axis/signed.rs",
                // The GNSS trail's reading: its own grant, for the trail.
                "axis/trail.rs",
                "playback.rs",
                "redaction.rs"
            ],
            "the decrypting reader takes a grant; the payload (playback's \
             path, and a redacted copy's) is opened only here"
        );
        assert_eq!(subject_makers, ["api/footage.rs", "redaction.rs"]);
        assert_eq!(
            grants,
            [
                // Footage: made by Authenticated::footage and
                // Footage::held_for_subject_request, after their checks.
                "api/footage.rs",
                // The signed-video check's, for one clip and its key
                // file, made where the check reads them.
                "axis/signed.rs",
                // The GNSS trail's reading's, for the recording's trails
                // and their key files.
                "axis/trail.rs",
                // ExportGrant, private to the export module, inside a
                // PreparedExport: made by export::prepare and
                // export::prepare_subject_delivery, after their checks.
                "export/mod.rs",
                // A redacted copy seen for its own open request.
                "redaction.rs",
            ]
        );
        assert_eq!(
            key_users,
            [
                // Playback's payload cache, for a Footage only.
                "api/streams.rs .identity",
                // TOTP secrets are sealed to the evidence key.
                "auth.rs .unseal_secret",
                // An export's Axis objects, with the PreparedExport's
                // grant only.
                "export/axis.rs .identity",
                // Export packages, for a PreparedExport only.
                "export/package.rs .identity",
                // Ingest checks that a recording opens, never reads it.
                "ingest/complete.rs .check_opens",
                // The decrypting reader, for a Footage only.
                "playback.rs .identity",
                // A redacted copy, for its own request only.
                "redaction.rs .identity",
            ]
        );
    }
}
