//! Where a passphrase comes from: `--passphrase-file`, else
//! `CUSTOS_PASSPHRASE`, else a prompt on the terminal. Never echoed, never logged.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};
use custos_keys::secrecy::SecretString;
use zeroize::Zeroizing;

pub const ENV: &str = "CUSTOS_PASSPHRASE";
/// The new passphrase when re-sealing (the old one stays in `ENV`).
pub const NEW_ENV: &str = "CUSTOS_NEW_PASSPHRASE";

pub fn obtain(file: Option<&Path>, prompt: &str, confirm: bool) -> Result<SecretString> {
    obtain_from(file, ENV, prompt, confirm)
}

/// Like [`obtain`], with the environment variable named.
pub fn obtain_from(
    file: Option<&Path>,
    env: &str,
    prompt: &str,
    confirm: bool,
) -> Result<SecretString> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading passphrase file {}", path.display()))?,
        );
        // One trailing newline is the file's, not the passphrase's.
        let pass = text.strip_suffix('\n').unwrap_or(&text);
        let pass = pass.strip_suffix('\r').unwrap_or(pass);
        return Ok(SecretString::from(pass.to_owned()));
    }
    if let Ok(value) = std::env::var(env) {
        return Ok(SecretString::from(value));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no passphrase: set {env}, pass a passphrase file, or run on a terminal to be prompted"
        );
    }
    let first = Zeroizing::new(rpassword::prompt_password(prompt)?);
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat it: ")?);
        if *again != *first {
            bail!("the passphrases differ; nothing was changed");
        }
    }
    Ok(SecretString::from(first.to_string()))
}
