//! `custos axis`: connections of Axis body-worn system controllers (ADR
//! 0017). Each prints the connection file the Axis body-worn manager
//! imports; its key is shown there once and kept only as a hash. With
//! `--encrypt`, the cameras encrypt each clip themselves, to an RSA key made
//! here and kept sealed to the evidence key (docs/AXIS.md, "Axis' own
//! encryption").

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use custos_axis::connection::ConnectionFile;
use custos_axis::names::ClipType;
use custos_server::admin::{Admin, AxisCredential};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::keys::DataDir;
use crate::server::block_on;

#[derive(Subcommand)]
pub enum AxisCommand {
    /// A new connection: prints its connection file (the key, once).
    Connect(FileArgs),
    /// A new key for a connection: prints its new connection file; the old
    /// key and the tokens it got stop working.
    Rotate(FileArgs),
    /// Ends a connection for good.
    Revoke {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        name: String,
    },
    /// The signing key pinned for each Axis camera when it first signed
    /// (docs/SIGNED-VIDEO.md): camera, key's SHA-256, when.
    SigningKeys {
        #[command(flatten)]
        data: DataDir,
    },
    /// Forgets a camera's pinned signing key (its key changed for good
    /// reason, e.g. a factory reset), on record: its next signed recording
    /// pins anew.
    ForgetSigningKey {
        #[command(flatten)]
        data: DataDir,
        /// The camera's serial number.
        #[arg(long)]
        camera: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args)]
pub struct FileArgs {
    #[command(flatten)]
    data: DataDir,
    /// The connection's name: the system controller's account.
    #[arg(long)]
    name: String,
    /// The site's name, as the Axis manager shows it (at most 64 bytes).
    #[arg(long)]
    site: String,
    /// The Axis listener's address as the system controller reaches it,
    /// e.g. `https://custos.example.nl:8443`.
    #[arg(long)]
    url: String,
    /// The server's certificate (PEM) the controller pins; default the one
    /// `custos serve` made under DATA/tls/.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Write the file here (created, never overwritten) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Have the cameras encrypt each clip themselves (Axis
    /// `WantEncryption`) to a new RSA-3072 key of this connection. Once on,
    /// it stays on: later connection files name the newest key. On
    /// `rotate`, makes a new key (clips wrapped to older ones still play).
    #[arg(long)]
    encrypt: bool,
}

pub fn run(command: AxisCommand) -> Result<ExitCode> {
    block_on(async move {
        match command {
            AxisCommand::Connect(args) => {
                // The file is checked before the connection exists, so a bad
                // argument leaves no connection behind.
                check(&args)?;
                let admin = Admin::open(&args.data.data).await?;
                let key = match args.encrypt {
                    true => Some(admin.make_axis_content_key().await?),
                    false => None,
                };
                let credential = admin.add_axis_connection(&args.name).await?;
                let encryption = match key {
                    Some(key) => Some(admin.keep_axis_content_key(&args.name, key).await?),
                    None => None,
                };
                write(&args, &credential, encryption)?;
                eprintln!("Axis connection {} made", args.name);
            }
            AxisCommand::Rotate(args) => {
                check(&args)?;
                let admin = Admin::open(&args.data.data).await?;
                let key = match args.encrypt {
                    true => Some(admin.make_axis_content_key().await?),
                    false => None,
                };
                let credential = admin.rotate_axis_connection(&args.name).await?;
                let encryption = match key {
                    Some(key) => Some(admin.keep_axis_content_key(&args.name, key).await?),
                    None => admin.axis_content_key(&args.name).await?,
                };
                write(&args, &credential, encryption)?;
                eprintln!(
                    "Axis connection {}: new key; the old one no longer works",
                    args.name
                );
            }
            AxisCommand::SigningKeys { data } => {
                for (camera, key, at) in Admin::open(&data.data).await?.axis_signing_keys().await? {
                    println!("{}\t{key}\t{at}", camera.escape_default());
                }
            }
            AxisCommand::ForgetSigningKey {
                data,
                camera,
                reason,
            } => {
                Admin::open(&data.data)
                    .await?
                    .forget_axis_signing_key(&camera, &reason)
                    .await?;
                eprintln!(
                    "camera {} will pin the next key it signs with",
                    camera.escape_default()
                );
            }
            AxisCommand::Revoke { data, name } => {
                Admin::open(&data.data)
                    .await?
                    .revoke_axis_connection(&name)
                    .await?;
                eprintln!("Axis connection {name} revoked");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Whether `args` make a connection file, and where it goes is free.
fn check(args: &FileArgs) -> Result<()> {
    connection_file(args, &"0".repeat(64), None)?;
    if let Some(out) = &args.out {
        anyhow::ensure!(
            !out.exists(),
            "{} exists; it is never overwritten",
            out.display()
        );
    }
    Ok(())
}

/// The connection file for `args` with `key`.
fn connection_file(
    args: &FileArgs,
    key: &str,
    encryption: Option<(String, String)>,
) -> Result<String> {
    let cert = args
        .tls_cert
        .clone()
        .unwrap_or_else(|| args.data.data.join("tls").join("cert.pem"));
    let certificates: Vec<Vec<u8>> = CertificateDer::pem_file_iter(&cert)
        .with_context(|| {
            format!(
                "reading the server's certificate {} (start `custos serve` once, or give --tls-cert)",
                cert.display()
            )
        })?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    anyhow::ensure!(
        !certificates.is_empty(),
        "{} holds no certificate",
        cert.display()
    );
    let url = args.url.trim_end_matches('/');
    let file = ConnectionFile {
        site_name: args.site.clone(),
        application_version: env!("CARGO_PKG_VERSION").into(),
        token_uris: vec![format!("{url}/auth/v1.0")],
        certificates,
        user: args.name.clone(),
        key: key.to_owned(),
        clip_type: ClipType::Mp4,
        encryption,
    };
    Ok(file.to_json()?)
}

/// The connection file, with the connection's content key (public PEM, id)
/// if it has one.
fn write(
    args: &FileArgs,
    credential: &AxisCredential,
    encryption: Option<(String, String)>,
) -> Result<()> {
    let json = zeroize::Zeroizing::new(connection_file(args, &credential.key, encryption)?);
    match &args.out {
        None => println!("{}", *json),
        Some(path) => {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            file.write_all(json.as_bytes())?;
            file.sync_all()?;
        }
    }
    Ok(())
}
