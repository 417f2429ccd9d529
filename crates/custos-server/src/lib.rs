//! The evidence server: verified ingest with signed receipts (this crate),
//! and later access by purpose, audit log, retention, export.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod admission;
pub mod api;
pub mod audit;
pub mod auth;
pub mod axis;
pub mod dock_reports;
pub mod edge;
pub mod error;
pub mod export;
pub mod fleet;
pub mod headers;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod limits;
pub mod links;
pub mod parts;
pub mod playback;
pub mod redaction;
pub mod refusals;
pub mod retention;
pub mod settings;
pub mod statistics;
pub mod storage;
pub mod subject;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use custos_blobs::BlobStore;
use custos_catalog::Catalog;
use custos_format::UtcMillis;
use custos_keys::secrecy::SecretString;

/// The server's clock, injected so tests decide what time it is.
pub type Clock = Arc<dyn Fn() -> UtcMillis + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(UtcMillis::now)
}

pub struct ServerConfig {
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// PEM certificate chain and key; `None` generates a self-signed pair
    /// under `DATA/tls/` on first start (local use).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Identifies this deployment in receipts.
    pub server_id: String,
    /// How long after a recording ends it is deleted (unless held), by category.
    pub retention: retention::RetentionPolicy,
    /// What the deployment decided beyond the fixed role table.
    pub policy: custos_access::Policy,
    /// Where the catalog and blobs live (default: in `data`).
    pub storage: storage::StorageConfig,
    /// Caps on connections, timeouts, and on password hashing for people
    /// not signed in (issue 19).
    pub limits: limits::Limits,
    /// The Axis content destination's listener, if this deployment takes
    /// recordings from Axis body-worn systems (ADR 0017).
    pub axis: Option<axis::AxisSettings>,
}

/// Everything the handlers need, opened once at start.
pub struct Deployment {
    pub catalog: Arc<dyn Catalog>,
    pub blobs: BlobStore,
    pub keys: Arc<keys::ServerKeys>,
    pub clock: Clock,
    pub ingest: ingest::Ingest,
    pub audit: audit::AuditLog,
    pub auth: auth::Authenticator,
    /// Retention periods and purposes (an admin may change them while it
    /// runs) with the rest of the policy `serve` was started with.
    pub settings: Arc<settings::LiveSettings>,
    /// Recently opened recordings, for a player's next range.
    pub(crate) payloads: playback::PayloadCache,
    /// This node, as named in leases (several nodes may serve one deployment).
    pub node_id: String,
    /// Refused dock credentials not yet written as incidents.
    pub refusals: refusals::RefusalCounter,
}

impl Deployment {
    /// The policy in force now.
    pub fn policy(&self) -> custos_access::Policy {
        self.settings.policy()
    }

    /// The retention periods in force now.
    pub fn retention(&self) -> retention::RetentionPolicy {
        self.settings.retention()
    }

    pub fn ingest_clock(&self) -> Clock {
        self.ingest.clock()
    }

