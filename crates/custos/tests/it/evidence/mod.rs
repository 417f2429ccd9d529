//! Footage at the evidence server: played back only for a stated purpose
//! and an open case, audited before the first byte, decrypted on the fly
//! with HTTP ranges; deleted on time unless held, leaving a tombstone and a
//! blob no backup can open. Clock injected.

use crate::common::*;

use custos_keys::secrecy::SecretString;

use rand::Rng;

const DAY: i64 = 86_400_000;

async fn audit(w: &World) -> Vec<custos_audit::AuditEvent> {
    let rows = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 1_000_000)
        .await
        .unwrap();
    rows.iter()
        .map(|r| custos_audit::AuditEntry::parse(&r.bytes).unwrap().event)
        .collect()
}

/// The plaintext of a stored recording, decrypted independently of the
/// server's playback path: catalog header + blob, through the format crate.
fn plaintext(w: &World, r: &custos_catalog::Recording) -> Vec<u8> {
    let stored = std::fs::read(w.data.join("blobs").join(&r.camera().unwrap().blob_key)).unwrap();
    let mut file = r.camera().unwrap().age_header.clone();
    file.extend_from_slice(&stored[r.camera().unwrap().age_header.len()..]);
    let identity = custos_keys::EvidenceKeyStore::new(&w.data)
        .unseal(&SecretString::from(PASS.to_owned()))
        .unwrap();
    let signed = custos_format::SignedManifest::parse(
        &r.camera().unwrap().manifest,
        &r.camera().unwrap().manifest_signature,
    )
    .unwrap();
    let mut out = Vec::new();
    custos_format::verify::decrypt_recording(&signed, &file[..], &identity, &mut out).unwrap();
    out
}

/// `ffmpeg` decodes `input` (a file) to RGB24: frame `n`, or the only picture.
fn ffmpeg_rgb(input: &std::path::Path, n: Option<usize>) -> Vec<u8> {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error", "-i"]).arg(input);
    if let Some(n) = n {
        cmd.args(["-vf", &format!("select=eq(n\\,{n})")]);
    }
    let out = cmd
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg must be installed (see ./test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

/// Runs `custos verify` on a package; its exit code and what it printed.
pub(crate) fn verify_package(package: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("verify")
        .arg(package)
        .args(extra)
        .env("CUSTOS_EXPORT_PASSPHRASE", EXPORT_PASS)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

pub(crate) const EXPORT_PASS: &str = "TEST7-PASS7-PHRAS-EFORX-PORTS";

/// A case's export as the police get it, under `tmp`: `custos verify`'s
/// exit code and output (with the server's and the log's keys), and the
/// directory the package unpacks to with age and tar.
pub(crate) async fn police_export(
    w: &World,
    token: &str,
    case: &str,
    tmp: &std::path::Path,
) -> (i32, String, std::path::PathBuf) {
    let answer = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/exports"),
            Some(token),
            Some(serde_json::json!({"purpose": "investigation", "recipient": "Politie Rotterdam, PV-2026-7", "passphrase": EXPORT_PASS})),
            &[],
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let delivered = tmp.join("package.tar.age");
    std::fs::write(&delivered, &answer.body).unwrap();
    let server_pem = tmp.join("server.pem");
    std::fs::write(
        &server_pem,
        w.server.deployment.keys.receipt_public().to_pem(),
    )
    .unwrap();
    let log_key = w.server.deployment.audit.verifier().to_vkey();
    let (code, out) = verify_package(
        &delivered,
        &[
            "--server-key",
            server_pem.to_str().unwrap(),
            "--log-key",
            &log_key,
        ],
    );
    let tar_path = tmp.join("package.tar");
    std::fs::write(&tar_path, open_package(&answer.body, EXPORT_PASS)).unwrap();
    let dir = tmp.join("unpacked");
    std::fs::create_dir(&dir).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    (code, out, dir)
}

/// docs/verify-export-with-standard-tools.sh on an unpacked package.
pub(crate) fn standard_tools(dir: &std::path::Path) -> std::process::Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/verify-export-with-standard-tools.sh"
    );
    std::process::Command::new("sh")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap()
}

/// Copies a directory tree (the tests' way to tamper with a copy).
pub(crate) fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

mod export_links;
mod exports;
mod holds;
mod playback;
mod retention;
mod subject_requests;
