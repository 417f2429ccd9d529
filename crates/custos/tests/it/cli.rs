//! The `custos` binary as an officer, an administrator and an outside
//! verifier use it: keys, a running camera killed mid-recording, tampering.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const PASS: &str = "correct horse battery staple";

pub(crate) fn custos() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custos"));
    c.env_remove("CUSTOS_PASSPHRASE")
        .env_remove("CUSTOS_DATA")
        .env("CUSTOS_LOG", "warn");
    c
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    out
}

pub(crate) fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn init_keys(data: &Path) -> String {
    ok(custos()
        .args(["keys", "init", "--work-factor", "10", "--data"])
        .arg(data)
        .env("CUSTOS_PASSPHRASE", PASS))
    .trim()
    .to_owned()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// A data directory with an evidence key made by `keys init`: the
/// temporary directory, the data directory and the key's age recipient.
fn sealed_key() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let recipient = init_keys(&data);
    (tmp, data, recipient)
}

/// `keys init` makes an age key and prints its recipient; `keys show`
/// prints the same recipient.
#[test]
fn keys_init_prints_an_age_recipient_that_keys_show_repeats() {
    let (_tmp, data, recipient) = sealed_key();
    assert!(recipient.starts_with("age1"), "{recipient}");
    assert_eq!(
        ok(custos().args(["keys", "show", "--data"]).arg(&data)).trim(),
        recipient
    );
}

/// A wrong passphrase (to check or to change it), a second `keys init` and
/// no passphrase without a terminal each get a clear error and a non-zero
/// exit, and leave the key files as they were.
#[test]
fn a_wrong_or_missing_passphrase_and_a_second_init_are_refused_and_change_nothing() {
    let (_tmp, data, _) = sealed_key();
    let keys = data.join("keys");
    let before = snapshot(&keys);

    // Wrong passphrase: clear error, non-zero exit, nothing changed.
    let out = run(custos()
        .args(["keys", "check", "--data"])
        .arg(&data)
        .env("CUSTOS_PASSPHRASE", "wrong"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(custos()
        .args(["keys", "passphrase", "--data"])
        .arg(&data)
        .env("CUSTOS_PASSPHRASE", "wrong")
        .env("CUSTOS_NEW_PASSPHRASE", "x"));
    assert!(!out.status.success());
    let out = run(custos()
        .args(["keys", "init", "--work-factor", "10", "--data"])
        .arg(&data)
        .env("CUSTOS_PASSPHRASE", PASS));
    assert!(!out.status.success(), "init twice must refuse");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(custos().args(["keys", "check", "--data"]).arg(&data));
    assert!(!out.status.success(), "no passphrase and no terminal");
    assert!(String::from_utf8_lossy(&out.stderr).contains("CUSTOS_PASSPHRASE"));
    assert_eq!(snapshot(&keys), before);
}

/// The passphrase may come from a file; one trailing newline belongs to
/// the file, not to the passphrase.
#[test]
fn a_passphrase_file_opens_the_key_and_its_trailing_newline_is_not_part_of_it() {
    let (tmp, data, recipient) = sealed_key();
    let pass_file = tmp.path().join("pass.txt");
    std::fs::write(&pass_file, format!("{PASS}\n")).unwrap();
    assert_eq!(
        ok(custos()
            .args(["keys", "check", "--data"])
            .arg(&data)
            .arg("--passphrase-file")
            .arg(&pass_file))
        .trim(),
        recipient
    );
}

/// Outside witness: Debian's age CLI opens the sealed identity with the
/// passphrase typed on a terminal (age reads passphrases from /dev/tty
/// only), and age-keygen derives the recipient Custos printed from it.
#[test]
fn evidence_key_is_sealed_and_the_standard_age_cli_can_open_it() {
    let (tmp, data, recipient) = sealed_key();
    let plain = tmp.path().join("identity.txt");
    let sealed = data.join("keys/evidence.identity.age");
    let mut child = Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "age -d -o {} {}",
            plain.display(),
            sealed.display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) and `age` must be installed");
    // The pty line discipline holds the line until age reads it.
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(format!("{PASS}\n").as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(text.contains(&format!("# public key: {recipient}")));
    let keygen = Command::new("age-keygen")
        .arg("-y")
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&keygen.stdout).trim(), recipient);
}

struct Agent {
    child: Child,
}

