//! The camera's promises, driven frame by frame with an injected clock, and
//! checked with outside witnesses: the `age` CLI and `ffprobe`.

use std::path::{Path, PathBuf};
use std::process::Command;

use age::secrecy::ExposeSecret;
use custos_camera::camera::{Button, Camera, PressError, State};
use custos_camera::display::SimulatedDisplay;
use custos_camera::recorder::recover;
use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
use custos_camera::storage::CameraConfig;
use custos_camera::CameraDir;
use custos_format::verify::{check_chain, decrypt_recording, verify_recording};
use custos_format::{SignedManifest, StopReason, Trigger};

/// 2026-11-23T09:00:00Z: a fixed camera clock.
const T0_US: i64 = 1_795_424_400_000_000;
const FPS: u64 = 30;

struct Rig {
    _tmp: tempfile::TempDir,
    dir: CameraDir,
    identity: age::x25519::Identity,
    identity_file: PathBuf,
    source: SyntheticSource,
}

fn rig(prerecord: u32, tweak: impl FnOnce(&mut CameraConfig)) -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let identity = age::x25519::Identity::generate();
    // The evidence identity lives outside the camera directory, as on a server.
    let identity_file = tmp.path().join("evidence-identity.txt");
    std::fs::write(
        &identity_file,
        format!("{}\n", identity.to_string().expose_secret()),
    )
    .unwrap();
    let mut config = CameraConfig {
        device_id: "cam-042".into(),
        evidence_recipient: identity.to_public().to_string(),
        officer_id: Some("boa-7".into()),
        prerecord_seconds: prerecord,
        width: 320,
        height: 240,
        fps: FPS as u32,
        bitrate_bps: 600_000,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: true,
        simulated_gps_start: None,
        server_receipt_key: None,
    };
    tweak(&mut config);
    let dir = CameraDir::new(tmp.path().join("cam"));
    dir.init(&config).unwrap();
    let source = SyntheticSource::new(
        320,
        240,
        FPS as u32,
        T0_US,
        "cam-042",
        Pacing::AsFastAsPossible,
    )
    .unwrap();
    Rig {
        _tmp: tmp,
        dir,
        identity,
        identity_file,
        source,
    }
}

impl Rig {
    fn camera(&self) -> Camera<SimulatedDisplay> {
        Camera::open(self.dir.clone(), SimulatedDisplay::default(), "test".into()).unwrap()
    }

    fn feed(&mut self, camera: &mut Camera<SimulatedDisplay>, frames: u64) {
        for _ in 0..frames {
            let f = self.source.next_frame().unwrap().unwrap();
            camera.on_frame(f).unwrap();
        }
    }

    fn recordings(&self) -> Vec<(SignedManifest, PathBuf)> {
        self.dir
            .pending_recordings()
            .unwrap()
            .into_iter()
            .map(|p| {
                let s = SignedManifest::parse(
                    &std::fs::read(&p.manifest).unwrap(),
                    &std::fs::read(&p.signature).unwrap(),
                )
                .unwrap();
                (s, p.ciphertext)
            })
            .collect()
    }

    /// Decrypts with the standard `age` CLI; returns (exit success, plaintext).
    fn age_decrypt(&self, ciphertext: &Path) -> (bool, Vec<u8>) {
        let out = self._tmp.path().join("decrypted.mp4");
        let status = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&self.identity_file)
            .arg("-o")
            .arg(&out)
            .arg(ciphertext)
            .status()
            .expect(
                "the `age` CLI must be installed (Debian package `age`); ./test.sh installs it",
            );
        (status.success(), std::fs::read(&out).unwrap_or_default())
    }

    fn ffprobe(&self, mp4: &[u8]) -> serde_json::Value {
        let path = self._tmp.path().join("probe.mp4");
        std::fs::write(&path, mp4).unwrap();
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration:stream=codec_name,width,height",
                "-of",
                "json",
            ])
            .arg(&path)
            .output()
            .expect("ffprobe must be installed (Debian package `ffmpeg`); ./test.sh installs it");
        assert!(
            out.status.success(),
            "ffprobe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A full decode must succeed: the content plays.
    fn ffmpeg_decodes(&self, mp4: &[u8]) -> bool {
        let path = self._tmp.path().join("decode.mp4");
        std::fs::write(&path, mp4).unwrap();
        Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(&path)
            .args(["-f", "null", "-"])
            .status()
            .unwrap()
            .success()
    }
}