    /// Opens the data directory: catalog, blob store, keys (unsealed with `passphrase`).
    pub async fn open(
        config: &ServerConfig,
        passphrase: &SecretString,
        clock: Clock,
    ) -> Result<Self> {
        let catalog: Arc<dyn Catalog> = config.storage.open_catalog(&config.data).await?;
        let blobs = config.storage.open_blobs(&config.data)?;
        let keys = Arc::new(
            keys::ServerKeys::open(&config.data, passphrase)
                .context("opening the server's keys")?,
        );
        // Settings an administrator saved win over the flags.
        let live = Arc::new(settings::LiveSettings::new(
            config.policy.clone(),
            config.retention.clone(),
        ));
        let stored = catalog
            .setting(settings::SETTINGS_KEY)
            .await
            .context("reading the catalog")?;
        let source = match &stored {
            Some(json) => {
                let saved: settings::Settings = serde_json::from_str(json)
                    .context("the settings saved in the catalog do not parse")?;
                let (retention, purposes) = saved.validate().map_err(|r| {
                    anyhow::anyhow!("the settings saved in the catalog: {}", r.message)
                })?;
                live.apply(retention, purposes);
                "saved by an administrator"
            }
            None => "from the command line",
        };
        let retention = live.retention();
        // A camera in a category this deployment no longer defines would get
        // some other period silently: refuse to start instead.
        for device in catalog.devices().await.context("reading the catalog")? {
            if retention.period(&device.retention_category).is_none() {
                anyhow::bail!(
                    "camera `{}` is in retention category `{}`, which this deployment does not define \
                     (defined: {}); add --retention-category {}=PERIOD or move the camera",
                    device.device_id,
                    device.retention_category,
                    retention.describe(),
                    device.retention_category
                );
            }
        }
        let signer = audit::load_or_create_signer(&config.data).context("opening the audit key")?;
        let audit = audit::AuditLog::start(catalog.clone(), signer);
        // The deployment's settings are configuration changes too: each start says what they are.
        let p = live.policy();
        audit
            .record(
                custos_audit::AuditEvent::new(
                    clock(),
                    "system:server",
                    "server.start",
                    custos_audit::Outcome::Ok,
                )
                .object(format!("server:{}", config.server_id))
                .detail(format!(
                    "retention {} and purposes {} ({source}); officer self-review {}; hold needs second approver {}; export needs second approver {}; release grace {} h; export links at most {} h",
                    retention.describe(),
                    p.purposes.join(","),
                    p.officer_self_review,
                    p.hold_needs_second_approver,
                    p.export_needs_second_approver,
                    p.hold_release_grace_millis / 3_600_000,
                    p.export_link_max_millis / 3_600_000
                )),
            )
            .await
            .context("writing the audit log")?;
        let ingest = ingest::Ingest::new(
            catalog.clone(),
            blobs.clone(),
            keys.clone(),
            audit.clone(),
            ingest::IngestSettings {
                staging: config.data.join("staging"),
                server_id: config.server_id.clone(),
                settings: live.clone(),
                clock: clock.clone(),
            },
        )?;
        ingest
            .remove_orphaned_staging_at_start()
            .await
            .context("removing staging files no upload names")?;
        let device_key = audit::derive_key(&config.data, "custos device cookies v1")
            .context("deriving the device cookies' key")?;
        let auth = auth::Authenticator::new(
            catalog.clone(),
            keys.clone(),
            audit.clone(),
            clock.clone(),
            config.limits.admission.clone(),
            &device_key,
        )?;
        Ok(Self {
            catalog,
            blobs,
            keys,
            clock,
            ingest,
            audit,
            auth,
            settings: live,
            payloads: Default::default(),
            node_id: format!("node-{}", uuid::Uuid::now_v7().simple()),
            refusals: Default::default(),
        })
    }
}

/// A running server (tests start one on port 0).
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The server's state, for tests and in-process maintenance.
    pub deployment: Arc<Deployment>,
    /// The certificate the dock pins (PEM).
    pub certificate_pem: String,
    /// Where the Axis listener listens, if it was asked for.
    pub axis_addr: Option<SocketAddr>,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    axis: Option<(
        axum_server::Handle,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
}

impl RunningServer {
    pub async fn shutdown(self) {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        if let Some((handle, _)) = &self.axis {
            handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        }
        let _ = self.task.await;
        if let Some((_, task)) = self.axis {
            let _ = task.await;
        }
    }
}

pub async fn start(
    config: ServerConfig,
    passphrase: &SecretString,
    clock: Clock,
) -> Result<RunningServer> {
    start_with_pages(config, passphrase, clock, axum::Router::new()).await
}

/// [`start`], serving `pages` (the web UI) beside the API.
pub async fn start_with_pages(
    config: ServerConfig,
    passphrase: &SecretString,
    clock: Clock,
    pages: axum::Router<Arc<Deployment>>,
) -> Result<RunningServer> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let deployment = Arc::new(Deployment::open(&config, passphrase, clock).await?);
    let (certificate_pem, tls) =
        tls::load_or_create(&config.data, config.tls.as_ref(), config.listen).await?;
    let limits = config.limits.clone();
    let app = http::router(deployment.clone(), pages)
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_idle_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.body_total_timeout,
            limits::body_deadline,
        ));
    tokio::spawn(maintenance(deployment.clone()));
    tokio::spawn(write_refusals(deployment.clone()));
    // One acceptor for both listeners: the limits on connections are the
    // process's, whichever port they come to.
    let acceptor = limits::LimitedAcceptor::new(&limits);
    let axis = match &config.axis {
        Some(settings) => Some(
            start_axis(
                &deployment,
                &config.data,
                settings.clone(),
                (tls.clone(), acceptor.clone()),
                &limits,
            )
            .await?,
        ),
        None => None,
    };
    let (addr, handle, task) = serve_tls(config.listen, tls, acceptor, &limits, 64, app)
        .await
        .context("the server did not start listening")?;
    tracing::info!(%addr, "evidence server listening (TLS)");
    Ok(RunningServer {
        addr,
        deployment,
        certificate_pem,
        axis_addr: axis.as_ref().map(|(addr, _, _)| *addr),
        handle,
        task,
        axis: axis.map(|(_, handle, task)| (handle, task)),
    })
}

