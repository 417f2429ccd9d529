//! Issue 19: no request, signed in or not, can deny others their sign-in,
//! their footage or their audit trail (DESIGN.md invariant 10). Attacks
//! come from other loopback addresses than the people they must not harm,
//! as they would from another host.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{self, *};
use common::raw::{request, Raw};

fn attacker(n: usize) -> IpAddr {
    IpAddr::from([127, 0, 0, 2 + (n % 8) as u8])
}

/// Who the attacks are made as: nobody, and each role.
struct Insiders {
    reviewer: String,
    admin: String,
    officer: String,
    privacy: String,
    auditor: String,
    evaluator: String,
}

fn bearer(t: &str) -> Vec<u8> {
    format!("Bearer {t}").into_bytes()
}

const JSON: &[(&str, &[u8])] = &[("content-type", b"application/json")];

fn long(c: char, len: usize) -> String {
    c.to_string().repeat(len)
}

/// The `n`-th malformed request, cycling through every shape found in the
/// attacks on the demo and the ones a fuzzer would try; and whether the
/// edge refuses it (so it must be audited as `request.refused`).
fn malformed(n: usize, who: &Insiders, recording: &str, case: &str) -> (Vec<u8>, bool) {
    match n % 24 {
        0..=5 => malformed_credentials_and_paths(n, who),
        6..=13 => malformed_queries_and_bodies(n, who),
        14..=18 => malformed_headers_and_nesting(n, who, recording, case),
        _ => malformed_odd_ends(n, who),
    }
}

/// Shapes 0 to 5: dock credentials, over-long paths and paths with control
/// characters.
fn malformed_credentials_and_paths(n: usize, who: &Insiders) -> (Vec<u8>, bool) {
    match n % 24 {
        // A 300-byte dock id: its refusal once invalidated a whole batch.
        0 => (
            request(
                "POST",
                b"/api/v1/uploads",
                &[("authorization", &bearer(&format!("{}:x", long('D', 300))))],
                b"{}",
            ),
            false,
        ),
        1 => (
            request(
                "POST",
                b"/api/v1/uploads",
                &[("authorization", "Bearer d\u{e9}ck:x".as_bytes())],
                b"{}",
            ),
            false,
        ),
        2 => (
            request(
                "GET",
                b"/api/v1/dock",
                &[("authorization", &bearer(&format!("dock-{n}:wrong")))],
                b"",
            ),
            false,
        ),
        3 => (
            request(
                "GET",
                format!("/api/v1/recordings/{}", long('a', 201)).as_bytes(),
                &[("authorization", &bearer(&who.reviewer))],
                b"",
            ),
            true,
        ),
        4 => (
            request(
                "POST",
                format!("/api/v1/users/{}/reset-password", long('u', 5000)).as_bytes(),
                &[("authorization", &bearer(&who.admin))],
                b"",
            ),
            true,
        ),
        5 => {
            let bad = ["%00", "K%0A17", "%C2%85", "%E2%80%AE", "%FF"][n / 24 % 5];
            (
                request(
                    "POST",
                    format!("/api/v1/cases/{bad}/close").as_bytes(),
                    &[("authorization", &bearer(&who.privacy))],
                    b"",
                ),
                true,
            )
        }
        _ => unreachable!("shape {}", n % 24),
    }
}