fn duration(probe: &serde_json::Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// No file under `root` may hold MP4 box types in the clear.
fn assert_no_plaintext_video(root: &Path) {
    let mut stack = vec![root.to_owned()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&p).unwrap();
            for sig in [&b"ftyp"[..], b"moof", b"mdat", b"moov", b"avcC"] {
                assert!(
                    !bytes.windows(4).any(|w| w == sig),
                    "{} contains `{}` in the clear",
                    p.display(),
                    String::from_utf8_lossy(sig)
                );
            }
        }
    }
    assert!(files > 0);
}

#[test]
fn recording_starts_with_prerecord_and_decrypts_with_age_cli_to_h264() {
    let mut rig = rig(3, |_| {});
    let mut cam = rig.camera();
    rig.feed(&mut cam, 6 * FPS); // standby: pre-record fills, nothing is written
    assert!(rig.dir.pending_recordings().unwrap().is_empty());
    cam.press(Button::Record).unwrap();
    rig.feed(&mut cam, 4 * FPS);
    cam.press(Button::Bookmark {
        label: Some("verbal warning given".into()),
    })
    .unwrap();
    cam.press(Button::Stop).unwrap();
    rig.feed(&mut cam, 1);
    assert!(!cam.is_recording());

    let recs = rig.recordings();
    assert_eq!(recs.len(), 1);
    let (signed, ciphertext) = &recs[0];
    let m = signed.manifest();
    assert_eq!(m.sequence, 1);
    assert_eq!(m.device_id, "cam-042");
    assert_eq!(m.officer_id.as_deref(), Some("boa-7"));
    assert_eq!(m.trigger, Trigger::RecordButton);
    assert_eq!(m.stop_reason, StopReason::StopButton);
    assert!(!m.truncated);
    assert_eq!(m.prerecord_seconds, 3);
    assert!(
        (2000..=3100).contains(&m.prerecord_included_ms),
        "{}",
        m.prerecord_included_ms
    );
    assert_eq!(m.bookmarks.len(), 1);
    assert!(!m.gps.is_empty());
    assert_eq!(m.recording_id.get_version_num(), 7);
    assert_eq!(
        m.started_at.as_millis(),
        T0_US / 1000 + 6000 - m.prerecord_included_ms as i64
    );
    verify_recording(
        signed,
        &rig.dir.verifying_key().unwrap(),
        std::fs::File::open(ciphertext).unwrap(),
    )
    .unwrap();

    // Outside witnesses: age decrypts, ffprobe sees H.264 of the expected length.
    let (ok, mp4) = rig.age_decrypt(ciphertext);
    assert!(ok);
    assert_eq!(
        custos_format::sha256(&mp4),
        m.plaintext.as_ref().unwrap().sha256
    );
    let probe = rig.ffprobe(&mp4);
    assert_eq!(probe["streams"][0]["codec_name"], "h264");
    assert_eq!(probe["streams"][0]["width"], 320);
    let expected = m.prerecord_included_ms as f64 / 1000.0 + 4.0;
    let got = duration(&probe);
    assert!(
        (got - expected).abs() <= 1.0,
        "duration {got} s, expected {expected} s ± one fragment"
    );
    assert!(
        (got - m.duration_ms() as f64 / 1000.0).abs() < 0.1,
        "manifest times match the content"
    );
    assert!(rig.ffmpeg_decodes(&mp4));

    // Our own decryptor agrees with age.
    let mut ours = Vec::new();
    decrypt_recording(
        signed,
        std::fs::File::open(ciphertext).unwrap(),
        &rig.identity,
        &mut ours,
    )
    .unwrap();
    assert_eq!(ours, mp4);

    assert_no_plaintext_video(rig.dir.root());
}