type Listener = (
    SocketAddr,
    axum_server::Handle,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

/// Serves `app` over TLS on `listen` with the server's connection limits
/// and timeouts; where it listens once it does.
async fn serve_tls(
    listen: SocketAddr,
    tls: axum_server::tls_rustls::RustlsConfig,
    acceptor: limits::LimitedAcceptor,
    limits: &limits::Limits,
    max_headers: usize,
    app: axum::Router,
) -> Result<Listener> {
    let handle = axum_server::Handle::new();
    let timeout = limits.tls_handshake_timeout;
    let mut server = axum_server::bind_rustls(listen, tls)
        .map(move |rustls| rustls.handshake_timeout(timeout).acceptor(acceptor))
        .handle(handle.clone());
    // HTTP/1.1 only (ADR 0012): its header timeout also closes idle
    // keep-alive connections, and HTTP/2's stream floods are not on offer.
    let builder = std::mem::replace(
        server.http_builder(),
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new()),
    );
    *server.http_builder() = builder.http1_only();
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(max_headers);
    let task = tokio::spawn(server.serve(app.into_make_service_with_connect_info::<SocketAddr>()));
    let addr = handle.listening().await.context("not listening")?;
    Ok((addr, handle, task))
}

/// The Axis content destination's own listener (ADR 0017): the server's
/// certificate, the same connection limits and header timeouts, and a
/// body's pause limit but no limit on a body's whole time (a clip is
/// gigabytes).
async fn start_axis(
    deployment: &Arc<Deployment>,
    data: &std::path::Path,
    settings: axis::AxisSettings,
    (tls, acceptor): (
        axum_server::tls_rustls::RustlsConfig,
        limits::LimitedAcceptor,
    ),
    limits: &limits::Limits,
) -> Result<Listener> {
    let listen = settings.listen;
    let dest =
        Arc::new(axis::Destination::open(data, settings).context("the Axis staging directory")?);
    // A store that cannot delete now must not keep the server from
    // starting: maintenance tries again.
    match axis::remove_abandoned_blobs(deployment).await {
        Ok(0) => {}
        Ok(removed) => {
            tracing::warn!(
                removed,
                "removed blobs of Axis objects whose rows never committed"
            )
        }
        Err(e) => tracing::error!(error = %e, "removing blobs of Axis objects never stored failed"),
    }
    let app = axis::http::router(axis::http::Axis {
        d: deployment.clone(),
        dest,
    })
    .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_idle_timeout,
    ));
    // More headers than the main listener's: up to 90 metadata items.
    let (addr, handle, task) = serve_tls(listen, tls, acceptor, limits, 128, app)
        .await
        .context("the Axis listener did not start listening")?;
    tracing::info!(%addr, "Axis content destination listening (TLS)");
    Ok((addr, handle, task))
}

/// Refusals counted in memory, written once a second.
async fn write_refusals(d: Arc<Deployment>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        every.tick().await;
        d.write_refusals().await;
    }
}

impl Deployment {
    /// Writes what was counted of refusals: refused dock credentials into
    /// their incidents, and anonymous refusals past a source's rate as one
    /// audit entry per source with the count (`serve` does this each second).
    pub async fn write_refusals(&self) {
        self.refusals.flush(&*self.catalog).await;
        let now = (self.clock)();
        let counted = self.auth.refusal_audit.take_counted();
        let events: Vec<_> = counted
            .into_iter()
            .map(|(source, count)| {
                custos_audit::AuditEvent::new(
                    now,
                    "anonymous",
                    "request.refused",
                    custos_audit::Outcome::Refused,
                )
                .client(source)
                .detail(format!(
                    "{count} more refusals from this source, past {} a second, not recorded one by one",
                    admission::RefusalAudit::PER_SECOND
                ))
            })
            .collect();
        if !events.is_empty() {
            if let Err(e) = self.audit.record_all(events).await {
                tracing::error!(error = %e, "could not record the counted refusals");
            }
        }
    }
}

/// Uploads untouched for this long are abandoned (docks resume within minutes).
pub const ABANDONED_UPLOAD_MILLIS: i64 = 7 * 24 * 3600 * 1000;

/// Periodic work inside `serve`: at start, then every ten minutes.
async fn maintenance(d: Arc<Deployment>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        maintenance_once(&d).await;
    }
}