impl Agent {
    fn start(cam: &Path, extra: &[&str]) -> Self {
        let child = custos()
            .args([
                "device",
                "run",
                "--fast",
                "--start-time",
                "2026-11-23T09:00:00Z",
                "--dir",
            ])
            .arg(cam)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Wait until the control socket answers (bounded, not a fixed sleep).
        let deadline = Instant::now() + Duration::from_secs(60);
        while run(custos()
            .args(["device", "status", "--json", "--dir"])
            .arg(cam))
        .status
        .success()
            && !status(cam)["source"]
                .as_str()
                .unwrap_or("")
                .contains("synthetic")
        {
            assert!(Instant::now() < deadline, "camera agent did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent { child }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (polling the agent, at most two minutes) until the recording
/// under way has written `n` fragments: the agent is a process of its own.
fn await_fragments(cam: &Path, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while status(cam)["recording"]["fragments_written"]
        .as_u64()
        .unwrap_or(0)
        < n
    {
        assert!(Instant::now() < deadline, "no fragments written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status(cam: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(custos()
        .args(["device", "status", "--json", "--dir"])
        .arg(cam)))
    .unwrap()
}

fn make_camera(tmp: &Path, recipient: &str, prerecord: &str) -> PathBuf {
    let cam = tmp.join("cam");
    let public = ok(custos()
        .args([
            "device",
            "init",
            "--device-id",
            "cam-9",
            "--size",
            "320x240",
            "--bitrate",
            "1M",
            "--prerecord",
            prerecord,
        ])
        .arg("--evidence-key")
        .arg(recipient)
        .arg("--dir")
        .arg(&cam));
    assert_eq!(public.trim().len(), 64);
    ok(custos()
        .args(["device", "assign", "--officer", "boa-31", "--dir"])
        .arg(&cam));
    cam
}

/// Camera cam-9 (configured for 2 s of pre-record, its evidence key in
/// `data`) killed with SIGKILL mid-recording: its agent was run with
/// `--prerecord 1s`, recorded five fragments and took a bookmark. The
/// camera's status before the agent started, and the answer to the press
/// of record.
struct Killed {
    tmp: tempfile::TempDir,
    data: PathBuf,
    cam: PathBuf,
    offline: serde_json::Value,
    pressed: serde_json::Value,
}

impl Killed {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let recipient = init_keys(&data);
        let cam = make_camera(tmp.path(), &recipient, "2s");
        let offline = status(&cam);
        let mut agent = Agent::start(&cam, &["--prerecord", "1s"]);
        let pressed: serde_json::Value = serde_json::from_str(&ok(custos()
            .args(["device", "press", "record", "--dir"])
            .arg(&cam)))
        .unwrap();
        await_fragments(&cam, 5);
        ok(custos()
            .args([
                "device",
                "press",
                "bookmark",
                "--label",
                "first warning",
                "--dir",
            ])
            .arg(&cam));
        agent.child.kill().unwrap(); // SIGKILL: no chance to finish anything
        agent.child.wait().unwrap();
        Killed {
            tmp,
            data,
            cam,
            offline,
            pressed,
        }
    }

    /// After a restart of the camera (ten frames): the path of the
    /// recording's manifest, signed at the restart.
    fn restarted() -> (Self, PathBuf) {
        let k = Self::new();
        let recordings = k.cam.join("recordings");
        ok(custos()
            .args(["device", "run", "--fast", "--frames", "10", "--dir"])
            .arg(&k.cam));
        let manifest_path = std::fs::read_dir(&recordings)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
            .unwrap();
        (k, manifest_path)
    }
}

/// An assigned camera is off until its agent runs; a press of record
/// starts recording; killed with SIGKILL mid-recording, it leaves the
/// recording open on disk.
#[test]
fn a_camera_killed_mid_recording_leaves_its_recording_open() {
    let Killed {
        tmp: _tmp,
        cam,
        offline,
        pressed,
        ..
    } = Killed::new();
    assert_eq!(offline["state"], "off");
    assert_eq!(offline["officer_id"], "boa-31");
    assert_eq!(pressed["state"], "recording");
    let recordings = cam.join("recordings");
    assert!(std::fs::read_dir(&recordings).unwrap().any(|e| e
        .unwrap()
        .path()
        .extension()
        .is_some_and(|x| x == "open")));
}

/// Restarted, the agent signs a truncated manifest for what is on disk:
/// stopped by power loss, with the killed run's `--prerecord` (which was
/// not persisted) and the officer; the recording awaits offload.
#[test]
fn the_restarted_camera_signs_a_truncated_manifest_for_what_is_on_disk() {
    let (Killed { tmp: _tmp, cam, .. }, manifest_path) = Killed::restarted();
    let offline = status(&cam);
    assert_eq!(offline["pending_offload"], 1);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["truncated"], true);
    assert_eq!(manifest["stop_reason"], "power-loss");
    assert_eq!(
        manifest["prerecord_seconds"], 1,
        "the run's --prerecord, not the configured 2 s"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cam.join("camera.json")).unwrap()).unwrap();
    assert_eq!(
        config["prerecord_seconds"], 2,
        "a run's override is not persisted"
    );
    assert_eq!(manifest["officer_id"], "boa-31");
}

/// The truncated recording is verified with the camera's key, and its
/// content with the evidence key: OK, truncated by power loss.
#[test]
fn the_truncated_recording_verifies_with_the_camera_and_evidence_keys() {
    let (
        Killed {
            tmp: _tmp,
            data,
            cam,
            ..
        },
        _,
    ) = Killed::restarted();
    let out = ok(custos()
        .args(["verify-recording", "--dir"])
        .arg(&cam)
        .arg("--data")
        .arg(&data)
        .env("CUSTOS_PASSPHRASE", PASS));
    assert!(
        out.contains("OK") && out.contains("truncated by power loss"),
        "{out}"
    );
}

/// The evidence identity unsealed by Debian's age CLI (the passphrase
/// typed on a terminal) into `identity`.
fn unseal_with_age(data: &Path, identity: &Path) -> std::process::ExitStatus {
    Command::new("script")
        .arg("-qec")
        .arg(format!(
            "age -d -o {} {}",
            identity.display(),
            data.join("keys/evidence.identity.age").display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .as_mut()
                .unwrap()
                .write_all(format!("{PASS}\n").as_bytes())?;
            c.wait()
        })
        .unwrap()
}

/// Outside witnesses: age gives the authenticated prefix of the truncated
/// recording (and says the stream is truncated), ffprobe finds at least
/// 2 s of H.264 in it, and ffmpeg decodes it.
#[test]
fn kill_minus_nine_mid_recording_then_restart_gives_a_playable_truncated_recording() {
    let (Killed { tmp, data, .. }, manifest_path) = Killed::restarted();
    let identity = tmp.path().join("id.txt");
    let unsealed = unseal_with_age(&data, &identity);
    assert!(unsealed.success());
    let ciphertext = manifest_path
        .to_string_lossy()
        .replace(".manifest.json", ".age");
    let mp4 = tmp.path().join("prefix.mp4");
    let age = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg("-o")
        .arg(&mp4)
        .arg(&ciphertext)
        .status()
        .unwrap();
    assert!(!age.success(), "truncated stream reported by age");
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "json",
        ])
        .arg(&mp4)
        .output()
        .unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(probe["streams"][0]["codec_name"], "h264");
    let secs: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs >= 2.0, "only {secs} s survived");
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&mp4)
        .args(["-f", "null", "-"])
        .status()
        .unwrap();
    assert!(decode.success());
}

