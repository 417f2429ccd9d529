//! Who may make the server hash a password, now. Argon2id costs 19 MiB and
//! tens of milliseconds a try; unbounded, a flood of sign-ins for names
//! that do not exist held gigabytes and starved everyone else (issue 19).
//! So: a fixed number of hashes at once (the rest answered `429` at once,
//! without hashing), at most a few in flight per network source, a source
//! that keeps failing waits longer and longer, and one that has not failed
//! keeps the last permit for itself. Per node and in memory: a restart
//! forgets, and the per-account back-off in the catalog does not.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use custos_format::UtcMillis;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The threads that hash passwords: as many as there are permits, made once.
/// Each Argon2 call takes ~19 MiB and gives it back to its thread's malloc
/// arena; run on tokio's blocking pool (hundreds of threads, a new arena
/// each) that memory stayed resident thread after thread — gigabytes after
/// a flood. On a fixed few threads it is reused.
pub struct HashThreads {
    jobs: std::sync::mpsc::SyncSender<Box<dyn FnOnce() + Send>>,
}

impl HashThreads {
    /// `threads` threads, and room for as many jobs waiting: every job
    /// holds a hashing permit until it is done (see [`Self::run`]), so no
    /// more can ever wait.
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Box<dyn FnOnce() + Send>>(threads * 2);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("custos-hash-{n}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("a hashing thread starts");
        }
        Self { jobs }
    }

    /// Runs `work` on a hashing thread, holding `permit` until it is done:
    /// a client that hangs up does not give the permit back while its hash
    /// still runs. `None` if the threads are gone or (never, with permits
    /// held) their queue is full.
    pub async fn run<T: Send + 'static, P: Send + 'static>(
        &self,
        permit: P,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let result = work();
            drop(permit);
            let _ = reply.send(result);
        });
        self.jobs.try_send(job).ok()?;
        answer.await.ok()
    }
}

/// Where a request came from: its address, and the group it is counted in
/// (an IPv4 address; an IPv6 /64, which one host can fill at will).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source(IpAddr);

impl Source {
    pub fn new(ip: IpAddr) -> Self {
        // An IPv4 client on a dual-stack socket is that IPv4 client.
        Self(match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        })
    }

    /// The address as the audit log records it.
    pub fn address(&self) -> String {
        self.0.to_string()
    }

    /// What limits count by.
    pub fn group(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        }
    }
}

/// The source of a request (unspecified when it came in without one, as in
/// tests that call the router directly).
pub fn source_of(parts: &Parts) -> Source {
    source_in(&parts.extensions)
}

/// [`source_of`] for a whole request.
pub fn source_of_request(request: &axum::extract::Request) -> Source {
    source_in(request.extensions())
}

fn source_in(extensions: &axum::http::Extensions) -> Source {
    Source::new(
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
    )
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(source_of(parts))
    }
}

/// Limits on password hashing for people who are not signed in.
#[derive(Clone, Debug)]
pub struct AdmissionConfig {
    /// Password hashes at once on this node (each thread keeps ~19 MiB);
    /// one of them only for sources that have not failed. At least 2.
    pub hash_permits: usize,
    /// Of those, at most this many for one source.
    pub per_source: u32,
    /// The failure of a source (within a window) from which it has to wait.
    pub source_free_failures: u32,
    /// The first wait, doubled at each further failure up to `source_max_wait_millis`.
    pub source_first_wait_millis: i64,
    pub source_max_wait_millis: i64,
    /// Failures older than this are forgotten.
    pub source_window_millis: i64,
    /// Sources remembered at most; when full, unknown sources wait.
    pub max_sources: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            hash_permits: (2 * cores).clamp(4, 16),
            per_source: 2,
            source_free_failures: 20,
            source_first_wait_millis: 1_000,
            source_max_wait_millis: 15 * 60 * 1000,
            source_window_millis: 60 * 60 * 1000,
            max_sources: 65_536,
        }
    }
}

#[derive(Debug, Default)]
struct SourceState {
    failures: u32,
    window_start: i64,
    in_flight: u32,
    wait_until: i64,
}

/// Why a sign-in was not looked at now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// This source failed too often: it waits.
    Source { retry_after_secs: u64 },
    /// All permits are in use (or the last is kept for sources that have
    /// not failed).
    Server,
}

