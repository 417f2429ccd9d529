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
    /// The package file to write (must not exist yet) …
    #[arg(
        long,
        required_unless_present = "link_hours",
        conflicts_with = "link_hours"
    )]
    out: Option<PathBuf>,
    /// … or keep the package on the server for a download link that
    /// serves this many hours (printed once, for the recipient).
    #[arg(long)]
    link_hours: Option<u32>,
    /// Downloads the link allows (1–10; default 3).
    #[arg(long)]
    link_downloads: Option<u32>,
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
    if args.link_downloads.is_some() && args.link_hours.is_none() {
        bail!("--link-downloads goes with --link-hours (a download link), not with --out");
    }
    // The file first: an export the server made and audited must not
    // then fail for want of a place to put it.
    let mut file = match &args.out {
        Some(out) => Some(
            std::fs::File::create_new(out)
                .with_context(|| format!("creating {} (it must not exist yet)", out.display()))?,
        ),
        None => None,
    };
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
    if let Some(hours) = args.link_hours {
        body["link"] = serde_json::json!({"valid_hours": hours});
        if let Some(n) = args.link_downloads {
            body["link"]["max_downloads"] = serde_json::json!(n);
        }
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
    let sent = agent
        .post(&url)
        .header("authorization", &format!("Bearer {}", args.token))
        .send_json(&body)
        .with_context(|| format!("POST {url}"));
    let forget = || {
        if let Some(out) = &args.out {
            let _ = std::fs::remove_file(out);
        }
    };
    let mut response = sent.inspect_err(|_| forget())?;
    // The JSON body held the passphrase; it is gone with it.
    drop(body);
    let expected = if args.link_hours.is_some() { 201 } else { 200 };
    if response.status() != expected {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        forget();
        bail!(
            "the server refused the export ({}): {message}",
            response.status()
        );
    }
    let (Some(out), Some(file)) = (&args.out, file.as_mut()) else {
        let link: serde_json::Value = response
            .body_mut()
            .read_json()
            .context("the server's answer about the link")?;
        let field = |name: &str| link[name].as_str().map(str::to_owned).unwrap_or_default();
        println!(
            "Download link (shown only now): {}{}",
            args.server.trim_end_matches('/'),
            field("page")
        );
        println!(
            "Export {}, {} bytes, SHA-256 {}, encrypted with age.",
            field("export_id"),
            link["size"],
            field("package_sha256")
        );
        println!(
            "It serves until {} for {} download(s); revoke it with POST /api/v1/export-links/{}/revoke.",
            field("expires_at"),
            link["max_downloads"],
            field("link_id")
        );
        print_opening(&args, passphrase.as_deref().map(String::as_str), "FILE");
        return Ok(ExitCode::SUCCESS);
    };
    let export_id = response
        .headers()
        .get("custos-export-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned();
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
        let _ = std::fs::remove_file(out);
        bail!("the package did not arrive whole ({e:#}); nothing was kept");
    }
    println!(
        "Package {} ({total} bytes), export {export_id}, encrypted with age.",
        out.display()
    );
    print_opening(
        &args,
        passphrase.as_deref().map(String::as_str),
        &out.display().to_string(),
    );
    Ok(ExitCode::SUCCESS)
}

/// How the recipient opens and checks the package (`file` as they have it).
fn print_opening(args: &ExportArgs, passphrase: Option<&str>, file: &str) {
    match passphrase {
        Some(p) => {
            println!("One-time passphrase (shown only now): {p}");
            println!(
                "Hand it to the recipient another way than the package (in person, by phone)."
            );
            println!("They open it with: age -d -o package.tar {file} && tar xf package.tar");
        }
        None => println!(
            "Only the holder of the key for {} can open it: age -d -i KEY -o package.tar {file}",
            args.to.as_deref().unwrap_or_default(),
        ),
    }
    println!("Check it with: custos verify {file}");
}