/// Camera cam-9 (its evidence key in `data`) with its agent still running,
/// after three recordings of three fragments each.
fn recording_three() -> (tempfile::TempDir, PathBuf, Agent) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let recipient = init_keys(&data);
    let cam = make_camera(tmp.path(), &recipient, "0s");
    let agent = Agent::start(&cam, &[]);
    for _ in 0..3 {
        ok(custos()
            .args(["device", "press", "record", "--dir"])
            .arg(&cam));
        await_fragments(&cam, 3);
        ok(custos()
            .args(["device", "press", "stop", "--dir"])
            .arg(&cam));
    }
    (tmp, cam, agent)
}

/// The same camera shut down: its three recordings' files, sorted, with
/// the ciphertexts and the manifests among them.
struct ThreeRecordings {
    tmp: tempfile::TempDir,
    cam: PathBuf,
    files: Vec<PathBuf>,
    ages: Vec<PathBuf>,
    manifests: Vec<PathBuf>,
}

fn three_recordings() -> ThreeRecordings {
    let (tmp, cam, agent) = recording_three();
    ok(custos().args(["device", "shutdown", "--dir"]).arg(&cam));
    drop(agent);
    let recs = cam.join("recordings");
    let mut files: Vec<_> = std::fs::read_dir(&recs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let ages: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "age"))
        .cloned()
        .collect();
    let manifests: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .cloned()
        .collect();
    ThreeRecordings {
        tmp,
        cam,
        files,
        ages,
        manifests,
    }
}

/// `custos verify-recording` on the camera's recordings.
fn verify_recording(cam: &Path) -> Output {
    run(custos().args(["verify-recording", "--dir"]).arg(cam))
}

/// `path` changed by `change`: the verification must fail (exit 1) naming
/// `expect`. The file is put back afterwards.
fn tampered_fails(cam: &Path, path: &Path, change: &dyn Fn(&mut Vec<u8>), expect: &str) {
    let original = std::fs::read(path).unwrap();
    let mut bytes = original.clone();
    change(&mut bytes);
    std::fs::write(path, &bytes).unwrap();
    let out = verify_recording(cam);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{expect}: {text}");
    assert!(
        text.contains("FAIL") && text.contains(expect),
        "{expect}: {text}"
    );
    std::fs::write(path, original).unwrap();
}

/// Pressing stop on standby is refused with a reason; the camera then
/// shuts down when told to.
#[test]
fn stop_on_standby_is_refused_and_the_camera_shuts_down() {
    let (_tmp, cam, agent) = recording_three();
    let out = run(custos()
        .args(["device", "press", "stop", "--dir"])
        .arg(&cam));
    assert!(!out.status.success(), "stop while on standby is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not recording"));
    ok(custos().args(["device", "shutdown", "--dir"]).arg(&cam));
    drop(agent);
}

/// Three untouched recordings verify: each says OK.
#[test]
fn verify_recording_passes_untouched_recordings() {
    let ThreeRecordings {
        tmp: _tmp,
        cam,
        ages,
        ..
    } = three_recordings();
    let good = verify_recording(&cam);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&good.stdout).matches("OK").count(),
        3
    );
    assert_eq!(ages.len(), 3);
}

/// A ciphertext with a bit flipped, cut short, or with two 64 KiB chunks
/// swapped fails the verification, naming what does not match.
#[test]
fn verify_recording_detects_flipped_truncated_and_swapped_ciphertext() {
    let ThreeRecordings {
        tmp: _tmp,
        cam,
        ages,
        ..
    } = three_recordings();
    let tamper = |path: &Path, change: &dyn Fn(&mut Vec<u8>), expect: &str| {
        tampered_fails(&cam, path, change, expect)
    };
    tamper(
        &ages[1],
        &|b| {
            let i = b.len() / 2;
            b[i] ^= 0x80
        },
        "SHA-256 does not match",
    );
    tamper(&ages[1], &|b| b.truncate(b.len() - 17), "ciphertext length");
    tamper(
        &ages[1],
        &|b| {
            // Swap the first two 64 KiB chunks after the header.
            let start = b.windows(4).position(|w| w == b"\n---").unwrap();
            let start =
                start + 1 + b[start + 1..].iter().position(|&c| c == b'\n').unwrap() + 1 + 16;
            let c = 65536 + 16;
            let first = b[start..start + c].to_vec();
            b.copy_within(start + c..start + 2 * c, start);
            b[start + c..start + 2 * c].copy_from_slice(&first);
        },
        "SHA-256 does not match",
    );
}

/// A manifest edited (its signature no longer verifies), cut short (not
/// JSON) or no longer canonical fails the verification.
#[test]
fn verify_recording_detects_edited_truncated_and_uncanonical_manifests() {
    let ThreeRecordings {
        tmp: _tmp,
        cam,
        manifests,
        ..
    } = three_recordings();
    let tamper = |path: &Path, change: &dyn Fn(&mut Vec<u8>), expect: &str| {
        tampered_fails(&cam, path, change, expect)
    };
    tamper(
        &manifests[0],
        &|b| {
            let s = String::from_utf8(b.clone())
                .unwrap()
                .replace("boa-31", "boa-99");
            *b = s.into_bytes();
        },
        "signature does not verify",
    );
    tamper(
        &manifests[0],
        &|b| b.truncate(b.len() / 2),
        "not valid JSON",
    );
    tamper(&manifests[2], &|b| b.insert(1, b' '), "canonical");
}

