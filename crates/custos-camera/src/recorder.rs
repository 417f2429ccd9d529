//! One recording in progress: fragments are muxed, encrypted and made
//! durable as they are produced; a journal beside the ciphertext says what
//! each durable byte range holds, so a power cut costs at most the fragment
//! in flight and the next start can sign an honest `truncated` manifest.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};

use anyhow::{bail, Context, Result};
use custos_format::{
    Bookmark, Ciphertext, DisplayEvent, Encryption, GpsPoint, Manifest, RecordingWriter,
    SignedManifest, SigningKey, StopReason, Trigger, UtcMillis, VideoParams, AGE_CHUNK_SIZE,
    AGE_ENCRYPTED_CHUNK_SIZE, MANIFEST_FORMAT,
};
use muxide::codec::h264::AvcConfig;
use muxide::fragmented::{FragmentConfig, FragmentedMuxer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::encoder::EncodedFrame;
use crate::storage::{
    create_new, sync_dir, write_atomically, CameraConfig, CameraDir, ChainHead, RecordingPaths,
    FIRMWARE,
};

/// MP4 media timescale: 90 kHz, the usual for video.
const TIMESCALE: u64 = 90_000;
/// Room kept free for the final age chunk and the manifest.
const FINISH_RESERVE: u64 = 2 * AGE_ENCRYPTED_CHUNK_SIZE + 64 * 1024;
/// Below this much free space a recording is not started: it could not hold
/// even a few seconds.
pub const MIN_FREE_TO_RECORD: u64 = FINISH_RESERVE + 1024 * 1024;

pub fn to_millis(us: i64) -> UtcMillis {
    UtcMillis::from_millis(us.div_euclid(1000)).unwrap_or(UtcMillis::from_millis(0).expect("epoch"))
}

/// What the journal's first line records: everything about a recording that
/// is known when it starts.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct JournalStart {
    recording_id: Uuid,
    sequence: u64,
    device_id: String,
    previous_manifest_sha256: String,
    officer_id: Option<String>,
    started_at: UtcMillis,
    triggered_at: UtcMillis,
    trigger: Trigger,
    prerecord_seconds: u64,
    video: VideoParams,
    recipient: String,
    firmware: String,
}

/// What is known only when a recording ends (or is recovered).
struct RecordingEnd {
    ended_at: UtcMillis,
    stop_reason: StopReason,
    gps: Vec<GpsPoint>,
    bookmarks: Vec<Bookmark>,
    display_events: Vec<DisplayEvent>,
    ciphertext: Ciphertext,
    /// `None` for a recording recovered after power loss.
    plaintext: Option<custos_format::Plaintext>,
}

impl JournalStart {
    fn manifest(&self, end: RecordingEnd) -> Result<Manifest> {
        let ended_at = end.ended_at.max(self.triggered_at);
        Ok(Manifest {
            format: MANIFEST_FORMAT.into(),
            recording_id: self.recording_id,
            device_id: self.device_id.clone(),
            sequence: self.sequence,
            previous_manifest_sha256: parse_hash(&self.previous_manifest_sha256)?,
            officer_id: self.officer_id.clone(),
            started_at: self.started_at,
            triggered_at: self.triggered_at,
            ended_at,
            trigger: self.trigger,
            stop_reason: end.stop_reason,
            prerecord_seconds: self.prerecord_seconds,
            prerecord_included_ms: (self.triggered_at.as_millis() - self.started_at.as_millis())
                as u64,
            video: self.video.clone(),
            gps: end.gps,
            bookmarks: end.bookmarks,
            display_events: end.display_events,
            encryption: Encryption {
                scheme: "age-v1".into(),
                recipient: self.recipient.clone(),
            },
            ciphertext: end.ciphertext,
            truncated: end.plaintext.is_none(),
            plaintext: end.plaintext,
            firmware: self.firmware.clone(),
        })
    }
}

