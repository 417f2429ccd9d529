use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use custos_keys::EvidenceKeyStore;

use crate::passphrase;

#[derive(Args, Clone)]
pub struct DataDir {
    /// The deployment's data directory.
    #[arg(long, env = "CUSTOS_DATA", default_value = "./custos-data")]
    pub data: PathBuf,
}

#[derive(Args, Clone)]
pub struct PassphraseArgs {
    /// Read the passphrase from this file (else CUSTOS_PASSPHRASE, else a prompt).
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the evidence key pair; the private key is sealed with a passphrase.
    Init {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        pass: PassphraseArgs,
        /// scrypt work factor (log2 N) for sealing; lower only for tests.
        #[arg(long, default_value_t = custos_keys::DEFAULT_WORK_FACTOR, hide = true)]
        work_factor: u8,
    },
    /// Print the public recipient (age1…) that cameras encrypt to.
    Show {
        #[command(flatten)]
        data: DataDir,
    },
    /// Unseal the key to check the passphrase; prints the recipient on success.
    Check {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        pass: PassphraseArgs,
    },
    /// Re-seal the key under a new passphrase (from CUSTOS_NEW_PASSPHRASE,
    /// --new-passphrase-file, or a prompt).
    Passphrase {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        pass: PassphraseArgs,
        #[arg(long)]
        new_passphrase_file: Option<PathBuf>,
        #[arg(long, default_value_t = custos_keys::DEFAULT_WORK_FACTOR, hide = true)]
        work_factor: u8,
    },
}

pub fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Init {
            data,
            pass,
            work_factor,
        } => {
            let store = EvidenceKeyStore::new(&data.data);
            if store.exists() {
                return Err(custos_keys::KeyError::AlreadyExists(store.sealed_path()).into());
            }
            let passphrase = passphrase::obtain(
                pass.passphrase_file.as_deref(),
                "New evidence key passphrase: ",
                true,
            )?;
            let recipient = store.init(&passphrase, work_factor)?;
            eprintln!(
                "Sealed evidence key written to {}",
                store.sealed_path().display()
            );
            eprintln!("Keep the passphrase safe: without it no recording can ever be decrypted.");
            println!("{recipient}");
        }
        KeysCommand::Show { data } => {
            println!("{}", EvidenceKeyStore::new(&data.data).recipient()?);
        }
        KeysCommand::Check { data, pass } => {
            let store = EvidenceKeyStore::new(&data.data);
            store.recipient()?;
            let passphrase = passphrase::obtain(
                pass.passphrase_file.as_deref(),
                "Evidence key passphrase: ",
                false,
            )?;
            let identity = store.unseal(&passphrase)?;
            println!("{}", identity.to_public());
        }
        KeysCommand::Passphrase {
            data,
            pass,
            new_passphrase_file,
            work_factor,
        } => {
            let store = EvidenceKeyStore::new(&data.data);
            store.recipient()?;
            let old = passphrase::obtain(
                pass.passphrase_file.as_deref(),
                "Current passphrase: ",
                false,
            )?;
            let new = passphrase::obtain_from(
                new_passphrase_file.as_deref(),
                passphrase::NEW_ENV,
                "New passphrase: ",
                true,
            )?;
            store.change_passphrase(&old, &new, work_factor)?;
            eprintln!("Evidence key re-sealed.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
