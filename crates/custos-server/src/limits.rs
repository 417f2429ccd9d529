//! Bounds on what a connection may hold: how many at once (in all and per
//! source), how long a request's headers and the gaps in its body may take,
//! how long the TLS handshake may take. Without them one host opening
//! connections and sending a byte now and then (slowloris) held the server's
//! connections and memory for as long as it liked (issue 19).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::admission::{AdmissionConfig, Source};

/// Everything a deployment may tune about admission; the defaults suit one
/// node serving a city.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Open connections at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Open connections from one source (address, or IPv6 /64).
    pub max_connections_per_source: usize,
    /// A request's headers must arrive within this (also: an idle
    /// keep-alive connection is closed after it).
    pub header_read_timeout: Duration,
    /// A request body may pause this long between two pieces, no longer.
    pub body_idle_timeout: Duration,
    /// The TLS handshake must be done within this.
    pub tls_handshake_timeout: Duration,
    /// Password hashing for people who are not signed in.
    pub admission: AdmissionConfig,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_source: 256,
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            admission: AdmissionConfig::default(),
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_source: HashMap<String, usize>,
}

/// Accepts a connection only while it is under the caps; sets `TCP_NODELAY`
/// (without it the last small segment of a response waits for the client's
/// delayed ACK, 40 ms on Linux — a player's next range with it).
#[derive(Clone)]
pub struct LimitedAcceptor {
    counts: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_source: usize,
}

impl LimitedAcceptor {
    pub fn new(limits: &Limits) -> Self {
        Self {
            counts: Default::default(),
            max_total: limits.max_connections,
            max_per_source: limits.max_connections_per_source,
        }
    }

    /// Connections open now (for tests and the abuse benchmark).
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    fn admit(&self, peer: SocketAddr) -> io::Result<Guard> {
        let group = Source::new(peer.ip()).group();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = counts.per_source.get(&group).copied().unwrap_or(0);
        if counts.total >= self.max_total || mine >= self.max_per_source {
            return Err(io::Error::other("connection limit reached"));
        }
        counts.total += 1;
        *counts.per_source.entry(group.clone()).or_default() += 1;
        Ok(Guard {
            counts: self.counts.clone(),
            group,
        })
    }
}

/// Gives a connection's place back when it closes.
struct Guard {
    counts: Arc<Mutex<Counts>>,
    group: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_source.get_mut(&self.group) {
            *n -= 1;
            if *n == 0 {
                counts.per_source.remove(&self.group);
            }
        }
    }
}

/// A TCP connection holding its place under the caps.
pub struct LimitedStream {
    stream: TcpStream,
    _guard: Guard,
}

impl<S> Accept<TcpStream, S> for LimitedAcceptor {
    type Stream = LimitedStream;
    type Service = S;
    type Future = std::future::Ready<io::Result<(LimitedStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        std::future::ready((|| {
            let guard = self.admit(stream.peer_addr()?)?;
            stream.set_nodelay(true)?;
            Ok((
                LimitedStream {
                    stream,
                    _guard: guard,
                },
                service,
            ))
        })())
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_count_in_all_and_per_source_and_free_on_close() {
        let acceptor = LimitedAcceptor::new(&Limits {
            max_connections: 3,
            max_connections_per_source: 2,
            ..Default::default()
        });
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let a2: SocketAddr = "192.0.2.1:1001".parse().unwrap();
        let b: SocketAddr = "[2001:db8::1]:1000".parse().unwrap();
        let b_same_64: SocketAddr = "[2001:db8::ffff]:1000".parse().unwrap();
        let g1 = acceptor.admit(a).unwrap();
        let g2 = acceptor.admit(a2).unwrap();
        assert!(acceptor.admit(a).is_err(), "two per source");
        let g3 = acceptor.admit(b).unwrap();
        assert!(acceptor.admit(b_same_64).is_err(), "three in all");
        assert_eq!(acceptor.open(), 3);
        drop(g3);
        let g4 = acceptor.admit(b_same_64).unwrap();
        assert!(acceptor.admit(b).is_err(), "full again");
        drop((g1, g2, g4));
        assert_eq!(acceptor.open(), 0);
        assert!(acceptor.counts.lock().unwrap().per_source.is_empty());
    }
}
