//! Sign-in back-off, one-time codes and refused-credential incidents under
//! races: each counted by one statement, so parallel attempts cannot slip
//! between a read and a write.

use custos_catalog::*;
use futures::future::join_all;
use uuid::Uuid;

use crate::t;

fn person(name: &str) -> User {
    User {
        name: name.into(),
        role: "reviewer".into(),
        officer_id: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret_sealed: vec![1, 2, 3],
        failed_attempts: 0,
        locked_until: None,
        totp_last_step: None,
        created_at: t(0),
        disabled_at: None,
        password_must_change: false,
    }
}

fn refused_dock(dock: &str, detail: &str) -> NewIncident {
    NewIncident {
        kind: IncidentKind::UnknownOrRevoked,
        device_id: None,
        dock_id: Some(dock.into()),
        sequence: None,
        recording_id: None,
        detail: detail.into(),
    }
}

pub async fn admission_story(catalog: &(impl IncidentStore + UserStore + ?Sized)) {
    let backoff = SignInBackoff::DEFAULT;
    catalog.add_user(&person("anna")).await.unwrap();
    catalog.add_user(&person("bert")).await.unwrap();

    // Twenty wrong passwords at once: twenty failures, not one.
    let now = t(1_000);
    let counted =
        join_all((0..20).map(|_| catalog.count_failed_sign_in("anna", now, &backoff))).await;
    let mut counts: Vec<u32> = counted.into_iter().map(|c| c.unwrap().unwrap().0).collect();
    counts.sort();
    assert_eq!(
        counts,
        (1..=20).collect::<Vec<_>>(),
        "each failure counted once"
    );
    let anna = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(anna.failed_attempts, 20);
    assert_eq!(
        anna.locked_until,
        Some(now.plus_millis(backoff.max_millis)),
        "the wait is at its ceiling, no longer"
    );
    assert_eq!(
        catalog
            .count_failed_sign_in("nobody", now, &backoff)
            .await
            .unwrap(),
        None
    );

    // Below the free failures there is no wait; the fifth sets the first one.
    for n in 1..=5u32 {
        let (failed, until) = catalog
            .count_failed_sign_in("bert", t(n as i64), &backoff)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failed, n);
        assert_eq!(
            until,
            backoff.delay_millis(n).map(|d| t(n as i64).plus_millis(d))
        );
    }

    // While the wait runs nobody gets an attempt; after it, exactly one of
    // many racing attempts does, and it holds off the others.
    let waiting = catalog
        .user("anna")
        .await
        .unwrap()
        .unwrap()
        .locked_until
        .unwrap();
    let early = catalog
        .claim_sign_in_attempt("anna", waiting.plus_millis(-1), waiting.plus_millis(60_000))
        .await
        .unwrap();
    assert!(!early);
    let later = waiting.plus_millis(5);
    let claims = join_all(
        (0..10).map(|_| catalog.claim_sign_in_attempt("anna", later, later.plus_millis(300_000))),
    )
    .await;
    assert_eq!(
        claims.into_iter().filter(|c| *c.as_ref().unwrap()).count(),
        1
    );
    let claimed = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(
        (claimed.locked_until, claimed.failed_attempts),
        (Some(later.plus_millis(300_000)), 21),
        "the claimed attempt counts as a failure until it succeeds"
    );
    // An account without a wait has nothing to claim.
    catalog.add_user(&person("carl")).await.unwrap();
    assert!(!catalog
        .claim_sign_in_attempt("carl", later, later)
        .await
        .unwrap());

    // One code, one sign-in: ten racing with the same step, one wins; the
    // win clears the failures and the wait; an older step is refused.
    let accepted = join_all((0..10).map(|_| catalog.accept_sign_in("anna", 1_000))).await;
    assert_eq!(
        accepted
            .into_iter()
            .filter(|a| *a.as_ref().unwrap())
            .count(),
        1
    );
    let anna = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(
        (anna.failed_attempts, anna.locked_until, anna.totp_last_step),
        (0, None, Some(1_000))
    );
    assert!(!catalog.accept_sign_in("anna", 999).await.unwrap());
    assert!(catalog.accept_sign_in("anna", 1_001).await.unwrap());
    assert!(!catalog.accept_sign_in("nobody", 5).await.unwrap());

    // Refused dock credentials: fifty at once from one source are one
    // incident counting fifty; another source, reason or hour is another.
    let hour = t(3_600_000);
    let dock = refused_dock("dock-x", "unknown dock");
    let ids = join_all((0..50).map(|n| {
        catalog.count_refused_credential(
            &dock,
            "192.0.2.7",
            hour,
            (hour.plus_millis(n), hour.plus_millis(n)),
            1,
        )
    }))
    .await;
    let ids: std::collections::BTreeSet<i64> = ids.into_iter().map(Result::unwrap).collect();
    assert_eq!(ids.len(), 1, "one incident for the source and hour");
    let other_source = catalog
        .count_refused_credential(&dock, "2001:db8:1:2::/64", hour, (hour, hour), 1)
        .await
        .unwrap();
    let other_reason = catalog
        .count_refused_credential(
            &refused_dock("dock-1", "wrong dock token"),
            "192.0.2.7",
            hour,
            (hour, hour),
            1,
        )
        .await
        .unwrap();
    let next_hour = catalog
        .count_refused_credential(
            &dock,
            "192.0.2.7",
            t(7_200_000),
            (t(7_200_001), t(7_200_001)),
            1,
        )
        .await
        .unwrap();
    let group = *ids.first().unwrap();
    let all = catalog.incidents().await.unwrap();
    let find = |id: i64| all.iter().find(|i| i.id == id).unwrap().clone();
    let first = find(group);
    assert_eq!(first.occurrences, 50);
    // Whichever came first made it; the last one seen is the latest.
    assert!(first.at >= hour && first.at <= hour.plus_millis(49));
    assert_eq!(first.last_at, Some(hour.plus_millis(49)));
    assert_eq!(first.source.as_deref(), Some("192.0.2.7"));
    assert_eq!(first.dock_id.as_deref(), Some("dock-x"));
    for id in [other_source, other_reason, next_hour] {
        assert_ne!(id, group);
        assert_eq!(find(id).occurrences, 1);
    }
    // Counted in memory and written as one: the count adds up.
    let batch = catalog
        .count_refused_credential(
            &dock,
            "192.0.2.7",
            hour,
            (hour.plus_millis(100), hour.plus_millis(900)),
            1000,
        )
        .await
        .unwrap();
    assert_eq!(batch, group);
    let all = catalog.incidents().await.unwrap();
    let regrouped = all.iter().find(|i| i.id == group).unwrap();
    assert_eq!(regrouped.occurrences, 1050);
    assert_eq!(regrouped.last_at, Some(hour.plus_millis(900)));
    // Incidents that are not grouped are one each, as before.
    let gap = NewIncident {
        kind: IncidentKind::Gap,
        device_id: Some("cam-9".into()),
        dock_id: None,
        sequence: Some(4),
        recording_id: None,
        detail: "3 missing before 4".into(),
    };
    let a = catalog.add_incident(&gap, hour).await.unwrap();
    let b = catalog.add_incident(&gap, hour).await.unwrap();
    assert_ne!(a, b);

    // Pages, oldest first, and a recording's own incidents by index.
    let recording_id = Uuid::now_v7();
    for n in 0..7u64 {
        let mismatch = NewIncident {
            kind: IncidentKind::CiphertextMismatch,
            device_id: Some("cam-9".into()),
            dock_id: None,
            sequence: Some(if n % 2 == 0 { 5 } else { 6 }),
            recording_id: (n % 2 == 0).then_some(recording_id),
            detail: format!("mismatch {n}"),
        };
        catalog.add_incident(&mismatch, hour).await.unwrap();
    }
    let all = catalog.incidents().await.unwrap();
    assert_eq!(all.len(), 13);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = catalog.incidents_page(after, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = last.id;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    // Newest first, narrowed by kind and camera, page by page.
    let query = |kind, device: Option<&str>, before_id, limit| IncidentQuery {
        kind,
        device_id: device.map(str::to_owned),
        before_id,
        limit,
    };
    let newest = catalog
        .search_incidents(&query(None, None, None, 100))
        .await
        .unwrap();
    assert_eq!(newest, all.iter().rev().cloned().collect::<Vec<_>>());
    let cam9 = catalog
        .search_incidents(&query(None, Some("cam-9"), None, 100))
        .await
        .unwrap();
    assert_eq!(cam9.len(), 9);
    let mismatches = catalog
        .search_incidents(&query(
            Some(IncidentKind::CiphertextMismatch),
            Some("cam-9"),
            None,
            3,
        ))
        .await
        .unwrap();
    assert_eq!(mismatches.len(), 3);
    let older = catalog
        .search_incidents(&query(
            Some(IncidentKind::CiphertextMismatch),
            Some("cam-9"),
            mismatches.last().map(|i| i.id),
            100,
        ))
        .await
        .unwrap();
    assert_eq!(older.len(), 4);
    assert!(older
        .iter()
        .all(|i| i.id < mismatches[2].id && i.kind == IncidentKind::CiphertextMismatch));
    let none = catalog
        .search_incidents(&query(Some(IncidentKind::Replay), None, None, 100))
        .await
        .unwrap();
    assert!(none.is_empty());

    let about = catalog
        .incidents_for_recording(recording_id, "cam-9", 4, 100)
        .await
        .unwrap();
    // Four name the recording, two more its camera's sequence number 4.
    assert_eq!(about.len(), 6);
    assert!(about.windows(2).all(|w| w[0].id < w[1].id));
    let limited = catalog
        .incidents_for_recording(recording_id, "cam-9", 4, 3)
        .await
        .unwrap();
    assert_eq!(limited, about[..3]);
}

