//! `custos`: one binary for the camera, the dock, the evidence server and
//! the offline verifier.
#![forbid(unsafe_code)]

mod audit;
mod axis;
mod bench;
mod bench_abuse;
mod bench_axis;
mod bench_damage;
mod bench_export;
mod bench_faults;
mod bench_ingest;
mod bench_joined;
mod bench_search;
mod bench_server;
mod bench_stats;
mod bench_storage;
mod demo;
mod device;
mod dock;
mod export;
mod keys;
mod migrate;
mod passphrase;
mod server;
mod signed_video;
mod stats;
mod verify;
mod verify_package;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "custos",
    version,
    about = "Custos: body-worn camera evidence that is encrypted at the camera, seen only for a stated purpose, and deleted on time.",
    propagate_version = true
)]
struct Cli {
    /// Log as JSON lines (default: human-readable when stderr is a terminal).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A guided demo: evidence key, a camera, a simulated shift with escalations.
    Demo(demo::DemoArgs),
    /// The deployment's evidence key: create, show, check, change passphrase.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// A body-worn camera: create, assign to an officer, run, press its buttons.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// The evidence server: verified ingest from docks, signed receipts.
    Serve(server::ServeArgs),
    /// Register or revoke cameras and docks (on the server's data directory).
    #[command(subcommand)]
    Enroll(server::EnrollCommand),
    /// Axis body-worn system controllers' connections: connect, rotate, revoke.
    #[command(subcommand)]
    Axis(axis::AxisCommand),
    /// People who may sign in: add, list, unlock, disable.
    #[command(subcommand)]
    Users(server::UsersCommand),
    /// The dock: check cameras out, offload docked cameras to the server.
    #[command(subcommand)]
    Dock(dock::DockCommand),
    /// The server's recordings (metadata only; listing is audited).
    #[command(subcommand)]
    Recordings(ListCommand),
    /// Integrity incidents: gaps, broken chains, bad signatures, replays, mismatches.
    #[command(subcommand)]
    Incidents(ListCommand),
    /// Retention: delete what is due (also done by `serve` every ten minutes).
    #[command(subcommand)]
    Retention(server::RetentionCommand),
    /// The tamper-evident audit log: verify, export with proofs, checkpoint.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Check recordings: camera signature, ciphertext digest, hash chain, and
    /// with the evidence key the content itself.
    VerifyRecording(verify::VerifyArgs),
    /// Axis signed video in MP4 clips (or raw streams) checked offline, GOP
    /// by GOP, as the server checks each clip. Exits 1 naming what fails.
    VerifySignedVideo(signed_video::SignedVideoArgs),
    /// An evidence package of a case's recordings, for the police, a
    /// prosecutor or a court (through the server's API, as a reviewer).
    Export(export::ExportArgs),
    /// Check an evidence package offline: hashes, signatures, sequence,
    /// audit proofs. Exits 1 naming what fails.
    Verify(verify_package::VerifyPackageArgs),
    /// Move a deployment from SQLite + local files to PostgreSQL + S3
    /// (resumable, verified; the data directory then names the new storage).
    Migrate(migrate::MigrateArgs),
    /// Evaluation statistics: how often cameras were used and recordings
    /// viewed, for which purposes (aggregates, small counts suppressed).
    Stats(stats::StatsArgs),
    /// Benchmarks whose figures go in docs/PERFORMANCE.md.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Subcommand)]
enum ListCommand {
    List(server::ListArgs),
}

/// The status a shell reports for a process its reader stopped listening
/// to (128 + SIGPIPE).
const READER_GONE: i32 = 141;

/// Rust ignores SIGPIPE, so `println!` to a reader that went away
/// (`custos audit verify | head -1`) panics. That is the reader's choice,
/// not a fault: end quietly, as tools killed by SIGPIPE do, without the
/// panic message. Any other panic is reported as before.
fn end_quietly_when_the_reader_is_gone() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(READER_GONE);
        }
        report(info);
    }));
}

fn main() -> std::process::ExitCode {
    end_quietly_when_the_reader_is_gone();
    let cli = Cli::parse();
    // The demo talks to a person; routine camera events would drown it.
    let default_level = if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    };
    init_logging(cli.log_json, default_level);
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Keys(c) => keys::run(c),
        Command::Serve(a) => server::serve(a),
        Command::Enroll(c) => server::enroll(c),
        Command::Axis(c) => axis::run(c),
        Command::Dock(c) => dock::run(c),
        Command::Recordings(ListCommand::List(a)) => server::recordings(a),
        Command::Incidents(ListCommand::List(a)) => server::incidents(a),
        Command::Device(c) => device::run(c),
        Command::Audit(c) => audit::run(c),
        Command::Users(c) => server::users(c),
        Command::Retention(c) => server::retention(c),
        Command::VerifyRecording(a) => verify::run(a),
        Command::VerifySignedVideo(a) => signed_video::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Migrate(a) => migrate::run(a),
        Command::Export(a) => export::run(a),
        Command::Verify(a) => verify_package::run(a),
        Command::Stats(a) => stats::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn init_logging(json: bool, default_level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json || !std::io::stderr().is_terminal() {
        builder.json().init();
    } else {
        builder.init();
    }
}