/// A recording removed from the middle of the sequence is a gap.
#[test]
fn verify_recording_detects_a_recording_removed_from_the_middle_as_a_gap() {
    let ThreeRecordings {
        tmp, cam, files, ..
    } = three_recordings();
    let hidden = tmp.path().join("hidden");
    std::fs::create_dir(&hidden).unwrap();
    for p in &files {
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("00000002-")
        {
            std::fs::rename(p, hidden.join(p.file_name().unwrap())).unwrap();
        }
    }
    let out = verify_recording(&cam);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Gap { from: 2, to: 2 }"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Bad command lines, each with what its error must name: an unusable
/// evidence key, a bad identifier, out-of-range or unsupported settings,
/// a camera that is not running or not there, a checkout without an
/// officer or a dock.
fn bad_arguments(recipient: &str) -> [(Vec<&str>, &'static str); 9] {
    [
        (
            vec![
                "device",
                "init",
                "--device-id",
                "c1",
                "--evidence-key",
                "age1bogus",
                "--dir",
            ],
            "evidence key",
        ),
        (
            vec![
                "device",
                "init",
                "--device-id",
                "bad/id",
                "--evidence-key",
                recipient,
                "--dir",
            ],
            "identifier",
        ),
        (
            vec![
                "device",
                "init",
                "--device-id",
                "c1",
                "--prerecord",
                "121s",
                "--evidence-key",
                recipient,
                "--dir",
            ],
            "0 to 120",
        ),
        (
            vec![
                "device",
                "init",
                "--device-id",
                "c1",
                "--size",
                "333x240",
                "--evidence-key",
                recipient,
                "--dir",
            ],
            "unsupported",
        ),
        (vec!["device", "press", "record", "--dir"], "not running"),
        (vec!["device", "status", "--dir"], "not a camera"),
        (vec!["dock", "checkout", "--camera"], "name the officer"),
        (
            vec!["dock", "checkout", "--server", "https://x", "--camera"],
            "--dock-id",
        ),
        (
            vec!["dock", "checkout", "--officer", "boa 1", "--camera"],
            "not an identifier",
        ),
    ]
}

/// Each bad command line fails with an error that names what is wrong,
/// and makes no camera.
#[test]
fn bad_arguments_get_clear_errors_and_make_no_camera() {
    let tmp = tempfile::tempdir().unwrap();
    let recipient = init_keys(&tmp.path().join("data"));
    for (args, needle) in bad_arguments(&recipient) {
        let out = run(custos().args(&args).arg(tmp.path().join("c")));
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!tmp.path().join("c/identity").exists());
}

/// Garbage on the control socket is answered, and the camera keeps going:
/// still on standby, and a second agent for it is refused.
#[test]
fn garbage_on_the_control_socket_is_answered_and_the_camera_keeps_going() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;
    let tmp = tempfile::tempdir().unwrap();
    let recipient = init_keys(&tmp.path().join("data"));
    let cam = make_camera(tmp.path(), &recipient, "1s");
    let _agent = Agent::start(&cam, &[]);
    for garbage in [
        &b"not json\n"[..],
        b"{\"op\":\"delete\"}\n",
        b"{\"op\":\"record\",\"x\":1}\n",
        &[0xffu8; 5000][..],
    ] {
        let mut s = UnixStream::connect(cam.join("control.sock")).unwrap();
        let _ = s.write_all(garbage);
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], false, "{line}");
    }
    assert_eq!(status(&cam)["state"], "standby");
    let out = run(custos()
        .args(["device", "run", "--fast", "--dir"])
        .arg(&cam));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
}

/// `custos demo` serving on port 0 from `data`: what it printed up to
/// "Ready in", an HTTP agent that trusts its certificate and its address;
/// killed when dropped.
struct Demo {
    child: Child,
    data: PathBuf,
    out: String,
    agent: ureq::Agent,
    base: String,
}

impl Demo {
    fn start(data: &Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = custos()
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--language",
                "en",
                "--data",
            ])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let ready = line.starts_with("Ready in ");
            printed.push(line);
            if ready {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let out = printed.join("\n");
        let port = out
            .lines()
            .find_map(|l| l.strip_prefix("Sign in at https://127.0.0.1:"))
            .and_then(|l| l.split('/').next())
            .unwrap_or_else(|| panic!("no URL in {out}"))
            .to_owned();
        Demo {
            child,
            data: data.to_owned(),
            out,
            agent: trusting(&data.join("server/tls/cert.pem")),
            base: format!("https://localhost:{port}"),
        }
    }

    /// `name`'s password and TOTP secret, from the table of logins the demo
    /// printed: user, role, password, TOTP secret.
    fn login(&self, name: &str) -> (String, String) {
        let out = &self.out;
        let row = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.len() == 4 && cols[0] == name)
            .unwrap_or_else(|| panic!("no login for {name} in {out}"));
        (row[2].to_owned(), row[3].to_owned())
    }

    /// Signs `name` in with their printed password: the session's token.
    fn sign_in(&self, name: &str) -> String {
        let (password, _) = self.login(name);
        // `custos demo code` gives the current code, as a person would ask it.
        let code = ok(custos()
            .args(["demo", "code", name, "--data"])
            .arg(&self.data));
        let mut r = self
            .agent
            .post(format!("{}/api/v1/session", self.base))
            .send_json(serde_json::json!({
                "name": name, "password": password, "code": code.trim()
            }))
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{name}: {}",
            r.body_mut().read_to_string().unwrap()
        );
        let session: serde_json::Value = r.body_mut().read_json().unwrap();
        assert_eq!(session["password_change_required"], false);
        session["token"].as_str().unwrap().to_owned()
    }

    /// `GET /api/v1/recordings` with `token`: the status and the list.
    fn recordings(&self, token: &str) -> (u16, serde_json::Value) {
        let mut r = self
            .agent
            .get(format!("{}/api/v1/recordings", self.base))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or_default())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP agent that trusts the certificate in `pem` (and reports error
/// statuses as answers).
fn trusting(pem: &Path) -> ureq::Agent {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(pem).unwrap();
    let cert = ureq::tls::Certificate::from_pem(&pem).unwrap();
    ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                    cert,
                ])))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into()
}

