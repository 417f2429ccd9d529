//! `custos bench axis` (issue 23): one Axis clip of `size` bytes through
//! the Swift `PUT` of the Axis listener, encrypted as it arrives and made
//! durable, against `cp` + `sync` of the same bytes to the same disk in
//! the same run; the server's peak RSS; then `clients` system controllers
//! uploading a recording each at once, and the errors they saw.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use custos_keys::secrecy::SecretString;

use crate::bench_ingest::{peak_rss_kib, spawn_server_saying, PASS};

const USER: &str = "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10";
const SERIAL: &str = "ACCC8EF0A1B2";

/// A system controller's session: its storage URL and token.
struct Session {
    agent: ureq::Agent,
    storage: String,
    token: String,
}

impl Session {
    fn open(agent: ureq::Agent, port: u16, key: &str) -> Result<Session> {
        let answer = agent
            .get(&format!("https://localhost:{port}/auth/v1.0"))
            .header("X-Auth-User", "bench-scu")
            .header("X-Auth-Key", key)
            .call()?;
        let header = |name: &str| -> Result<String> {
            Ok(answer
                .headers()
                .get(name)
                .context("no token")?
                .to_str()?
                .to_owned())
        };
        Ok(Session {
            storage: header("x-storage-url")?,
            token: header("x-auth-token")?,
            agent,
        })
    }

    /// `method` on `path` with `headers`; the status, which must be 2xx.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<std::fs::File>,
    ) -> Result<u16> {
        let url = format!("{}/{path}", self.storage);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("X-Auth-Token", &self.token);
        let request = headers.iter().fold(request, |r, (k, v)| r.header(*k, *v));
        let answer = match body {
            Some(file) => self
                .agent
                .run(request.body(ureq::SendBody::from_owned_reader(file))?)?,
            None => self.agent.run(request.body(())?)?,
        };
        let status = answer.status().as_u16();
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status}");
        }
        Ok(status)
    }
}

fn agent(cert_pem: &str) -> Result<ureq::Agent> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = ureq::tls::Certificate::from_pem(cert_pem.as_bytes())?.to_owned();
    Ok(ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(None)
        .build()
        .into())
}

/// `size` bytes of noise, written once.
fn clip(path: &Path, size: u64) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let block = crate::bench::noise(1 << 20, 23);
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}

/// One recording of `clip`: its container, the clip, `Status=Complete`.
/// The seconds the clip's `PUT` took.
fn upload(s: &Session, trigger: &str, clip: &Path) -> Result<f64> {
    let container = format!("{USER}_{SERIAL}_{trigger}");
    s.call(
        "PUT",
        &container,
        &[("X-Container-Meta-Starttime", "1787485620")],
        None,
    )?;
    let file = std::fs::File::open(clip)?;
    let length = file.metadata()?.len().to_string();
    let started = Instant::now();
    s.call(
        "PUT",
        &format!("{container}/1787485620_1.mp4"),
        &[
            ("Content-Length", &length),
            ("X-Object-Meta-Containertype", "mp4"),
        ],
        Some(file),
    )?;
    let put_s = started.elapsed().as_secs_f64();
    s.call(
        "POST",
        &container,
        &[
            ("X-Container-Meta-Status", "Complete"),
            ("X-Container-Meta-Stoptime", "1787485700"),
        ],
        None,
    )?;
    Ok(put_s)
}