/// Shapes 6 to 13: bad queries, sign-ins for nobody, broken JSON bodies.
fn malformed_queries_and_bodies(n: usize, who: &Insiders) -> (Vec<u8>, bool) {
    let json = JSON;
    match n % 24 {
        6 => (
            request(
                "GET",
                b"/api/v1/recordings?officer=%C2%85",
                &[("authorization", &bearer(&who.reviewer))],
                b"",
            ),
            true,
        ),
        7 => (
            request(
                "GET",
                format!("/api/v1/recordings?officer={}", long('o', 2000)).as_bytes(),
                &[("authorization", &bearer(&who.officer))],
                b"",
            ),
            true,
        ),
        8 => (
            request(
                "GET",
                b"/api/v1/recordings?from=%ZZ&to=yesterday",
                &[("authorization", &bearer(&who.reviewer))],
                b"",
            ),
            false,
        ),
        // Sign-in for names that do not exist: the memory sink.
        9 | 10 => (
            request(
                "POST",
                b"/api/v1/session",
                json,
                format!(r#"{{"name":"nobody-{n}","password":"guess","code":"123456"}}"#).as_bytes(),
            ),
            false,
        ),
        11 => (
            request("POST", b"/api/v1/session", json, br#"{"name":"anna","pass"#),
            false,
        ),
        12 => (
            request(
                "PUT",
                b"/api/v1/settings",
                &[
                    ("authorization", &bearer(&who.admin)),
                    ("content-type", b"application/json"),
                ],
                "{\"retention\":\"28\u{e9}\"}".as_bytes(),
            ),
            false,
        ),
        13 => (
            request(
                "POST",
                b"/api/v1/cases",
                &[
                    ("authorization", &bearer(&who.reviewer)),
                    ("content-type", b"application/json"),
                ],
                br#"{"kind":"incident","label":"a\u0000b","case_id":"K\u0085"}"#,
            ),
            false,
        ),
        _ => unreachable!("shape {}", n % 24),
    }
}

/// Shapes 14 to 18: bad ranges, cookies and tokens, deep nesting, an
/// over-long recording id.
fn malformed_headers_and_nesting(
    n: usize,
    who: &Insiders,
    recording: &str,
    case: &str,
) -> (Vec<u8>, bool) {
    let json = JSON;
    let video = format!("/api/v1/recordings/{recording}/video?purpose=complaint&case={case}");
    match n % 24 {
        14 => {
            let range = [
                "bytes=99999999999999999999-",
                "bytes=5-1",
                "bytes=0-1,2-3",
                "items=0-1",
                "bytes=-0",
            ][n / 24 % 5];
            (
                request(
                    "GET",
                    video.as_bytes(),
                    &[
                        ("authorization", &bearer(&who.reviewer)),
                        ("range", range.as_bytes()),
                    ],
                    b"",
                ),
                false,
            )
        }
        15 => (
            request(
                "GET",
                b"/api/v1/recordings",
                &[(
                    "cookie",
                    format!("__Host-custos_session={}; ;;=;x", long('c', 4000)).as_bytes(),
                )],
                b"",
            ),
            false,
        ),
        16 => (
            request(
                "GET",
                b"/api/v1/session",
                &[("authorization", &bearer(&long('t', 10_000)))],
                b"",
            ),
            false,
        ),
        17 => (
            request(
                "POST",
                b"/api/v1/session",
                json,
                format!("{}{}", long('[', 5000), long(']', 5000)).as_bytes(),
            ),
            false,
        ),
        18 => (
            request(
                "GET",
                format!("/api/v1/recordings/{}", long('9', 201)).as_bytes(),
                &[("authorization", &bearer(&who.officer))],
                b"",
            ),
            true,
        ),
        _ => unreachable!("shape {}", n % 24),
    }
}

/// Shapes 19 to 23: bad audit and statistics queries, a return target off
/// the site, an unknown download, an unknown method.
fn malformed_odd_ends(n: usize, who: &Insiders) -> (Vec<u8>, bool) {
    match n % 24 {
        19 => (
            request(
                "GET",
                b"/api/v1/audit/entries?from=-1&limit=abc",
                &[("authorization", &bearer(&who.auditor))],
                b"",
            ),
            false,
        ),
        20 => (
            request(
                "GET",
                b"/api/v1/statistics?from=%E2%80%AE2026-01-01",
                &[("authorization", &bearer(&who.evaluator))],
                b"",
            ),
            true,
        ),
        21 => (
            request("GET", b"/language?set=en&back=/%09/evil.example", &[], b""),
            true,
        ),
        22 => (
            request(
                "POST",
                format!("/api/v1/downloads/{:064x}", n as u128 * 7919).as_bytes(),
                &[],
                b"",
            ),
            false,
        ),
        _ => (
            request(
                "BREW",
                b"/api/v1/recordings",
                &[("authorization", &bearer(&who.reviewer))],
                b"",
            ),
            false,
        ),
    }
}

/// A world whose server lets each source open connections faster than it
/// may in production (that limit has its test below): a recording of
/// cam-a held for reviewer anna's complaint, three of cam-b the sweeper
/// will delete during the flood, and an insider of each role signed in.
struct Flood {
    w: World,
    r: custos_catalog::Recording,
    anna: Account,
    reviewer: String,
    case: String,
    insiders: Arc<Insiders>,
    /// The audit log's length before the flood.
    audit_before: usize,
}

/// Malformed requests in the flood: 128 of each of the 24 shapes.
const FLOOD: usize = 3_072;

async fn flood_world() -> Flood {
    let w = world_with_limits(
        Default::default(),
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
        None,
        custos_server::limits::Limits {
            new_connections_per_source_per_second: 1_000_000,
            new_connections_per_source_burst: 1_000_000,
            ..Default::default()
        },
    )
    .await;
    let r = w.one_recording("cam-a", 60).await;
    // Recordings the sweeper will delete during the flood.
    let due = w.camera("cam-b", 3, true).await;
    w.offload(&due).await;

    let anna = w.add_user("anna", "reviewer", None).await;
    let reviewer = w.sign_in(&anna).await;
    let case = w
        .with_case_labelled(&reviewer, "complaint", "abuse test")
        .await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&reviewer),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "complaint"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201, "{}", hold.json());
    let insiders = Insiders {
        reviewer: w.sign_in(&w.add_user("rob", "reviewer", None).await).await,
        admin: w.sign_in(&w.add_user("adam", "admin", None).await).await,
        officer: w
            .sign_in(&w.add_user("olga", "officer", Some("boa-5")).await)
            .await,
        privacy: w
            .sign_in(&w.add_user("pia", "privacy-officer", None).await)
            .await,
        auditor: w.sign_in(&w.add_user("aud", "auditor", None).await).await,
        evaluator: w.sign_in(&w.add_user("eva", "evaluator", None).await).await,
    };
    let audit_before = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 1_000_000)
        .await
        .unwrap()
        .len();
    Flood {
        w,
        r,
        anna,
        reviewer,
        case,
        insiders: Arc::new(insiders),
        audit_before,
    }
}

/// Each flooded request's shape, status (`None`: no answer) and error code.
type Statuses = Vec<(usize, Option<u16>, String)>;