/// The demo prints its shift (the cameras' stored recordings, the logins)
/// and serves it to each role as that role may see it: the reviewer all
/// three recordings, the officer their own two, the admin none; the
/// cameras hold nothing after docking; stopped, its audit log verifies,
/// and `demo code` names a person it does not know. (One test: the demo
/// takes most of a minute to make, so the reruns follow in a helper.)
#[test]
fn demo_serves_its_shift_to_each_role_and_the_audit_log_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let demo = Demo::start(&data);
    let out = &demo.out;
    assert!(out.contains("custos-demo-only"), "{out}");
    assert!(out.contains("zuid-01: 2 stored"), "{out}");
    assert!(out.contains("noord-02: 1 stored"), "{out}");
    let sign_in = |name: &str| demo.sign_in(name);
    let recordings = |token: &str| demo.recordings(token);
    let (status, all) = recordings(&sign_in("reviewer"));
    assert_eq!(status, 200);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    let mut cameras: Vec<&str> = all
        .iter()
        .map(|r| r["device_id"].as_str().unwrap())
        .collect();
    cameras.sort();
    assert_eq!(cameras, ["noord-02", "zuid-01", "zuid-01"]);
    // The officer sees their own two; the admin sees none.
    let (status, own) = recordings(&sign_in("officer"));
    assert_eq!((status, own.as_array().unwrap().len()), (200, 2));
    assert_eq!(recordings(&sign_in("admin")).0, 403);
    // The cameras hold nothing after docking.
    for cam in ["camera-zuid-01", "camera-noord-02"] {
        let camera = self::status(&data.join(cam));
        assert_eq!(camera["pending_offload"], 0, "{cam}: {camera}");
    }
    drop(demo);
    let verified = run(custos()
        .args(["audit", "verify", "--data"])
        .arg(data.join("server")));
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let out = run(custos()
        .args(["demo", "code", "nobody", "--data"])
        .arg(&data));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no demo person `nobody`"));
    // Re-running replaces its own demo, but never a directory it did not make.
    reruns_replace_only_their_own_demo(tmp.path(), &data);
}

