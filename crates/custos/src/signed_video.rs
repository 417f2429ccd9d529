//! `custos verify-signed-video`: Axis signed video checked offline, as the
//! server checks each clip when it arrives (docs/SIGNED-VIDEO.md) — for a
//! reviewer, a court, or a clip taken from an export's `objects/`.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use custos_signed_video::{Codec, Options, Outcome, Report};

#[derive(Args)]
pub struct SignedVideoArgs {
    /// MP4 files (H.264 or H.265), or raw streams with --annex-b.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The files are raw Annex B streams of this codec, not MP4.
    #[arg(long, value_enum)]
    annex_b: Option<CodecArg>,
    /// The camera's key as the server pinned it (SHA-256 of its
    /// SubjectPublicKeyInfo, hex): video signed with another key fails.
    #[arg(long, value_parser = key_sha256)]
    key_sha256: Option<[u8; 32]>,
    /// One JSON report per file, a line each.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum CodecArg {
    H264,
    H265,
}

fn key_sha256(text: &str) -> Result<[u8; 32], String> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "64 hex digits (a SHA-256)".into())
}

/// Exit 0 if every file is authentic, 1 naming what is not, 2 if a file
/// cannot be read at all.
pub fn run(a: SignedVideoArgs) -> Result<ExitCode> {
    let mut all_authentic = true;
    for path in &a.files {
        let options = Options {
            pinned_key_sha256: a.key_sha256,
        };
        let report = match a.annex_b {
            Some(codec) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let codec = match codec {
                    CodecArg::H264 => Codec::H264,
                    CodecArg::H265 => Codec::H265,
                };
                custos_signed_video::verify_annex_b(codec, &bytes, options)
            }
            None => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                custos_signed_video::verify_mp4(BufReader::with_capacity(1 << 20, file), options)
                    .with_context(|| format!("{}", path.display()))?
            }
        };
        all_authentic &= report.outcome() == Outcome::Authentic;
        if a.json {
            println!(
                "{}",
                serde_json::json!({
                    "file": path.display().to_string(),
                    "outcome": report.outcome(),
                    "failure": report.first_failure(),
                    "report": report,
                })
            );
        } else {
            print!("{}", said(&path.display().to_string(), &report));
        }
    }
    Ok(if all_authentic {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A file's verdict in lines a reviewer reads.
fn said(name: &str, r: &Report) -> String {
    let mut out = format!("{name}: {}\n", r.outcome().word());
    let signer = r.signer.as_deref().unwrap_or("—");
    if r.scheme.is_some() {
        out.push_str(&format!(
            "  {} GOPs checked, {} frames, {} unsigned; signer {signer}; key SHA-256 {}\n",
            r.gops.len(),
            r.frames,
            r.unsigned_frames,
            r.key_sha256.as_deref().unwrap_or("—"),
        ));
    }
    if let Some(p) = &r.product {
        out.push_str(&format!(
            "  camera says: {} {} serial {} firmware {} (signed, not vouched for)\n",
            p.manufacturer, p.hardware_id, p.serial_number, p.firmware_version
        ));
    }
    for f in r.gops.iter().filter_map(|g| g.failure_in_words()).take(20) {
        out.push_str(&format!("  {f}\n"));
    }
    for p in &r.problems {
        out.push_str(&format!("  {p}\n"));
    }
    out
}