pub fn run(size: u64, clients: usize, client_size: u64, dir: Option<PathBuf>) -> Result<ExitCode> {
    if clients > 60 {
        bail!("at most 60 clients: each recording is triggered in a second of its own minute");
    }
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let data = tmp.path().join("server");
    custos_keys::EvidenceKeyStore::new(&data).init(&SecretString::from(PASS.to_owned()), 10)?;
    eprintln!(
        "writing a {:.2} GiB clip…",
        size as f64 / (1u64 << 30) as f64
    );
    let big = tmp.path().join("clip.mp4");
    clip(&big, size)?;
    let small = tmp.path().join("small.mp4");
    clip(&small, client_size)?;

    // Reference: cp of the same bytes to the server's disk, made durable.
    let copy = data.join("cp-reference.mp4");
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"cp "$1" "$2" && sync "$2""#)
        .args(["sh"])
        .arg(&big)
        .arg(&copy)
        .status()?;
    let cp_s = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("cp failed");
    }
    std::fs::remove_file(&copy)?;

    let (mut server, ports) = spawn_server_saying(
        &data,
        &[],
        &["--axis-listen", "127.0.0.1:0"],
        &[
            "Custos evidence server on https://",
            "Axis content destination: https://",
        ],
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let key = rt.block_on(async {
        let admin = custos_server::admin::Admin::open(&data).await?;
        anyhow::Ok(admin.add_axis_connection("bench-scu").await?.key)
    })?;
    let cert = std::fs::read_to_string(data.join("tls/cert.pem"))?;
    let port = ports[1];
    let session = Session::open(agent(&cert)?, port, &key)?;
    for (container, object) in [("Users", USER), ("Devices", SERIAL)] {
        session.call("PUT", container, &[], None)?;
        session.call("PUT", &format!("{container}/{object}"), &[], None)?;
    }
    let rss_before = peak_rss_kib(server.id()).unwrap_or(0);
    let (server_cpu, own_cpu) = (cpu_s(server.id()), cpu_s(std::process::id()));
    let put_s = upload(&session, "20260823T114800Z", &big)?;
    let server_cpu = cpu_s(server.id()) - server_cpu;
    let own_cpu = cpu_s(std::process::id()) - own_cpu;
    let rss_peak = peak_rss_kib(server.id()).unwrap_or(0);

    // `clients` controllers at once, a recording each.
    let started = Instant::now();
    let outcomes: Vec<Result<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let (cert, key, small) = (&cert, &key, &small);
                scope.spawn(move || {
                    let s = Session::open(agent(cert)?, port, key)?;
                    // Triggered in the recording's 80 seconds, a second apart.
                    upload(&s, &format!("20260823T1147{:02}Z", i % 60), small)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client panicked")))
            })
            .collect()
    });
    let together_s = started.elapsed().as_secs_f64();
    let errors: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(|e| e.to_string()))
        .collect();
    let rss_after = peak_rss_kib(server.id()).unwrap_or(0);
    let _ = server.kill();
    let _ = server.wait();

    let mb = size as f64 / 1e6;
    let ratio = cp_s / put_s;
    println!(
        "Axis ingest of one {:.2} GiB clip, Swift PUT over TLS on loopback, encrypted on arrival",
        size as f64 / (1u64 << 30) as f64
    );
    println!(
        "  cp + sync of the same bytes      {cp_s:7.2} s  {:7.1} MB/s",
        mb / cp_s
    );
    println!(
        "  PUT, encrypted, stored, 201      {put_s:7.2} s  {:7.1} MB/s",
        mb / put_s
    );
    println!("  ratio PUT / cp                   {ratio:7.2}x   (goal >= 0.8x)");
    println!(
        "  CPU during the PUT: server {server_cpu:.2} s, client {own_cpu:.2} s, on {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "  server peak RSS                  {:7.1} MiB (before {:.1} MiB; goal <= 256 MiB)",
        rss_peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "{clients} controllers at once, a recording of {:.1} MB each: {together_s:.2} s, {} errors; peak RSS {:.1} MiB",
        client_size as f64 / 1e6,
        errors.len(),
        rss_after as f64 / 1024.0
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    let met =
        ratio >= 0.8 && rss_peak <= 256 * 1024 && rss_after <= 256 * 1024 && errors.is_empty();
    println!("goals {}", if met { "met" } else { "NOT met" });
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// CPU seconds (user and system) `pid` has used so far.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are
    // the 12th and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