/// Re-running the demo in `data` (which holds one) replaces its own demo,
/// but never a directory it did not make; a damaged logins file is named,
/// not trusted.
fn reruns_replace_only_their_own_demo(tmp: &Path, data: &Path) {
    ok(custos()
        .args(["demo", "--no-serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data));
    let foreign = tmp.join("not-a-demo");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("precious.txt"), b"keep").unwrap();
    let out = run(custos()
        .args(["demo", "--no-serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&foreign));
    assert!(!out.status.success());
    assert!(foreign.join("precious.txt").exists());
    // A damaged logins file is named, not trusted.
    std::fs::write(data.join("demo-logins.json"), b"{not json").unwrap();
    let out = run(custos()
        .args(["demo", "code", "reviewer", "--data"])
        .arg(data));
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
}

/// A server started from the CLI on port 0; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = custos()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--server-id",
                "testcity",
                "--data",
            ])
            .arg(data)
            .env("CUSTOS_PASSPHRASE", PASS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("Custos evidence server on https://") {
                break format!("https://localhost:{}", addr.rsplit(':').next().unwrap());
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server run from the CLI with dock-7 enrolled (its token in a file),
/// and camera cam-9, not enrolled, that made two recordings.
struct Served {
    tmp: tempfile::TempDir,
    data: PathBuf,
    server: Server,
    cam: PathBuf,
    token: PathBuf,
}

impl Served {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let recipient = init_keys(&data);
        let server = Server::start(&data);
        let cam = make_camera(tmp.path(), &recipient, "0s");
        let token = tmp.path().join("dock.token");
        let out = run(custos()
            .args(["enroll", "dock", "--dock-id", "dock-7", "--data"])
            .arg(&data));
        assert!(out.status.success());
        std::fs::write(&token, &out.stdout).unwrap();
        let agent = Agent::start(&cam, &[]);
        for _ in 0..2 {
            ok(custos()
                .args(["device", "press", "record", "--dir"])
                .arg(&cam));
            await_fragments(&cam, 2);
            ok(custos()
                .args(["device", "press", "stop", "--dir"])
                .arg(&cam));
        }
        ok(custos().args(["device", "shutdown", "--dir"]).arg(&cam));
        drop(agent);
        Served {
            tmp,
            data,
            server,
            cam,
            token,
        }
    }

    /// After the command-line session went on: the camera offered before
    /// it was enrolled (refused), then enrolled, checked out to boa-77 and
    /// offloaded by dock-7 (what the watching dock does, in one run).
    fn offloaded() -> Self {
        let s = Self::new();
        let offload = || run(dock_offload(&s.server.url, &s.token, &s.data).arg(&s.cam));
        offload();
        enroll_and_check_out(&s.data, &s.cam);
        let out = offload();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        s
    }
}

/// `custos dock offload --json` as dock-7 against the server at `url`
/// (the camera, or `--watch` and a bay, still to be given).
fn dock_offload(url: &str, token: &Path, data: &Path) -> Command {
    let mut c = custos();
    c.args([
        "dock",
        "offload",
        "--json",
        "--dock-id",
        "dock-7",
        "--server",
        url,
    ])
    .arg("--token-file")
    .arg(token)
    .arg("--server-cert")
    .arg(data.join("tls/cert.pem"));
    c
}

/// Enrolls the camera and checks it out to officer boa-77: the server's
/// receipt key, as `enroll camera` prints it.
fn enroll_and_check_out(data: &Path, cam: &Path) -> String {
    let receipt_key = ok(custos()
        .args(["enroll", "camera", "--data"])
        .arg(data)
        .arg("--camera")
        .arg(cam));
    ok(custos()
        .args(["dock", "checkout", "--officer", "boa-77", "--camera"])
        .arg(cam));
    receipt_key
}

/// Not enrolled yet: the dock refuses to touch a camera that could never
/// be wiped, and both recordings stay on it.
#[test]
fn a_dock_will_not_offload_a_camera_that_is_not_enrolled() {
    let Served {
        tmp: _tmp,
        data,
        server,
        cam,
        token,
    } = Served::new();
    let out = run(dock_offload(&server.url, &token, &data).arg(&cam));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not enrolled"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(status(&cam)["pending_offload"], 2);
}

/// Enrolled and checked out, the camera is offloaded by a dock watching
/// its bay as soon as it appears there; SIGTERM ends the watch cleanly
/// between scans, and the dock reports both recordings stored and wiped.
#[test]
fn a_watching_dock_offloads_an_enrolled_camera_when_it_appears_in_its_bay() {
    let Served {
        tmp,
        data,
        server,
        cam,
        token,
    } = Served::new();
    let dock = || dock_offload(&server.url, &token, &data);
    // Refused while not enrolled, as the session went.
    run(dock().arg(&cam));
    let receipt_key = enroll_and_check_out(&data, &cam);
    assert_eq!(receipt_key.trim().len(), 64);
    // A dock watching its bay: the camera is offloaded when it appears there.
    let bay = tmp.path().join("bay");
    std::fs::create_dir(&bay).unwrap();
    let watcher = dock()
        .args(["--interval", "1", "--watch"])
        .arg(&bay)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let docked = bay.join("cam");
    std::fs::rename(&cam, &docked).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while status(&docked)["pending_offload"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the watching dock never offloaded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM ends the watch cleanly between scans.
    let killed = Command::new("kill")
        .args(["-TERM", &watcher.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = watcher.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"stored\": 2"), "{stdout}");
    assert!(stdout.contains("\"wiped\": 2"), "{stdout}");
    std::fs::rename(&docked, &cam).unwrap();
    assert_eq!(status(&cam)["pending_offload"], 0);
}

/// The recordings are listed with the officer who wore the camera when
/// they were made (not the later checkout), no incident is raised, and a
/// retention sweep (nothing is due before 28 days) deletes nothing and
/// says so.
#[test]
fn offloaded_recordings_are_listed_with_the_officer_at_recording_time_and_kept() {
    let Served {
        tmp: _tmp,
        data,
        server: _server,
        ..
    } = Served::offloaded();
    let list: serde_json::Value = serde_json::from_str(&ok(custos()
        .args(["recordings", "list", "--json", "--data"])
        .arg(&data)))
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["device_id"], "cam-9");
    assert_eq!(
        list[0]["officer_id"], "boa-31",
        "the officer at recording time, not the later checkout"
    );
    let incidents: serde_json::Value = serde_json::from_str(&ok(custos()
        .args(["incidents", "list", "--json", "--data"])
        .arg(&data)))
    .unwrap();
    assert_eq!(incidents, serde_json::json!([]));
    // Nothing is due yet (28 days): a sweep deletes nothing, and says so.
    let swept: serde_json::Value = serde_json::from_str(&ok(custos()
        .args(["retention", "sweep", "--json", "--data"])
        .arg(&data)))
    .unwrap();
    assert_eq!(
        swept,
        serde_json::json!({"deleted": 0, "finished_earlier": 0, "links_closed": 0, "derivatives_deleted": 0})
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ok(custos()
            .args(["recordings", "list", "--json", "--data"])
            .arg(&data)))
        .unwrap()
        .as_array()
        .unwrap()
        .len(),
        2
    );
}

/// A revoked dock is refused, nothing on the camera is touched, and the
/// refusal is an incident.
#[test]
fn a_revoked_dock_is_refused_and_that_is_an_incident() {
    let Served {
        tmp: _tmp,
        data,
        server,
        cam,
        token,
    } = Served::offloaded();
    ok(custos()
        .args(["enroll", "revoke-dock", "--dock-id", "dock-7", "--data"])
        .arg(&data));
    let out = run(dock_offload(&server.url, &token, &data).arg(&cam));
    assert!(!out.status.success());
    let incidents: serde_json::Value = serde_json::from_str(&ok(custos()
        .args(["incidents", "list", "--json", "--data"])
        .arg(&data)))
    .unwrap();
    assert_eq!(incidents[0]["kind"], "unknown-or-revoked");
}

/// Runs a Python sqlite3 script on a copy of the catalog: tampering as a
/// database administrator would, outside Custos.
fn tamper(data: &Path, script: &str) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3, hashlib\ndb = sqlite3.connect({:?})\n{script}\ndb.commit()\n",
            data.join("catalog.sqlite").to_str().unwrap()
        ))
        .status()
        .unwrap();
    assert!(status.success());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A data directory whose audit log holds five operations of the CLI: two
/// docks enrolled, recordings and incidents listed, a dock revoked.
fn audited() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_keys(&data);
    ok(custos()
        .args(["enroll", "dock", "--dock-id", "dock-0", "--data"])
        .arg(&data));
    ok(custos()
        .args(["enroll", "dock", "--dock-id", "dock-1", "--data"])
        .arg(&data));
    ok(custos().args(["recordings", "list", "--data"]).arg(&data));
    ok(custos().args(["incidents", "list", "--data"]).arg(&data));
    ok(custos()
        .args(["enroll", "revoke-dock", "--dock-id", "dock-1", "--data"])
        .arg(&data));
    (tmp, data)
}

/// The same after the log was verified (its sixth entry).
fn audited_and_verified() -> (tempfile::TempDir, PathBuf) {
    let (tmp, data) = audited();
    ok(custos()
        .args(["audit", "verify", "--json", "--data"])
        .arg(&data));
    (tmp, data)
}

