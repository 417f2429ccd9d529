//! Requests as an attacker sends them: any bytes, over TLS, from any
//! loopback address (127.0.0.0/8 is all ours, so a flood can come from
//! other sources than the people it must not harm).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

#[derive(Clone)]
pub struct Raw {
    pub addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

/// An answer as read off the wire: the status, or `None` when the server
/// closed the connection without one (a refused connection, a timeout).
#[derive(Debug)]
pub struct RawAnswer {
    pub status: Option<u16>,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl Raw {
    pub fn new(addr: SocketAddr, certificate_pem: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(certificate_pem.as_bytes()).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            addr,
            config: Arc::new(config),
        }
    }

    /// A TLS stream from `from` (its handshake on the first write), for a
    /// test that drives the connection itself.
    pub async fn tls(
        &self,
        from: IpAddr,
    ) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
        let tcp = self.connect(from).await?;
        let connection = rustls::ClientConnection::new(
            self.config.clone(),
            ServerName::try_from("localhost").unwrap(),
        )
        .map_err(std::io::Error::other)?;
        Ok(rustls::StreamOwned::new(connection, tcp))
    }

    /// A TCP connection from `from` (a loopback address).
    pub async fn connect(&self, from: IpAddr) -> std::io::Result<std::net::TcpStream> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from, 0))?;
        let stream = socket.connect(self.addr).await?.into_std()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    /// Sends `request` (whole HTTP bytes) from `from` and reads the answer
    /// to the end of the connection.
    pub async fn send(&self, from: IpAddr, request: Vec<u8>) -> std::io::Result<RawAnswer> {
        let mut tls = self.tls(from).await?;
        tokio::task::spawn_blocking(move || {
            tls.sock
                .set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
            tls.write_all(&request)?;
            tls.flush()?;
            let mut bytes = Vec::new();
            match tls.read_to_end(&mut bytes) {
                Ok(_) => {}
                // The server may close without close_notify after answering.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(e) if !bytes.is_empty() => {
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
            Ok(parse_answer(&bytes))
        })
        .await
        .unwrap()
    }
}

fn parse_answer(bytes: &[u8]) -> RawAnswer {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&bytes[..i], &bytes[i + 4..]),
        None => (bytes, &[][..]),
    };
    let head = String::from_utf8_lossy(head).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok());
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    RawAnswer {
        status,
        head,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        body = &body[line_end + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[(size + 2).min(body.len())..];
    }
    out
}

/// An HTTP/1.1 request: the method and target as given (any bytes), the
/// headers, a body with its length, `Connection: close`.
pub fn request(method: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