#[test]
fn standby_without_trigger_writes_nothing() {
    let mut rig = rig(5, |_| {});
    let before: Vec<_> = walk(rig.dir.root());
    let mut cam = rig.camera();
    rig.feed(&mut cam, 12 * FPS);
    let status = cam.status().unwrap();
    assert_eq!(status.state, State::Standby);
    assert!(
        status.prerecord_buffered_ms >= 4000 && status.prerecord_buffered_ms <= 5100,
        "{}",
        status.prerecord_buffered_ms
    );
    assert!(status.prerecord_buffered_bytes > 0);
    drop(cam);
    assert_eq!(
        walk(rig.dir.root()),
        before,
        "standby changed the camera's storage"
    );
    assert!(rig.dir.pending_recordings().unwrap().is_empty());
}

fn walk(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn zero_prerecord_starts_on_a_forced_keyframe_and_recordings_chain() {
    let mut rig = rig(0, |c| c.officer_id = None);
    let mut cam = rig.camera();
    rig.feed(&mut cam, 17); // mid-GOP
    for _ in 0..3 {
        cam.press(Button::Record).unwrap();
        rig.feed(&mut cam, 2 * FPS + 7);
        cam.press(Button::Stop).unwrap();
        rig.feed(&mut cam, 13);
    }
    let recs = rig.recordings();
    assert_eq!(recs.len(), 3);
    let signed: Vec<_> = recs.iter().map(|(s, _)| s.clone()).collect();
    for (i, s) in signed.iter().enumerate() {
        let m = s.manifest();
        assert_eq!(m.sequence, i as u64 + 1);
        assert_eq!(m.prerecord_included_ms, 0);
        assert_eq!(m.officer_id, None);
        let d = m.duration_ms();
        assert!((2200..=2300).contains(&d), "{d}");
    }
    assert_eq!(check_chain(None, &signed), vec![]);
    assert_eq!(
        signed[1].manifest().previous_manifest_sha256,
        signed[0].sha256()
    );
    let (ok, mp4) = rig.age_decrypt(&recs[2].1);
    assert!(ok);
    assert!((duration(&rig.ffprobe(&mp4)) - 2.23).abs() < 0.1);
}

#[test]
fn front_display_shows_live_image_only_and_can_trigger_recording_where_configured() {
    let mut rig = rig(2, |_| {});
    let mut cam = rig.camera();
    rig.feed(&mut cam, FPS);
    cam.press(Button::Display).unwrap();
    rig.feed(&mut cam, FPS);
    assert_eq!(cam.display().frames_shown, FPS);
    assert_eq!(
        cam.status().unwrap().state,
        State::Standby,
        "display alone does not record here"
    );
    cam.press(Button::Display).unwrap();
    rig.feed(&mut cam, FPS);
    assert_eq!(cam.display().frames_shown, FPS, "display off shows nothing");
    assert!(rig.dir.pending_recordings().unwrap().is_empty());
    assert_eq!(
        cam.press(Button::Bookmark { label: None }),
        Err(PressError::NotRecording)
    );
    assert_eq!(cam.press(Button::Stop), Err(PressError::NotRecording));

    // Bocholt: touching the display starts recording.
    let mut rig = rig_bocholt();
    let mut cam = rig.camera();
    rig.feed(&mut cam, 3 * FPS);
    cam.press(Button::Display).unwrap();
    rig.feed(&mut cam, 2 * FPS);
    assert!(cam.is_recording());
    cam.press(Button::Display).unwrap(); // switching the display off does not stop it
    rig.feed(&mut cam, FPS);
    assert!(cam.is_recording());
    cam.press(Button::Stop).unwrap();
    rig.feed(&mut cam, 1);
    let recs = rig.recordings();
    let m = recs[0].0.manifest();
    assert_eq!(m.trigger, Trigger::DisplayTouch);
    assert_eq!(
        m.display_events.iter().map(|d| d.on).collect::<Vec<_>>(),
        vec![true, false]
    );
}

fn rig_bocholt() -> Rig {
    rig(2, |c| c.display_triggers_recording = true)
}

#[test]
fn power_loss_leaves_a_playable_prefix_signed_as_truncated() {
    let mut rig = rig(1, |c| c.bitrate_bps = 2_000_000);
    let mut cam = rig.camera();
    rig.feed(&mut cam, FPS);
    cam.press(Button::Record).unwrap();
    rig.feed(&mut cam, 6 * FPS + 11);
    // Power cut: the process vanishes without finishing anything.
    std::mem::forget(cam);
    assert!(rig.dir.pending_recordings().unwrap().is_empty());
    assert_eq!(rig.dir.open_journals().unwrap().len(), 1);

    let recovered = recover(&rig.dir, &rig.dir.signing_key().unwrap()).unwrap();
    assert_eq!(recovered.len(), 1);
    assert!(rig.dir.open_journals().unwrap().is_empty());
    let recs = rig.recordings();
    let (signed, ciphertext) = &recs[0];
    let m = signed.manifest();
    assert!(m.truncated);
    assert_eq!(m.stop_reason, StopReason::PowerLoss);
    assert!(m.plaintext.is_none());
    verify_recording(
        signed,
        &rig.dir.verifying_key().unwrap(),
        std::fs::File::open(ciphertext).unwrap(),
    )
    .unwrap();

    // age writes every authenticated chunk, then reports the truncation.
    let (ok, mp4) = rig.age_decrypt(ciphertext);
    assert!(!ok, "a truncated stream must not look complete");
    assert!(mp4.len() > 100_000, "{} bytes recovered", mp4.len());
    let got = duration(&rig.ffprobe(&mp4));
    // At most the fragment in flight plus age's unwritten 64 KiB chunk are lost.
    assert!((4.0..=7.1).contains(&got), "recovered {got} s of ~7.3 s");
    assert!(
        (m.duration_ms() as f64 / 1000.0 - got).abs() <= 1.1,
        "manifest end {} ms vs content {got} s",
        m.duration_ms()
    );
    // Recovery is idempotent and the next recording continues the chain.
    assert!(recover(&rig.dir, &rig.dir.signing_key().unwrap())
        .unwrap()
        .is_empty());
    let mut cam = rig.camera();
    rig.feed(&mut cam, 5);
    cam.press(Button::Record).unwrap();
    rig.feed(&mut cam, FPS);
    cam.press(Button::Stop).unwrap();
    rig.feed(&mut cam, 1);
    let all: Vec<_> = rig.recordings().into_iter().map(|(s, _)| s).collect();
    assert_eq!(all.len(), 2);
    assert_eq!(check_chain(None, &all), vec![]);
}

#[test]
fn storage_full_stops_cleanly_and_never_overwrites() {
    let mut rig = rig(0, |c| {
        c.bitrate_bps = 3_000_000;
        c.storage_capacity_bytes = Some(2_500_000);
    });
    let mut cam = rig.camera();
    cam.press(Button::Record).unwrap();
    let mut frames = 0;
    while cam.is_recording() || frames == 0 {
        rig.feed(&mut cam, 1);
        frames += 1;
        assert!(frames < 60 * FPS, "storage never filled");
    }
    let status = cam.status().unwrap();
    assert!(status.storage_full);
    assert_eq!(cam.press(Button::Record), Err(PressError::StorageFull));
    let recs = rig.recordings();
    assert_eq!(recs.len(), 1);
    let (signed, ciphertext) = &recs[0];
    assert_eq!(signed.manifest().stop_reason, StopReason::StorageFull);
    verify_recording(
        signed,
        &rig.dir.verifying_key().unwrap(),
        std::fs::File::open(ciphertext).unwrap(),
    )
    .unwrap();
    assert!(rig.dir.used_bytes().unwrap() <= 2_500_000);
    let (ok, mp4) = rig.age_decrypt(ciphertext);
    assert!(ok && rig.ffmpeg_decodes(&mp4));
    // A camera restarted on a full card refuses to record and keeps everything.
    let snapshot = walk(&rig.dir.recordings_dir());
    drop(cam);
    let mut cam = rig.camera();
    assert_eq!(cam.press(Button::Record), Err(PressError::StorageFull));
    rig.feed(&mut cam, 2 * FPS);
    assert_eq!(walk(&rig.dir.recordings_dir()), snapshot);
}

#[test]
fn file_source_replays_an_mp4_through_ffmpeg() {
    let rig = rig(0, |_| {});
    let clip = rig._tmp.path().join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=2",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&clip)
        .status()
        .expect("ffmpeg must be installed");
    assert!(made.success());
    let mut source = custos_camera::source::FfmpegSource::file(
        clip.to_str().unwrap(),
        320,
        240,
        30,
        T0_US,
        Pacing::AsFastAsPossible,
        false,
    )
    .unwrap();
    let mut cam = rig.camera();
    cam.press(Button::Record).unwrap();
    let mut n = 0;
    while let Some(f) = source.next_frame().unwrap() {
        cam.on_frame(f).unwrap();
        n += 1;
    }
    assert_eq!(n, 60, "2 s at 30 fps");
    cam.stop(StopReason::SourceEnded).unwrap();
    let recs = rig.recordings();
    let (ok, mp4) = rig.age_decrypt(&recs[0].1);
    assert!(ok);
    assert!((duration(&rig.ffprobe(&mp4)) - 2.0).abs() < 0.1);
    assert!(custos_camera::source::FfmpegSource::file(
        "/nonexistent.mp4",
        320,
        240,
        30,
        0,
        Pacing::AsFastAsPossible,
        false
    )
    .is_err());
}

#[test]
fn damaged_camera_files_give_clear_errors() {
    let rig = rig(0, |_| {});
    std::fs::write(rig.dir.config_path(), b"{ not json").unwrap();
    let err = rig.dir.load_config().unwrap_err();
    assert!(format!("{err:#}").contains("damaged"), "{err:#}");
    let other = CameraDir::new(rig._tmp.path().join("nothing-here"));
    assert!(format!("{:#}", other.load_config().unwrap_err()).contains("not a camera"));
    let bad = CameraConfig {
        device_id: "../../etc".into(),
        evidence_recipient: "age1nope".into(),
        officer_id: None,
        prerecord_seconds: 500,
        width: 321,
        height: 240,
        fps: 30,
        bitrate_bps: 1_000_000,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: false,
        simulated_gps_start: None,
        server_receipt_key: None,
    };
    assert!(CameraDir::new(rig._tmp.path().join("c2"))
        .init(&bad)
        .is_err());
    assert!(
        !rig._tmp.path().join("c2/identity/device.key").exists(),
        "nothing half-made"
    );
}

#[test]
fn torn_journal_and_damaged_state_are_handled() {
    let mut rig = rig(0, |_| {});
    let mut cam = rig.camera();
    cam.press(Button::Record).unwrap();
    rig.feed(&mut cam, 3 * FPS + 5);
    std::mem::forget(cam);
    // The power cut tore the journal's last line in half.
    let journal = rig.dir.open_journals().unwrap().remove(0).journal;
    let mut text = std::fs::read(&journal).unwrap();
    text.extend_from_slice(b"{\"type\":\"fragment\",\"n\":99,\"end_at\":\"2026-11-2");
    std::fs::write(&journal, &text).unwrap();
    let recovered = recover(&rig.dir, &rig.dir.signing_key().unwrap()).unwrap();
    assert_eq!(recovered.len(), 1);
    let (signed, ciphertext) = &rig.recordings()[0];
    assert!(signed.manifest().truncated);
    assert!(
        signed.manifest().duration_ms() >= 1900,
        "{}",
        signed.manifest().duration_ms()
    );
    verify_recording(
        signed,
        &rig.dir.verifying_key().unwrap(),
        std::fs::File::open(ciphertext).unwrap(),
    )
    .unwrap();

    // A journal with no readable start line is an error, not a guess.
    std::fs::write(
        rig.dir
            .recordings_dir()
            .join("00000009-01a207a2-3280-7000-8000-0000000000ff.open"),
        b"garbage\n",
    )
    .unwrap();
    let err = recover(&rig.dir, &rig.dir.signing_key().unwrap()).unwrap_err();
    assert!(format!("{err:#}").contains("no start line"), "{err:#}");
    std::fs::remove_file(
        rig.dir
            .recordings_dir()
            .join("00000009-01a207a2-3280-7000-8000-0000000000ff.open"),
    )
    .unwrap();

    // A damaged state file stops the camera with a clear error; nothing is overwritten.
    std::fs::write(rig.dir.root().join("state.json"), b"{\"next_sequence\":").unwrap();
    let mut cam = rig.camera();
    cam.press(Button::Record).unwrap();
    let f = rig.source.next_frame().unwrap().unwrap();
    let err = cam.on_frame(f).unwrap_err();
    assert!(format!("{err:#}").contains("state.json"), "{err:#}");
    assert_eq!(rig.recordings().len(), 1);
}

/// The camera cannot play back, decrypt or delete a recording by construction:
/// its code names no decryption API, and outside `wipe.rs` (receipt-gated)
/// removes only journals and its socket.
#[test]
fn camera_code_has_no_decrypt_or_delete_path() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for forbidden in [
            "Decryptor",
            "decrypt_recording",
            "x25519::Identity",
            "scrypt::Identity",
            "remove_dir",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                path.display()
            );
        }
        // wipe.rs deletes, and only against a confirmed receipt (tested below).
        if path.file_name().unwrap() == "wipe.rs" {
            assert!(text.contains(".confirm(&pinned, &manifest)"));
            continue;
        }
        for line in text.lines().filter(|l| l.contains("remove_file")) {
            assert!(
                line.contains("journal") || line.contains("socket"),
                "{}: removes something other than a journal or the control socket: {line}",
                path.display()
            );
        }
    }
}

