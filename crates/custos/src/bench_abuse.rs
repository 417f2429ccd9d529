//! Performance under attack (issue 19): `custos serve` in a child process
//! while 200 clients from eight other addresses flood sign-in (names that
//! do not exist) and send malformed dock and API requests, and a reviewer
//! from 127.0.0.1 plays ranges and signs in. The goals: the server's RSS
//! at most 512 MiB, each sign-in of a reviewer within 2 s, range playback
//! at least half its idle throughput, no legitimate request failed, and
//! the flood answered 4xx/429, never 5xx.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use custos_format::UtcMillis;
use rustls::pki_types::pem::PemObject;

use crate::bench_ingest::{peak_rss_kib, spawn_server, synthetic_recording, PASS};

/// Reviewers who each sign in once during the flood (a TOTP code opens one
/// session, so each measured sign-in is another person's).
const REVIEWERS: usize = 12;
const SOURCES: u8 = 8;

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// One attacker's request: a connection from `from`, the bytes, the status
/// line read back (`None`: closed without an answer).
fn attack(
    server: SocketAddr,
    from: IpAddr,
    tls: &Arc<rustls::ClientConfig>,
    request: &[u8],
) -> std::io::Result<Option<u16>> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&server.into(), Duration::from_secs(10))?;
    let tcp: std::net::TcpStream = socket.into();
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let connection = rustls::ClientConnection::new(
        tls.clone(),
        rustls::pki_types::ServerName::try_from("localhost").expect("a name"),
    )
    .map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    // The handshake first: a connection closed before it is the rate or
    // the cap (an error here); one closed after the request is sent without
    // an answer is `Ok(None)`.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    stream.write_all(request)?;
    stream.flush()?;
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
    }
    let mut rest = [0u8; 4096];
    while matches!(stream.read(&mut rest), Ok(n) if n > 0) {}
    Ok(std::str::from_utf8(&head[..got])
        .ok()
        .and_then(|s| s.strip_prefix("HTTP/1.1 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok()))
}

/// The flood's requests, in turn: sign-in for a name that does not exist
/// (half of them: the memory sink the demo fell to), a 300-byte dock id,
/// an over-long id in a path, a C1 control character in a query, a dock
/// token that is wrong.
fn flood_request(n: u64) -> Vec<u8> {
    let (method, target, headers, body): (&str, String, String, String) = match n % 8 {
        0..=3 => (
            "POST",
            "/api/v1/session".into(),
            "Content-Type: application/json\r\n".into(),
            format!(r#"{{"name":"nobody-{n}","password":"guess-{n}","code":"123456"}}"#),
        ),
        4 => (
            "POST",
            "/api/v1/uploads".into(),
            format!("Authorization: Bearer {}:x\r\n", "D".repeat(300)),
            "{}".into(),
        ),
        5 => (
            "GET",
            format!("/api/v1/recordings/{}", "a".repeat(201)),
            String::new(),
            String::new(),
        ),
        6 => (
            "GET",
            "/api/v1/recordings?officer=%C2%85".into(),
            String::new(),
            String::new(),
        ),
        _ => (
            "GET",
            "/api/v1/dock".into(),
            format!("Authorization: Bearer dock-{}:wrong\r\n", n % 1000),
            String::new(),
        ),
    };
    format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Default)]
struct Tally {
    client_errors: AtomicU64,
    too_many: AtomicU64,
    server_errors: AtomicU64,
    other: AtomicU64,
    /// Closed before TLS was done: the source's connection rate or cap.
    refused: AtomicU64,
    /// TLS done, the request sent, and the connection closed with no answer.
    unanswered: AtomicU64,
}

/// A reviewer's range requests for `length`-byte recording until `stop`;
/// returns (bytes, seconds, failures).
fn play(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    length: u64,
    stop: &AtomicBool,
    deadline: Instant,
) -> (u64, f64, u64) {
    const RANGE: u64 = 1 << 20;
    let started = Instant::now();
    let (mut bytes, mut failures) = (0u64, 0u64);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let start = state % length.saturating_sub(RANGE).max(1);
        let answer = agent
            .get(url)
            .header("authorization", &format!("Bearer {token}"))
            .header("range", &format!("bytes={start}-{}", start + RANGE - 1))
            .call();
        match answer {
            Ok(mut r) if r.status() == 206 => {
                bytes += r
                    .body_mut()
                    .with_config()
                    .limit(2 * RANGE)
                    .read_to_vec()
                    .map_or(0, |b| b.len() as u64)
            }
            _ => failures += 1,
        }
    }
    (bytes, started.elapsed().as_secs_f64(), failures)
}

fn sign_in(
    agent: &ureq::Agent,
    base: &str,
    name: &str,
    password: &str,
    secret: &str,
) -> Result<(u16, Duration, String)> {
    let code = custos_server::auth::totp_code(secret, UtcMillis::now())?;
    let started = Instant::now();
    let mut answer = agent
        .post(format!("{base}/api/v1/session"))
        .send_json(serde_json::json!({"name": name, "password": password, "code": code}))?;
    let took = started.elapsed();
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.body_mut().read_json().unwrap_or_default();
    Ok((
        status,
        took,
        body["token"].as_str().unwrap_or_default().to_owned(),
    ))
}

pub fn abuse(
    clients: usize,
    seconds: u64,
    idle_seconds: u64,
    size: u64,
    dir: Option<std::path::PathBuf>,
    same_priority: bool,
) -> Result<std::process::ExitCode> {
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let data = tmp.path().join("server");
    let recipient = custos_keys::EvidenceKeyStore::new(&data).init(
        &custos_keys::secrecy::SecretString::from(PASS.to_owned()),
        10,
    )?;
    let (mut child, port) = spawn_server(&data)?;
    let pid = child.id();
    let result = (|| -> Result<bool> {
        let base = format!("https://localhost:{port}");
        let cert = std::fs::read_to_string(data.join("tls/cert.pem"))?;
        let agent = crate::bench_server::bench_agent(&cert)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;

        // One real recording, offloaded by a dock; reviewers whose passwords
        // are their own (no first sign-in spent on replacing them).
        eprintln!("preparing a recording of {size} bytes and {REVIEWERS} reviewers…");
        let admin = rt.block_on(custos_server::admin::Admin::open(&data))?;
        let cam = crate::bench_ingest::bench_camera(
            &tmp.path().join("cam"),
            "cam-abuse",
            "boa-1",
            &recipient,
        )?;
        rt.block_on(admin.enroll_camera("cam-abuse", &cam.verifying_key()?))?;
        crate::device::pin(
            cam.root(),
            &custos_server::keys::receipt_public_key(&data)?.to_hex(),
        )?;
        synthetic_recording(&cam, &recipient, size, 1)?;
        let dock_token = rt.block_on(admin.enroll_dock("abuse-dock"))?.token;
        let dock = custos_dock::Dock::new(custos_dock::DockConfig {
            server: base.clone(),
            dock_id: "abuse-dock".into(),
            token: dock_token,
            server_certificate_pem: cert.clone(),
        })?;
        let report = dock.offload(&cam, &|_| {})?;
        anyhow::ensure!(report.stored == 1, "the recording was not stored");
        let mut reviewers = Vec::new();
        for n in 0..REVIEWERS {
            let name = format!("reviewer-{n}");
            let e = rt.block_on(admin.add_user(&name, custos_access::Role::Reviewer, None))?;
            let password = format!("abuse bench {n} {}", e.password.as_str());
            let hash = custos_server::auth::hash_password(&password)?;
            rt.block_on(
                admin
                    .catalog()
                    .set_password(&name, &hash, false, None, UtcMillis::now()),
            )?;
            reviewers.push((name, password, e.totp_secret.to_string()));
        }
        let recording = rt
            .block_on(admin.catalog().recordings())?
            .into_iter()
            .next()
            .context("no recording")?;
        let length = custos_server::playback::plaintext_length(
            recording.camera().unwrap().ciphertext_length,
            recording.camera().unwrap().age_header.len() as u64,
        )
        .context("length")?;
        let (first, password, secret) = &reviewers[0];
        let (status, _, token) = sign_in(&agent, &base, first, password, secret)?;
        anyhow::ensure!(status == 200, "the reviewer could not sign in ({status})");
        let case: serde_json::Value = agent
            .post(format!("{base}/api/v1/cases"))
            .header("authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({"kind": "complaint", "label": "abuse bench"}))?
            .body_mut()
            .read_json()?;
        let case = case["case_id"].as_str().context("no case")?.to_owned();
        let linked = agent
            .post(format!("{base}/api/v1/cases/{case}/recordings"))
            .header("authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({"recording_id": recording.recording_id, "reason": "abuse bench"}))?;
        anyhow::ensure!(
            linked.status() == 201,
            "linking refused: {}",
            linked.status()
        );
        let url = format!(
            "{base}/api/v1/recordings/{}/video?purpose=complaint&case={case}",
            recording.recording_id
        );

        // Idle: the reviewer alone.
        let never = AtomicBool::new(false);
        let rss_idle = rss_kib(pid).unwrap_or(0);
        let (bytes, secs, failures) = play(
            &agent,
            &url,
            &token,
            length,
            &never,
            Instant::now() + Duration::from_secs(idle_seconds),
        );
        let idle_rate = bytes as f64 / secs;
        eprintln!(
            "idle: {:.0} MB/s range playback ({failures} failed), server RSS {} MiB",
            idle_rate / 1e6,
            rss_idle / 1024
        );

        // The flood, from 127.0.0.2 … 127.0.0.9, in a process of its own.
        let cert_path = tmp.path().join("cert.pem");
        std::fs::write(&cert_path, &cert)?;
        // SCHED_IDLE (`chrt --idle 0`): the flood runs on CPU time nothing
        // else here wants, as if from other hosts. Nice 19 is not that: it
        // weighs each thread, and 200 niced threads weigh three normal ones.
        let mut command = std::process::Command::new(if same_priority { "env" } else { "chrt" });
        if !same_priority {
            command.args(["--idle", "0"]);
        }
        let flooder = command
            .arg(std::env::current_exe()?)
            .args(["bench", "abuse", "--clients", &clients.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .args(["--flood-port", &port.to_string(), "--flood-cert"])
            .arg(&cert_path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("starting the flood (needs `chrt`, util-linux)")?;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let stop = Arc::new(AtomicBool::new(false));
        // The server's memory, sampled.
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(pid).unwrap_or(0), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        // Reviewers signing in, one every few seconds, each for the first time.
        let sign_ins = Arc::new(Mutex::new(Vec::new()));
        let signer = {
            let (agent, base, reviewers, sign_ins) = (
                agent.clone(),
                base.clone(),
                reviewers.clone(),
                sign_ins.clone(),
            );
            let every = Duration::from_secs((seconds / REVIEWERS as u64).max(1));
            std::thread::spawn(move || {
                for (name, password, secret) in reviewers.iter().skip(1) {
                    std::thread::sleep(every);
                    if Instant::now() >= deadline {
                        break;
                    }
                    let outcome = sign_in(&agent, &base, name, password, secret)
                        .map(|(s, took, _)| (s, took))
                        .unwrap_or((0, Duration::MAX));
                    sign_ins.lock().unwrap().push(outcome);
                }
            })
        };
        std::thread::sleep(Duration::from_secs(2));
        let (bytes, secs, play_failures) = play(&agent, &url, &token, length, &never, deadline);
        let attacked_rate = bytes as f64 / secs;
        signer.join().ok();
        let flooded = flooder.wait_with_output()?;
        stop.store(true, Ordering::Relaxed);
        sampler.join().ok();
        let tally: [u64; 7] =
            serde_json::from_slice(&flooded.stdout).context("the flood's tally")?;
        let [total, client_errors, too_many, server_errors, other, refused, unanswered] = tally;
        std::thread::sleep(Duration::from_secs(3));
        let rss_after = rss_kib(pid).unwrap_or(0);
        let peak_kib = peak
            .load(Ordering::Relaxed)
            .max(peak_rss_kib(pid).unwrap_or(0));
        let sign_ins = sign_ins.lock().unwrap().clone();
        let slowest = sign_ins.iter().map(|(_, t)| *t).max().unwrap_or_default();
        let refused_sign_ins = sign_ins.iter().filter(|(s, _)| *s != 200).count();
        let ratio = attacked_rate / idle_rate;
        println!(
            "custos bench abuse: {clients} clients from {SOURCES} addresses for {seconds} s ({}), a {size}-byte recording",
            if same_priority { "same CPU priority as the server" } else { "SCHED_IDLE" }
        );
        println!(
            "  flood: {total} requests ({:.0}/s): {client_errors} 4xx, {too_many} 429, {server_errors} 5xx, {other} other, {unanswered} closed without an answer, {refused} connections closed before TLS (rate or cap)",
            total as f64 / seconds as f64,
        );
        println!(
            "  server RSS: {} MiB idle, peak {} MiB (goal ≤ 512), {} MiB 3 s after",
            rss_idle / 1024,
            peak_kib / 1024,
            rss_after / 1024
        );
        println!(
            "  reviewer sign-ins: {} of {}, slowest {} ms (goal ≤ 2000)",
            sign_ins.len() - refused_sign_ins,
            sign_ins.len(),
            slowest.as_millis()
        );
        println!(
            "  range playback (1 MiB ranges): idle {:.0} MB/s, under attack {:.0} MB/s = {:.2}x (goal ≥ 0.5), {play_failures} failed",
            idle_rate / 1e6,
            attacked_rate / 1e6,
            ratio
        );
        let met = peak_kib <= 512 * 1024
            && slowest <= Duration::from_secs(2)
            && refused_sign_ins == 0
            && !sign_ins.is_empty()
            && ratio >= 0.5
            && play_failures == 0
            && server_errors == 0
            && other == 0
            && unanswered == 0;
        println!("  goals {}", if met { "met" } else { "NOT met" });
        Ok(met)
    })();
    let _ = child.kill();
    let _ = child.wait();
    match result? {
        true => Ok(std::process::ExitCode::SUCCESS),
        false => Ok(std::process::ExitCode::FAILURE),
    }
}

/// The flood on its own (a child of [`abuse`]): `clients` threads, each from
/// one of eight loopback addresses, until `seconds` are over; prints the
/// tally as JSON `[sent, 4xx, 429, 5xx, other, closed before TLS, closed
/// without an answer]`.
pub fn flood(
    clients: usize,
    seconds: u64,
    port: u16,
    cert: &std::path::Path,
) -> Result<std::process::ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = std::fs::read_to_string(cert)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_slice(
        cert.as_bytes(),
    )?)?;
    let tls = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let server: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let tally = Arc::new(Tally::default());
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut flood = Vec::new();
    for c in 0..clients {
        let (tally, sent, tls) = (tally.clone(), sent.clone(), tls.clone());
        let from = IpAddr::from([127, 0, 0, 2 + (c % SOURCES as usize) as u8]);
        flood.push(std::thread::spawn(move || {
            while Instant::now() < deadline {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                let counter = match attack(server, from, &tls, &flood_request(n)) {
                    Ok(Some(429)) => &tally.too_many,
                    Ok(Some(s)) if (400..500).contains(&s) => &tally.client_errors,
                    Ok(Some(s)) if s >= 500 => &tally.server_errors,
                    Ok(Some(_)) => &tally.other,
                    Ok(None) => &tally.unanswered,
                    Err(_) => {
                        // Closed before TLS (the source's connection rate or
                        // cap): a remote attacker retries at its own cost;
                        // here its CPU is the server's, so it pauses.
                        std::thread::sleep(Duration::from_millis(10));
                        &tally.refused
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in flood {
        t.join().ok();
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!([
            load(&sent),
            load(&tally.client_errors),
            load(&tally.too_many),
            load(&tally.server_errors),
            load(&tally.other),
            load(&tally.refused),
            load(&tally.unanswered)
        ])
    );
    Ok(std::process::ExitCode::SUCCESS)
}
