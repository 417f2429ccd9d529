use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use custos_format::verify::{check_chain, decrypt_recording, verify_recording};
use custos_format::{SignedManifest, VerifyingKey};
use serde::Serialize;

use crate::keys::PassphraseArgs;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["dir", "manifest"]))]
pub struct VerifyArgs {
    /// Verify every recording on this camera, and its chain.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Verify one recording: its manifest file (…manifest.json).
    #[arg(long, requires_all = ["ciphertext"])]
    manifest: Option<PathBuf>,
    /// The manifest's signature (default: the manifest path with .sig).
    #[arg(long)]
    signature: Option<PathBuf>,
    /// The recording's ciphertext (…age).
    #[arg(long)]
    ciphertext: Option<PathBuf>,
    /// The camera's public key (PEM) as registered at enrollment; default:
    /// the camera directory's own.
    #[arg(long)]
    device_key: Option<PathBuf>,
    /// Also decrypt and check the content, with this (unencrypted) age identity file.
    #[arg(long, conflicts_with = "data")]
    identity: Option<PathBuf>,
    /// Also decrypt and check the content, unsealing this deployment's evidence key.
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    pass: PassphraseArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Verdict {
    sequence: Option<u64>,
    recording_id: Option<String>,
    file: String,
    ok: bool,
    truncated: bool,
    duration_ms: Option<u64>,
    content_checked: bool,
    problem: Option<String>,
}

struct Item {
    manifest: PathBuf,
    signature: PathBuf,
    ciphertext: PathBuf,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let (items, default_key) = if let Some(dir) = &args.dir {
        let cam = custos_camera::CameraDir::new(dir);
        let items = cam
            .pending_recordings()
            .with_context(|| format!("{} is not a camera directory", dir.display()))?
            .into_iter()
            .map(|p| Item {
                manifest: p.manifest,
                signature: p.signature,
                ciphertext: p.ciphertext,
            })
            .collect::<Vec<_>>();
        (items, Some(cam.public_key_path()))
    } else {
        let manifest = args.manifest.clone().expect("group requires it");
        let signature = args
            .signature
            .clone()
            .unwrap_or_else(|| manifest.with_extension("sig"));
        let ciphertext = args.ciphertext.clone().expect("requires");
        (
            vec![Item {
                manifest,
                signature,
                ciphertext,
            }],
            None,
        )
    };
    let key_path = args
        .device_key
        .clone()
        .or(default_key)
        .context("--device-key is required")?;
    let key = VerifyingKey::from_pem(
        &std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?,
    )
    .with_context(|| format!("{} is not an Ed25519 public key", key_path.display()))?;

    let identity = match (&args.identity, &args.data) {
        (Some(path), _) => Some(read_identity(path)?),
        (None, Some(data)) => {
            let passphrase = crate::passphrase::obtain(
                args.pass.passphrase_file.as_deref(),
                "Evidence key passphrase: ",
                false,
            )?;
            Some(custos_keys::EvidenceKeyStore::new(data).unseal(&passphrase)?)
        }
        (None, None) => None,
    };

    let mut verdicts = Vec::new();
    let mut signed_ok = Vec::new();
    for item in &items {
        let (verdict, signed) = check_one(item, &key, identity.as_ref());
        verdicts.push(verdict);
        if let Some(s) = signed {
            signed_ok.push(s);
        }
    }
    // The chain: gaps, replays, broken links among the recordings present.
    signed_ok.sort_by_key(|s| s.manifest().sequence);
    let head = signed_ok.first().and_then(|first| {
        let m = first.manifest();
        (m.sequence > 1).then(|| (m.sequence - 1, m.previous_manifest_sha256))
    });
    let findings = check_chain(head, &signed_ok);

    let all_ok = verdicts.iter().all(|v| v.ok) && findings.is_empty();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": all_ok,
                "recordings": verdicts,
                "chain_findings": findings.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
            }))?
        );
    } else {
        for v in &verdicts {
            let what = match (v.sequence, &v.recording_id) {
                (Some(s), Some(id)) => format!("#{s} {id}"),
                _ => v.file.clone(),
            };
            if v.ok {
                println!(
                    "OK    {what}  {:.1} s{}{}",
                    v.duration_ms.unwrap_or(0) as f64 / 1000.0,
                    if v.truncated {
                        "  truncated by power loss (signed)"
                    } else {
                        ""
                    },
                    if v.content_checked {
                        "  content decrypted and matches"
                    } else {
                        ""
                    }
                );
            } else {
                println!("FAIL  {what}  {}", v.problem.as_deref().unwrap_or("?"));
            }
        }
        for f in &findings {
            println!("FAIL  chain: {f:?}");
        }
        if items.is_empty() {
            println!("no recordings");
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_one(
    item: &Item,
    key: &VerifyingKey,
    identity: Option<&age::x25519::Identity>,
) -> (Verdict, Option<SignedManifest>) {
    let mut verdict = Verdict {
        sequence: None,
        recording_id: None,
        file: item.manifest.display().to_string(),
        ok: false,
        truncated: false,
        duration_ms: None,
        content_checked: false,
        problem: None,
    };
    let result = (|| -> Result<SignedManifest> {
        let bytes = std::fs::read(&item.manifest)
            .with_context(|| format!("reading {}", item.manifest.display()))?;
        let sig = std::fs::read(&item.signature)
            .with_context(|| format!("reading {}", item.signature.display()))?;
        let signed = SignedManifest::parse(&bytes, &sig)?;
        let m = signed.manifest();
        verdict.sequence = Some(m.sequence);
        verdict.recording_id = Some(m.recording_id.to_string());
        verdict.truncated = m.truncated;
        verdict.duration_ms = Some(m.duration_ms());
        let open = || {
            File::open(&item.ciphertext)
                .with_context(|| format!("reading {}", item.ciphertext.display()))
        };
        verify_recording(&signed, key, BufReader::new(open()?))?;
        if let Some(identity) = identity {
            decrypt_recording(&signed, BufReader::new(open()?), identity, std::io::sink())?;
            verdict.content_checked = true;
        }
        Ok(signed)
    })();
    match result {
        Ok(signed) => {
            verdict.ok = true;
            (verdict, Some(signed))
        }
        Err(e) => {
            verdict.problem = Some(format!("{e:#}"));
            (verdict, None)
        }
    }
}

fn read_identity(path: &PathBuf) -> Result<age::x25519::Identity> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    custos_keys::parse_identity_file(&text).with_context(|| format!("{}", path.display()))
}
