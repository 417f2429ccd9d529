//! TLS for the server: the operator's certificate, or a self-signed one made
//! once under `DATA/tls/` for local use (the dock pins it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use axum_server::tls_rustls::RustlsConfig;

pub async fn load_or_create(
    data: &Path,
    given: Option<&(PathBuf, PathBuf)>,
    listen: SocketAddr,
) -> Result<(String, RustlsConfig)> {
    let (cert, key) = match given {
        Some((cert, key)) => (cert.clone(), key.clone()),
        None => {
            let dir = data.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !cert.exists() {
                std::fs::create_dir_all(&dir)?;
                let mut names = vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "::1".to_owned(),
                ];
                if !listen.ip().is_unspecified() {
                    names.push(listen.ip().to_string());
                }
                let generated = rcgen::generate_simple_self_signed(names)
                    .context("generating a certificate")?;
                std::fs::write(&cert, generated.cert.pem())?;
                write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
            }
            (cert, key)
        }
    };
    let pem =
        std::fs::read_to_string(&cert).with_context(|| format!("reading {}", cert.display()))?;
    let config = RustlsConfig::from_pem_file(&cert, &key)
        .await
        .with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })?;
    // HTTP/1.1 only (see `start`): say so in ALPN, so no client tries h2.
    let mut server_config = (*config.get_inner()).clone();
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.reload_from_config(std::sync::Arc::new(server_config));
    Ok((pem, config))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)?;
    Ok(())
}