/// A journal line. The first is always `start`.
// Lines live briefly, one at a time: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum JournalLine {
    Start(JournalStart),
    /// Fragment `n` ends at `end_at`; the plaintext up to `plaintext_end` holds it.
    Fragment {
        n: u64,
        end_at: UtcMillis,
        plaintext_end: u64,
    },
    Gps {
        at: UtcMillis,
        lat_e7: i64,
        lon_e7: i64,
        accuracy_m: u32,
    },
    Bookmark {
        at: UtcMillis,
        label: Option<String>,
    },
    Display {
        at: UtcMillis,
        on: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FragmentError {
    #[error("camera storage is full")]
    StorageFull,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub struct ActiveRecording {
    paths: RecordingPaths,
    start: JournalStart,
    writer: Option<RecordingWriter<File>>,
    sync_handle: File,
    journal: File,
    muxer: FragmentedMuxer,
    t0_us: i64,
    frame_us: i64,
    last_frame_end_us: i64,
    samples_in_fragment: usize,
    fragments: u64,
    pending_lines: String,
    gps: Vec<GpsPoint>,
    bookmarks: Vec<Bookmark>,
    display_events: Vec<DisplayEvent>,
    /// Bytes this recording may still write before storage counts as full.
    budget: u64,
    dir: CameraDir,
}

/// What a starting recording needs to know.
pub struct StartParams<'a> {
    pub trigger: Trigger,
    pub triggered_at_us: i64,
    /// The recording's first frames: pre-record GOPs, or the forced keyframe.
    pub first_frames: Vec<EncodedFrame>,
    pub avc: &'a AvcConfig,
}

impl ActiveRecording {
    pub fn start(
        dir: &CameraDir,
        config: &CameraConfig,
        params: StartParams<'_>,
    ) -> Result<Self, FragmentError> {
        let Some(first) = params.first_frames.first() else {
            return Err(anyhow::anyhow!("a recording needs a first frame").into());
        };
        if !first.keyframe {
            return Err(anyhow::anyhow!("a recording must start on a keyframe").into());
        }
        let budget = dir.free_bytes(config)?;
        if budget < MIN_FREE_TO_RECORD {
            return Err(FragmentError::StorageFull);
        }
        let t0_us = first.captured_at_us;
        let mut state = dir.load_state()?;
        let sequence = state.next_sequence;
        let secs = t0_us.div_euclid(1_000_000) as u64;
        let nanos = (t0_us.rem_euclid(1_000_000) * 1000) as u32;
        let recording_id = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos));
        let paths = dir.recording_paths(sequence, &recording_id);
        let video = VideoParams {
            codec: "h264".into(),
            container: "fmp4".into(),
            width: config.width,
            height: config.height,
            fps: config.fps,
            max_fragment_ms: crate::camera::GOP_MS as u32,
        };
        let start = JournalStart {
            recording_id,
            sequence,
            device_id: config.device_id.clone(),
            previous_manifest_sha256: hex::encode(state.head_hash()?),
            officer_id: config.officer_id.clone(),
            started_at: to_millis(t0_us),
            triggered_at: to_millis(params.triggered_at_us.max(t0_us)),
            trigger: params.trigger,
            prerecord_seconds: config.prerecord_seconds as u64,
            video: video.clone(),
            recipient: config.evidence_recipient.clone(),
            firmware: FIRMWARE.into(),
        };
        // 1. The journal claims the sequence number, durably.
        let mut journal = create_new(&paths.journal).map_err(FragmentError::Other)?;
        journal
            .write_all(
                format!(
                    "{}\n",
                    serde_json::to_string(&JournalLine::Start(start.clone()))
                        .expect("serialisable")
                )
                .as_bytes(),
            )
            .and_then(|_| journal.sync_all())
            .context("writing the journal")?;
        sync_dir(&dir.recordings_dir())?;
        // 2. The state moves on, so the number is never handed out twice.
        state.next_sequence = sequence + 1;
        dir.save_state(&state)?;
        // 3. The ciphertext, starting with the age header and the MP4 init segment.
        let file = create_new(&paths.ciphertext)?;
        let sync_handle = file.try_clone().context("cloning the ciphertext handle")?;
        let writer =
            RecordingWriter::new(file, &config.recipient()).context("starting encryption")?;
        sync_dir(&dir.recordings_dir())?;
        let mut fragment_config =
            FragmentConfig::new(config.width, config.height, TIMESCALE as u32)
                .with_fragment_duration_ms(crate::camera::GOP_MS as u32);
        fragment_config.sps = params.avc.sps.clone();
        fragment_config.pps = params.avc.pps.clone();
        let mut muxer =
            FragmentedMuxer::new(fragment_config).context("configuring the MP4 muxer")?;
        let init = muxer.init_segment();
        let mut this = Self {
            paths,
            start,
            writer: Some(writer),
            sync_handle,
            journal,
            muxer,
            t0_us,
            frame_us: 1_000_000 / config.fps as i64,
            last_frame_end_us: t0_us,
            samples_in_fragment: 0,
            fragments: 0,
            pending_lines: String::new(),
            gps: Vec::new(),
            bookmarks: Vec::new(),
            display_events: Vec::new(),
            budget,
            dir: dir.clone(),
        };
        this.writer_mut()
            .append(&init)
            .context("writing the init segment")?;
        for frame in params.first_frames {
            this.push(frame)?;
        }
        Ok(this)
    }

    fn writer_mut(&mut self) -> &mut RecordingWriter<File> {
        self.writer.as_mut().expect("present until finish")
    }

    pub fn recording_id(&self) -> Uuid {
        self.start.recording_id
    }

    pub fn sequence(&self) -> u64 {
        self.start.sequence
    }

    pub fn triggered_at(&self) -> UtcMillis {
        self.start.triggered_at
    }

    pub fn fragments_written(&self) -> u64 {
        self.fragments
    }

    pub fn ciphertext_bytes(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.ciphertext_len())
    }

    /// Adds a frame; a keyframe closes the fragment before it.
    pub fn push(&mut self, frame: EncodedFrame) -> Result<(), FragmentError> {
        if frame.keyframe && self.samples_in_fragment > 0 {
            self.flush_fragment()?;
        }
        let dts =
            ((frame.captured_at_us - self.t0_us).max(0) as u64 * TIMESCALE + 500_000) / 1_000_000;
        self.muxer
            .write_video(dts, dts, &frame.avcc, frame.keyframe)
            .map_err(|e| anyhow::anyhow!("muxing: {e}"))?;
        self.samples_in_fragment += 1;
        self.last_frame_end_us = frame.captured_at_us + self.frame_us;
        Ok(())
    }

    pub fn add_gps(&mut self, p: GpsPoint) {
        self.journal_line(&JournalLine::Gps {
            at: p.at,
            lat_e7: p.lat_e7,
            lon_e7: p.lon_e7,
            accuracy_m: p.accuracy_m,
        });
        self.gps.push(p);
    }

    pub fn add_bookmark(&mut self, b: Bookmark) {
        self.journal_line(&JournalLine::Bookmark {
            at: b.at,
            label: b.label.clone(),
        });
        self.bookmarks.push(b);
    }

    pub fn add_display_event(&mut self, d: DisplayEvent) {
        self.journal_line(&JournalLine::Display { at: d.at, on: d.on });
        self.display_events.push(d);
    }

    fn journal_line(&mut self, line: &JournalLine) {
        self.pending_lines
            .push_str(&serde_json::to_string(line).expect("serialisable"));
        self.pending_lines.push('\n');
    }

    /// Muxes the buffered samples into one `moof`+`mdat`, encrypts it and
    /// makes it durable, then records it in the journal.
    fn flush_fragment(&mut self) -> Result<(), FragmentError> {
        let Some(segment) = self.muxer.flush_segment() else {
            return Ok(());
        };
        self.samples_in_fragment = 0;
        let needed = segment.len() as u64 + FINISH_RESERVE;
        let fs_free = fs4::available_space(self.dir.root()).unwrap_or(0);
        if needed > self.budget || needed > fs_free {
            return Err(FragmentError::StorageFull);
        }
        let before = self.ciphertext_bytes();
        let writer = self.writer_mut();
        writer.append(&segment).context("encrypting a fragment")?;
        writer.flush().context("writing a fragment")?;
        let plaintext_end = writer.plaintext_len();
        self.sync_handle
            .sync_data()
            .context("syncing the recording")?;
        self.budget = self.budget.saturating_sub(self.ciphertext_bytes() - before);
        let line = JournalLine::Fragment {
            n: self.fragments,
            end_at: to_millis(self.last_frame_end_us),
            plaintext_end,
        };
        self.journal_line(&line);
        let lines = std::mem::take(&mut self.pending_lines);
        self.journal
            .write_all(lines.as_bytes())
            .and_then(|_| self.journal.sync_data())
            .context("writing the journal")?;
        self.budget = self.budget.saturating_sub(lines.len() as u64);
        self.fragments += 1;
        Ok(())
    }

    /// Ends the recording: last fragment, final age chunk, signed manifest.
    /// With `StorageFull` the samples that do not fit are dropped, the rest is
    /// finished normally.
    pub fn finish(mut self, reason: StopReason, key: &SigningKey) -> Result<SignedManifest> {
        let reason = match self.flush_fragment() {
            Ok(()) => reason,
            Err(FragmentError::StorageFull) => StopReason::StorageFull,
            Err(FragmentError::Other(e)) => return Err(e),
        };
        let writer = self.writer.take().expect("present until finish");
        let (file, ciphertext, plaintext) = writer.finish().context("finishing encryption")?;
        file.sync_all().context("syncing the recording")?;
        drop(file);
        let manifest = self.start.manifest(RecordingEnd {
            ended_at: to_millis(self.last_frame_end_us),
            stop_reason: reason,
            gps: std::mem::take(&mut self.gps),
            bookmarks: std::mem::take(&mut self.bookmarks),
            display_events: std::mem::take(&mut self.display_events),
            ciphertext,
            plaintext: Some(plaintext),
        })?;
        let signed = SignedManifest::sign(manifest, key)?;
        commit_manifest(&self.dir, &self.paths, &signed)?;
        Ok(signed)
    }
}

