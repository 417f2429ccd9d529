//! Issue 19: no request, signed in or not, can deny others their sign-in,
//! their footage or their audit trail (DESIGN.md invariant 10). Attacks
//! come from other loopback addresses than the people they must not harm,
//! as they would from another host.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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

/// The `n`-th malformed request, cycling through every shape found in the
/// attacks on the demo and the ones a fuzzer would try; and whether the
/// edge refuses it (so it must be audited as `request.refused`).
fn malformed(n: usize, who: &Insiders, recording: &str, case: &str) -> (Vec<u8>, bool) {
    let bearer = |t: &str| format!("Bearer {t}").into_bytes();
    let json: &[(&str, &[u8])] = &[("content-type", b"application/json")];
    let long = |c: char, len: usize| c.to_string().repeat(len);
    let video = format!("/api/v1/recordings/{recording}/video?purpose=complaint&case={case}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_of_every_shape_fail_alone_while_a_reviewer_plays_and_the_sweeper_sweeps(
) {
    // Every request on a connection of its own, faster than a source may
    // open them (that limit has its test below): here each must be answered.
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
    let mut insiders = Insiders {
        reviewer: w.sign_in(&w.add_user("rob", "reviewer", None).await).await,
        admin: String::new(),
        officer: String::new(),
        privacy: String::new(),
        auditor: String::new(),
        evaluator: String::new(),
    };
    insiders.admin = w.sign_in(&w.add_user("adam", "admin", None).await).await;
    insiders.officer = w
        .sign_in(&w.add_user("olga", "officer", Some("boa-5")).await)
        .await;
    insiders.privacy = w
        .sign_in(&w.add_user("pia", "privacy-officer", None).await)
        .await;
    insiders.auditor = w.sign_in(&w.add_user("aud", "auditor", None).await).await;
    insiders.evaluator = w.sign_in(&w.add_user("eva", "evaluator", None).await).await;
    let audit_before = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 1_000_000)
        .await
        .unwrap()
        .len();

    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    let insiders = Arc::new(insiders);
    let (recording, case) = (r.recording_id.to_string(), case);
    const FLOOD: usize = 3_072;
    let next = Arc::new(AtomicUsize::new(0));
    let edge_refused = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..16 {
        let (raw, insiders, next, edge_refused) = (
            raw.clone(),
            insiders.clone(),
            next.clone(),
            edge_refused.clone(),
        );
        let (recording, case) = (recording.clone(), case.clone());
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

    // Meanwhile: the reviewer lists, looks and plays range after range,
    // signs in again; the sweeper sweeps.
    let video = format!(
        "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
        r.recording_id
    );
    let mut legit = 0;
    let mut sweeps = 0;
    let mut deleted = 0;
    while next.load(Ordering::Relaxed) < FLOOD {
        let list = w
            .call("GET", "/api/v1/recordings", Some(&reviewer), None, &[])
            .await;
        assert_eq!(list.status, 200, "{}", list.json());
        let detail = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{}", r.recording_id),
                Some(&reviewer),
                None,
                &[],
            )
            .await;
        assert_eq!(detail.status, 200, "{}", detail.json());
        let part = w
            .call(
                "GET",
                &video,
                Some(&reviewer),
                None,
                &[("range", "bytes=0-65535")],
            )
            .await;
        assert_eq!(part.status, 206, "{}", String::from_utf8_lossy(&part.body));
        assert_eq!(part.body.len(), 65_536);
        legit += 3;
        if legit % 15 == 0 {
            // A fresh sign-in through the flood of failed ones.
            w.sign_in(&anna).await;
            legit += 1;
        }
        let report = w.sweep(w.now().plus_millis(29 * 86_400_000)).await;
        deleted += report.deleted;
        sweeps += 1;
    }
    let mut statuses = Vec::new();
    for task in flood {
        statuses.extend(task.await.unwrap());
    }
    assert!(
        legit >= 30 && sweeps >= 10,
        "{legit} legitimate requests, {sweeps} sweeps"
    );
    assert_eq!(deleted, 3, "the sweeper did its work through the flood");

    // Every malformed request got its own 4xx: none a 5xx, none unanswered.
    assert_eq!(statuses.len(), FLOOD);
    let mut by_shape = std::collections::BTreeMap::new();
    for (shape, status, code) in &statuses {
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

    // The audit log holds every refusal, and is one tree. An insider's are
    // each on record; an anonymous source's past ten a second are counted
    // and recorded once a second (as `serve` writes them, each second).
    let d = &w.server.deployment;
    d.write_refusals().await;
    let entries = d.catalog.audit_entries(0, 10_000_000).await.unwrap();
    let events: Vec<_> = entries[audit_before..]
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
        edge_refused.load(Ordering::Relaxed) - per_shape,
        "all at the edge but the anonymous language switch"
    );
    let counted = |e: &custos_audit::AuditEvent| {
        e.detail
            .as_deref()
            .filter(|d| d.contains("more refusals from this source"))
            .and_then(|d| d.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
    };
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

    // Refused dock credentials: a few incidents with counts, not one each.
    let incidents = d.catalog.incidents().await.unwrap();
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
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_cut_off_and_capped_while_others_are_served() {
    use std::io::Write;
    use std::time::Duration;
    let w = world_with_limits(
        Default::default(),
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
        None,
        short_limits(),
    )
    .await;
    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    let slow = IpAddr::from([127, 0, 0, 3]);

    // Four connections that say nothing hold the source's four places…
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(raw.connect(slow).await.unwrap());
    }
    // … a fifth from that source is closed at once …
    let mut fifth = raw.connect(slow).await.unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!(closed_within(&mut fifth, Duration::from_secs(5)));
    // … while another source is served.
    let health = w.call("GET", "/api/v1/health", None, None, &[]).await;
    assert_eq!(health.status, 200);

    // The silent ones never finished their TLS handshake: cut off after it.
    let cut = tokio::task::spawn_blocking(move || {
        silent
            .iter_mut()
            .map(|s| {
                s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                closed_within(s, Duration::from_secs(5))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(cut, [true; 4]);

    // Headers sent a byte at a time, slower than the limit: cut off
    // before they are done, though bytes keep coming.
    let tcp = raw.connect(slow).await.unwrap();
    let mut tls = tls_to(&w, tcp);
    let dribbled = tokio::task::spawn_blocking(move || {
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
    .unwrap();
    assert!(
        dribbled.0 < dribbled.1 || !dribbled.2.contains("200 OK"),
        "slow headers were served: {dribbled:?}"
    );

    // A body that stops half-way: the request fails on its own, not the server.
    let tcp = raw.connect(slow).await.unwrap();
    let mut tls = tls_to(&w, tcp);
    let stalled = tokio::task::spawn_blocking(move || {
        tls.write_all(
            b"POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":",
        )
        .unwrap();
        tls.flush().unwrap();
        tls.sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while started.elapsed() < Duration::from_secs(5) {
            match std::io::Read::read(&mut tls, &mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => break,
            }
        }
        (started.elapsed(), String::from_utf8_lossy(&answer).into_owned())
    })
    .await
    .unwrap();
    assert!(stalled.0 < Duration::from_secs(5), "{stalled:?}");
    assert!(
        stalled.1.is_empty() || stalled.1.starts_with("HTTP/1.1 4"),
        "{stalled:?}"
    );

    // A burst of new connections from one source: past its burst they are
    // closed before any TLS, while another source connects as it likes.
    let burst = IpAddr::from([127, 0, 0, 4]);
    let mut served = 0;
    let mut closed = 0;
    for _ in 0..40 {
        match raw
            .send(burst, request("GET", b"/api/v1/health", &[], b""))
            .await
        {
            Ok(a) if a.status == Some(200) => served += 1,
            _ => closed += 1,
        }
    }
    assert!(
        (8..=12).contains(&served),
        "{served} served, {closed} closed"
    );
    assert_eq!(
        w.call("GET", "/api/v1/health", None, None, &[])
            .await
            .status,
        200
    );

    // A body that trickles in under the pause limit but never ends: cut
    // off at its total deadline.
    let tcp = raw.connect(slow).await.unwrap();
    let mut tls = tls_to(&w, tcp);
    let trickled = tokio::task::spawn_blocking(move || {
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
    .unwrap();
    assert!(trickled.0 < Duration::from_secs(5), "{trickled:?}");
    assert!(
        trickled.1.is_empty() || trickled.1.starts_with("HTTP/1.1 4"),
        "{trickled:?}"
    );

    // The source's places are free again, and it is served like anyone.
    let again = raw
        .send(slow, request("GET", b"/api/v1/health", &[], b""))
        .await
        .unwrap();
    assert_eq!(again.status, Some(200));
    assert_eq!(
        w.call("GET", "/api/v1/health", None, None, &[])
            .await
            .status,
        200
    );
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

/// Where the web UI sends someone back to: only a path on this site,
/// whatever shape an attacker gives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_never_leave_the_site() {
    let w = world().await;
    let anna = w.add_user("anna", "reviewer", None).await;
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
    let local = |location: &str| {
        location.starts_with('/')
            && !location.starts_with("//")
            && !location.contains('\\')
            && !location.contains("evil.example/")
            && location.bytes().all(|b| b.is_ascii_graphic())
    };
    for target in targets {
        let url = format!("{}/language?set=en&back={target}", w.base());
        let (status, location) = tokio::task::spawn_blocking({
            let agent = agent.clone();
            move || {
                let r = agent.get(&url).call().unwrap();
                (
                    r.status().as_u16(),
                    r.headers()
                        .get("location")
                        .map(|v| v.to_str().unwrap().to_owned()),
                )
            }
        })
        .await
        .unwrap();
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
    // After signing in: the same, through the sign-in form's return target.
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
        let (status, location) = tokio::task::spawn_blocking({
            let agent = agent.clone();
            move || {
                let r = agent.post(&url).send_form(form).unwrap();
                (
                    r.status().as_u16(),
                    r.headers()
                        .get("location")
                        .map(|v| v.to_str().unwrap().to_owned()),
                )
            }
        })
        .await
        .unwrap();
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
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_codes_are_counted_once_each_and_sessions_end_after_twelve_hours() {
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
    let sign_in = |name: &str, password: &str, code: &str| {
        request(
            "POST",
            b"/api/v1/session",
            &[("content-type", b"application/json")],
            serde_json::json!({"name": name, "password": password, "code": code})
                .to_string()
                .as_bytes(),
        )
    };

    // Each from its own address, so the limits on a source do not mix in.
    let wrong: Vec<_> = (0..20)
        .map(|n| {
            let (raw, body) = (raw.clone(), sign_in("bert", "guess", "123456"));
            tokio::spawn(async move {
                raw.send(IpAddr::from([127, 0, 1, n as u8 + 1]), body)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in wrong {
        answers.push(t.await.unwrap());
    }
    let refused = answers.iter().filter(|a| a.status == Some(401)).count();
    let busy: Vec<_> = answers.iter().filter(|a| a.status == Some(429)).collect();
    assert_eq!(refused + busy.len(), 20);
    assert!(busy.iter().all(|a| a.header("retry-after").is_some()));
    let stored = w
        .server
        .deployment
        .catalog
        .user("bert")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.failed_attempts as usize, refused,
        "each failure that was looked at counted once"
    );
    assert!(refused > 5, "only {refused} raced: nothing shown");
    // The person themself gets in once the wait is over.
    w.clock_offset
        .fetch_add(300_000, std::sync::atomic::Ordering::SeqCst);
    w.sign_in(&bert).await;

    // Ten sign-ins with the same right code at once: one session.
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let code = custos_server::auth::totp_code(&anna.secret, w.now()).unwrap();
    let racing: Vec<_> = (0..10)
        .map(|n| {
            let (raw, body) = (raw.clone(), sign_in("anna", &anna.password, &code));
            tokio::spawn(async move {
                raw.send(IpAddr::from([127, 0, 2, n as u8 + 1]), body)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ok = 0;
    for t in racing {
        let answer = t.await.unwrap();
        match answer.status {
            Some(200) => ok += 1,
            Some(401) | Some(429) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 1, "a code opens one session");
    // Nine reused codes are nine failures: anna waits, then gets in.
    let anna_now = w
        .server
        .deployment
        .catalog
        .user("anna")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anna_now.failed_attempts, 9);
    w.clock_offset
        .fetch_add(300_000, std::sync::atomic::Ordering::SeqCst);

    // A session in use all day still ends twelve hours after it began.
    let token = w.sign_in(&anna).await;
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

/// Someone who knows a person's name and keeps guessing, taking the one
/// attempt each wait allows the moment it opens, keeps that name in
/// back-off — but not the person: the browser they signed in with before
/// carries a device cookie, and its sign-in is not held up by others'
/// failures. A forged, foreign or stale cookie is no such browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_taking_every_slot_cannot_keep_the_person_out_of_their_own_browser() {
    let w = world().await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let raw = Raw::new(w.server.addr, &w.server.certificate_pem);
    let sign_in_body = |password: &str, code: &str| serde_json::json!({"name": "anna", "password": password, "code": code});
    let fresh_code = || {
        w.clock_offset
            .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
        custos_server::auth::totp_code(&anna.secret, w.now()).unwrap()
    };
    // Anna signs in from her browser: it gets the device cookie.
    let first = w
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(sign_in_body(&anna.password, &fresh_code())),
            &[],
        )
        .await;
    assert_eq!(first.status, 200);
    let device = first
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-custos_device="))
        .expect("a device cookie");
    // A new address each round, as a patient attacker would have: a source's
    // own limit is not what is tested here.
    let attacker = |round: u8| IpAddr::from([127, 0, 3, round + 1]);
    let guess = || {
        request(
            "POST",
            b"/api/v1/session",
            &[("content-type", b"application/json")],
            br#"{"name":"anna","password":"guess","code":"123456"}"#,
        )
    };
    for _ in 0..5 {
        let answer = raw.send(attacker(0), guess()).await.unwrap();
        assert_eq!(answer.status, Some(401));
    }
    let stolen_name = device.replace(":anna:", ":bert:");
    let mut forged = device.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    // Six times over: the wait ends, the attacker takes the attempt at
    // once; Anna from another browser waits, from her own she gets in.
    for round in 0..6u8 {
        let user = w
            .server
            .deployment
            .catalog
            .user("anna")
            .await
            .unwrap()
            .unwrap();
        let until = user.locked_until.expect("in back-off");
        w.set_time(until);
        let taken = raw.send(attacker(round), guess()).await.unwrap();
        assert_eq!(
            taken.status,
            Some(401),
            "round {round}: the attacker's claim"
        );
        // Refused before her password or code is looked at: any code will do.
        let any_code = custos_server::auth::totp_code(&anna.secret, w.now()).unwrap();
        let elsewhere = w
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(sign_in_body(&anna.password, &any_code)),
                &[],
            )
            .await;
        assert_eq!(
            elsewhere.status, 429,
            "round {round}: another browser waits"
        );
        assert!(elsewhere.header("retry-after").is_some());
        for bad in [
            &stolen_name,
            &forged,
            &"__Host-custos_device=v1:anna:0:00".to_owned(),
        ] {
            let refused = w
                .call(
                    "POST",
                    "/api/v1/session",
                    None,
                    Some(sign_in_body(&anna.password, &any_code)),
                    &[("cookie", bad)],
                )
                .await;
            assert_eq!(
                refused.status, 429,
                "round {round}: {bad} is no device of hers"
            );
        }
        let own = w
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(sign_in_body(&anna.password, &fresh_code())),
                &[("cookie", &device)],
            )
            .await;
        assert_eq!(own.status, 200, "round {round}: her own browser gets in");
        // Her success ended the back-off: the attacker must start over.
        for _ in 0..5 {
            raw.send(attacker(round + 1), guess()).await.unwrap();
        }
    }
}
