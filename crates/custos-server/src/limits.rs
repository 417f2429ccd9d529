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
use std::time::{Duration, Instant};

use std::future::Future;

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
    /// New connections one source may open per second, on average, and at
    /// once after a pause: each costs a TLS handshake before anything else
    /// can be said about it, so a flood of them is refused before that.
    pub new_connections_per_source_per_second: u32,
    pub new_connections_per_source_burst: u32,
    /// A request's headers must arrive within this (also: an idle
    /// keep-alive connection is closed after it).
    pub header_read_timeout: Duration,
    /// A request body may pause this long between two pieces, no longer.
    pub body_idle_timeout: Duration,
    /// A request body must have arrived whole within this (a docked
    /// camera's upload, which may take long, is the dock's own business
    /// once it is authenticated: it has only the pause limit).
    pub body_total_timeout: Duration,
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
            new_connections_per_source_per_second: 32,
            new_connections_per_source_burst: 64,
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            body_total_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            admission: AdmissionConfig::default(),
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_source: HashMap<String, usize>,
    /// Each source's token bucket for new connections: (tokens, when counted).
    buckets: HashMap<String, (f64, Instant)>,
}

/// Sources whose buckets are remembered at most (full buckets are forgotten first).
const MAX_BUCKETS: usize = 65_536;

/// Accepts a connection only while it is under the caps; sets `TCP_NODELAY`
/// (without it the last small segment of a response waits for the client's
/// delayed ACK, 40 ms on Linux — a player's next range with it).
#[derive(Clone)]
pub struct LimitedAcceptor {
    counts: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_source: usize,
    rate: f64,
    burst: f64,
}

impl LimitedAcceptor {
    pub fn new(limits: &Limits) -> Self {
        Self {
            counts: Default::default(),
            max_total: limits.max_connections,
            max_per_source: limits.max_connections_per_source,
            rate: f64::from(limits.new_connections_per_source_per_second.max(1)),
            burst: f64::from(limits.new_connections_per_source_burst.max(1)),
        }
    }

    /// Connections open now (for tests and the abuse benchmark).
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    fn admit(&self, peer: SocketAddr, now: Instant) -> io::Result<Guard> {
        let group = Source::new(peer.ip()).group();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = counts.per_source.get(&group).copied().unwrap_or(0);
        if counts.total >= self.max_total || mine >= self.max_per_source {
            return Err(io::Error::other("connection limit reached"));
        }
        // Past three quarters full, each source holds at most an equal
        // share, counting one more for whoever comes next: a few sources
        // cannot take every place (four at the per-source cap would), and
        // a newcomer always has a share.
        if counts.total * 4 >= self.max_total * 3 {
            let sources = counts.per_source.len() + 1;
            if mine >= (self.max_total / sources).max(1) {
                return Err(io::Error::other("connection share reached"));
            }
        }
        if !counts.buckets.contains_key(&group) && counts.buckets.len() >= MAX_BUCKETS {
            let (rate, burst) = (self.rate, self.burst);
            counts.buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = counts
            .buckets
            .entry(group.clone())
            .or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.rate)
            .min(self.burst);
        *at = now;
        if *tokens < 1.0 {
            return Err(io::Error::other("connection rate limit reached"));
        }
        *tokens -= 1.0;
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
            let guard = self.admit(stream.peer_addr()?, Instant::now())?;
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

/// A request body that must end by a deadline (see
/// [`Limits::body_total_timeout`]): a byte every 29 s would pass the pause
/// limit forever.
struct DeadlineBody {
    inner: axum::body::Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body took too long",
            )))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Puts the deadline on every request body but a dock's upload.
pub async fn body_deadline(
    axum::extract::State(total): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let upload = request.method() == axum::http::Method::PATCH
        && request.uri().path().starts_with("/api/v1/uploads/");
    if upload {
        return next.run(request).await;
    }
    let (parts, inner) = request.into_parts();
    let body = DeadlineBody {
        inner,
        deadline: Box::pin(tokio::time::sleep(total)),
    };
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::new(body),
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_connections_are_rate_limited_per_source_with_a_burst() {
        let acceptor = LimitedAcceptor::new(&Limits {
            new_connections_per_source_per_second: 10,
            new_connections_per_source_burst: 5,
            ..Default::default()
        });
        let t0 = Instant::now();
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:1000".parse().unwrap();
        let mut open = Vec::new();
        for _ in 0..5 {
            open.push(acceptor.admit(a, t0).unwrap());
        }
        assert!(acceptor.admit(a, t0).is_err(), "the burst is spent");
        assert!(acceptor.admit(b, t0).is_ok(), "another source has its own");
        // A tenth of a second later there is one more.
        assert!(acceptor.admit(a, t0 + Duration::from_millis(100)).is_ok());
        assert!(acceptor.admit(a, t0 + Duration::from_millis(100)).is_err());
        // Closing connections gives no new ones; time does, up to the burst.
        drop(open);
        let later = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(acceptor.admit(a, later).is_ok());
        }
        assert!(acceptor.admit(a, later).is_err());
    }

    #[test]
    fn past_three_quarters_each_source_holds_a_share_and_newcomers_get_in() {
        let acceptor = LimitedAcceptor::new(&Limits {
            max_connections: 100,
            max_connections_per_source: 40,
            new_connections_per_source_per_second: 1_000,
            new_connections_per_source_burst: 1_000,
            ..Default::default()
        });
        let now = Instant::now();
        let source = |n: u8| -> SocketAddr { format!("192.0.2.{n}:1000").parse().unwrap() };
        // Two sources fill 75 places; then each may hold only a third (a
        // newcomer counts), so neither may take more …
        let mut held = Vec::new();
        for _ in 0..38 {
            held.push(acceptor.admit(source(1), now).unwrap());
        }
        for _ in 0..37 {
            held.push(acceptor.admit(source(2), now).unwrap());
        }
        assert!(acceptor.admit(source(1), now).is_err());
        assert!(acceptor.admit(source(2), now).is_err());
        // … while newcomers still get theirs.
        for n in 3..=10 {
            held.push(acceptor.admit(source(n), now).unwrap());
        }
        assert_eq!(acceptor.open(), 83);
    }

    #[test]
    fn the_caps_count_in_all_and_per_source_and_free_on_close() {
        let acceptor = LimitedAcceptor::new(&Limits {
            max_connections: 3,
            max_connections_per_source: 2,
            ..Default::default()
        });
        let now = Instant::now();
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let a2: SocketAddr = "192.0.2.1:1001".parse().unwrap();
        let b: SocketAddr = "[2001:db8::1]:1000".parse().unwrap();
        let b_same_64: SocketAddr = "[2001:db8::ffff]:1000".parse().unwrap();
        let g1 = acceptor.admit(a, now).unwrap();
        let g2 = acceptor.admit(a2, now).unwrap();
        assert!(acceptor.admit(a, now).is_err(), "two per source");
        let g3 = acceptor.admit(b, now).unwrap();
        assert!(acceptor.admit(b_same_64, now).is_err(), "three in all");
        assert_eq!(acceptor.open(), 3);
        drop(g3);
        let g4 = acceptor.admit(b_same_64, now).unwrap();
        assert!(acceptor.admit(b, now).is_err(), "full again");
        drop((g1, g2, g4));
        assert_eq!(acceptor.open(), 0);
        assert!(acceptor.counts.lock().unwrap().per_source.is_empty());
    }
}