impl Flood {
    /// Sixteen attackers send the `FLOOD` malformed requests between them,
    /// each on a connection of its own, counting those the edge refuses in
    /// `edge_refused`; `next` is the next request to send.
    fn start_flood(
        &self,
        next: &Arc<AtomicUsize>,
        edge_refused: &Arc<AtomicUsize>,
    ) -> Vec<tokio::task::JoinHandle<Statuses>> {
        let raw = Raw::new(self.w.server.addr, &self.w.server.certificate_pem);
        let recording = self.r.recording_id.to_string();
        let mut flood = Vec::new();
        for _ in 0..16 {
            let (raw, insiders, next, edge_refused) = (
                raw.clone(),
                self.insiders.clone(),
                next.clone(),
                edge_refused.clone(),
            );
            let (recording, case) = (recording.clone(), self.case.clone());
            flood.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= FLOOD {
                        return statuses;
                    }
                    let (bytes, at_edge) = malformed(n, &insiders, &recording, &case);
                    let answer = raw.send(attacker(n), bytes).await.unwrap();
                    if at_edge {
                        edge_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    statuses.push((n % 24, answer.status, answer.code()));
                }
            }));
        }
        flood
    }

    /// Until the flood is sent, the reviewer lists, looks and plays range
    /// after range, signs in again; the sweeper sweeps. How many requests
    /// she made, how many sweeps ran and how many recordings they deleted.
    async fn play_and_sweep_until_sent(&self, next: &AtomicUsize) -> (usize, usize, u64) {
        let (w, r, reviewer, case) = (&self.w, &self.r, &self.reviewer, &self.case);
        let video = format!(
            "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
            r.recording_id
        );
        let (mut legit, mut sweeps, mut deleted) = (0, 0, 0);
        while next.load(Ordering::Relaxed) < FLOOD {
            let list = w
                .call("GET", "/api/v1/recordings", Some(reviewer), None, &[])
                .await;
            assert_eq!(list.status, 200, "{}", list.json());
            let detail = w
                .call(
                    "GET",
                    &format!("/api/v1/recordings/{}", r.recording_id),
                    Some(reviewer),
                    None,
                    &[],
                )
                .await;
            assert_eq!(detail.status, 200, "{}", detail.json());
            let part = w
                .call(
                    "GET",
                    &video,
                    Some(reviewer),
                    None,
                    &[("range", "bytes=0-65535")],
                )
                .await;
            assert_eq!(part.status, 206, "{}", String::from_utf8_lossy(&part.body));
            assert_eq!(part.body.len(), 65_536);
            legit += 3;
            if legit % 15 == 0 {
                // A fresh sign-in through the flood of failed ones.
                w.sign_in(&self.anna).await;
                legit += 1;
            }
            let report = w.sweep(w.now().plus_millis(29 * 86_400_000)).await;
            deleted += report.deleted;
            sweeps += 1;
        }
        (legit, sweeps, deleted)
    }
}

/// What a flood of `FLOOD` malformed requests of every shape left, sent
/// by sixteen attackers while the reviewer played and the sweeper swept.
struct Flooded {
    f: Flood,
    statuses: Statuses,
    /// How many of the requests the edge refused.
    edge_refused: usize,
    /// The reviewer's requests, the sweeps, and the recordings they deleted.
    legit: usize,
    sweeps: usize,
    deleted: u64,
}

async fn flooded() -> Flooded {
    let f = flood_world().await;
    let next = Arc::new(AtomicUsize::new(0));
    let edge_refused = Arc::new(AtomicUsize::new(0));
    let flood = f.start_flood(&next, &edge_refused);
    // Meanwhile: the reviewer lists, looks and plays range after range,
    // signs in again; the sweeper sweeps.
    let (legit, sweeps, deleted) = f.play_and_sweep_until_sent(&next).await;
    let mut statuses = Vec::new();
    for task in flood {
        statuses.extend(task.await.unwrap());
    }
    // What was counted of refusals, written (as `serve` writes it each
    // second): refused dock credentials into their incidents, anonymous
    // refusals past a source's rate as one audit entry per source.
    f.w.server.deployment.write_refusals().await;
    Flooded {
        f,
        statuses,
        edge_refused: edge_refused.load(Ordering::Relaxed),
        legit,
        sweeps,
        deleted,
    }
}

/// Malformed requests of every shape, each on a connection of its own,
/// fail alone: the reviewer lists, looks, plays and signs in through them
/// (each answered, checked as she goes), and the sweeper does its work;
/// each gets its own 4xx, and each is on record. One test, its checks the
/// functions below: the flood is the slow part, not repeated per check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_of_every_shape_fail_alone_while_a_reviewer_plays_and_the_sweeper_sweeps(
) {
    let flooded = flooded().await;
    let Flooded {
        legit,
        sweeps,
        deleted,
        ..
    } = flooded;
    assert!(
        legit >= 30 && sweeps >= 10,
        "{legit} legitimate requests, {sweeps} sweeps"
    );
    assert_eq!(deleted, 3, "the sweeper did its work through the flood");
    every_malformed_request_got_its_own_4xx(&flooded.statuses);
    every_refusal_of_the_flood_is_on_record(&flooded).await;
    refused_dock_credentials_are_a_few_counted_incidents(&flooded.f).await;
}

