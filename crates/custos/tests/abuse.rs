//! Issue 19: no request, signed in or not, can deny others their sign-in,
//! their footage or their audit trail (DESIGN.md invariant 10). Attacks
//! come from other loopback addresses than the people they must not harm,
//! as they would from another host.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::raw::{request, Raw};
use common::*;

fn attacker(n: usize) -> IpAddr {
    IpAddr::from([127, 0, 0, 2 + (n % 8) as u8])
}

async fn open_case(w: &World, token: &str) -> String {
    let answer = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(token),
            Some(serde_json::json!({"kind": "complaint", "label": "abuse test"})),
            &[],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.json());
    answer.json()["case_id"].as_str().unwrap().to_owned()
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
    let w = world().await;
    let r = w.one_recording("cam-a", 60).await;
    // Recordings the sweeper will delete during the flood.
    let due = w.camera("cam-b", 3, true).await;
    w.offload(&due).await;

    let anna = w.add_user("anna", "reviewer", None).await;
    let reviewer = w.sign_in(&anna).await;
    let case = open_case(&w, &reviewer).await;
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
    const FLOOD: usize = 1_536;
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

    // The audit log holds every refusal at the edge, and is one tree.
    let d = &w.server.deployment;
    let entries = d.catalog.audit_entries(0, 10_000_000).await.unwrap();
    let events: Vec<_> = entries[audit_before..]
        .iter()
        .map(|e| custos_audit::AuditEntry::parse(&e.bytes).unwrap().event)
        .collect();
    let refused_at_edge = events
        .iter()
        .filter(|e| e.action == "request.refused")
        .count();
    assert_eq!(refused_at_edge, edge_refused.load(Ordering::Relaxed));
    // Insiders' probing is theirs, with an excerpt of what they sent.
    let probe = events
        .iter()
        .find(|e| e.action == "request.refused" && e.actor == "user:adam")
        .expect("the admin's over-long user name is on record");
    let object = probe.object.as_deref().unwrap();
    assert!(object.len() < 120 && object.contains("bytes)"), "{object}");
    let docks = events
        .iter()
        .filter(|e| e.action == "dock.authenticate")
        .count();
    assert_eq!(docks, 3 * FLOOD / 24);
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