/// The same after the log was then exported as JSON and as CSV and its
/// checkpoint printed: eight entries, the last at index 7.
fn audited_and_exported() -> (tempfile::TempDir, PathBuf) {
    let (tmp, data) = audited_and_verified();
    ok(custos().args(["audit", "export", "--data"]).arg(&data));
    ok(custos()
        .args(["audit", "export", "--format", "csv", "--data"])
        .arg(&data));
    ok(custos().args(["audit", "checkpoint", "--data"]).arg(&data));
    (tmp, data)
}

/// Operations of the CLI are audited: the log of five verifies.
#[test]
fn the_cli_audits_its_operations_and_the_log_verifies() {
    let (_tmp, data) = audited();
    let verified: serde_json::Value = serde_json::from_str(&ok(custos()
        .args(["audit", "verify", "--json", "--data"])
        .arg(&data)))
    .unwrap();
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["entries"], 5);
}

/// The export proves each entry against a checkpoint that the log's
/// public key opens: checked here with the format crate alone. The CSV
/// export and a later checkpoint count the entries since.
#[test]
fn the_audit_export_proves_each_entry_against_a_checkpoint_the_log_key_opens() {
    let (_tmp, data) = audited_and_verified();
    // The export proves each entry against a checkpoint that the log's
    // public key opens: checked here with the format crate alone.
    let export: serde_json::Value =
        serde_json::from_str(&ok(custos().args(["audit", "export", "--data"]).arg(&data))).unwrap();
    let verifier = custos_audit::NoteVerifier::parse(export["log_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        verifier.to_vkey().trim(),
        std::fs::read_to_string(data.join("keys/audit.vkey"))
            .unwrap()
            .trim()
    );
    let checkpoint = verifier
        .open(export["checkpoint"].as_str().unwrap())
        .unwrap();
    let entries = export["entries"].as_array().unwrap();
    // The 5 operations, the verification and the export itself.
    assert_eq!(entries.len(), 7);
    assert_eq!(checkpoint.size, 7);
    let actions: Vec<String> = entries
        .iter()
        .map(|e| {
            let bytes = e["entry"].as_str().unwrap().as_bytes();
            let entry = custos_audit::AuditEntry::parse(bytes).unwrap();
            let proof: Vec<[u8; 32]> = e["inclusion_proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    hex::decode(h.as_str().unwrap())
                        .unwrap()
                        .try_into()
                        .unwrap()
                })
                .collect();
            assert!(custos_audit::merkle::verify_inclusion(
                entry.index,
                checkpoint.size,
                &custos_audit::merkle::leaf_hash(bytes),
                &proof,
                &checkpoint.root
            ));
            assert_eq!(entry.event.actor, "system:cli");
            entry.event.action
        })
        .collect();
    assert_eq!(
        actions,
        [
            "dock.enroll",
            "dock.enroll",
            "recordings.list",
            "incidents.list",
            "dock.revoke",
            "audit.verify",
            "audit.export"
        ]
    );
    let csv = ok(custos()
        .args(["audit", "export", "--format", "csv", "--data"])
        .arg(&data));
    assert_eq!(csv.lines().count(), 1 + 8);
    assert!(csv.lines().nth(2).unwrap().starts_with("1,"));
    let note = ok(custos().args(["audit", "checkpoint", "--data"]).arg(&data));
    assert_eq!(verifier.open(&note).unwrap().size, 8);
}

/// Each kind of change made directly in SQLite (an audit log row edited,
/// edited with its leaf hash recomputed, deleted, deleted from the end,
/// inserted, reordered): a description, the Python script that makes it,
/// and the first bad entry the verification must name.
fn sqlite_tamperings() -> [(&'static str, String, &'static str); 6] {
    let leaf = "hashlib.sha256(b'\\x00' + e).digest()";
    [
    (
        "edited",
        "e = db.execute('SELECT entry FROM audit_log WHERE idx = 2').fetchone()[0]\n\
         e = e.replace(b'recordings.list', b'recordings.lost')\n\
         db.execute('UPDATE audit_log SET entry = ? WHERE idx = 2', (e,))"
            .into(),
        "first bad entry: 2",
    ),
    (
        "edited, leaf hash recomputed",
        format!(
            "e = db.execute('SELECT entry FROM audit_log WHERE idx = 3').fetchone()[0]\n\
             e = e.replace(b'incidents.list', b'incidents.lost')\n\
             db.execute('UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE idx = 3', (e, {leaf}))"
        ),
        "first bad entry: 3",
    ),
    (
        "deleted",
        "db.execute('DELETE FROM audit_log WHERE idx = 1')".into(),
        "first bad entry: 1",
    ),
    (
        "deleted from the end with its checkpoint",
        "db.execute('DELETE FROM audit_log WHERE idx = 7')".into(),
        "first bad entry: 7",
    ),
    (
        "inserted",
        format!(
            "e = db.execute('SELECT entry FROM audit_log WHERE idx = 7').fetchone()[0]\n\
             e = e.replace(b'\"index\":7', b'\"index\":8')\n\
             db.execute('INSERT INTO audit_log (idx, entry, leaf_hash) VALUES (8, ?, ?)', (e, {leaf}))"
        ),
        "first bad entry: 8",
    ),
    (
        "reordered",
        "a = db.execute('SELECT entry, leaf_hash FROM audit_log WHERE idx = 4').fetchone()\n\
         b = db.execute('SELECT entry, leaf_hash FROM audit_log WHERE idx = 5').fetchone()\n\
         db.execute('UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE idx = 4', b)\n\
         db.execute('UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE idx = 5', a)"
            .into(),
        "first bad entry: 4",
    ),
]
}

