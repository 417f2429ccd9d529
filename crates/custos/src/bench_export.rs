//! Issue 7's export benchmark: a case's recordings exported through the
//! API (decrypted, hashed, packed, re-encrypted to a passphrase, streamed
//! over TLS to a file, fsynced) against `cp` + `sync` of the same stored
//! bytes, in the same run; the server's peak memory; then `custos verify`
//! of the package as the recipient would run it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result};
use custos_dock::{Dock, DockConfig};
use custos_keys::secrecy::SecretString;

use crate::bench_ingest::{bench_camera, peak_rss_kib, spawn_server, synthetic_recording, PASS};

const EXPORT_PASS: &str = "BENCH-EXPOR-TPASS-PHRAS-E0001";

pub fn run(size: u64, recordings: u64, dir: Option<PathBuf>) -> Result<ExitCode> {
    let recordings = recordings.max(1);
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let data = tmp.path().join("server");
    let recipient =
        custos_keys::EvidenceKeyStore::new(&data).init(&SecretString::from(PASS.to_owned()), 10)?;
    let cam = bench_camera(&tmp.path().join("cam"), "bench-cam", "boa-1", &recipient)?;
    eprintln!("writing {recordings} recordings, {size} bytes in all, and docking them…");
    for seed in 0..recordings {
        synthetic_recording(&cam, &recipient, size / recordings, seed + 11)?;
    }
    let (mut server, port) = spawn_server(&data)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let admin = rt.block_on(custos_server::admin::Admin::open(&data))?;
    rt.block_on(admin.enroll_camera("bench-cam", &cam.verifying_key()?))?;
    let token = rt.block_on(admin.enroll_dock("bench-dock"))?.token;
    crate::device::pin(
        cam.root(),
        &custos_server::keys::receipt_public_key(&data)?.to_hex(),
    )?;
    let certificate = std::fs::read_to_string(data.join("tls/cert.pem"))?;
    let dock = std::sync::Arc::new(Dock::new(DockConfig {
        server: format!("https://localhost:{port}"),
        dock_id: "bench-dock".into(),
        token,
        server_certificate_pem: certificate.clone(),
    })?);
    for (path, outcome) in crate::dock::offload_all(&dock, vec![cam.root().to_owned()], 1) {
        let report = outcome.with_context(|| format!("docking {}", path.display()))?;
        anyhow::ensure!(
            report.wiped as u64 == recordings,
            "not every recording was stored: {report:?}"
        );
    }
    let stored = rt.block_on(admin.recordings())?;
    let ciphertext: u64 = stored.iter().map(|r| r.size).sum();

    // A reviewer secures them for a case, as in real use.
    let base = format!("https://localhost:{port}");
    let agent = crate::bench_server::bench_agent(&certificate)?;
    let (bearer, case_id) = rt.block_on(crate::bench_server::reviewer_with_case(
        &data, &agent, &base, None,
    ))?;
    for r in &stored {
        let placed = agent
            .post(format!("{base}/api/v1/cases/{case_id}/holds"))
            .header("authorization", &format!("Bearer {bearer}"))
            .send_json(
                serde_json::json!({"recording_id": r.recording_id, "reason": "benchmark"}),
            )?;
        anyhow::ensure!(placed.status() == 201, "hold refused");
    }

    // Reference: cp of the same stored bytes to the same disk, made durable.
    let blobs: Vec<PathBuf> = walk(&data.join("blobs"))?;
    let reference = tmp.path().join("cp-reference");
    std::fs::create_dir(&reference)?;
    Command::new("sync").status()?;
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"d="$1"; shift; cp "$@" "$d"/ && sync"#)
        .arg("sh")
        .arg(&reference)
        .args(&blobs)
        .status()?;
    let cp_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "cp failed");
    std::fs::remove_dir_all(&reference)?;
    Command::new("sync").status()?;

    let rss_before = peak_rss_kib(server.id()).unwrap_or(0);
    let package = tmp.path().join("package.tar.age");
    let started = Instant::now();
    let mut response = agent
        .post(format!("{base}/api/v1/cases/{case_id}/exports"))
        .header("authorization", &format!("Bearer {bearer}"))
        .send_json(serde_json::json!({"purpose": "complaint", "recipient": "benchmark", "passphrase": EXPORT_PASS}))?;
    anyhow::ensure!(response.status() == 200, "export refused");
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut file = std::fs::File::create(&package)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
    }
    file.sync_all()?;
    let export_s = started.elapsed().as_secs_f64();
    let rss_peak = peak_rss_kib(server.id()).unwrap_or(0);
    let _ = server.kill();
    let _ = server.wait();
    let package_bytes = std::fs::metadata(&package)?.len();

    // The recipient's check: decrypt, hash everything, verify every signature.
    let started = Instant::now();
    let verified = Command::new(std::env::current_exe()?)
        .arg("verify")
        .arg(&package)
        .env("CUSTOS_EXPORT_PASSPHRASE", EXPORT_PASS)
        .stdout(std::process::Stdio::null())
        .status()?;
    let verify_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(verified.success(), "the package does not verify");

    let mb = ciphertext as f64 / 1e6;
    let ratio = cp_s / export_s;
    println!(
        "Export of {recordings} recordings, {:.2} GiB stored, through the API over TLS on loopback",
        ciphertext as f64 / (1u64 << 30) as f64
    );
    println!(
        "  cp + sync of the stored bytes     {cp_s:7.2} s  {:7.1} MB/s",
        mb / cp_s
    );
    println!(
        "  export (decrypt, hash, tar, age)  {export_s:7.2} s  {:7.1} MB/s  ({package_bytes} bytes)",
        mb / export_s
    );
    println!("  ratio export / cp                 {ratio:7.2}x   (goal >= 0.5x)");
    println!(
        "  server peak RSS                   {:7.1} MiB (before the export {:.1} MiB)",
        rss_peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "  custos verify of the package      {verify_s:7.2} s  {:7.1} MB/s",
        package_bytes as f64 / 1e6 / verify_s
    );
    println!(
        "{}",
        serde_json::json!({"bench": "export", "recordings": recordings, "bytes": ciphertext, "cp_s": cp_s,
            "export_s": export_s, "ratio": ratio, "server_peak_rss_kib": rss_peak,
            "server_rss_before_kib": rss_before, "verify_s": verify_s})
    );
    Ok(ExitCode::SUCCESS)
}

/// Every file under `root`.
fn walk(root: &std::path::Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}