#[test]
fn wipe_needs_a_receipt_from_the_pinned_server_for_exactly_that_recording() {
    use custos_camera::wipe::{finish_interrupted_wipes, wipe, WipeOutcome};
    use custos_format::{
        DeletionReceipt, Handover, Receipt, SignedDeletionReceipt, SignedReceipt, SigningKey,
        UtcMillis,
    };
    let server = SigningKey::from_seed(&[42; 32]);
    let impostor = SigningKey::from_seed(&[43; 32]);
    let mut rig = rig(0, |_| {});
    let mut cam = rig.camera();
    for _ in 0..3 {
        cam.press(Button::Record).unwrap();
        rig.feed(&mut cam, FPS);
        cam.press(Button::Stop).unwrap();
        rig.feed(&mut cam, 1);
    }
    let pending = rig.dir.pending_recordings().unwrap();
    let recs = rig.recordings();
    let receipt = |i: usize, key: &SigningKey| {
        Handover::from(
            SignedReceipt::sign(
                Receipt::for_manifest(
                    &recs[i].0,
                    UtcMillis::from_millis(1_795_424_500_000).unwrap(),
                    "rotterdam",
                ),
                key,
            )
            .unwrap(),
        )
    };
    let deleted = |i: usize, key: &SigningKey| {
        Handover::from(
            SignedDeletionReceipt::sign(
                DeletionReceipt::for_manifest(
                    &recs[i].0,
                    UtcMillis::from_millis(1_795_424_600_000).unwrap(),
                    "retention-period",
                    "rotterdam",
                ),
                key,
            )
            .unwrap(),
        )
    };

    // Not enrolled: no pinned key, no wipe, whatever the receipt.
    let err = wipe(&rig.dir, &pending[0], &receipt(0, &server)).unwrap_err();
    assert!(
        format!("{err:#}").contains("no pinned server key"),
        "{err:#}"
    );
    let mut config = rig.dir.load_config().unwrap();
    config.server_receipt_key = Some(server.verifying_key().to_hex());
    rig.dir.save_config(&config).unwrap();

    let before = walk(&rig.dir.recordings_dir());
    for (paths, bad, why) in [
        (&pending[0], receipt(0, &impostor), "pinned server key"),
        (&pending[1], receipt(0, &server), "another recording"),
    ] {
        let err = wipe(&rig.dir, paths, &bad).unwrap_err();
        assert!(format!("{err:#}").contains(why), "{err:#}");
    }
    // The ciphertext changed on the camera after the server received it.
    let mut tampered = std::fs::read(&pending[2].ciphertext).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&pending[2].ciphertext, &tampered).unwrap();
    let err = wipe(&rig.dir, &pending[2], &receipt(2, &server)).unwrap_err();
    assert!(format!("{err:#}").contains("differs"), "{err:#}");
    tampered[last] ^= 1;
    std::fs::write(&pending[2].ciphertext, &tampered).unwrap();
    assert_eq!(
        walk(&rig.dir.recordings_dir()),
        before,
        "a refused receipt deletes nothing"
    );

    // The right receipt wipes exactly that recording and is kept as proof.
    assert_eq!(
        wipe(&rig.dir, &pending[0], &receipt(0, &server)).unwrap(),
        WipeOutcome::Wiped
    );
    assert!(
        !pending[0].ciphertext.exists()
            && !pending[0].manifest.exists()
            && !pending[0].signature.exists()
    );
    assert!(pending[0].receipt.exists());
    assert_eq!(
        wipe(&rig.dir, &pending[0], &receipt(0, &server)).unwrap(),
        WipeOutcome::AlreadyWiped
    );
    assert_eq!(rig.dir.pending_recordings().unwrap().len(), 2);

    // Power lost mid-wipe: receipt stored, ciphertext gone, manifest still there.
    let r1 = receipt(1, &server);
    std::fs::write(&pending[1].receipt, r1.bytes()).unwrap();
    std::fs::write(&pending[1].receipt_signature, r1.signature()).unwrap();
    std::fs::remove_file(&pending[1].ciphertext).unwrap();
    assert_eq!(finish_interrupted_wipes(&rig.dir).unwrap(), 1);
    assert!(!pending[1].manifest.exists());
    assert_eq!(rig.dir.pending_recordings().unwrap().len(), 1);

    // The chain goes on across wiped recordings.
    cam.press(Button::Record).unwrap();
    rig.feed(&mut cam, FPS);
    cam.press(Button::Stop).unwrap();
    rig.feed(&mut cam, 1);
    let rest: Vec<_> = rig.recordings().into_iter().map(|(s, _)| s).collect();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[1].manifest().sequence, 4);
    assert_eq!(
        rest[1].manifest().previous_manifest_sha256,
        rest[0].sha256()
    );

    // A deletion receipt (the server held it and deleted it at the end of
    // its retention period) lets go of a copy the same way, and on the same
    // conditions: pinned key, this recording, this manifest, these bytes.
    let before = walk(&rig.dir.recordings_dir());
    for (bad, why) in [
        (deleted(2, &impostor), "pinned server key"),
        (deleted(0, &server), "another recording"),
    ] {
        let err = wipe(&rig.dir, &pending[2], &bad).unwrap_err();
        assert!(format!("{err:#}").contains(why), "{err:#}");
    }
    assert_eq!(walk(&rig.dir.recordings_dir()), before);
    assert_eq!(
        wipe(&rig.dir, &pending[2], &deleted(2, &server)).unwrap(),
        WipeOutcome::Wiped
    );
    assert!(!pending[2].ciphertext.exists() && !pending[2].manifest.exists());
    let kept = Handover::parse(
        &std::fs::read(&pending[2].receipt).unwrap(),
        &std::fs::read(&pending[2].receipt_signature).unwrap(),
    )
    .unwrap();
    assert!(
        matches!(kept, Handover::Deleted(_)),
        "the deletion receipt is kept as proof"
    );
}