fn parse_hash(s: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).context("hash in journal")?;
    Ok(out)
}

/// Signature, then manifest (its presence marks the recording complete),
/// then the chain head, then the journal goes.
fn commit_manifest(dir: &CameraDir, paths: &RecordingPaths, signed: &SignedManifest) -> Result<()> {
    write_atomically(&paths.signature, signed.signature(), false)?;
    write_atomically(&paths.manifest, signed.bytes(), false)?;
    advance_head(dir, signed)?;
    if paths.journal.exists() {
        fs::remove_file(&paths.journal).context("removing the journal")?;
        sync_dir(&dir.recordings_dir())?;
    }
    Ok(())
}

fn advance_head(dir: &CameraDir, signed: &SignedManifest) -> Result<()> {
    let mut state = dir.load_state()?;
    let seq = signed.manifest().sequence;
    if state.head.as_ref().is_none_or(|h| h.sequence < seq) {
        state.head = Some(ChainHead {
            sequence: seq,
            manifest_sha256: hex::encode(signed.sha256()),
        });
    }
    state.next_sequence = state.next_sequence.max(seq + 1);
    dir.save_state(&state)
}

/// What the next start found and finished.
#[derive(Debug)]
pub struct Recovered {
    pub sequence: u64,
    pub recording_id: Uuid,
    pub ciphertext_length: u64,
    pub ended_at: UtcMillis,
}