/// A refused recording is offered again at every docking: one incident per
/// kind and recording, counting its sightings, even when sighted at once;
/// a dock's fact about no recording is counted into the first with the
/// same words from that dock; groups of refused credentials are left alone.
pub async fn incident_sighting_story(catalog: &(impl IncidentStore + ?Sized)) {
    let at = |ms: i64| t(1_796_000_000_000 + ms);
    let fact = |kind, device: Option<&str>, sequence: Option<u64>, detail: &str| NewIncident {
        kind,
        device_id: device.map(str::to_owned),
        dock_id: Some("dock-1".into()),
        sequence,
        recording_id: None,
        detail: detail.into(),
    };
    let bad = fact(
        IncidentKind::BadSignature,
        Some("cam-1"),
        Some(7),
        "signature",
    );
    let first = catalog.sight_incident(&bad, at(0)).await.unwrap();
    for n in 1..5 {
        let again = fact(
            IncidentKind::BadSignature,
            Some("cam-1"),
            Some(7),
            &format!("docking {n}"),
        );
        assert_eq!(catalog.sight_incident(&again, at(n)).await.unwrap(), first);
    }
    // Sightings of one fact at the same moment (two docks holding copies
    // of one camera) make one row, counted once each.
    let raced = fact(IncidentKind::Replay, Some("cam-9"), Some(3), "raced");
    let sightings = (0..16).map(|n| catalog.sight_incident(&raced, at(100 + n)));
    let mut raced_ids = futures::future::join_all(sightings)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect::<Vec<_>>();
    raced_ids.sort();
    raced_ids.dedup();
    assert_eq!(raced_ids.len(), 1, "one row for one fact: {raced_ids:?}");
    // Another kind, sequence or camera is another fact.
    let others = [
        fact(
            IncidentKind::CiphertextMismatch,
            Some("cam-1"),
            Some(7),
            "x",
        ),
        fact(IncidentKind::BadSignature, Some("cam-1"), Some(8), "x"),
        fact(IncidentKind::BadSignature, Some("cam-2"), Some(7), "x"),
    ];
    let mut ids = vec![first];
    for o in &others {
        ids.push(catalog.sight_incident(o, at(10)).await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    // Not about one recording: the same words from the same dock (they
    // name the offered bytes by hash) are the same fact; other words,
    // another dock, or no dock at all are another.
    let loose = fact(
        IncidentKind::MalformedManifest,
        None,
        None,
        "bytes 0a1b: not JSON",
    );
    let a = catalog.sight_incident(&loose, at(20)).await.unwrap();
    assert_eq!(catalog.sight_incident(&loose, at(21)).await.unwrap(), a);
    let other_bytes = fact(
        IncidentKind::MalformedManifest,
        None,
        None,
        "bytes 9f8e: not JSON",
    );
    let b = catalog.sight_incident(&other_bytes, at(22)).await.unwrap();
    let other_dock = NewIncident {
        dock_id: Some("dock-2".into()),
        ..loose.clone()
    };
    let c = catalog.sight_incident(&other_dock, at(23)).await.unwrap();
    let no_dock = NewIncident {
        dock_id: None,
        ..loose.clone()
    };
    let d = catalog.sight_incident(&no_dock, at(24)).await.unwrap();
    let e = catalog.sight_incident(&no_dock, at(25)).await.unwrap();
    let mut loose_ids = vec![a, b, c, d, e];
    loose_ids.sort();
    loose_ids.dedup();
    assert_eq!(
        loose_ids.len(),
        5,
        "only the same words from the same dock are counted together"
    );
    let counted = catalog
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == a)
        .unwrap();
    assert_eq!((counted.occurrences, counted.last_at), (2, Some(at(21))));
    // A group of refused credentials is not a fact to count into.
    let grouped = catalog
        .count_refused_credential(
            &fact(IncidentKind::BadSignature, Some("cam-3"), None, "g"),
            "192.0.2.1",
            at(0),
            (at(0), at(0)),
            1,
        )
        .await
        .unwrap();
    let all = catalog.incidents().await.unwrap();
    let counted = all.iter().find(|i| i.id == first).unwrap();
    assert_eq!(counted.occurrences, 5);
    assert_eq!(counted.last_at, Some(at(4)));
    assert_eq!(counted.detail, "docking 4", "the latest sighting speaks");
    assert_eq!(counted.at, at(0));
    assert_eq!(all.iter().find(|i| i.id == grouped).unwrap().occurrences, 1);
    assert_eq!(all.len(), 4 + 1 + 5 + 1);
    assert_eq!(
        all.iter()
            .find(|i| i.id == raced_ids[0])
            .unwrap()
            .occurrences,
        16
    );
}

/// Every kind of incident is stored and read back in order.
pub async fn incident_kind_story(catalog: &(impl IncidentStore + ?Sized)) {
    for kind in IncidentKind::ALL {
        let incident = NewIncident {
            kind,
            device_id: Some("cam-1".into()),
            dock_id: None,
            sequence: Some(7),
            recording_id: None,
            detail: format!("{kind:?}"),
        };
        catalog.add_incident(&incident, t(10)).await.unwrap();
    }
    let incidents = catalog.incidents().await.unwrap();
    assert_eq!(
        incidents.iter().map(|i| i.kind).collect::<Vec<_>>(),
        IncidentKind::ALL.to_vec()
    );
}