impl Busy {
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Busy::Source { retry_after_secs } => retry_after_secs,
            Busy::Server => 1,
        }
    }
}

pub struct Admission {
    config: AdmissionConfig,
    /// Where the hashing is done.
    pub threads: HashThreads,
    /// Permits anyone may take (all but one).
    hashes: Arc<Semaphore>,
    /// The last permit: only for a source that has not failed, so whoever
    /// has not failed can always get in while other sources flood. A
    /// semaphore of its own, so two racing floods cannot both take it.
    reserve: Arc<Semaphore>,
    sources: Arc<Mutex<HashMap<String, SourceState>>>,
}

/// Leave to hash one password for a source; gives the permit back when dropped.
pub struct HashPermit {
    _permit: OwnedSemaphorePermit,
    sources: Arc<Mutex<HashMap<String, SourceState>>>,
    group: String,
}

impl Drop for HashPermit {
    fn drop(&mut self) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = sources.get_mut(&self.group) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
    }
}

fn seconds_until(now: i64, until: i64) -> u64 {
    ((until - now).max(0) as u64).div_ceil(1000).max(1)
}

impl Admission {
    pub fn new(config: AdmissionConfig) -> Self {
        let permits = config.hash_permits.max(2);
        Self {
            threads: HashThreads::new(permits),
            hashes: Arc::new(Semaphore::new(permits - 1)),
            reserve: Arc::new(Semaphore::new(1)),
            config,
            sources: Default::default(),
        }
    }

