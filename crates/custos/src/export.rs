//! `custos export`: a case's evidence package from the server's API, for
//! scripts (the web UI makes the same request). The reviewer's token
//! decides what is allowed; the server audits it and encrypts the package
//! before it leaves.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args)]
pub struct ExportArgs {
    /// The evidence server, e.g. https://custos.example:8443
    #[arg(long, env = "CUSTOS_SERVER")]
    server: String,
    /// The server's TLS certificate (PEM), when it is not publicly trusted.
    #[arg(long)]
    server_cert: Option<PathBuf>,
    /// A reviewer's bearer token (from POST /api/v1/session).
    #[arg(long, env = "CUSTOS_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long)]
    case: String,
    /// From the deployment's purpose list, e.g. investigation.
    #[arg(long)]
    purpose: String,
    /// Who receives the package, in words: "Politie Rotterdam, PV 2026-0142".
    #[arg(long = "for")]
    recipient: String,
    /// Only these recordings (default: every one secured for the case).
    #[arg(long = "recording")]
    recordings: Vec<uuid::Uuid>,
    /// Encrypt to the recipient's age public key (age1…). Without it a
    /// one-time passphrase is made here and printed once.
    #[arg(long)]
    to: Option<String>,
    /// The package file to write (must not exist yet).
    #[arg(long)]
    out: PathBuf,
    /// The chain-of-custody report's language.
    #[arg(long, default_value = "en", value_parser = ["nl", "de", "en"])]
    language: String,
    /// The report's times in this zone, e.g. Europe/Amsterdam.
    #[arg(long, default_value = "UTC")]
    time_zone: String,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = match &args.server_cert {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let cert = ureq::tls::Certificate::from_pem(&pem)
                .context("--server-cert is not a PEM certificate")?
                .to_owned();
            ureq::tls::RootCerts::Specific(Arc::new(vec![cert]))
        }
        None => ureq::tls::RootCerts::WebPki,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .http_status_as_error(false)
        .build()
        .into();
    let passphrase = args
        .to
        .is_none()
        .then(custos_server::export::one_time_passphrase);
    let mut body = serde_json::json!({
        "purpose": args.purpose,
        "recipient": args.recipient,
        "language": args.language,
        "time_zone": args.time_zone,
    });
    if !args.recordings.is_empty() {
        body["recordings"] = serde_json::json!(args.recordings);
    }
    match (&args.to, &passphrase) {
        (Some(key), _) => body["age_recipient"] = serde_json::json!(key),
        (None, Some(p)) => body["passphrase"] = serde_json::json!(p.as_str()),
        (None, None) => unreachable!("a passphrase is made when no key is given"),
    }
    let url = format!(
        "{}/api/v1/cases/{}/exports",
        args.server.trim_end_matches('/'),
        args.case
    );
    let mut response = agent
        .post(&url)
        .header("authorization", &format!("Bearer {}", args.token))
        .send_json(&body)
        .with_context(|| format!("POST {url}"))?;
    // The JSON body held the passphrase; it is gone with it.
    drop(body);
    if response.status() != 200 {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        bail!(
            "the server refused the export ({}): {message}",
            response.status()
        );
    }
    let export_id = response
        .headers()
        .get("custos-export-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned();
    let mut file = std::fs::File::create_new(&args.out)
        .with_context(|| format!("creating {} (it must not exist yet)", args.out.display()))?;
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {bytes} written ({bytes_per_sec})")
            .expect("template"),
    );
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let copied = (|| -> Result<()> {
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            file.write_all(&buf[..n])?;
            total += n as u64;
            progress.set_position(total);
        }
    })();
    progress.finish_and_clear();
    if let Err(e) = copied.and_then(|()| Ok(file.sync_all()?)) {
        let _ = std::fs::remove_file(&args.out);
        bail!("the package did not arrive whole ({e:#}); nothing was kept");
    }
    println!(
        "Package {} ({total} bytes), export {export_id}, encrypted with age.",
        args.out.display()
    );
    match passphrase {
        Some(p) => {
            println!("One-time passphrase (shown only now): {}", p.as_str());
            println!(
                "Hand it to the recipient another way than the package (in person, by phone)."
            );
            println!(
                "They open it with: age -d -o package.tar {} && tar xf package.tar",
                args.out.display()
            );
        }
        None => println!(
            "Only the holder of the key for {} can open it: age -d -i KEY -o package.tar {}",
            args.to.as_deref().unwrap_or_default(),
            args.out.display()
        ),
    }
    println!("Check it with: custos verify {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
