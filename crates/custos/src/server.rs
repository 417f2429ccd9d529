//! `custos serve`, `custos enroll …`, `custos recordings …`, `custos incidents …`:
//! the evidence server and its operator's commands on the data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use custos_format::VerifyingKey;
use custos_server::admin::Admin;
use custos_server::ServerConfig;

use crate::keys::{DataDir, PassphraseArgs};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataDir,
    #[command(flatten)]
    pass: PassphraseArgs,
    /// Address to listen on (TLS).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The catalog: postgres://user@host/db (default: SQLite in DATA, or
    /// what DATA/custos.toml or CUSTOS_DATABASE says).
    #[arg(long)]
    database: Option<String>,
    /// The blobs: s3://bucket/prefix (default: files in DATA/blobs, or what
    /// DATA/custos.toml or CUSTOS_BLOBS says; S3 credentials from AWS_*).
    #[arg(long)]
    blobs: Option<String>,
    /// PEM certificate chain; without it a self-signed one is made under DATA/tls/.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Take recordings from Axis body-worn systems: the address of the
    /// content destination's own TLS listener (ADR 0017, docs/AXIS.md), to
    /// which `custos axis connect` points a system controller.
    #[arg(long)]
    axis_listen: Option<SocketAddr>,
    /// This deployment's id, as named in receipts.
    #[arg(long, default_value = "custos")]
    server_id: String,
    /// How long after a recording ends it is deleted unless held: days (28d,
    /// Rotterdam) or hours (72h, Bocholt's "a few days").
    #[arg(long, default_value = "28d", value_parser = custos_server::parse_period)]
    retention: i64,
    /// A retention category with its own period, e.g. `training=2d`
    /// (repeatable). Cameras are put in a category at enrollment; the
    /// privacy officer may move a recording to another.
    #[arg(long = "retention-category", value_parser = custos_server::retention::parse_category)]
    retention_categories: Vec<(String, i64)>,
    /// The closed list of purposes footage may be accessed for.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "investigation,complaint,subject-access-request"
    )]
    purposes: Vec<String>,
    /// Holds take effect only after a second person approves (four eyes).
    #[arg(long)]
    hold_needs_second_approver: bool,
    /// Exports are made only after a second person approves the request.
    #[arg(long)]
    export_needs_second_approver: bool,
    /// How long a recording stays after its last hold is released, at least.
    #[arg(long, default_value = "7d", value_parser = custos_server::parse_period)]
    hold_release_grace: i64,
    /// The longest an export's download link may stay valid.
    #[arg(long, default_value = "7d", value_parser = custos_server::parse_period)]
    export_link_max: i64,
    /// The statistics show a count from 1 to this minus one as "< N", so
    /// that nobody is singled out (k-anonymity; 1 shows everything).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    statistics_min_count: u64,
    /// Let officers play back their own recordings (with a purpose, audited).
    #[arg(long)]
    officer_self_review: bool,
    /// The web UI shows times, and reads dates in filters, in this zone.
    #[arg(long, default_value = "Europe/Amsterdam")]
    time_zone: String,
    /// The web UI's language when the browser asks for none we have: nl, de or en.
    #[arg(long, default_value = "nl", value_parser = parse_language)]
    language: custos_web::Lang,
    /// Connections open at once at most; more are closed as they arrive.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Connections from one address (an IPv6 /64 counts as one) at most.
    /// Behind a reverse proxy every client has the proxy's address: raise it.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections_per_source: u64,
    /// New connections one address may open per second, on average (and
    /// twice as many at once after a pause); more are closed before TLS.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    new_connections_per_source: u32,
    /// Seconds a request's headers may take to arrive; an idle keep-alive
    /// connection is closed after as long.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a request's body may pause between two pieces.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_idle_timeout: u64,
    /// Password hashes at once for sign-ins (each thread keeps about 19
    /// MiB); default twice the cores, at least 4 and at most 16.
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=256))]
    sign_in_hashes: Option<u64>,
    /// The failed sign-in of one address (within an hour) from which it
    /// waits, 1 s doubling to 15 minutes. Behind a reverse proxy or one
    /// NAT address everyone shares it: raise it.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    sign_in_failures_per_source: u32,
}