/// Finalises recordings a power cut interrupted: signs a `truncated` manifest
/// naming the ciphertext exactly as it is on disk, and the last moment whose
/// fragment is wholly inside the durable, authenticated chunks.
pub fn recover(dir: &CameraDir, key: &SigningKey) -> Result<Vec<Recovered>> {
    let mut out = Vec::new();
    for paths in dir.open_journals()? {
        if paths.manifest.exists() {
            // Crashed after the manifest but before the journal was removed.
            let signed =
                SignedManifest::parse(&fs::read(&paths.manifest)?, &fs::read(&paths.signature)?)
                    .with_context(|| format!("{} is damaged", paths.manifest.display()))?;
            commit_manifest(dir, &paths, &signed)?;
            continue;
        }
        let lines = read_journal(&paths)?;
        let Some(JournalLine::Start(start)) = lines.first().cloned() else {
            bail!("{}: journal has no start line", paths.journal.display());
        };
        if !paths.ciphertext.exists() {
            // Power was lost before the first byte: an honest, empty recording.
            create_new(&paths.ciphertext)?.sync_all()?;
        }
        let bytes = fs::read(&paths.ciphertext)?;
        let durable_plaintext = durable_plaintext_len(&bytes);
        let (started_at, mut ended_at) = (start.started_at, start.triggered_at);
        let (mut gps, mut bookmarks, mut display_events) = (Vec::new(), Vec::new(), Vec::new());
        for line in &lines[1..] {
            match line {
                JournalLine::Fragment {
                    end_at,
                    plaintext_end,
                    ..
                } if *plaintext_end <= durable_plaintext => {
                    ended_at = ended_at.max(*end_at);
                }
                JournalLine::Gps {
                    at,
                    lat_e7,
                    lon_e7,
                    accuracy_m,
                } => gps.push(GpsPoint {
                    at: *at,
                    lat_e7: *lat_e7,
                    lon_e7: *lon_e7,
                    accuracy_m: *accuracy_m,
                }),
                JournalLine::Bookmark { at, label } => bookmarks.push(Bookmark {
                    at: *at,
                    label: label.clone(),
                }),
                JournalLine::Display { at, on } => {
                    display_events.push(DisplayEvent { at: *at, on: *on })
                }
                _ => {}
            }
        }
        let within = |t: &UtcMillis| *t >= started_at && *t <= ended_at;
        gps.retain(|p| within(&p.at));
        bookmarks.retain(|b| within(&b.at));
        display_events.retain(|d| within(&d.at));
        let manifest = start.manifest(RecordingEnd {
            ended_at,
            stop_reason: StopReason::PowerLoss,
            gps,
            bookmarks,
            display_events,
            ciphertext: Ciphertext {
                length: bytes.len() as u64,
                sha256: custos_format::sha256(&bytes),
            },
            plaintext: None,
        })?;
        let signed = SignedManifest::sign(manifest, key)?;
        commit_manifest(dir, &paths, &signed)?;
        out.push(Recovered {
            sequence: start.sequence,
            recording_id: start.recording_id,
            ciphertext_length: bytes.len() as u64,
            ended_at,
        });
    }
    Ok(out)
}

/// Reads journal lines up to the first torn or unreadable one.
fn read_journal(paths: &RecordingPaths) -> Result<Vec<JournalLine>> {
    let file = File::open(&paths.journal)?;
    let mut lines = Vec::new();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<JournalLine>(&line) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    Ok(lines)
}

/// Plaintext bytes held by the complete 64 KiB chunks in `ciphertext`. The
/// header is found without any key: it ends with the `---` line, followed by
/// the 16-byte payload nonce.
pub fn durable_plaintext_len(ciphertext: &[u8]) -> u64 {
    let Some(mac_line) = ciphertext.windows(4).position(|w| w == b"\n---") else {
        return 0;
    };
    let Some(eol) = ciphertext[mac_line + 1..].iter().position(|&b| b == b'\n') else {
        return 0;
    };
    let payload_start = (mac_line + 1 + eol + 1 + 16) as u64;
    let payload = (ciphertext.len() as u64).saturating_sub(payload_start);
    payload / AGE_ENCRYPTED_CHUNK_SIZE * AGE_CHUNK_SIZE
}