/// Every malformed request got its own 4xx: none a 5xx, none unanswered;
/// the sign-in flood was answered at once when no hashing was free.
fn every_malformed_request_got_its_own_4xx(statuses: &Statuses) {
    assert_eq!(statuses.len(), FLOOD);
    let mut by_shape = std::collections::BTreeMap::new();
    for (shape, status, code) in statuses {
        let status = status.unwrap_or_else(|| panic!("shape {shape}: no answer"));
        assert!(
            (400..500).contains(&status),
            "shape {shape}: {status} {code}"
        );
        by_shape
            .entry(*shape)
            .or_insert_with(std::collections::BTreeSet::new)
            .insert((status, code.clone()));
    }
    // The sign-in flood was answered at once when no hashing was free.
    assert!(
        by_shape[&9]
            .iter()
            .chain(&by_shape[&10])
            .any(|(s, _)| *s == 401),
        "{:?}",
        by_shape[&9]
    );
    assert!(by_shape[&3].contains(&(400, "malformed-request".into())));
    assert!(by_shape[&0].contains(&(400, "malformed-request".into())));
}

/// How many refusals an audit entry stands for, when it counts them.
fn counted(e: &custos_audit::AuditEvent) -> Option<usize> {
    e.detail
        .as_deref()
        .filter(|d| d.contains("more refusals from this source"))
        .and_then(|d| d.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
}

/// The audit log holds every refusal, and is one tree. An insider's are
/// each on record; an anonymous source's past ten a second are counted
/// and recorded once a second (as `serve` writes them, each second: the
/// fixture writes them once the flood is over).
async fn every_refusal_of_the_flood_is_on_record(flooded: &Flooded) {
    let (f, edge_refused) = (&flooded.f, flooded.edge_refused);
    let d = &f.w.server.deployment;
    let entries = d.catalog.audit_entries(0, 10_000_000).await.unwrap();
    let events: Vec<_> = entries[f.audit_before..]
        .iter()
        .map(|e| custos_audit::AuditEntry::parse(&e.bytes).unwrap().event)
        .collect();
    let per_shape = FLOOD / 24;
    let attributed = events
        .iter()
        .filter(|e| e.action == "request.refused" && e.actor.starts_with("user:"))
        .count();
    assert_eq!(attributed, 7 * per_shape);
    assert_eq!(
        attributed,
        edge_refused - per_shape,
        "all at the edge but the anonymous language switch"
    );
    let anonymous_one_by_one = events
        .iter()
        .filter(|e| {
            counted(e).is_none()
                && e.actor != "user:anna"
                && (e.action == "dock.authenticate"
                    || (e.action == "request.refused" && e.actor == "anonymous")
                    || (e.action == "session.sign-in" && e.actor == "anonymous"))
        })
        .count();
    let anonymous_counted: usize = events.iter().filter_map(counted).sum();
    assert!(anonymous_counted > 0, "the flood was past ten a second");
    assert_eq!(
        anonymous_one_by_one + anonymous_counted,
        6 * per_shape,
        "dock credentials, unknown names and the language switch: each on record"
    );
    // Insiders' probing is theirs, with an excerpt of what they sent.
    let probe = events
        .iter()
        .find(|e| e.action == "request.refused" && e.actor == "user:adam")
        .expect("the admin's over-long user name is on record");
    let object = probe.object.as_deref().unwrap();
    assert!(object.len() < 120 && object.contains("bytes)"), "{object}");
    let verified = custos_server::audit::verify_stored(&*d.catalog, d.audit.verifier())
        .await
        .unwrap()
        .expect("the audit log verifies");
    assert_eq!(verified.size as usize, entries.len());
}

/// Refused dock credentials: a few incidents with counts, not one each.
async fn refused_dock_credentials_are_a_few_counted_incidents(f: &Flood) {
    let incidents = f.w.server.deployment.catalog.incidents().await.unwrap();
    let refused: Vec<_> = incidents
        .iter()
        .filter(|i| i.kind == custos_catalog::IncidentKind::UnknownOrRevoked)
        .collect();
    assert!(refused.len() <= 8 * 3, "{} incidents", refused.len());
    assert_eq!(
        refused.iter().map(|i| i.occurrences).sum::<u64>() as usize,
        3 * FLOOD / 24
    );
    assert!(refused
        .iter()
        .all(|i| i.dock_id.as_deref().is_some_and(|d| d.len() < 100)));
}

fn short_limits() -> custos_server::limits::Limits {
    custos_server::limits::Limits {
        max_connections: 64,
        max_connections_per_source: 4,
        new_connections_per_source_per_second: 2,
        new_connections_per_source_burst: 10,
        header_read_timeout: std::time::Duration::from_millis(300),
        body_idle_timeout: std::time::Duration::from_millis(300),
        body_total_timeout: std::time::Duration::from_secs(1),
        tls_handshake_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    }
}

/// Whether the server closes `stream` within `limit` (reads give the end
/// of the stream or a reset), reading whatever it sends first.
fn closed_within(stream: &mut impl std::io::Read, limit: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => return true,
        }
    }
    false
}