impl ServeArgs {
    fn limits(&self) -> custos_server::limits::Limits {
        let defaults = custos_server::limits::Limits::default();
        custos_server::limits::Limits {
            max_connections: self.max_connections as usize,
            max_connections_per_source: self.max_connections_per_source as usize,
            new_connections_per_source_per_second: self.new_connections_per_source,
            new_connections_per_source_burst: self.new_connections_per_source.saturating_mul(2),
            header_read_timeout: std::time::Duration::from_secs(self.header_timeout),
            body_idle_timeout: std::time::Duration::from_secs(self.body_idle_timeout),
            admission: custos_server::admission::AdmissionConfig {
                hash_permits: self
                    .sign_in_hashes
                    .map_or(defaults.admission.hash_permits, |n| n as usize),
                source_free_failures: self.sign_in_failures_per_source,
                ..defaults.admission
            },
            ..defaults
        }
    }
}

pub(crate) fn parse_language(s: &str) -> Result<custos_web::Lang, String> {
    custos_web::Lang::parse(s).ok_or_else(|| format!("`{s}`: the web UI speaks nl, de and en"))
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    custos_format::manifest::check_identifier(&args.server_id).map_err(anyhow::Error::msg)?;
    let web =
        custos_web::WebConfig::new(&args.time_zone, args.language).map_err(anyhow::Error::msg)?;
    let passphrase = crate::passphrase::obtain(
        args.pass.passphrase_file.as_deref(),
        "Evidence key passphrase: ",
        false,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let storage = custos_server::storage::StorageConfig::resolve(
            &args.data.data,
            args.database.clone(),
            args.blobs.clone(),
        )?;
        eprintln!("storage: {}", storage.describe());
        let config = ServerConfig {
            axis: args.axis_listen.map(custos_server::axis::AxisSettings::new),
            limits: args.limits(),
            storage,
            data: args.data.data.clone(),
            listen: args.listen,
            tls: args.tls_cert.zip(args.tls_key),
            server_id: args.server_id,
            retention: custos_server::retention::RetentionPolicy {
                default_millis: args.retention,
                categories: args.retention_categories.into_iter().collect(),
            },
            policy: custos_access::Policy {
                officer_self_review: args.officer_self_review,
                purposes: args.purposes,
                hold_needs_second_approver: args.hold_needs_second_approver,
                export_needs_second_approver: args.export_needs_second_approver,
                hold_release_grace_millis: args.hold_release_grace,
                export_link_max_millis: args.export_link_max,
                statistics_min_count: args.statistics_min_count,
            },
        };
        let server = custos_server::start_with_pages(
            config,
            &passphrase,
            custos_server::system_clock(),
            custos_web::routes(web),
        )
        .await?;
        drop(passphrase);
        let receipt_key = custos_server::keys::receipt_public_key(&args.data.data)?;
        eprintln!("Custos evidence server on https://{}", server.addr);
        eprintln!("  web UI: https://{}/login", server.addr);
        if let Some(axis) = server.axis_addr {
            eprintln!("  Axis content destination: https://{axis}/auth/v1.0");
        }
        eprintln!("  receipt key (cameras pin it): {}", receipt_key.to_hex());
        if !args.data.data.join("tls/cert.pem").exists() {
            eprintln!("  TLS certificate: as given");
        } else {
            eprintln!(
                "  TLS certificate (docks pin it): {}",
                args.data.data.join("tls/cert.pem").display()
            );
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        server.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum EnrollCommand {
    /// Register a camera's public key. With --camera (a local camera
    /// directory) also pins this server's receipt key into the camera.
    Camera {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        device_id: Option<String>,
        /// The camera's Ed25519 public key (64 hex digits, from `custos device init`).
        #[arg(long, conflicts_with = "camera")]
        public_key: Option<String>,
        #[arg(long)]
        camera: Option<PathBuf>,
        /// The retention category its recordings start in (one the server
        /// defines with --retention-category).
        #[arg(long, default_value = "standard", value_parser = parse_category_name)]
        retention_category: String,
    },
    /// Register a dock; prints its token once (store it in a file only the dock reads).
    Dock {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        dock_id: String,
    },
    RevokeCamera {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        device_id: String,
    },
    RevokeDock {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        dock_id: String,
    },
}

fn parse_category_name(s: &str) -> Result<String, String> {
    custos_server::retention::check_category_name(s).map(|()| s.to_owned())
}

pub fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

pub fn enroll(command: EnrollCommand) -> Result<ExitCode> {
    block_on(async move {
        match command {
            EnrollCommand::Camera {
                data,
                device_id,
                public_key,
                camera,
                retention_category,
            } => {
                let admin = Admin::open(&data.data).await?;
                let receipt_key = custos_server::keys::receipt_public_key(&data.data)?;
                let (device_id, key) = match (&camera, public_key) {
                    (Some(dir), _) => {
                        let cam = custos_camera::CameraDir::new(dir);
                        let config = cam.load_config()?;
                        (device_id.unwrap_or(config.device_id), cam.verifying_key()?)
                    }
                    (None, Some(hex)) => (
                        device_id.context("--device-id is required with --public-key")?,
                        VerifyingKey::from_hex(&hex).context("--public-key")?,
                    ),
                    (None, None) => {
                        anyhow::bail!("give --camera DIR, or --device-id and --public-key")
                    }
                };
                admin
                    .enroll_camera_in(&device_id, &key, &retention_category)
                    .await?;
                if let Some(dir) = camera {
                    crate::device::pin(&dir, &receipt_key.to_hex())?;
                    eprintln!("Camera {device_id} enrolled and pinned to this server");
                } else {
                    eprintln!("Camera {device_id} enrolled; pin the receipt key on the camera:");
                    eprintln!(
                        "  custos device pin --dir CAM --server-key {}",
                        receipt_key.to_hex()
                    );
                }
                println!("{}", receipt_key.to_hex());
            }
            EnrollCommand::Dock { data, dock_id } => {
                let credential = Admin::open(&data.data).await?.enroll_dock(&dock_id).await?;
                eprintln!("Dock {dock_id} enrolled. Its token (shown once):");
                println!("{}", credential.token);
            }
            EnrollCommand::RevokeCamera { data, device_id } => {
                Admin::open(&data.data)
                    .await?
                    .revoke_camera(&device_id)
                    .await?;
                eprintln!("Camera {device_id} revoked: its uploads are refused from now on");
            }
            EnrollCommand::RevokeDock { data, dock_id } => {
                Admin::open(&data.data).await?.revoke_dock(&dock_id).await?;
                eprintln!("Dock {dock_id} revoked");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create an account; prints its initial password and TOTP secret once.
    Add {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        name: String,
        /// officer, reviewer, privacy-officer, admin or auditor.
        #[arg(long)]
        role: String,
        /// For officers: the officer id their camera records.
        #[arg(long)]
        officer_id: Option<String>,
    },
    List(ListArgs),
    /// Lift a lockout after failed sign-ins.
    Unlock {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        name: String,
    },
    /// A forgotten password: prints a new initial password once; the person
    /// replaces it at the next sign-in, and their sessions end.
    ResetPassword {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        name: String,
    },
    /// End an account and its sessions (the audit trail keeps its name).
    Disable {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        name: String,
    },
}

pub fn users(command: UsersCommand) -> Result<ExitCode> {
    block_on(async move {
        match command {
            UsersCommand::Add {
                data,
                name,
                role,
                officer_id,
            } => {
                let role = custos_access::Role::parse(&role).with_context(|| {
                    format!("unknown role `{role}`: officer, reviewer, privacy-officer, admin or auditor")
                })?;
                let e = Admin::open(&data.data)
                    .await?
                    .add_user(&name, role, officer_id)
                    .await?;
                eprintln!(
                    "User {} ({}) created. Hand these over in person; they are shown once:",
                    e.name,
                    e.role.as_str()
                );
                println!("initial password: {}", e.password.as_str());
                println!("TOTP secret:      {}", e.totp_secret.as_str());
                println!("TOTP URI:         {}", e.otpauth_uri.as_str());
                eprintln!("The initial password must be replaced at the first sign-in.");
            }
            UsersCommand::List(args) => {
                let list = Admin::open(&args.data.data).await?.users().await?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    for u in &list {
                        println!(
                            "{:<20} {:<16} {}{}",
                            u.name,
                            u.role,
                            if u.locked { "locked " } else { "" },
                            if u.disabled { "disabled" } else { "" }
                        );
                    }
                }
            }
            UsersCommand::Unlock { data, name } => {
                Admin::open(&data.data).await?.unlock_user(&name).await?;
                eprintln!("User {name} unlocked");
            }
            UsersCommand::ResetPassword { data, name } => {
                let password = Admin::open(&data.data).await?.reset_password(&name).await?;
                eprintln!(
                    "New initial password for {name}; hand it over in person, it is shown once:"
                );
                println!("initial password: {}", password.as_str());
                eprintln!("It must be replaced at the next sign-in; {name}'s sessions are over.");
            }
            UsersCommand::Disable { data, name } => {
                Admin::open(&data.data).await?.disable_user(&name).await?;
                eprintln!("User {name} disabled; their sessions are over");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    data: DataDir,
    #[arg(long)]
    json: bool,
}

pub fn recordings(args: ListArgs) -> Result<ExitCode> {
    block_on(async move {
        let list = Admin::open(&args.data.data).await?.recordings().await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            for r in &list {
                println!(
                    "{}  {:<12} #{:<6} {} → {}  {:>10} B  {}  delete after {}",
                    r.recording_id,
                    r.device_id,
                    r.sequence,
                    r.started_at,
                    r.ended_at,
                    r.size,
                    r.status,
                    r.delete_after
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn incidents(args: ListArgs) -> Result<ExitCode> {
    block_on(async move {
        let list = Admin::open(&args.data.data).await?.incidents().await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            for i in &list {
                println!(
                    "{}  {:<20} camera {:<12} seq {:<6} {}",
                    i.at,
                    i.kind.as_str(),
                    i.device_id.as_deref().unwrap_or("-"),
                    i.sequence
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    i.detail
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Delete what is due now: recordings past their period that no hold
    /// keeps (key first, then blob; a tombstone and an audit entry stay).
    Sweep {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        json: bool,
    },
}

pub fn retention(command: RetentionCommand) -> Result<ExitCode> {
    let RetentionCommand::Sweep { data, json } = command;
    block_on(async move {
        if !data.data.join("keys/evidence.recipient").exists() {
            anyhow::bail!("{} is not a Custos data directory", data.data.display());
        }
        let storage = custos_server::storage::StorageConfig::resolve(&data.data, None, None)?;
        let catalog = storage.open_catalog(&data.data).await?;
        let blobs = storage.open_blobs(&data.data)?;
        let signer = std::sync::Arc::new(custos_server::audit::load_or_create_signer(&data.data)?);
        let sink = custos_server::retention::AuditSink::Direct {
            catalog: catalog.clone(),
            signer,
        };
        let now = custos_format::UtcMillis::now();
        // One sweeper at a time, server nodes included.
        let holder = format!("cli-{}", std::process::id());
        let until = now.plus_millis(custos_server::SWEEP_LEASE_MILLIS);
        if !catalog
            .take_lease(custos_server::SWEEP_LEASE, &holder, now, until)
            .await?
        {
            let (other, until) = catalog
                .lease(custos_server::SWEEP_LEASE)
                .await?
                .unwrap_or_else(|| ("another sweeper".into(), now));
            anyhow::bail!("{other} is sweeping (its lease runs until {until}); try again later");
        }
        let report = custos_server::retention::sweep(&*catalog, &blobs, &sink, now).await;
        catalog
            .release_lease(custos_server::SWEEP_LEASE, &holder)
            .await?;
        let report = report?;
        sink.record(
            custos_audit::AuditEvent::new(
                now,
                "system:cli",
                "retention.sweep",
                custos_audit::Outcome::Ok,
            )
            .object("recordings")
            .detail(format!(
                "{} deleted, {} finished, {} export links closed",
                report.deleted, report.finished_earlier, report.links_closed
            )),
        )
        .await?;
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            eprintln!(
                "{} recording(s) deleted; {} earlier deletion(s) finished; {} closed export link(s) removed",
                report.deleted, report.finished_earlier, report.links_closed
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
