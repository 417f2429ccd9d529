//! Uploads, committed recordings, and the recordings list's search.

use custos_catalog::*;
use uuid::Uuid;

use crate::*;

/// Uploads, commits and the chain head.
pub async fn recording_story(catalog: &(impl DeviceStore + RecordingStore + ?Sized)) {
    enrol(catalog).await;
    // Uploads: one per recording.
    let r1 = recording("cam-1", 1);
    let upload = Upload {
        upload_id: Uuid::now_v7(),
        recording_id: r1.recording_id,
        device_id: "cam-1".into(),
        sequence: 1,
        manifest: b"{}".to_vec(),
        manifest_signature: vec![1; 64],
        dock_id: "dock-1".into(),
        created_at: t(3),
        age_header: None,
    };
    catalog.create_upload(&upload).await.unwrap();
    let again = Upload {
        upload_id: Uuid::now_v7(),
        ..upload.clone()
    };
    assert!(matches!(
        catalog.create_upload(&again).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.upload_for_recording(r1.recording_id).await.unwrap(),
        Some(upload.clone())
    );
    // The camera moved to another dock mid-upload: the upload moves with it.
    assert!(catalog
        .move_upload(upload.upload_id, "dock-2")
        .await
        .unwrap());
    assert_eq!(
        catalog
            .upload(upload.upload_id)
            .await
            .unwrap()
            .unwrap()
            .dock_id,
        "dock-2"
    );
    assert!(catalog
        .move_upload(upload.upload_id, "dock-1")
        .await
        .unwrap());
    assert!(!catalog.move_upload(Uuid::now_v7(), "dock-1").await.unwrap());

    // Committing moves the head, removes the upload, refuses duplicates.
    assert_eq!(catalog.chain_head("cam-1").await.unwrap(), None);
    catalog
        .commit_recording(&r1, Some(upload.upload_id))
        .await
        .unwrap();
    assert_eq!(catalog.upload(upload.upload_id).await.unwrap(), None);
    assert_eq!(
        catalog.recording(r1.recording_id).await.unwrap(),
        Some(r1.clone())
    );
    assert_eq!(
        catalog.chain_head("cam-1").await.unwrap(),
        Some(ChainHead {
            sequence: 1,
            manifest_sha256: r1.camera().unwrap().manifest_sha256
        })
    );
    assert!(matches!(
        catalog.commit_recording(&r1, None).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    let r3 = recording("cam-1", 3);
    catalog.commit_recording(&r3, None).await.unwrap();
    // A late arrival below the head does not move it back.
    let r2 = recording("cam-1", 2);
    catalog.commit_recording(&r2, None).await.unwrap();
    assert_eq!(
        catalog.chain_head("cam-1").await.unwrap().unwrap().sequence,
        3
    );
    assert_eq!(
        catalog.recording_by_sequence("cam-1", 2).await.unwrap(),
        Some(r2)
    );
    let dup_seq = recording("cam-1", 2);
    assert!(
        catalog.commit_recording(&dup_seq, None).await.is_err(),
        "one recording per sequence number"
    );
    assert_eq!(catalog.recordings().await.unwrap().len(), 3);

    // The age header moves into the upload row before it leaves the file.
    let pending = Upload {
        upload_id: Uuid::now_v7(),
        recording_id: Uuid::now_v7(),
        device_id: "cam-1".into(),
        sequence: 10,
        manifest: b"{}".to_vec(),
        manifest_signature: vec![1; 64],
        dock_id: "dock-1".into(),
        created_at: t(31),
        age_header: None,
    };
    catalog.create_upload(&pending).await.unwrap();
    catalog
        .set_upload_age_header(pending.upload_id, b"header")
        .await
        .unwrap();
    assert_eq!(
        catalog
            .upload(pending.upload_id)
            .await
            .unwrap()
            .unwrap()
            .age_header
            .as_deref(),
        Some(&b"header"[..])
    );
    catalog.delete_upload(pending.upload_id).await.unwrap();
}

/// The recordings list's filters and pages (the web UI's and the API's).
pub async fn search_story(catalog: &(impl DeviceStore + RecordingStore + CaseStore + ?Sized)) {
    for cam in ["cam-a", "cam-b"] {
        catalog
            .add_device(&Device {
                device_id: cam.into(),
                public_key: "cd".repeat(32),
                enrolled_at: t(0),
                revoked_at: None,
                retention_category: STANDARD_CATEGORY.into(),
                assigned_officer: None,
                team: None,
                kind: DeviceKind::Custos,
            })
            .await
            .unwrap();
    }
    let hour = 3_600_000;
    // Ten recordings an hour apart, alternating cameras; officer boa-2 made
    // every third; the fifth was cut short; each due 28 days after its end.
    let mut all = Vec::new();
    for i in 0..10u64 {
        let mut r = recording(if i % 2 == 0 { "cam-a" } else { "cam-b" }, i / 2 + 1);
        r.started_at = t(i as i64 * hour);
        r.ended_at = t(i as i64 * hour + 60_000);
        r.delete_after = r.ended_at.plus_millis(28 * 24 * hour);
        r.officer_id = Some(if i % 3 == 0 { "boa-2" } else { "boa-1" }.into());
        r.truncated = i == 4;
        catalog.commit_recording(&r, None).await.unwrap();
        all.push(r);
    }
    let ids = |page: &RecordingPage| -> Vec<Uuid> {
        page.recordings
            .iter()
            .map(|(r, _)| r.recording_id)
            .collect()
    };
    let want = |idx: &[usize]| -> Vec<Uuid> { idx.iter().map(|&i| all[i].recording_id).collect() };
    let q = |f: fn(&mut RecordingQuery)| {
        let mut q = RecordingQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };

    let page = catalog.search_recordings(&q(|_| {})).await.unwrap();
    assert_eq!(page.total, 10);
    assert_eq!(
        ids(&page),
        want(&[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]),
        "newest first"
    );
    assert!(page.recordings.iter().all(|(_, held)| !held));

    // Pages: offset and limit over the same order, the total unchanged.
    let mut paged = q(|_| {});
    paged.limit = 4;
    paged.offset = 4;
    let page = catalog.search_recordings(&paged).await.unwrap();
    assert_eq!((page.total, ids(&page)), (10, want(&[5, 4, 3, 2])));
    paged.offset = 8;
    assert_eq!(
        ids(&catalog.search_recordings(&paged).await.unwrap()),
        want(&[1, 0])
    );
    paged.offset = 80;
    assert!(catalog
        .search_recordings(&paged)
        .await
        .unwrap()
        .recordings
        .is_empty());

    // Time window: [from, before).
    let mut window = q(|_| {});
    window.started_from = Some(t(2 * hour));
    window.started_before = Some(t(5 * hour));
    let page = catalog.search_recordings(&window).await.unwrap();
    assert_eq!((page.total, ids(&page)), (3, want(&[4, 3, 2])));

    let page = catalog
        .search_recordings(&q(|q| q.officer_id = Some("boa-2".into())))
        .await
        .unwrap();
    assert_eq!(ids(&page), want(&[9, 6, 3, 0]));
    let page = catalog
        .search_recordings(&q(|q| {
            q.device_id = Some("cam-b".into());
            q.officer_id = Some("boa-1".into());
        }))
        .await
        .unwrap();
    assert_eq!(ids(&page), want(&[7, 5, 1]), "filters combine");
    let page = catalog
        .search_recordings(&q(|q| q.truncated = Some(true)))
        .await
        .unwrap();
    assert_eq!(ids(&page), want(&[4]));
    let page = catalog
        .search_recordings(&q(|q| q.officer_id = Some("nobody".into())))
        .await
        .unwrap();
    assert_eq!((page.total, page.recordings.len()), (0, 0));

    // A case holds two recordings; one hold is later released.
    catalog
        .add_case(&Case {
            case_id: "K-9".into(),
            kind: "incident".into(),
            reference: None,
            label: "search".into(),
            opened_by: "anna".into(),
            opened_at: t(0),
            due_at: None,
            closed_by: None,
            closed_at: None,
        })
        .await
        .unwrap();
    let mut holds = Vec::new();
    for i in [2usize, 7] {
        let hold = Hold {
            hold_id: Uuid::now_v7(),
            case_id: "K-9".into(),
            recording_id: all[i].recording_id,
            reason: "incident".into(),
            placed_by: "anna".into(),
            placed_at: t(10 * hour),
            approved_by: None,
            approved_at: None,
            released_by: None,
            released_at: None,
        };
        catalog.add_hold(&hold).await.unwrap();
        holds.push(hold);
    }
    catalog
        .close_case("K-9", "anna", t(11 * hour))
        .await
        .unwrap();
    let page = catalog
        .search_recordings(&q(|q| q.case_id = Some("K-9".into())))
        .await
        .unwrap();
    assert_eq!(
        ids(&page),
        want(&[7, 2]),
        "a case's recordings, released or not"
    );
    assert!(
        page.recordings.iter().all(|(_, held)| !held),
        "closing the case released both"
    );

    let mut again = holds[0].clone();
    again.hold_id = Uuid::now_v7();
    again.case_id = "K-10".into();
    catalog
        .add_case(&Case {
            case_id: "K-10".into(),
            ..catalog.case("K-9").await.unwrap().unwrap()
        })
        .await
        .unwrap();
    catalog.add_hold(&again).await.unwrap();
    let page = catalog
        .search_recordings(&q(|q| q.held = Some(true)))
        .await
        .unwrap();
    assert_eq!(ids(&page), want(&[2]));
    assert!(page.recordings[0].1, "marked held");
    let page = catalog
        .search_recordings(&q(|q| q.held = Some(false)))
        .await
        .unwrap();
    assert_eq!(page.total, 9);
    assert!(!ids(&page).contains(&all[2].recording_id));

    // Due before a moment: ends + 28 days before it, and not held.
    let mut due = q(|_| {});
    due.due_before = Some(t(28 * 24 * hour + 3 * hour));
    let page = catalog.search_recordings(&due).await.unwrap();
    assert_eq!(
        ids(&page),
        want(&[0, 1]),
        "the soonest deleted first; recording 2 is due too, but held"
    );
}