/// The retention sweep runs on the node holding this lease (ADR 0008).
pub const SWEEP_LEASE: &str = "retention-sweep";
/// Longer than a sweep takes, shorter than anyone would wait for a dead
/// node's deletions to be finished by another.
pub const SWEEP_LEASE_MILLIS: i64 = 15 * 60 * 1000;

/// What one round of maintenance did on this node.
#[derive(Debug, Default)]
pub struct MaintenanceReport {
    /// `None`: another node held the sweep's lease.
    pub swept: Option<retention::SweepReport>,
}

/// One round of maintenance: re-read saved settings (another node may have
/// changed them), forget abandoned uploads, and sweep — if this node gets
/// the sweep's lease. Errors are logged; the next round tries again.
pub async fn maintenance_once(d: &Deployment) -> MaintenanceReport {
    match d.catalog.setting(settings::SETTINGS_KEY).await {
        Ok(Some(json)) => match serde_json::from_str::<settings::Settings>(&json)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate().map_err(|r| r.message))
        {
            Ok((retention, purposes)) => d.settings.apply(retention, purposes),
            Err(e) => {
                tracing::error!(error = %e, "the saved settings do not parse; kept the ones in force")
            }
        },
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "reading the saved settings failed"),
    }
    if let Err(e) = d.ingest.expire_abandoned(ABANDONED_UPLOAD_MILLIS).await {
        tracing::error!(error = %e, "expiring abandoned uploads failed");
    }
    playback::forget_expired(d);
    if let Err(e) = axis::expire_containers(d).await {
        tracing::error!(error = %e, "expiring Axis uploads that never became recordings failed");
    }
    if let Err(e) = axis::remove_abandoned_blobs(d).await {
        tracing::error!(error = %e, "removing blobs of Axis objects never stored failed");
    }
    let now = (d.clock)();
    let holder = &d.node_id;
    match d
        .catalog
        .take_lease(
            SWEEP_LEASE,
            holder,
            now,
            now.plus_millis(SWEEP_LEASE_MILLIS),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("another node holds the sweep's lease");
            return MaintenanceReport::default();
        }
        Err(e) => {
            tracing::error!(error = %e, "taking the sweep's lease failed");
            return MaintenanceReport::default();
        }
    }
    let audit = retention::AuditSink::Server(d.audit.clone());
    let swept = match retention::sweep(&*d.catalog, &d.blobs, &audit, now).await {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::error!(error = %e, "retention sweep failed");
            None
        }
    };
    // Recordings whose signed-video check or GNSS trail a crash or a
    // failing store left undone: on the node holding the sweep's lease,
    // after the sweep, so deletions never wait for them and nodes do not
    // read the same objects.
    axis::signed::check_pending(d).await;
    axis::trail::read_pending(d).await;
    if let Err(e) = d.catalog.release_lease(SWEEP_LEASE, holder).await {
        tracing::error!(error = %e, "releasing the sweep's lease failed; it expires");
    }
    MaintenanceReport { swept }
}

/// `28d`, `72h`, `90m`: a period as written in configuration.
pub fn parse_period(s: &str) -> Result<i64, String> {
    // The unit is the last character, whatever its width (`28é` is refused,
    // not split inside the `é`).
    let cut = s.char_indices().last().map_or(0, |(i, _)| i);
    let (number, unit) = s.split_at(cut);
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= 100_000)
        .ok_or_else(|| {
            format!(
                "`{}`: expected a positive number then d, h or m (28d, 72h)",
                custos_audit::excerpt(s)
            )
        })?;
    let unit_millis = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        _ => {
            return Err(format!(
                "`{}`: the unit must be d, h or m",
                custos_audit::excerpt(s)
            ))
        }
    };
    Ok(n * unit_millis)
}

#[cfg(test)]
mod tests {
    #[test]
    fn periods_parse_and_garbage_is_refused_not_a_panic() {
        assert_eq!(super::parse_period("28d"), Ok(28 * 86_400_000));
        assert_eq!(super::parse_period("72h"), Ok(72 * 3_600_000));
        assert_eq!(super::parse_period("90m"), Ok(90 * 60_000));
        let long = "9".repeat(5000);
        for bad in [
            "", "d", "28", "28é", "é", "😀", "2😀", "0d", "-1d", "100001d", "28 d", "28D",
            "2\u{0}d", &long,
        ] {
            let e = super::parse_period(bad).unwrap_err();
            assert!(e.len() < 200, "{e}");
        }
    }
}