    /// Leave to hash a password for someone not signed in, or why not.
    pub fn admit(&self, source: &Source, now: UtcMillis) -> Result<HashPermit, Busy> {
        let now = now.as_millis();
        let group = source.group();
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if !sources.contains_key(&group) && sources.len() >= self.config.max_sources {
            // Forget what no longer matters: sources with nothing in flight,
            // no wait, and no failure within the window.
            let window = self.config.source_window_millis;
            sources.retain(|_, s| {
                s.in_flight > 0
                    || s.wait_until > now
                    || (s.failures > 0 && now - s.window_start < window)
            });
            if sources.len() >= self.config.max_sources {
                // Still full (many sources failing at once): this one is
                // admitted unremembered, as one that has failed — it may
                // not take the reserve permit. Nobody new is shut out.
                let permit = self
                    .hashes
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| Busy::Server)?;
                return Ok(HashPermit {
                    _permit: permit,
                    sources: self.sources.clone(),
                    group: String::new(),
                });
            }
        }
        let state = sources.entry(group.clone()).or_insert_with(|| SourceState {
            window_start: now,
            ..Default::default()
        });
        if now - state.window_start >= self.config.source_window_millis && state.wait_until <= now {
            state.failures = 0;
            state.window_start = now;
        }
        if state.wait_until > now {
            return Err(Busy::Source {
                retry_after_secs: seconds_until(now, state.wait_until),
            });
        }
        if state.in_flight >= self.config.per_source {
            return Err(Busy::Server);
        }
        let permit = match self.hashes.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) if state.failures == 0 => self
                .reserve
                .clone()
                .try_acquire_owned()
                .map_err(|_| Busy::Server)?,
            Err(_) => return Err(Busy::Server),
        };
        state.in_flight += 1;
        Ok(HashPermit {
            _permit: permit,
            sources: self.sources.clone(),
            group,
        })
    }

    /// A failed sign-in from `source`: past the free failures, it waits
    /// from one second doubling to fifteen minutes.
    pub fn failed(&self, source: &Source, now: UtcMillis) {
        let now = now.as_millis();
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let Some(state) = sources.get_mut(&source.group()) else {
            return;
        };
        state.failures = state.failures.saturating_add(1);
        if let Some(over) = state.failures.checked_sub(self.config.source_free_failures) {
            let wait = self
                .config
                .source_first_wait_millis
                .checked_shl(over.min(40))
                .unwrap_or(i64::MAX)
                .min(self.config.source_max_wait_millis);
            state.wait_until = now + wait;
        }
    }

    /// A success from `source` takes back the failure counted for it when
    /// its attempt began.
    pub fn forgive(&self, source: &Source) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = sources.get_mut(&source.group()) {
            state.failures = state.failures.saturating_sub(1);
        }
    }

    /// Hashing for someone signed in (a password change, an admin's
    /// reset): waits its turn rather than being refused, within the same
    /// bound on memory.
    pub async fn hash_turn(&self) -> OwnedSemaphorePermit {
        self.hashes
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// Sources remembered now (for tests and the abuse benchmark).
    pub fn remembered_sources(&self) -> usize {
        self.sources.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> UtcMillis {
        UtcMillis::from_millis(1_795_424_400_000 + ms).unwrap()
    }

    fn src(s: &str) -> Source {
        Source::new(s.parse().unwrap())
    }

    #[test]
    fn sources_are_addresses_and_ipv6_slash_64s() {
        assert_eq!(src("192.0.2.7").group(), "192.0.2.7");
        assert_eq!(src("::ffff:192.0.2.7").group(), "192.0.2.7");
        assert_eq!(src("2001:db8:1:2:aaaa::1").group(), "2001:db8:1:2::/64");
        assert_eq!(
            src("2001:db8:1:2:aaaa::1").group(),
            src("2001:db8:1:2:ffff:1:2:3").group()
        );
        assert_eq!(
            src("2001:db8:1:2:aaaa::1").address(),
            "2001:db8:1:2:aaaa::1"
        );
    }

    #[test]
    fn a_flooding_source_gets_its_share_and_waits_and_others_still_get_in() {
        let admission = Admission::new(AdmissionConfig {
            hash_permits: 4,
            ..Default::default()
        });
        let flood = src("192.0.2.66");
        // Two in flight at most for one source.
        let a = admission.admit(&flood, at(0)).unwrap();
        let b = admission.admit(&flood, at(0)).unwrap();
        assert_eq!(admission.admit(&flood, at(0)).err(), Some(Busy::Server));
        drop((a, b));
        // Nineteen failures cost nothing; the twentieth makes it wait 1 s,
        // then the waits double: 2 s, 4 s …
        for _ in 0..19 {
            let _p = admission.admit(&flood, at(0)).unwrap();
            admission.failed(&flood, at(0));
        }
        assert!(admission.admit(&flood, at(0)).is_ok());
        admission.failed(&flood, at(0));
        assert_eq!(
            admission.admit(&flood, at(500)).err(),
            Some(Busy::Source {
                retry_after_secs: 1
            })
        );
        let p = admission.admit(&flood, at(1_000)).unwrap();
        admission.failed(&flood, at(1_000));
        drop(p);
        assert_eq!(
            admission.admit(&flood, at(2_000)).err(),
            Some(Busy::Source {
                retry_after_secs: 1
            })
        );
        assert!(admission.admit(&flood, at(3_000)).is_ok());
        // The waits stop at fifteen minutes; an hour later it starts afresh.
        for n in 0..40 {
            admission.failed(&flood, at(3_000 + n));
        }
        assert_eq!(
            admission.admit(&flood, at(4_000)).err(),
            Some(Busy::Source {
                retry_after_secs: 15 * 60
            })
        );
        assert!(admission.admit(&flood, at(3_600_000 + 4_000)).is_ok());

        // With the permits held, a source that failed cannot take the
        // last one; a source that has not failed can.
        let admission = Admission::new(AdmissionConfig {
            hash_permits: 3,
            ..Default::default()
        });
        let (x, y) = (src("192.0.2.1"), src("192.0.2.2"));
        let _x = admission.admit(&x, at(0)).unwrap();
        admission.failed(&x, at(0));
        let _y = admission.admit(&y, at(0)).unwrap();
        assert_eq!(admission.admit(&x, at(0)).err(), Some(Busy::Server));
        let reviewer = src("198.51.100.5");
        let last = admission.admit(&reviewer, at(0)).unwrap();
        assert_eq!(
            admission.admit(&src("198.51.100.6"), at(0)).err(),
            Some(Busy::Server),
            "no permit left: refused at once, not queued"
        );
        drop(last);
        assert!(admission.admit(&src("198.51.100.6"), at(0)).is_ok());
    }

    #[test]
    fn the_memory_of_sources_is_bounded() {
        let admission = Admission::new(AdmissionConfig {
            max_sources: 100,
            ..Default::default()
        });
        for n in 0..100u32 {
            let s = Source::new(IpAddr::V4(n.into()));
            let _p = admission.admit(&s, at(0)).unwrap();
            admission.failed(&s, at(0));
        }
        assert_eq!(admission.remembered_sources(), 100);
        // Full of sources that failed within the hour: a new one is let in
        // unremembered (and may not take the reserve permit) …
        let newcomer = src("203.0.113.9");
        let held: Vec<_> = (0..3)
            .map(|_| admission.admit(&newcomer, at(1_000)).unwrap())
            .collect();
        assert_eq!(admission.remembered_sources(), 100);
        assert_eq!(
            admission.admit(&newcomer, at(1_000)).err(),
            Some(Busy::Server),
            "the reserve permit is not for the unremembered"
        );
        drop(held);
        // … and once their hour is over they are forgotten.
        assert!(admission.admit(&newcomer, at(3_600_001)).is_ok());
        assert_eq!(admission.remembered_sources(), 1);
    }
}

/// Audit entries for anonymous refusals (malformed requests, sign-ins for
/// names that do not exist or with no capacity free, refused dock
/// credentials), per source: up to [`Self::PER_SECOND`] a second one by one
/// (twice as many at once), and past that counted and written as one entry
/// per source a second, with the count. Every refusal is still answered and
/// still on record — but an outsider cannot fill the disk with signed
/// entries at the speed of the network.
#[derive(Default)]
pub struct RefusalAudit {
    buckets: Mutex<HashMap<String, RefusalBucket>>,
}

struct RefusalBucket {
    tokens: f64,
    at: i64,
    suppressed: u64,
}

impl RefusalAudit {
    pub const PER_SECOND: f64 = 10.0;
    const BURST: f64 = 20.0;
    const MAX_SOURCES: usize = 65_536;

    /// Whether this refusal gets an entry of its own; if not, it is counted
    /// for [`Self::take_counted`].
    pub fn admit(&self, source: &Source, now: UtcMillis) -> bool {
        let now = now.as_millis();
        let group = source.group();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&group) && buckets.len() >= Self::MAX_SOURCES {
            buckets.retain(|_, b| {
                b.suppressed > 0
                    || b.tokens + (now - b.at) as f64 / 1000.0 * Self::PER_SECOND < Self::BURST
            });
        }
        let bucket = buckets.entry(group).or_insert(RefusalBucket {
            tokens: Self::BURST,
            at: now,
            suppressed: 0,
        });
        bucket.tokens = (bucket.tokens
            + (now - bucket.at).max(0) as f64 / 1000.0 * Self::PER_SECOND)
            .min(Self::BURST);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            bucket.suppressed += 1;
            false
        }
    }

    /// The refusals counted since the last call, by source.
    pub fn take_counted(&self) -> Vec<(String, u64)> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .iter_mut()
            .filter(|(_, b)| b.suppressed > 0)
            .map(|(g, b)| (g.clone(), std::mem::take(&mut b.suppressed)))
            .collect()
    }
}

#[cfg(test)]
mod refusal_audit_tests {
    use super::*;

    #[test]
    fn a_source_gets_its_entries_one_by_one_up_to_its_rate_and_the_rest_counted() {
        let audit = RefusalAudit::default();
        let at = |ms: i64| UtcMillis::from_millis(1_795_424_400_000 + ms).unwrap();
        let flood = Source::new("192.0.2.66".parse().unwrap());
        let other = Source::new("198.51.100.1".parse().unwrap());
        let own = (0..100).filter(|_| audit.admit(&flood, at(0))).count();
        assert_eq!(own, 20, "the burst");
        assert!(audit.admit(&other, at(0)), "another source has its own");
        // A second later, ten more of its own.
        let own = (0..100).filter(|_| audit.admit(&flood, at(1_000))).count();
        assert_eq!(own, 10);
        assert_eq!(
            audit.take_counted(),
            vec![("192.0.2.66".to_owned(), 80 + 90)]
        );
        assert!(audit.take_counted().is_empty(), "counted once");
    }
}
