//! Benchmarks of the evidence server's bookkeeping: P4 (audit appends with
//! group commit, `audit verify` of a million entries) and P5 (a retention
//! sweep of 10,000 due recordings among a million).

use custos_catalog::stores::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::{Catalog, Recording};
use custos_format::UtcMillis;
use custos_server::audit::{self, AuditLog};

pub(crate) fn workdir(
    dir: Option<std::path::PathBuf>,
) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let tmp = match dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let path = tmp.path().to_owned();
    std::fs::create_dir_all(path.join("keys"))?;
    Ok((tmp, path))
}

fn event(i: u64) -> AuditEvent {
    AuditEvent::new(
        UtcMillis::now(),
        format!("user:reviewer{}", i % 7),
        "recording.play",
        Outcome::Ok,
    )
    .role("reviewer")
    .object(format!("recording:0190f0c4-0000-7000-8000-{i:012}"))
    .purpose("complaint", "case-2026-0042")
    .client("10.0.0.7")
    .detail("bytes 0-1048575 of 734003200")
}

/// P4.
pub fn audit_appends(
    entries: u64,
    writers: usize,
    verify: u64,
    dir: Option<std::path::PathBuf>,
) -> Result<std::process::ExitCode> {
    let (_tmp, data) = workdir(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let catalog: Arc<dyn Catalog> = Arc::new(custos_catalog_sqlite::open(&data).await?);
        let signer = audit::load_or_create_signer(&data)?;
        let verifier = signer.verifier();
        let log = AuditLog::start(catalog.clone(), signer);
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (log, next) = (log.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= entries {
                        return anyhow::Ok(());
                    }
                    log.record(event(i)).await?;
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        let elapsed = started.elapsed();
        let batches = catalog.audit_checkpoints().await?.len();
        println!(
            "P4 audit appends: {entries} durable entries from {writers} concurrent writers in {:.2} s = {:.0} entries/s ({batches} group commits, {:.0} entries each; goal ≥ 10,000/s)",
            elapsed.as_secs_f64(),
            entries as f64 / elapsed.as_secs_f64(),
            entries as f64 / batches as f64
        );
        // Grow the log to `verify` entries in large batches, then verify it all.
        let signer = audit::load_or_create_signer(&data)?;
        let mut have = entries;
        while have < verify {
            let n = (verify - have).min(4096);
            audit::append(&*catalog, &signer, (have..have + n).map(event).collect()).await?;
            have += n;
        }
        let started = Instant::now();
        let verdict = audit::verify_stored(&*catalog, &verifier).await?;
        let elapsed = started.elapsed();
        let v = verdict.map_err(|t| anyhow::anyhow!("benchmark log does not verify: {t}"))?;
        println!(
            "P4 audit verify: {} entries, {} checkpoints in {:.2} s (goal ≤ 5 s)",
            v.size,
            v.checkpoints,
            elapsed.as_secs_f64()
        );
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// P5.
pub fn sweep(
    rows: u64,
    due: u64,
    dir: Option<std::path::PathBuf>,
) -> Result<std::process::ExitCode> {
    let (_tmp, data) = workdir(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let sqlite = custos_catalog_sqlite::open(&data).await?;
        let now = UtcMillis::now();
        let blobs = custos_blobs::BlobStore::local(&data.join("blobs"))?;
        for c in 0..200 {
            sqlite
                .add_device(&custos_catalog::Device {
                    device_id: format!("cam-{c}"),
                    public_key: "00".repeat(32),
                    enrolled_at: now,
                    revoked_at: None,
                    retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                    assigned_officer: None,
                    team: None,
                    kind: custos_catalog::DeviceKind::Custos,
                })
                .await?;
        }
        let started = Instant::now();
        let mut batch = Vec::with_capacity(50_000);
        for i in 0..rows {
            // The first `due` are past their time; the rest are not.
            let delete_after = if i < due { now.plus_millis(-1000 - i as i64) } else { now.plus_millis(86_400_000 + i as i64) };
            let blob_key = format!("cam-{}/{:08}.age", i % 200, i);
            if i < due {
                let path = data.join("blobs").join(&blob_key);
                std::fs::create_dir_all(path.parent().expect("in a camera dir"))?;
                std::fs::write(&path, [0u8; 1024])?;
            }
            batch.push(Recording {
                recording_id: uuid::Uuid::now_v7(),
                device_id: format!("cam-{}", i % 200),
                sequence: i / 200 + 1,
                officer_id: Some("boa-1".into()),
                started_at: now.plus_millis(-100_000),
                ended_at: now.plus_millis(-40_000),
                truncated: false,
                stored_at: now,
                delete_after,
                retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                provenance: custos_catalog::Provenance::Camera(custos_catalog::CameraRecording {
                    ciphertext_sha256: [1; 32],
                    ciphertext_length: 1024,
                    manifest: b"{}".to_vec(),
                    manifest_signature: vec![0; 64],
                    manifest_sha256: [2; 32],
                    blob_key,
                    receipt: b"{}".to_vec(),
                    receipt_signature: vec![0; 64],
                    age_header: vec![7; 200],
                }),
            });
            if batch.len() == 50_000 {
                sqlite.import_recordings(&batch).await?;
                batch.clear();
            }
        }
        sqlite.import_recordings(&batch).await?;
        eprintln!("catalog of {rows} recordings built in {:.1} s", started.elapsed().as_secs_f64());
        let plan = custos_catalog_sqlite::due_query_plan(&sqlite).await?;
        let catalog: Arc<dyn Catalog> = Arc::new(sqlite);
        let signer = Arc::new(audit::load_or_create_signer(&data)?);
        let sink = custos_server::retention::AuditSink::Direct { catalog: catalog.clone(), signer };
        let started = Instant::now();
        let report = custos_server::retention::sweep(&*catalog, &blobs, &sink, now).await?;
        let elapsed = started.elapsed();
        println!(
            "P5 sweep: {} of {rows} recordings deleted (keys, blobs, tombstones, audit entries) in {:.2} s (goal ≤ 30 s)",
            report.deleted,
            elapsed.as_secs_f64()
        );
        println!("P5 query plan: {}", plan.join(" / "));
        anyhow::ensure!(report.deleted == due, "expected {due} deletions");
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// P3: decrypting range playback over loopback (TLS, signed in, purpose and
/// case, audited per request) vs nginx serving the same plaintext over TLS,
/// both driven by wrk with random 1 MiB ranges; then the latency of single
/// 64 KiB reads at random offsets (a player seeking).
/// nginx/Custos run pairs in P3.
const PLAYBACK_PAIRS: usize = 3;

pub fn playback(
    size: u64,
    range: u64,
    seconds: u64,
    seeks: usize,
    dir: Option<std::path::PathBuf>,
    storage: crate::bench_storage::BenchStorage,
) -> Result<std::process::ExitCode> {
    use std::io::Write;
    use std::process::Command;
    anyhow::ensure!(
        Command::new("wrk").arg("--version").output().is_ok()
            && std::path::Path::new("/usr/sbin/nginx").exists(),
        "needs Debian's nginx and wrk: apt-get install nginx-light wrk"
    );
    let (_tmp, data) = workdir(dir)?;
    let pass = custos_keys::secrecy::SecretString::from("bench passphrase".to_owned());
    custos_keys::EvidenceKeyStore::new(&data).init(&pass, 10)?;
    let recipient = custos_keys::EvidenceKeyStore::new(&data).recipient()?;

    // The same bytes for both: a plaintext file for nginx, its age encryption for Custos.
    let started = Instant::now();
    let plain_path = data.join("plain.mp4");
    let blob_key = "cam-1/00000001-bench.age";
    let blob_path = data.join("cipher.age");
    {
        let mut plain =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&plain_path)?);
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?;
        let mut cipher = encryptor.wrap_output(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&blob_path)?,
        ))?;
        let mut block = vec![0u8; 1 << 20];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut left = size;
        while left > 0 {
            for chunk in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
            }
            let n = left.min(block.len() as u64) as usize;
            plain.write_all(&block[..n])?;
            cipher.write_all(&block[..n])?;
            left -= n as u64;
        }
        plain.flush()?;
        cipher.finish()?.flush()?;
    }
    let header = custos_server::ingest::read_age_header(&blob_path)?;
    {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::OpenOptions::new().write(true).open(&blob_path)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&vec![0u8; header.len()])?;
    }
    let ciphertext_length = std::fs::metadata(&blob_path)?.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let storage = runtime.block_on(storage.prepare(&data, "playback"))?;
    let backend = storage.describe();
    runtime.block_on(async {
        let blobs = storage.config.open_blobs(&data)?;
        anyhow::Ok(blobs.adopt_file(blob_key, &blob_path).await?)
    })?;
    // Written pages flushed first: writeback would otherwise steal from whichever run is first.
    Command::new("sync").status()?;
    eprintln!(
        "{} of plaintext and its age encryption written and stored in {backend} in {:.1} s",
        human(size),
        started.elapsed().as_secs_f64()
    );

    let recording_id = uuid::Uuid::now_v7();
    let now = UtcMillis::now();
    let server = runtime.block_on(async {
        let catalog = storage.config.open_catalog(&data).await?;
        catalog
            .add_device(&custos_catalog::Device {
                device_id: "cam-1".into(),
                public_key: "00".repeat(32),
                enrolled_at: now,
                revoked_at: None,
                retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                assigned_officer: None,
                team: None,
                kind: custos_catalog::DeviceKind::Custos,
            })
            .await?;
        catalog
            .commit_recording(
                &Recording {
                    recording_id,
                    device_id: "cam-1".into(),
                    sequence: 1,
                    officer_id: Some("boa-1".into()),
                    started_at: now,
                    ended_at: now,
                    truncated: false,
                    stored_at: now,
                    delete_after: now.plus_millis(86_400_000),
                    retention_category: custos_catalog::STANDARD_CATEGORY.into(),
                    provenance: custos_catalog::Provenance::Camera(
                        custos_catalog::CameraRecording {
                            ciphertext_sha256: [0; 32],
                            ciphertext_length,
                            manifest: b"{}".to_vec(),
                            manifest_signature: vec![0; 64],
                            manifest_sha256: [0; 32],
                            blob_key: blob_key.into(),
                            receipt: b"{}".to_vec(),
                            receipt_signature: vec![0; 64],
                            age_header: header.clone(),
                        },
                    ),
                },
                None,
            )
            .await?;
        drop(catalog);
        let config = custos_server::ServerConfig {
            axis: None,
            limits: Default::default(),
            storage: storage.config.clone(),
            data: data.clone(),
            listen: "127.0.0.1:0".parse()?,
            tls: None,
            server_id: "bench".into(),
            retention: custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
            policy: Default::default(),
        };
        custos_server::start(config, &pass, custos_server::system_clock()).await
    })?;
    let port = server.addr.port();
    // A reviewer signs in and opens a case, as in real use.
    let base = format!("https://localhost:{port}");
    let agent = bench_agent(&server.certificate_pem)?;
    let (token, case_id) = runtime.block_on(reviewer_with_case(
        &data,
        &agent,
        &base,
        Some(recording_id.to_string()),
    ))?;
    let video = format!("/api/v1/recordings/{recording_id}/video?purpose=complaint&case={case_id}");

    // nginx on the same certificate, serving the plaintext.
    let nginx_port = port + 1;
    let nginx_dir = data.join("nginx");
    std::fs::create_dir_all(nginx_dir.join("logs"))?;
    std::fs::write(
        nginx_dir.join("nginx.conf"),
        format!(
            "daemon off; worker_processes 2; error_log {dir}/logs/error.log; pid {dir}/nginx.pid;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on;\n\
               client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir}; uwsgi_temp_path {dir}; scgi_temp_path {dir};\n\
               server {{ listen 127.0.0.1:{nginx_port} ssl; ssl_certificate {data}/tls/cert.pem; ssl_certificate_key {data}/tls/key.pem;\n\
                 location = /video.mp4 {{ alias {plain}; }} }} }}\n",
            dir = nginx_dir.display(),
            data = data.display(),
            plain = plain_path.display(),
        ),
    )?;
    let mut nginx = Command::new("/usr/sbin/nginx")
        .args([
            "-p",
            &nginx_dir.to_string_lossy(),
            "-c",
            &nginx_dir.join("nginx.conf").to_string_lossy(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_millis(500));

    let script = data.join("ranges.lua");
    std::fs::write(
        &script,
        format!(
            "math.randomseed(42)\nrequest = function()\n  local a = math.random(0, {max})\n  \
             wrk.headers[\"Range\"] = \"bytes=\" .. a .. \"-\" .. (a + {last})\n  return wrk.format(nil)\nend\n",
            max = size.saturating_sub(range),
            last = range - 1
        ),
    )?;
    let wrk = |url: &str, auth: Option<&str>| -> Result<f64> {
        let mut cmd = Command::new("wrk");
        cmd.args(["-t2", "-c8", &format!("-d{seconds}s"), "--latency", "-s"])
            .arg(&script);
        if let Some(a) = auth {
            cmd.args(["-H", &format!("Authorization: Bearer {a}")]);
        }
        let out = cmd.arg(url).output()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if std::env::var_os("CUSTOS_BENCH_VERBOSE").is_some() {
            eprintln!("{text}");
        }
        let line = text
            .lines()
            .find(|l| l.starts_with("Transfer/sec:"))
            .with_context_str(&text)?;
        let value = line.trim_start_matches("Transfer/sec:").trim();
        let (number, unit) = value.split_at(value.len() - 2);
        let factor = match unit {
            "GB" => 1e9 * 1.073_741_824,
            "MB" => 1e6 * 1.048_576,
            "KB" => 1e3 * 1.024,
            _ => 1.0,
        };
        if text.contains("Non-2xx") {
            anyhow::bail!("wrk saw errors:\n{text}");
        }
        Ok(number.trim().parse::<f64>()? * factor)
    };
    // Alternating runs: the reference moves with the page cache and with
    // whatever else the host runs, by up to 40 % between two runs here. Each
    // Custos run is compared with the nginx run just before it (the pair's
    // ratio), and the best of each is kept too.
    let (mut nginx_rates, mut custos_rates, mut cores) = (Vec::new(), Vec::new(), 0.0f64);
    let mut failure = None;
    for _ in 0..PLAYBACK_PAIRS {
        match wrk(&format!("https://localhost:{nginx_port}/video.mp4"), None) {
            Ok(r) => nginx_rates.push(r),
            Err(e) => failure = Some(e),
        }
        let cpu_before = own_cpu_seconds();
        let wall = Instant::now();
        match wrk(&format!("{base}{video}"), Some(&token)) {
            Ok(r) => custos_rates.push(r),
            Err(e) => failure = Some(e),
        }
        cores = cores.max((own_cpu_seconds() - cpu_before) / wall.elapsed().as_secs_f64());
    }
    let _ = nginx.kill();
    let _ = nginx.wait();
    if let Some(e) = failure {
        return Err(e);
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (nginx_rate, custos_rate) = (best(&nginx_rates), best(&custos_rates));
    println!(
        "P3 runs (MB/s): nginx {:?}, Custos {:?}",
        nginx_rates
            .iter()
            .map(|r| (r / 1e6).round())
            .collect::<Vec<_>>(),
        custos_rates
            .iter()
            .map(|r| (r / 1e6).round())
            .collect::<Vec<_>>()
    );
    let mut pair_ratios: Vec<f64> = custos_rates
        .iter()
        .zip(&nginx_rates)
        .map(|(c, n)| c / n)
        .collect();
    pair_ratios.sort_by(f64::total_cmp);
    println!(
        "P3 range playback, random {} KiB ranges of {}, wrk -t2 -c8 {seconds}s, best of {PLAYBACK_PAIRS}: nginx (plaintext, local file) {:.0} MB/s, Custos on {backend} (decrypting, audited) {:.0} MB/s = {:.2}× (goal ≥ 0.7×)",
        range / 1024,
        human(size),
        nginx_rate / 1e6,
        custos_rate / 1e6,
        custos_rate / nginx_rate
    );
    println!(
        "P3 pairs (Custos / the nginx run before it): {}; median {:.2}× (goal ≥ 0.7×)",
        pair_ratios
            .iter()
            .map(|r| format!("{r:.2}×"))
            .collect::<Vec<_>>()
            .join(", "),
        pair_ratios[pair_ratios.len() / 2]
    );
    println!("P3 server CPU during its wrk run: {cores:.2} cores of 2 (wrk shares them)");
    if storage.config.blobs.is_some() {
        // The object store's own ceiling for this pattern: the same random
        // ranges, 8 at a time, fetched straight from it (no TLS, no
        // decryption, no audit), so Custos's share is visible.
        let blobs = storage.config.open_blobs(&data)?;
        let ciphertext = ciphertext_length;
        let direct = runtime.block_on(async move {
            let deadline = Instant::now() + std::time::Duration::from_secs(seconds);
            let mut tasks = Vec::new();
            for t in 0..8u64 {
                let blobs = blobs.clone();
                tasks.push(tokio::spawn(async move {
                    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                    let mut bytes = 0u64;
                    while Instant::now() < deadline {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let a = state % ciphertext.saturating_sub(range).max(1);
                        bytes += blobs.get_range(blob_key, a..a + range).await?.len() as u64;
                    }
                    anyhow::Ok(bytes)
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await??;
            }
            anyhow::Ok(total as f64 / seconds as f64)
        })?;
        println!(
            "P3 the object store alone, same ranges 8 at a time: {:.0} MB/s; Custos = {:.2}× of it",
            direct / 1e6,
            custos_rate / direct
        );
    }

    // Seeks: one 64 KiB read at a random offset, one after another.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut latencies = Vec::with_capacity(seeks);
    for _ in 0..seeks {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let a = state % size.saturating_sub(65_536).max(1);
        let t = Instant::now();
        let mut response = agent
            .get(format!("{base}{video}"))
            .header("authorization", &format!("Bearer {token}"))
            .header("range", &format!("bytes={a}-{}", a + 65_535))
            .call()?;
        let body = response.body_mut().read_to_vec()?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            response.status() == 206 && body.len() == 65_536,
            "seek failed"
        );
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "P3 seeks: {seeks} reads of 64 KiB at random offsets of {}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 ≤ 10 ms)",
        human(size),
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
    runtime.block_on(server.shutdown());
    runtime.block_on(storage.remove(&data))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// A ureq agent that trusts the bench server's certificate.
pub(crate) fn bench_agent(certificate_pem: &str) -> Result<ureq::Agent> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = ureq::tls::Certificate::from_pem(certificate_pem.as_bytes())?.to_owned();
    Ok(ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into())
}

/// A person of `role` added and signed in with TOTP (the initial password
/// replaced, as the server insists): their bearer token.
pub(crate) async fn signed_in(
    data: &std::path::Path,
    agent: &ureq::Agent,
    base: &str,
    name: &str,
    role: custos_access::Role,
) -> Result<String> {
    let enrollment = custos_server::admin::Admin::open(data)
        .await?
        .add_user(name, role, None)
        .await?;
    let (agent, base, name) = (agent.clone(), base.to_owned(), name.to_owned());
    tokio::task::spawn_blocking(move || {
        let code = custos_server::auth::totp_code(&enrollment.totp_secret, UtcMillis::now())?;
        let session: serde_json::Value = agent
            .post(format!("{base}/api/v1/session"))
            .send_json(serde_json::json!({"name": name, "password": enrollment.password.as_str(), "code": code}))?
            .body_mut()
            .read_json()?;
        let token = session["token"]
            .as_str()
            .context_str("sign-in failed")?
            .to_owned();
        let renewed = format!("bench {}", enrollment.password.as_str());
        let changed = agent
            .post(format!("{base}/api/v1/session/password"))
            .header("authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({"current_password": enrollment.password.as_str(), "new_password": renewed}))?;
        anyhow::ensure!(changed.status() == 200, "password change refused");
        Ok(token)
    })
    .await?
}

/// A reviewer signed in and a case of theirs opened: (bearer token, case id).
/// A reviewer's session and a case; `link`ed to the case for viewing (as a
/// reviewer must before playing it for the case), if given.
pub(crate) async fn reviewer_with_case(
    data: &std::path::Path,
    agent: &ureq::Agent,
    base: &str,
    link: Option<String>,
) -> Result<(String, String)> {
    let token = signed_in(
        data,
        agent,
        base,
        "bench-reviewer",
        custos_access::Role::Reviewer,
    )
    .await?;
    let (agent, base) = (agent.clone(), base.to_owned());
    tokio::task::spawn_blocking(move || {
        let case: serde_json::Value = agent
            .post(format!("{base}/api/v1/cases"))
            .header("authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({"kind": "complaint", "label": "benchmark"}))?
            .body_mut()
            .read_json()?;
        let case_id = case["case_id"].as_str().context_str("no case")?.to_owned();
        if let Some(recording_id) = link {
            let linked = agent
                .post(format!("{base}/api/v1/cases/{case_id}/recordings"))
                .header("authorization", &format!("Bearer {token}"))
                .send_json(
                    serde_json::json!({"recording_id": recording_id, "reason": "benchmark"}),
                )?;
            anyhow::ensure!(
                linked.status() == 201,
                "linking refused: {}",
                linked.status()
            );
        }
        Ok((token, case_id))
    })
    .await?
}

/// User + system CPU seconds this process has used (it hosts the server).
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of proc(5), counted after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn human(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

trait ContextStr<T> {
    fn context_str(self, what: &str) -> Result<T>;
    fn with_context_str(self, what: &str) -> Result<T>;
}

impl<T> ContextStr<T> for Option<T> {
    fn context_str(self, what: &str) -> Result<T> {
        self.ok_or_else(|| anyhow::anyhow!("{what}"))
    }
    fn with_context_str(self, what: &str) -> Result<T> {
        self.ok_or_else(|| anyhow::anyhow!("unexpected output:\n{what}"))
    }
}