/// Each kind of change made directly in SQLite is caught and located, and
/// later entries do not launder it; the untouched original still verifies.
#[test]
fn each_change_made_in_sqlite_is_caught_and_the_first_bad_entry_named() {
    let (tmp, data) = audited_and_exported();
    let cases = sqlite_tamperings();
    for (i, (what, script, expected)) in cases.iter().enumerate() {
        let copy = tmp.path().join(format!("tampered-{i}"));
        copy_dir(&data, &copy);
        tamper(&copy, script);
        let out = run(custos().args(["audit", "verify", "--data"]).arg(&copy));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains("AUDIT LOG TAMPERED"), "{what}: {stderr}");
        assert!(stderr.contains(expected), "{what}: {stderr}");
        // Later entries do not launder the change.
        let _ = run(custos().args(["recordings", "list", "--data"]).arg(&copy));
        let out = run(custos().args(["audit", "verify", "--data"]).arg(&copy));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}, later: {stderr}");
        assert!(stderr.contains(expected), "{what}, later: {stderr}");
    }
    // The untouched original still verifies.
    ok(custos().args(["audit", "verify", "--data"]).arg(&data));
}

/// The statistics' projection of accesses is checked against the log: a
/// row made up in it (the log untouched) fails the verification too.
#[test]
fn a_row_made_up_in_the_statistics_projection_fails_the_verification() {
    let (tmp, data) = audited_and_exported();
    let copy = tmp.path().join("projection-tampered");
    copy_dir(&data, &copy);
    tamper(
        &copy,
        "db.execute(\"INSERT INTO footage_accesses (day, actor, object, purpose, case_id, outcome, first_idx) VALUES ('2026-01-01', 'user:x', 'recording:y', 'complaint', 'K-1', 'ok', 0)\")",
    );
    let out = run(custos().args(["audit", "verify", "--data"]).arg(&copy));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("STATISTICS PROJECTION DIFFERS FROM THE AUDIT LOG: 1 access row"),
        "{stderr}"
    );
    // The untouched original still verifies.
    ok(custos().args(["audit", "verify", "--data"]).arg(&data));
}

#[test]
fn users_from_the_command_line_add_reset_and_refuse_nonsense() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_keys(&data);
    let password_of = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("initial password: "))
            .map(|p| p.trim().to_owned())
            .unwrap_or_else(|| panic!("{out}"))
    };
    let added = ok(custos()
        .args([
            "users", "add", "--name", "anna", "--role", "reviewer", "--data",
        ])
        .arg(&data));
    let first = password_of(&added);
    assert!(
        added.contains("TOTP secret:") && first.len() >= 20,
        "{added}"
    );
    let reset = ok(custos()
        .args(["users", "reset-password", "--name", "anna", "--data"])
        .arg(&data));
    let second = password_of(&reset);
    assert!(second.len() >= 20 && second != first);
    let list = ok(custos()
        .args(["users", "list", "--json", "--data"])
        .arg(&data));
    let users: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(users[0]["name"], "anna");
    // The audit log names both operations.
    let export = ok(custos()
        .args(["audit", "export", "--format", "json", "--data"])
        .arg(&data));
    assert!(export.contains("user.add") && export.contains("user.password-reset"));
    // Nonsense: an unknown user, an unknown role, a badly named retention category.
    for args in [
        vec!["users", "reset-password", "--name", "nobody"],
        vec!["users", "add", "--name", "bert", "--role", "superuser"],
    ] {
        let out = run(custos().args(&args).arg("--data").arg(&data));
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = run(custos()
        .args(["serve", "--retention-category", "Training=2d", "--data"])
        .arg(&data));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retention category"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `custos audit verify | head -1`: the reader going away is not a fault.
/// The CLI ends quietly with the status a shell gives a process its reader
/// left (141), without a panic message (issue 21).
#[test]
fn a_reader_that_stops_listening_ends_the_cli_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_keys(&data);
    ok(custos()
        .args(["enroll", "dock", "--dock-id", "dock-0", "--data"])
        .arg(&data));
    for args in [
        &["audit", "verify", "--data"][..],
        &["audit", "export", "--data"],
    ] {
        let mut child = custos()
            .args(args)
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader leaves before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
    }
    // The log is whole: the verifications were recorded before printing.
    let verified: serde_json::Value = serde_json::from_str(&ok(custos()
        .args(["audit", "verify", "--json", "--data"])
        .arg(&data)))
    .unwrap();
    assert_eq!(verified["verified"], true);
}

/// Issue 21: on a full disk (injected: `CUSTOS_FULL_DISK`), the operator can
/// still look: listing recordings and incidents and verifying the audit log
/// work and say they are not on record; a change still refuses to happen
/// unaudited.
#[test]
fn read_only_inspection_works_on_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_keys(&data);
    ok(custos()
        .args(["enroll", "dock", "--dock-id", "dock-0", "--data"])
        .arg(&data));
    let entries = |data: &Path| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&ok(custos()
            .args(["audit", "verify", "--json", "--data"])
            .arg(data)))
        .unwrap();
        assert_eq!(v["verified"], true);
        v["entries"].as_u64().unwrap()
    };
    let before = entries(&data);
    let full = |args: &[&str]| {
        let out = run(custos()
            .args(args)
            .arg(&data)
            .env("CUSTOS_FULL_DISK", "audit:append"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for args in [
        &["recordings", "list", "--json", "--data"][..],
        &["incidents", "list", "--json", "--data"],
        &["audit", "verify", "--json", "--data"],
    ] {
        let (code, stdout, stderr) = full(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(
            stderr.contains(custos_server::admin::NOT_RECORDED),
            "{args:?}: {stderr}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&stdout).is_ok(),
            "{args:?}: {stdout}"
        );
    }
    let (code, _, stderr) = full(&["enroll", "dock", "--dock-id", "dock-1", "--data"]);
    assert_eq!(code, Some(2), "a change is not made unaudited: {stderr}");
    assert!(stderr.contains("storage full"), "{stderr}");
    // Nothing was added by the reads or the refused change; the next
    // verification (with room again) is the first new entry.
    assert_eq!(entries(&data), before + 1);
}