fn tls_to(
    w: &World,
    tcp: std::net::TcpStream,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(
            rustls::pki_types::CertificateDer::from_pem_slice(w.server.certificate_pem.as_bytes())
                .unwrap(),
        )
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connection = rustls::ClientConnection::new(
        std::sync::Arc::new(config),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    rustls::StreamOwned::new(connection, tcp)
}

/// Slowloris and its cousins: connections that never finish their TLS
/// handshake, their headers or their body are closed after the limits, a
/// source's connections are capped — and everyone else is served meanwhile.
/// A world with `short_limits()`, a raw client, and the slow source.
struct Slow {
    w: World,
    raw: Raw,
    slow: IpAddr,
}

async fn short_limited() -> Slow {
    let w = world_with_limits(
        Default::default(),
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
        None,
        short_limits(),
    )
    .await;
    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    Slow {
        w,
        raw,
        slow: IpAddr::from([127, 0, 0, 3]),
    }
}

/// Whether the server closed each of `streams` within five seconds.
async fn all_closed(mut streams: Vec<std::net::TcpStream>) -> Vec<bool> {
    tokio::task::spawn_blocking(move || {
        streams
            .iter_mut()
            .map(|s| {
                s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                closed_within(s, Duration::from_secs(5))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap()
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

/// Reads from `tls` until the end of the stream, an error or `limit`:
/// what it read.
fn read_until_closed(tls: &mut Tls, limit: Duration) -> Vec<u8> {
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < limit {
        match std::io::Read::read(tls, &mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => break,
        }
    }
    answer
}

impl Slow {
    /// A TLS connection from the slow source.
    async fn tls(&self) -> Tls {
        let tcp = self.raw.connect(self.slow).await.unwrap();
        tls_to(&self.w, tcp)
    }

    /// Four connections from the slow source that say nothing.
    async fn silent(&self) -> Vec<std::net::TcpStream> {
        let mut silent = Vec::new();
        for _ in 0..4 {
            silent.push(self.raw.connect(self.slow).await.unwrap());
        }
        silent
    }

    /// A fifth connection from the slow source: whether it was closed
    /// within five seconds.
    async fn fifth_closed(&self) -> bool {
        let mut fifth = self.raw.connect(self.slow).await.unwrap();
        fifth
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        closed_within(&mut fifth, Duration::from_secs(5))
    }

    /// Headers sent a byte at a time, slower than the limit: how many
    /// bytes went out, of how many, and the answer.
    async fn dribbled_headers(&self) -> (usize, usize, String) {
        let mut tls = self.tls().await;
        tokio::task::spawn_blocking(move || {
            let head = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            let mut sent = 0;
            for byte in head {
                if tls.write_all(&[*byte]).and_then(|_| tls.flush()).is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            tls.sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut answer = Vec::new();
            let _ = std::io::Read::read_to_end(&mut tls, &mut answer);
            (sent, head.len(), String::from_utf8_lossy(&answer).into_owned())
        })
        .await
        .unwrap()
    }

    /// A body that stops half-way: how long until the server closed, and
    /// what it answered.
    async fn stalled_body(&self) -> (Duration, String) {
        let mut tls = self.tls().await;
        tokio::task::spawn_blocking(move || {
            tls.write_all(
                b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":",
            )
            .unwrap();
            tls.flush().unwrap();
            tls.sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let started = std::time::Instant::now();
            let answer = read_until_closed(&mut tls, Duration::from_secs(5));
            (started.elapsed(), String::from_utf8_lossy(&answer).into_owned())
        })
        .await
        .unwrap()
    }

    /// A body that trickles in under the pause limit but never ends: how
    /// long until the server closed, and what it answered.
    async fn trickled_body(&self) -> (Duration, String) {
        let mut tls = self.tls().await;
        tokio::task::spawn_blocking(move || {
            tls.write_all(
                b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
            )
            .unwrap();
            tls.flush().unwrap();
            tls.sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            let started = std::time::Instant::now();
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            while started.elapsed() < Duration::from_secs(10) {
                if tls.write_all(b" ").and_then(|_| tls.flush()).is_err() {
                    break;
                }
                match std::io::Read::read(&mut tls, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        answer.extend_from_slice(&buf[..n]);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (started.elapsed(), String::from_utf8_lossy(&answer).into_owned())
        })
        .await
        .unwrap()
    }

    /// Forty requests from one other source as fast as it can: how many
    /// were served and how many closed.
    async fn burst(&self) -> (usize, usize) {
        let burst = IpAddr::from([127, 0, 0, 4]);
        let mut served = 0;
        let mut closed = 0;
        for _ in 0..40 {
            match self
                .raw
                .send(burst, request("GET", b"/api/v1/health", &[], b""))
                .await
            {
                Ok(a) if a.status == Some(200) => served += 1,
                _ => closed += 1,
            }
        }
        (served, closed)
    }

    /// The health check, from the people's source (127.0.0.1): its status.
    async fn health(&self) -> u16 {
        self.w
            .call("GET", "/api/v1/health", None, None, &[])
            .await
            .status
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sources_fifth_connection_is_closed_at_once_while_another_source_is_served() {
    let s = short_limited().await;
    // Four connections that say nothing hold the source's four places…
    let _silent = s.silent().await;
    // … a fifth from that source is closed at once …
    assert!(s.fifth_closed().await);
    // … while another source is served.
    let health = s.health().await;
    assert_eq!(health, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_tls_handshake_are_cut_off() {
    let s = short_limited().await;
    let silent = s.silent().await;
    // The silent ones never finished their TLS handshake: cut off after it.
    let cut = all_closed(silent).await;
    assert_eq!(cut, [true; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_a_byte_at_a_time_are_cut_off_before_they_are_done() {
    let s = short_limited().await;
    // Slower than the limit: cut off before they are done, though bytes
    // keep coming.
    let dribbled = s.dribbled_headers().await;
    assert!(
        dribbled.0 < dribbled.1 || !dribbled.2.contains("200 OK"),
        "slow headers were served: {dribbled:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_half_way_fails_on_its_own_not_the_server() {
    let s = short_limited().await;
    let stalled = s.stalled_body().await;
    assert!(stalled.0 < Duration::from_secs(5), "{stalled:?}");
    assert!(
        stalled.1.is_empty() || stalled.1.starts_with("HTTP/1.1 4"),
        "{stalled:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_burst_a_sources_new_connections_are_closed_while_another_connects_as_it_likes() {
    let s = short_limited().await;
    // Past its burst they are closed before any TLS.
    let (served, closed) = s.burst().await;
    assert!(
        (8..=12).contains(&served),
        "{served} served, {closed} closed"
    );
    assert_eq!(s.health().await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_but_never_ends_is_cut_off_at_its_total_deadline() {
    let s = short_limited().await;
    let trickled = s.trickled_body().await;
    assert!(trickled.0 < Duration::from_secs(5), "{trickled:?}");
    assert!(
        trickled.1.is_empty() || trickled.1.starts_with("HTTP/1.1 4"),
        "{trickled:?}"
    );
}

/// After its silent, slow and stalled connections were cut off (as in the
/// tests above, unchecked here), the source's places are free again, and
/// it is served like anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_whose_slow_connections_were_cut_off_is_served_again_like_anyone() {
    let s = short_limited().await;
    let silent = s.silent().await;
    s.fifth_closed().await;
    all_closed(silent).await;
    s.dribbled_headers().await;
    s.stalled_body().await;
    s.trickled_body().await;
    let again = s
        .raw
        .send(s.slow, request("GET", b"/api/v1/health", &[], b""))
        .await
        .unwrap();
    assert_eq!(again.status, Some(200));
    assert_eq!(s.health().await, 200);
}

/// Every kind of response carries the headers that keep footage and
/// personal data out of caches, frames and other sites.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let w = world().await;
    let r = w.one_recording("cam-h", 60).await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w
        .with_case_labelled(&token, "complaint", "abuse test")
        .await;
    w.link(&token, &case, r.recording_id).await;
    let footage = format!(
        "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
        r.recording_id
    );
    let thumbnail = format!(
        "/api/v1/recordings/{}/thumbnail?at=0&purpose=complaint&case={case}",
        r.recording_id
    );
    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    let edge = raw
        .send(
            IpAddr::from([127, 0, 0, 1]),
            request("GET", b"/api/v1/recordings/%00", &[], b""),
        )
        .await
        .unwrap();
    assert_eq!(edge.status, Some(400));
    let mut answers = vec![(
        "edge refusal".to_owned(),
        400,
        edge.head.to_ascii_lowercase(),
    )];
    for (what, path, auth, range, status) in [
        ("api json", "/api/v1/recordings", true, None, 200),
        ("api refusal", "/api/v1/recordings", false, None, 401),
        ("footage", footage.as_str(), true, Some("bytes=0-99"), 206),
        ("thumbnail", thumbnail.as_str(), true, None, 200),
        ("page", "/login", false, None, 200),
        ("not found", "/nothing-here", false, None, 404),
        ("openapi", "/api/v1/openapi.json", false, None, 200),
    ] {
        let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        let answer = w
            .call("GET", path, auth.then_some(token.as_str()), None, &headers)
            .await;
        assert_eq!(answer.status, status, "{what}");
        let head = answer
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>()
            .to_ascii_lowercase();
        answers.push((what.to_owned(), answer.status, head));
    }
    for (what, _, head) in &answers {
        for expected in [
            "strict-transport-security: max-age=31536000",
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
            "referrer-policy: no-referrer",
            "cache-control: no-store",
            "frame-ancestors 'none'",
            "cross-origin-resource-policy: same-origin",
        ] {
            assert!(head.contains(expected), "{what} lacks {expected}:\n{head}");
        }
    }
    // The stylesheet may be cached (it holds nothing personal); still framed by no one.
    let css = w.call("GET", "/static/custos.css", None, None, &[]).await;
    assert_eq!(css.header("cache-control"), Some("public, max-age=3600"));
    assert!(css.header("strict-transport-security").is_some());
    // A page keeps its own policy, which lets it load its own media.
    let page = w.call("GET", "/login", None, None, &[]).await;
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("media-src 'self'"));
}

/// Whether a redirect's location is a path on this site.
fn local(location: &str) -> bool {
    location.starts_with('/')
        && !location.starts_with("//")
        && !location.contains('\\')
        && !location.contains("evil.example/")
        && location.bytes().all(|b| b.is_ascii_graphic())
}

/// The status and location of `call`'s answer, made with `agent` (which
/// follows no redirects) off the runtime's threads.
async fn redirect(
    agent: &ureq::Agent,
    call: impl FnOnce(&ureq::Agent) -> ureq::http::Response<ureq::Body> + Send + 'static,
) -> (u16, Option<String>) {
    let agent = agent.clone();
    tokio::task::spawn_blocking(move || {
        let r = call(&agent);
        (
            r.status().as_u16(),
            r.headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    })
    .await
    .unwrap()
}

/// Where the web UI sends someone back to: only a path on this site,
/// whatever shape an attacker gives it; here the language switch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_never_sends_anyone_off_the_site() {
    let w = world().await;
    let agent = agent_with_redirects(&w, 0);
    let targets = [
        "//evil.example/",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0A/evil.example",
        "/%00",
        "/%7F",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "/%2F/evil.example",
        "/%252F/evil.example",
        "https://evil.example",
        "https:evil.example",
        "%2F%2Fevil.example",
        "/%E3%80%80evil.example",
        "%EF%BC%8F%EF%BC%8Fevil.example",
        "javascript:alert(1)",
        "/recordings?page=2",
    ];
    for target in targets {
        let url = format!("{}/language?set=en&back={target}", w.base());
        let (status, location) =
            redirect(&agent, move |agent| agent.get(&url).call().unwrap()).await;
        match status {
            // A control character in it: refused at the edge.
            400 => assert!(location.is_none()),
            303 => {
                let location = location.unwrap();
                assert!(local(&location), "{target} → {location}");
            }
            other => panic!("{target}: {other}"),
        }
    }
}

/// Where the web UI sends someone back to after signing in: only a path on
/// this site, through the sign-in form's return target, whatever shape an
/// attacker gives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_forms_return_target_never_sends_anyone_off_the_site() {
    let w = world().await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let agent = agent_with_redirects(&w, 0);
    for (n, target) in [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example",
        "/cases",
    ]
    .into_iter()
    .enumerate()
    {
        w.clock_offset
            .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
        let code = custos_server::auth::totp_code(&anna.secret, w.now()).unwrap();
        let url = format!("{}/login", w.base());
        let form = [
            ("name", anna.name.clone()),
            ("password", anna.password.clone()),
            ("code", code),
            ("next", target.to_owned()),
        ];
        let (status, location) = redirect(&agent, move |agent| {
            agent.post(&url).send_form(form).unwrap()
        })
        .await;
        assert_eq!(status, 303, "{n}: {target}");
        let location = location.unwrap();
        assert!(local(&location), "{target} → {location}");
        if target == "/cases" {
            assert_eq!(location, "/cases");
        } else {
            assert_eq!(location, "/");
        }
    }
}

/// Twenty wrong passwords at once count twenty; ten sign-ins with one
/// code make one session; a session ends after twelve hours however busy.
/// A world with enough hashing at once that racing attempts really race;
/// reviewers anna and bert, and a raw client.
struct Racing {
    w: World,
    anna: Account,
    bert: Account,
    raw: Raw,
}

async fn racing() -> Racing {
    // Enough hashing at once that the racing attempts really race.
    let w = world_with_limits(
        Default::default(),
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
        None,
        custos_server::limits::Limits {
            admission: custos_server::admission::AdmissionConfig {
                hash_permits: 32,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let bert = w.add_user("bert", "reviewer", None).await;
    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    Racing { w, anna, bert, raw }
}

impl Racing {
    /// `name` signs in with `password` and `code` `times` times at once,
    /// each from its own address in 127.0.`net`.0/24, so the limits on a
    /// source do not mix in: the answers.
    async fn at_once(
        &self,
        times: usize,
        net: u8,
        name: &str,
        password: &str,
        code: &str,
    ) -> Vec<common::raw::RawAnswer> {
        let body = serde_json::json!({"name": name, "password": password, "code": code});
        let tasks: Vec<_> = (0..times)
            .map(|n| {
                let (raw, body) = (
                    self.raw.clone(),
                    request(
                        "POST",
                        b"/api/v1/session",
                        &[("content-type", b"application/json")],
                        body.to_string().as_bytes(),
                    ),
                );
                tokio::spawn(async move {
                    raw.send(IpAddr::from([127, 0, net, n as u8 + 1]), body)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    }

    /// The account `name` as stored.
    async fn stored(&self, name: &str) -> custos_catalog::User {
        let catalog = &self.w.server.deployment.catalog;
        catalog.user(name).await.unwrap().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wrong_passwords_at_once_count_twenty_and_the_person_gets_in_after_the_wait() {
    let r = racing().await;
    let w = &r.w;
    // Each from its own address, so the limits on a source do not mix in.
    let answers = r.at_once(20, 1, "bert", "guess", "123456").await;
    let refused = answers.iter().filter(|a| a.status == Some(401)).count();
    let busy: Vec<_> = answers.iter().filter(|a| a.status == Some(429)).collect();
    assert_eq!(refused + busy.len(), 20);
    assert!(busy.iter().all(|a| a.header("retry-after").is_some()));
    let stored = r.stored("bert").await;
    assert_eq!(
        stored.failed_attempts as usize, refused,
        "each failure that was looked at counted once"
    );
    assert!(refused > 5, "only {refused} raced: nothing shown");
    // The person themself gets in once the wait is over.
    w.clock_offset
        .fetch_add(300_000, std::sync::atomic::Ordering::SeqCst);
    w.sign_in(&r.bert).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sign_ins_with_one_code_at_once_make_one_session_and_nine_failures() {
    let r = racing().await;
    let (w, anna) = (&r.w, &r.anna);
    // Ten sign-ins with the same right code at once: one session.
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let code = custos_server::auth::totp_code(&anna.secret, w.now()).unwrap();
    let mut ok = 0;
    for answer in r.at_once(10, 2, "anna", &anna.password, &code).await {
        match answer.status {
            Some(200) => ok += 1,
            Some(401) | Some(429) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 1, "a code opens one session");
    // Nine reused codes are nine failures: anna waits, then gets in.
    let anna_now = r.stored("anna").await;
    assert_eq!(anna_now.failed_attempts, 9);
    w.clock_offset
        .fetch_add(300_000, std::sync::atomic::Ordering::SeqCst);
    w.sign_in(anna).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_use_all_day_still_ends_twelve_hours_after_it_began() {
    let r = racing().await;
    let w = &r.w;
    let token = w.sign_in(&r.anna).await;
    for _ in 0..40 {
        w.clock_offset
            .fetch_add(20 * 60_000, std::sync::atomic::Ordering::SeqCst);
        let session = w
            .call("GET", "/api/v1/session", Some(&token), None, &[])
            .await;
        if session.status != 200 {
            break;
        }
    }
    let after = w
        .call("GET", "/api/v1/session", Some(&token), None, &[])
        .await;
    assert_eq!(after.status, 401);
    let entries = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 100_000)
        .await
        .unwrap();
    assert!(entries.iter().any(|e| {
        let e = custos_audit::AuditEntry::parse(&e.bytes).unwrap().event;
        e.action == "session.expire" && e.detail.as_deref() == Some("absolute lifetime")
    }));
}

/// Anna, a reviewer, signed in once from her own browser, which holds the
/// device cookie it was given; an attacker with a raw client.
struct Guessed {
    w: World,
    anna: Account,
    raw: Raw,
    device: String,
}

async fn anna_with_her_browser() -> Guessed {
    let w = world().await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    let g = Guessed {
        w,
        anna,
        raw,
        device: String::new(),
    };
    // Anna signs in from her browser: it gets the device cookie.
    let first = g.anna_signs_in(&g.fresh_code(), None).await;
    assert_eq!(first.status, 200);
    let device = first
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-custos_device="))
        .expect("a device cookie");
    Guessed { device, ..g }
}

/// A new address each round, as a patient attacker would have: a source's
/// own limit is not what is tested here.
fn patient_attacker(round: u8) -> IpAddr {
    IpAddr::from([127, 0, 3, round + 1])
}

/// A wrong guess at anna's password.
fn guess() -> Vec<u8> {
    request(
        "POST",
        b"/api/v1/session",
        &[("content-type", b"application/json")],
        br#"{"name":"anna","password":"guess","code":"123456"}"#,
    )
}

impl Guessed {
    /// A code for anna, 30 s after the last.
    fn fresh_code(&self) -> String {
        self.w
            .clock_offset
            .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
        custos_server::auth::totp_code(&self.anna.secret, self.w.now()).unwrap()
    }

    /// Anna signs in with her password and `code`, with `cookie` if any.
    async fn anna_signs_in(&self, code: &str, cookie: Option<&str>) -> Answer {
        let body =
            serde_json::json!({"name": "anna", "password": self.anna.password, "code": code});
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        self.w
            .call("POST", "/api/v1/session", None, Some(body), &headers)
            .await
    }

    /// Cookies that are not her browser's: another name's, a forged one and
    /// a stale one.
    fn not_her_device(&self) -> [String; 3] {
        let stolen_name = self.device.replace(":anna:", ":bert:");
        let mut forged = self.device.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == '0' { '1' } else { '0' });
        [
            stolen_name,
            forged,
            "__Host-custos_device=v1:anna:0:00".to_owned(),
        ]
    }

    /// One round: the wait ends, the attacker takes the attempt at once;
    /// Anna from another browser waits, from her own she gets in.
    async fn round(&self, round: u8) {
        let user = self
            .w
            .server
            .deployment
            .catalog
            .user("anna")
            .await
            .unwrap()
            .unwrap();
        let until = user.locked_until.expect("in back-off");
        self.w.set_time(until);
        let taken = self
            .raw
            .send(patient_attacker(round), guess())
            .await
            .unwrap();
        assert_eq!(
            taken.status,
            Some(401),
            "round {round}: the attacker's claim"
        );
        // Refused before her password or code is looked at: any code will do.
        let any_code = custos_server::auth::totp_code(&self.anna.secret, self.w.now()).unwrap();
        let elsewhere = self.anna_signs_in(&any_code, None).await;
        assert_eq!(
            elsewhere.status, 429,
            "round {round}: another browser waits"
        );
        assert!(elsewhere.header("retry-after").is_some());
        for bad in &self.not_her_device() {
            let refused = self.anna_signs_in(&any_code, Some(bad)).await;
            assert_eq!(
                refused.status, 429,
                "round {round}: {bad} is no device of hers"
            );
        }
        let own = self
            .anna_signs_in(&self.fresh_code(), Some(&self.device))
            .await;
        assert_eq!(own.status, 200, "round {round}: her own browser gets in");
        // Her success ended the back-off: the attacker must start over.
        for _ in 0..5 {
            self.raw
                .send(patient_attacker(round + 1), guess())
                .await
                .unwrap();
        }
    }
}

/// Someone who knows a person's name and keeps guessing, taking the one
/// attempt each wait allows the moment it opens, keeps that name in
/// back-off — but not the person: the browser they signed in with before
/// carries a device cookie, and its sign-in is not held up by others'
/// failures. A forged, foreign or stale cookie is no such browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_taking_every_slot_cannot_keep_the_person_out_of_their_own_browser() {
    let g = anna_with_her_browser().await;
    for _ in 0..5 {
        let answer = g.raw.send(patient_attacker(0), guess()).await.unwrap();
        assert_eq!(answer.status, Some(401));
    }
    // Six times over: the wait ends, the attacker takes the attempt at
    // once; Anna from another browser waits, from her own she gets in.
    for round in 0..6u8 {
        g.round(round).await;
    }
}
