//! `custos verify PACKAGE`: the offline check of an evidence export, for
//! the recipient (police, prosecutor, court). Reads a directory, a tar
//! archive or the age-encrypted archive as delivered, in one pass, without
//! extracting anything; needs no server and no network.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use custos_export::read::Contents;
use custos_export::verify::{verify, Expected};

#[derive(Args)]
pub struct VerifyPackageArgs {
    /// The package: as delivered (.tar.age), decrypted (.tar) or unpacked (a directory).
    package: PathBuf,
    /// An age identity file that opens the package (else a passphrase from
    /// CUSTOS_EXPORT_PASSPHRASE or the terminal).
    #[arg(long)]
    identity: Option<PathBuf>,
    /// The deployment's published server key (PEM): the package must be signed with it.
    #[arg(long)]
    server_key: Option<PathBuf>,
    /// The deployment's published audit log key (`NAME+HASH+KEY`).
    #[arg(long)]
    log_key: Option<String>,
    #[arg(long)]
    json: bool,
}

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

fn read(args: &VerifyPackageArgs) -> Result<Contents> {
    if args.package.is_dir() {
        return Ok(Contents::from_dir(&args.package)?);
    }
    let file = std::fs::File::open(&args.package)
        .with_context(|| format!("opening {}", args.package.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    if !reader.fill_buf()?.starts_with(AGE_MAGIC) {
        return Ok(Contents::from_tar(reader)?);
    }
    let decryptor = age::Decryptor::new_buffered(reader).context("not an age file")?;
    let plain: Box<dyn Read> = match &args.identity {
        Some(path) => {
            let identities = age::IdentityFile::from_file(path.to_string_lossy().into_owned())
                .with_context(|| format!("reading {}", path.display()))?
                .into_identities()?;
            Box::new(
                decryptor
                    .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
                    .context("the identity does not open this package")?,
            )
        }
        None => {
            let pass = crate::passphrase::obtain_from(
                None,
                "CUSTOS_EXPORT_PASSPHRASE",
                "The package's passphrase: ",
                false,
            )?;
            let identity = age::scrypt::Identity::new(pass);
            Box::new(
                decryptor
                    .decrypt(std::iter::once(&identity as &dyn age::Identity))
                    .context("the passphrase does not open this package")?,
            )
        }
    };
    // age authenticates every chunk: a change or truncation of the file
    // fails here, as a read error, before any verdict.
    Contents::from_tar(plain).context("the decrypted package is damaged")
}

pub fn run(args: VerifyPackageArgs) -> Result<ExitCode> {
    let contents = read(&args)?;
    let expected = Expected {
        server_key: match &args.server_key {
            Some(path) => Some(
                custos_format::VerifyingKey::from_pem(
                    &std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                )
                .context("--server-key is not an Ed25519 public key (PEM)")?,
            ),
            None => None,
        },
        log_key: args.log_key.clone(),
    };
    let verdict = verify(&contents, &expected);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        for f in &verdict.findings {
            println!(
                "{} {}: {}",
                if f.ok { "ok  " } else { "FAIL" },
                f.item,
                f.message
            );
        }
        let failed = verdict.findings.iter().filter(|f| !f.ok).count();
        if verdict.ok() {
            println!("VERDICT: the package is complete and every check passed.");
        } else {
            println!("VERDICT: NOT VERIFIED: {failed} problem(s) above.");
        }
    }
    Ok(if verdict.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
