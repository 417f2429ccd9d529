//! The catalog stories: one test of the whole contract, run unchanged
//! against every backend (each backend crate's `tests/story.rs` opens its
//! catalog and calls these). A backend passes when every story does.

use custos_catalog::*;
use custos_format::UtcMillis;
use uuid::Uuid;

pub(crate) fn t(ms: i64) -> UtcMillis {
    UtcMillis::from_millis(1_795_424_400_000 + ms).unwrap()
}

fn recording(device: &str, seq: u64) -> Recording {
    Recording {
        recording_id: Uuid::now_v7(),
        device_id: device.into(),
        sequence: seq,
        officer_id: Some("boa-1".into()),
        started_at: t(0),
        ended_at: t(1000),
        truncated: false,
        ciphertext_sha256: [seq as u8; 32],
        ciphertext_length: 1234,
        manifest: b"{}".to_vec(),
        manifest_signature: vec![1; 64],
        manifest_sha256: [seq as u8 + 100; 32],
        blob_key: format!("{device}/{seq}.age"),
        stored_at: t(2000),
        receipt: b"{}".to_vec(),
        receipt_signature: vec![2; 64],
        delete_after: t(28 * 86_400_000),
        age_header: b"age-encryption.org/v1\n--- x\n".to_vec(),
        retention_category: STANDARD_CATEGORY.into(),
    }
}

pub async fn story(catalog: &dyn Catalog) {
    // Cameras and docks: enroll, refuse duplicates, revoke.
    let cam = Device {
        device_id: "cam-1".into(),
        public_key: "ab".repeat(32),
        enrolled_at: t(0),
        revoked_at: None,
        retention_category: STANDARD_CATEGORY.into(),
        assigned_officer: None,
        team: None,
    };
    catalog.add_device(&cam).await.unwrap();
    assert!(matches!(
        catalog.add_device(&cam).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(catalog.device("cam-1").await.unwrap(), Some(cam.clone()));
    assert_eq!(catalog.device("nope").await.unwrap(), None);
    // A camera's retention category: its new recordings start in it.
    catalog
        .set_device_retention_category("cam-1", "training")
        .await
        .unwrap();
    assert_eq!(
        catalog
            .device("cam-1")
            .await
            .unwrap()
            .unwrap()
            .retention_category,
        "training"
    );
    catalog
        .set_device_retention_category("cam-1", STANDARD_CATEGORY)
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .set_device_retention_category("nope", "training")
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog.revoke_device("nope", t(1)).await,
        Err(CatalogError::NotFound { .. })
    ));
    // A personal camera is assigned to its officer; back to the pool with None.
    catalog
        .assign_officer("cam-1", Some("boa-7"))
        .await
        .unwrap();
    let assigned = catalog.device("cam-1").await.unwrap().unwrap();
    assert_eq!(assigned.assigned_officer.as_deref(), Some("boa-7"));
    catalog.assign_officer("cam-1", None).await.unwrap();
    assert_eq!(catalog.device("cam-1").await.unwrap(), Some(cam.clone()));
    assert!(matches!(
        catalog.assign_officer("nope", Some("boa-7")).await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(catalog.docks().await.unwrap().is_empty());
    // Leases: one holder at a time; renewal by the holder; taken over
    // only once expired; released only by its holder.
    assert!(catalog
        .take_lease("sweep", "node-a", t(0), t(100))
        .await
        .unwrap());
    assert!(!catalog
        .take_lease("sweep", "node-b", t(50), t(150))
        .await
        .unwrap());
    assert!(catalog
        .take_lease("sweep", "node-a", t(60), t(160))
        .await
        .unwrap());
    assert_eq!(
        catalog.lease("sweep").await.unwrap(),
        Some(("node-a".to_owned(), t(160)))
    );
    catalog.release_lease("sweep", "node-b").await.unwrap();
    assert!(!catalog
        .take_lease("sweep", "node-b", t(159), t(200))
        .await
        .unwrap());
    assert!(
        catalog
            .take_lease("sweep", "node-b", t(160), t(260))
            .await
            .unwrap(),
        "expired"
    );
    catalog.release_lease("sweep", "node-b").await.unwrap();
    assert_eq!(catalog.lease("sweep").await.unwrap(), None);
    assert!(catalog
        .take_lease("sweep", "node-a", t(161), t(200))
        .await
        .unwrap());
    assert!(catalog
        .take_lease("other", "node-b", t(161), t(200))
        .await
        .unwrap());
    // Settings saved at run time: none, then one, then replaced.
    assert_eq!(catalog.setting("deployment").await.unwrap(), None);
    catalog
        .set_setting("deployment", "{\"a\":1}", t(1))
        .await
        .unwrap();
    catalog
        .set_setting("deployment", "{\"a\":2}", t(2))
        .await
        .unwrap();
    assert_eq!(
        catalog.setting("deployment").await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );
    let dock = Dock {
        dock_id: "dock-1".into(),
        token_sha256: "cd".repeat(32),
        enrolled_at: t(0),
        revoked_at: None,
    };
    catalog.add_dock(&dock).await.unwrap();
    assert_eq!(catalog.dock("dock-1").await.unwrap(), Some(dock.clone()));
    assert_eq!(catalog.docks().await.unwrap(), vec![dock]);
    catalog.revoke_dock("dock-1", t(5)).await.unwrap();
    catalog.revoke_dock("dock-1", t(9)).await.unwrap();
    assert_eq!(
        catalog.dock("dock-1").await.unwrap().unwrap().revoked_at,
        Some(t(5)),
        "first revocation stands"
    );

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
            manifest_sha256: r1.manifest_sha256
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

    // Incidents and audit events read back in order.
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

    // People and sessions.
    let anna = User {
        name: "anna".into(),
        role: "reviewer".into(),
        officer_id: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret_sealed: vec![1, 2, 3],
        failed_attempts: 0,
        locked_until: None,
        totp_last_step: None,
        created_at: t(12),
        disabled_at: None,
        password_must_change: true,
    };
    catalog.add_user(&anna).await.unwrap();
    assert!(matches!(
        catalog.add_user(&anna).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(catalog.user("anna").await.unwrap(), Some(anna.clone()));
    assert_eq!(catalog.user("bob").await.unwrap(), None);
    catalog
        .set_login_state("anna", 5, Some(t(13)), Some(99))
        .await
        .unwrap();
    let locked = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(
        (
            locked.failed_attempts,
            locked.locked_until,
            locked.totp_last_step
        ),
        (5, Some(t(13)), Some(99))
    );
    assert!(catalog.set_login_state("bob", 1, None, None).await.is_err());
    let session = Session {
        token_sha256: "ab".repeat(32),
        user_name: "anna".into(),
        csrf_token: "csrf".into(),
        created_at: t(14),
        last_seen: t(14),
        ended_at: None,
    };
    catalog.add_session(&session).await.unwrap();
    let (found, user) = catalog
        .session_with_user(&session.token_sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, session);
    assert_eq!(user, catalog.user("anna").await.unwrap().unwrap());
    assert!(catalog
        .session_with_user(&"00".repeat(32))
        .await
        .unwrap()
        .is_none());
    catalog
        .touch_session(&session.token_sha256, t(15))
        .await
        .unwrap();
    catalog
        .touch_session(&session.token_sha256, t(14))
        .await
        .unwrap();
    assert_eq!(
        catalog
            .session(&session.token_sha256)
            .await
            .unwrap()
            .unwrap()
            .last_seen,
        t(15),
        "last_seen never goes back"
    );
    // A new password ends every other session, clears the lock, and can
    // lift (or set) the duty to change it.
    let other = Session {
        token_sha256: "cd".repeat(32),
        ..session.clone()
    };
    catalog.add_session(&other).await.unwrap();
    catalog
        .set_password(
            "anna",
            "$argon2id$new",
            false,
            Some(&session.token_sha256),
            t(15),
        )
        .await
        .unwrap();
    let changed = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(
        (
            changed.password_hash.as_str(),
            changed.password_must_change,
            changed.failed_attempts,
            changed.locked_until
        ),
        ("$argon2id$new", false, 0, None)
    );
    let ended = |token: String| {
        let catalog = &catalog;
        async move { catalog.session(&token).await.unwrap().unwrap().ended_at }
    };
    assert_eq!(ended(session.token_sha256.clone()).await, None, "kept");
    assert_eq!(ended(other.token_sha256.clone()).await, Some(t(15)));
    assert!(matches!(
        catalog.set_password("bob", "x", true, None, t(15)).await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog.disable_user("anna", t(16)).await.unwrap();
    assert_eq!(
        catalog
            .session(&session.token_sha256)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        Some(t(16)),
        "disabling a user ends their sessions"
    );
    assert_eq!(catalog.users().await.unwrap().len(), 1);
    // A new phone: a new sealed secret, the old step forgotten.
    catalog
        .reset_totp("anna", b"new sealed", t(17))
        .await
        .unwrap();
    let anna = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(anna.totp_secret_sealed, b"new sealed");
    assert_eq!(
        (anna.totp_last_step, anna.failed_attempts, anna.locked_until),
        (None, 0, None)
    );
    assert!(catalog.reset_totp("nobody", b"x", t(17)).await.is_err());

    // The audit log: batches append only onto the tip they were built on.
    assert!(catalog.audit_tip().await.unwrap().is_none());
    let key = custos_format::SigningKey::from_seed(&[5; 32]);
    let signer = custos_audit::NoteSigner::new("test.example/audit", key).unwrap();
    let mut frontier = custos_audit::Frontier::new();
    let mut all_rows = Vec::new();
    for batch in [1usize, 3, 2] {
        let events = (0..batch).map(|i| {
            custos_audit::AuditEvent::new(
                t(11),
                "system:cli",
                "test.event",
                custos_audit::Outcome::Ok,
            )
            .detail(format!("{i}"))
        });
        let size = frontier.size();
        let (rows, checkpoint) =
            custos_audit::append_batch(&mut frontier, events, &signer).unwrap();
        catalog
            .append_audit(size, &rows, &checkpoint, &frontier.to_bytes())
            .await
            .unwrap();
        // The same batch again is a conflict, and changes nothing.
        assert!(matches!(
            catalog
                .append_audit(size, &rows, &checkpoint, &frontier.to_bytes())
                .await,
            Err(CatalogError::Conflict(_))
        ));
        all_rows.extend(rows);
    }
    let tip = catalog.audit_tip().await.unwrap().unwrap();
    assert_eq!(tip.checkpoint.size, 6);
    assert_eq!(
        custos_audit::Frontier::from_bytes(&tip.frontier),
        Some(frontier.clone())
    );
    let stored = catalog.audit_entries(0, 100).await.unwrap();
    assert_eq!(stored.len(), 6);
    assert_eq!(catalog.audit_entries(4, 1).await.unwrap()[0].index, 4);
    for (a, b) in stored.iter().zip(&all_rows) {
        assert_eq!(
            (a.index, &a.bytes, a.leaf_hash),
            (b.index, &b.bytes, b.leaf_hash)
        );
    }
    assert_eq!(
        catalog.audit_leaf_hashes(4).await.unwrap(),
        all_rows[..4]
            .iter()
            .map(|r| r.leaf_hash)
            .collect::<Vec<_>>()
    );
    let checkpoints = catalog.audit_checkpoints().await.unwrap();
    assert_eq!(
        checkpoints.iter().map(|c| c.size).collect::<Vec<_>>(),
        [1, 4, 6]
    );
    assert_eq!(
        catalog.audit_checkpoint(4).await.unwrap().unwrap().note,
        checkpoints[1].note
    );
    custos_audit::verify_log(&signer.verifier(), &stored, &checkpoints).unwrap();

    // Retention: holds keep due recordings; tombstones replace deleted ones.
    let all = catalog.recordings().await.unwrap();
    let held = all[0].clone();
    let day28 = t(28 * 86_400_000);
    assert!(catalog
        .due_recordings(t(27 * 86_400_000), 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 3);
    assert_eq!(
        catalog.due_recordings(day28, 1).await.unwrap().len(),
        1,
        "limit respected"
    );
    let case = Case {
        case_id: "K-1".into(),
        kind: "complaint".into(),
        reference: None,
        label: "complaint about an arrest".into(),
        opened_by: "anna".into(),
        opened_at: t(20),
        due_at: None,
        closed_by: None,
        closed_at: None,
    };
    catalog.add_case(&case).await.unwrap();
    assert!(matches!(
        catalog.add_case(&case).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    let hold = Hold {
        hold_id: Uuid::now_v7(),
        case_id: "K-1".into(),
        recording_id: held.recording_id,
        reason: "complaint".into(),
        placed_by: "anna".into(),
        placed_at: t(21),
        approved_by: None,
        approved_at: None,
        released_by: None,
        released_at: None,
    };
    catalog.add_hold(&hold).await.unwrap();
    let due = catalog.due_recordings(day28, 100).await.unwrap();
    assert_eq!(
        due.len(),
        2,
        "a hold, even one awaiting approval, keeps a recording"
    );
    assert!(due.iter().all(|r| r.recording_id != held.recording_id));
    catalog
        .approve_hold(hold.hold_id, "bert", t(22))
        .await
        .unwrap();
    assert!(
        catalog
            .approve_hold(hold.hold_id, "bert", t(22))
            .await
            .is_err(),
        "approved once"
    );
    assert_eq!(
        catalog
            .holds_for_recording(held.recording_id)
            .await
            .unwrap()[0]
            .approved_by
            .as_deref(),
        Some("bert")
    );
    // A second hold on the same case, released on its own before the case closes.
    let second = Hold {
        hold_id: Uuid::now_v7(),
        reason: "second look".into(),
        ..hold.clone()
    };
    catalog.add_hold(&second).await.unwrap();
    catalog
        .release_hold(second.hold_id, "bert", t(22))
        .await
        .unwrap();
    assert!(
        catalog
            .release_hold(second.hold_id, "bert", t(22))
            .await
            .is_err(),
        "released once"
    );
    assert!(catalog
        .release_hold(Uuid::now_v7(), "bert", t(22))
        .await
        .is_err());
    let second = catalog.hold(second.hold_id).await.unwrap().unwrap();
    assert_eq!(
        (second.released_by.as_deref(), second.released_at),
        (Some("bert"), Some(t(22)))
    );
    let released = catalog.close_case("K-1", "anna", t(23)).await.unwrap();
    assert_eq!(released.len(), 1, "only the hold still in force");
    assert_eq!(released[0].released_at, Some(t(23)));
    assert!(
        catalog.close_case("K-1", "anna", t(24)).await.is_err(),
        "closed once"
    );
    assert_eq!(
        catalog.case("K-1").await.unwrap().unwrap().closed_at,
        Some(t(23))
    );
    assert_eq!(
        catalog.holds_for_case("K-1").await.unwrap()[0]
            .released_by
            .as_deref(),
        Some("anna")
    );
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 3);
    catalog
        .set_delete_after(held.recording_id, t(40 * 86_400_000))
        .await
        .unwrap();
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 2);
    // A case and a recording in one read, each if it exists, and whether
    // the recording is attached to the case (a hold of it, in any state).
    let found = catalog
        .case_and_recording("K-1", held.recording_id)
        .await
        .unwrap();
    assert_eq!(found.case, catalog.case("K-1").await.unwrap());
    assert_eq!(
        found.recording,
        catalog.recording(held.recording_id).await.unwrap()
    );
    assert!(found.case.is_some() && found.recording.is_some());
    assert!(found.attached, "a released hold still attached it");
    let found = catalog
        .case_and_recording("no-such-case", Uuid::now_v7())
        .await
        .unwrap();
    assert!(found.case.is_none() && found.recording.is_none() && !found.attached);
    let found = catalog
        .case_and_recording("no-such-case", held.recording_id)
        .await
        .unwrap();
    assert!(found.case.is_none() && found.recording.is_some() && !found.attached);
    // Another recording is attached only once linked, with its reason;
    // the first link stands.
    let other = catalog
        .recordings()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.recording_id != held.recording_id)
        .expect("a second recording");
    let found = catalog
        .case_and_recording("K-1", other.recording_id)
        .await
        .unwrap();
    assert!(found.case.is_some() && found.recording.is_some() && !found.attached);
    let link = CaseLink {
        case_id: "K-1".into(),
        recording_id: other.recording_id,
        reason: "seen at the scene".into(),
        linked_by: "anna".into(),
        linked_at: t(25),
    };
    assert!(catalog.link_recording(&link).await.unwrap());
    let again = CaseLink {
        reason: "another reason".into(),
        linked_at: t(26),
        ..link.clone()
    };
    assert!(!catalog.link_recording(&again).await.unwrap());
    assert_eq!(catalog.case_links("K-1").await.unwrap(), vec![link]);
    assert!(catalog.case_links("no-such-case").await.unwrap().is_empty());
    assert!(
        catalog
            .case_and_recording("K-1", other.recording_id)
            .await
            .unwrap()
            .attached
    );
    // Moving a recording to a shorter category brings its deadline forward.
    catalog
        .set_recording_retention(held.recording_id, "training", t(2 * 86_400_000))
        .await
        .unwrap();
    let moved = catalog.recording(held.recording_id).await.unwrap().unwrap();
    assert_eq!(
        (moved.retention_category.as_str(), moved.delete_after),
        ("training", t(2 * 86_400_000))
    );
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 3);
    assert!(matches!(
        catalog
            .set_recording_retention(Uuid::now_v7(), "training", t(1))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog
        .set_recording_retention(held.recording_id, STANDARD_CATEGORY, t(40 * 86_400_000))
        .await
        .unwrap();
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 2);

    let doomed = recording("cam-1", 9);
    catalog.commit_recording(&doomed, None).await.unwrap();
    let tombstone = doomed.tombstone(t(30), "retention-period");
    assert_eq!(
        catalog
            .replace_with_tombstones(std::slice::from_ref(&tombstone))
            .await
            .unwrap(),
        vec![doomed.recording_id]
    );
    assert!(
        catalog
            .replace_with_tombstones(std::slice::from_ref(&tombstone))
            .await
            .unwrap()
            .is_empty(),
        "once"
    );
    assert_eq!(catalog.recording(doomed.recording_id).await.unwrap(), None);
    assert_eq!(
        catalog.tombstone(doomed.recording_id).await.unwrap(),
        Some(tombstone.clone())
    );
    assert_eq!(
        catalog.tombstone_by_sequence("cam-1", 9).await.unwrap(),
        Some(tombstone.clone())
    );
    assert_eq!(
        catalog.tombstones_with_blob().await.unwrap(),
        vec![tombstone.clone()]
    );
    catalog
        .mark_blobs_deleted(&[doomed.recording_id])
        .await
        .unwrap();
    assert!(catalog.tombstones_with_blob().await.unwrap().is_empty());

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
pub async fn search_story(catalog: &dyn Catalog) {
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

/// Audit entries found by who, what, outcome, object, case, purpose and time.
pub async fn audit_search_story(catalog: &dyn Catalog) {
    use custos_audit::{AuditEvent, Outcome};
    let key = custos_format::SigningKey::from_seed(&[7; 32]);
    let signer = custos_audit::NoteSigner::new("test.example/audit", key).unwrap();
    let mut frontier = custos_audit::Frontier::new();
    let events = vec![
        AuditEvent::new(t(1_000), "user:anna", "session.sign-in", Outcome::Ok),
        AuditEvent::new(t(2_000), "user:anna", "recording.play", Outcome::Ok)
            .object("recording:r1")
            .purpose("complaint", "K-1"),
        AuditEvent::new(t(3_000), "user:bert", "recording.play", Outcome::Refused)
            .object("recording:r1"),
        AuditEvent::new(t(4_000), "user:anna", "hold.place", Outcome::Ok).object("recording:r1"),
        AuditEvent::new(t(5_000), "user:bert", "hold.approve", Outcome::Ok).object("hold:h1"),
        // Wildcards in a filter are taken literally.
        AuditEvent::new(t(6_000), "system:cli", "hold_x.place", Outcome::Ok),
        AuditEvent::new(t(7_000), "user:anna", "recording.play", Outcome::Ok)
            .object("recording:r2")
            .purpose("investigation", "K-2"),
    ];
    let (rows, checkpoint) = custos_audit::append_batch(&mut frontier, events, &signer).unwrap();
    catalog
        .append_audit(0, &rows, &checkpoint, &frontier.to_bytes())
        .await
        .unwrap();
    let search = |q: AuditQuery| async move {
        let (rows, total) = catalog
            .search_audit(&AuditQuery { limit: 100, ..q })
            .await
            .unwrap();
        (rows.iter().map(|r| r.index).collect::<Vec<_>>(), total)
    };
    assert_eq!(
        search(AuditQuery::default()).await,
        (vec![6, 5, 4, 3, 2, 1, 0], 7)
    );
    let (oldest, _) = catalog
        .search_audit(&AuditQuery {
            oldest_first: true,
            limit: 2,
            offset: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(oldest.iter().map(|r| r.index).collect::<Vec<_>>(), [1, 2]);
    let cases: Vec<(AuditQuery, Vec<u64>)> = vec![
        (
            AuditQuery {
                actor: Some("user:bert".into()),
                ..Default::default()
            },
            vec![4, 2],
        ),
        (
            AuditQuery {
                action: Some("recording.play".into()),
                ..Default::default()
            },
            vec![6, 2, 1],
        ),
        (
            AuditQuery {
                action: Some("hold.".into()),
                ..Default::default()
            },
            vec![4, 3],
        ),
        (
            AuditQuery {
                action: Some("hold".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            AuditQuery {
                action: Some("hold_".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            AuditQuery {
                outcome: Some("refused".into()),
                ..Default::default()
            },
            vec![2],
        ),
        (
            AuditQuery {
                object: Some("recording:r1".into()),
                ..Default::default()
            },
            vec![3, 2, 1],
        ),
        (
            AuditQuery {
                case: Some("K-2".into()),
                ..Default::default()
            },
            vec![6],
        ),
        (
            AuditQuery {
                purpose: Some("complaint".into()),
                ..Default::default()
            },
            vec![1],
        ),
        (
            AuditQuery {
                from: Some(t(3_000)),
                before: Some(t(5_000)),
                ..Default::default()
            },
            vec![3, 2],
        ),
        (
            AuditQuery {
                actor: Some("user:anna".into()),
                action: Some("recording.".into()),
                from: Some(t(2_500)),
                ..Default::default()
            },
            vec![6],
        ),
        (
            AuditQuery {
                actor: Some("user:nobody' OR '1'='1".into()),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (q, want) in cases {
        let (got, total) = search(q.clone()).await;
        assert_eq!(got, want, "{q:?}");
        assert_eq!(total, want.len() as u64, "{q:?}");
    }
    let (page, total) = catalog
        .search_audit(&AuditQuery {
            limit: 2,
            offset: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (page.iter().map(|r| r.index).collect::<Vec<_>>(), total),
        (vec![4, 3], 7)
    );
}

/// Export requests where a second person approves each export: what may
/// leave is fixed when asked, an approval is given once and spent once.
/// Download links: found by their token's hash, counted atomically, closed
/// by revocation, expiry or use, and offered for removal when closed.
pub async fn export_story(catalog: &dyn Catalog) {
    catalog
        .add_case(&Case {
            case_id: "K-7".into(),
            kind: "police-request".into(),
            reference: Some("PV 2026-7".into()),
            label: "exports".into(),
            opened_by: "anna".into(),
            opened_at: t(0),
            due_at: None,
            closed_by: None,
            closed_at: None,
        })
        .await
        .unwrap();
    let request = ExportRequest {
        request_id: Uuid::now_v7(),
        case_id: "K-7".into(),
        purpose: "investigation".into(),
        recipient: "Politie Rotterdam".into(),
        recordings: vec![Uuid::now_v7(), Uuid::now_v7()],
        requested_by: "anna".into(),
        requested_at: t(10),
        approved_by: None,
        approved_at: None,
        used_at: None,
    };
    catalog.add_export_request(&request).await.unwrap();
    assert!(matches!(
        catalog.add_export_request(&request).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.export_request(request.request_id).await.unwrap(),
        Some(request.clone())
    );
    assert_eq!(catalog.export_request(Uuid::now_v7()).await.unwrap(), None);
    // Not yet approved: it cannot be spent.
    assert!(matches!(
        catalog.use_export_request(request.request_id, t(11)).await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog
        .approve_export_request(request.request_id, "bert", t(12))
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .approve_export_request(request.request_id, "carl", t(13))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog
        .use_export_request(request.request_id, t(14))
        .await
        .unwrap();
    assert!(matches!(
        catalog.use_export_request(request.request_id, t(15)).await,
        Err(CatalogError::NotFound { .. })
    ));
    let second = ExportRequest {
        request_id: Uuid::now_v7(),
        requested_at: t(20),
        recordings: vec![],
        ..request.clone()
    };
    catalog.add_export_request(&second).await.unwrap();
    let listed = catalog.export_requests_for_case("K-7").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (
            listed[0].approved_by.as_deref(),
            listed[0].approved_at,
            listed[0].used_at
        ),
        (Some("bert"), Some(t(12)), Some(t(14)))
    );
    assert_eq!(listed[0].recordings, request.recordings);
    assert_eq!(listed[1].request_id, second.request_id);
    assert!(catalog
        .export_requests_for_case("K-8")
        .await
        .unwrap()
        .is_empty());

    export_link_story(catalog).await;
}

async fn export_link_story(catalog: &dyn Catalog) {
    let link = ExportLink {
        link_id: Uuid::now_v7(),
        export_id: Uuid::now_v7(),
        case_id: "K-7".into(),
        purpose: "investigation".into(),
        recipient: "Politie Rotterdam".into(),
        token_sha256: "ab".repeat(32),
        blob_key: "exports/one.age".into(),
        file_name: "custos-export-K-7.tar.age".into(),
        size: 5_000_000_000,
        package_sha256: "cd".repeat(32),
        created_by: "anna".into(),
        created_at: t(100),
        expires_at: t(200),
        max_downloads: 2,
        downloads: 0,
        revoked_by: None,
        revoked_at: None,
        removed_at: None,
    };
    catalog.add_export_link(&link).await.unwrap();
    assert!(matches!(
        catalog.add_export_link(&link).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    // Another link may never share a token.
    assert!(matches!(
        catalog
            .add_export_link(&ExportLink {
                link_id: Uuid::now_v7(),
                ..link.clone()
            })
            .await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.export_link(link.link_id).await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        catalog
            .export_link_by_token(&"ab".repeat(32))
            .await
            .unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        catalog
            .export_link_by_token(&"ef".repeat(32))
            .await
            .unwrap(),
        None
    );
    // Two downloads, then used up; not after expiry either.
    assert!(!catalog
        .claim_export_download(link.link_id, t(200))
        .await
        .unwrap());
    assert!(catalog
        .claim_export_download(link.link_id, t(150))
        .await
        .unwrap());
    assert!(catalog
        .claim_export_download(link.link_id, t(151))
        .await
        .unwrap());
    assert!(!catalog
        .claim_export_download(link.link_id, t(152))
        .await
        .unwrap());
    let used = catalog.export_link(link.link_id).await.unwrap().unwrap();
    assert_eq!(used.downloads, 2);
    assert_eq!(used.closed(t(152)), Some(LinkClosed::UsedUp));
    // Used up but not expired: the recipient may still be downloading.
    assert!(catalog
        .export_links_to_remove(t(199), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        catalog.export_links_to_remove(t(200), 10).await.unwrap(),
        vec![used.clone()]
    );

    let second = ExportLink {
        link_id: Uuid::now_v7(),
        token_sha256: "12".repeat(32),
        blob_key: "exports/two.age".into(),
        created_at: t(110),
        expires_at: t(10_000),
        ..link.clone()
    };
    catalog.add_export_link(&second).await.unwrap();
    catalog
        .revoke_export_link(second.link_id, "bert", t(120))
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .revoke_export_link(second.link_id, "carl", t(121))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog
            .revoke_export_link(Uuid::now_v7(), "carl", t(121))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(!catalog
        .claim_export_download(second.link_id, t(122))
        .await
        .unwrap());
    let revoked = catalog.export_link(second.link_id).await.unwrap().unwrap();
    assert_eq!(
        (
            revoked.revoked_by.as_deref(),
            revoked.revoked_at,
            revoked.downloads
        ),
        (Some("bert"), Some(t(120)), 0)
    );
    assert_eq!(revoked.closed(t(122)), Some(LinkClosed::Revoked));
    // Revoked goes at once; the first only once expired.
    let due: Vec<Uuid> = catalog
        .export_links_to_remove(t(130), 10)
        .await
        .unwrap()
        .iter()
        .map(|l| l.link_id)
        .collect();
    assert_eq!(due, vec![second.link_id]);
    catalog
        .mark_export_link_removed(second.link_id, t(131))
        .await
        .unwrap();
    // Marking twice (a sweep that crashed and ran again) keeps the first time.
    catalog
        .mark_export_link_removed(second.link_id, t(140))
        .await
        .unwrap();
    assert_eq!(
        catalog
            .export_link(second.link_id)
            .await
            .unwrap()
            .unwrap()
            .removed_at,
        Some(t(131))
    );
    assert!(catalog
        .export_links_to_remove(t(130), 10)
        .await
        .unwrap()
        .is_empty());
    let listed: Vec<Uuid> = catalog
        .export_links_for_case("K-7")
        .await
        .unwrap()
        .iter()
        .map(|l| l.link_id)
        .collect();
    assert_eq!(listed, vec![link.link_id, second.link_id]);
    assert!(catalog
        .export_links_for_case("K-8")
        .await
        .unwrap()
        .is_empty());
    // A fresh link serves.
    assert_eq!(link.closed(t(150)), None);
    assert_eq!(link.closed(t(200)), Some(LinkClosed::Expired));
}

/// Subject access requests: opened with their case in one transaction,
/// read back whole (with and without a place), extended only while open.
pub async fn subject_request_story(catalog: &dyn Catalog) {
    let case = Case {
        case_id: "SAR-1".into(),
        kind: "subject-access-request".into(),
        reference: None,
        label: "access request".into(),
        opened_by: "petra".into(),
        opened_at: t(100),
        due_at: Some(t(1000)),
        closed_by: None,
        closed_at: None,
    };
    let request = SubjectRequest {
        case_id: "SAR-1".into(),
        requester: "J. Jansen".into(),
        contact: Some("Coolsingel 40".into()),
        identity_check: "passport shown at the desk, no copy kept".into(),
        description: "red coat, stopped near the market".into(),
        window_from: t(10),
        window_to: t(20),
        place: Some(Place {
            lat_e7: 519_225_000,
            lon_e7: 44_792_000,
            radius_m: 250,
        }),
        received_at: t(90),
        extension_reason: None,
        extended_by: None,
        extended_at: None,
        delivered_export: None,
        delivered_at: None,
    };
    catalog.open_subject_request(&case, &request).await.unwrap();
    assert_eq!(catalog.case("SAR-1").await.unwrap(), Some(case.clone()));
    assert_eq!(
        catalog.subject_request("SAR-1").await.unwrap(),
        Some(request.clone())
    );
    // A second request for the same case: nothing of it stays.
    assert!(matches!(
        catalog
            .open_subject_request(
                &Case {
                    label: "again".into(),
                    ..case.clone()
                },
                &request
            )
            .await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.case("SAR-1").await.unwrap().unwrap().label,
        "access request"
    );
    // Without a place; the case goes in only with its request.
    let placeless = SubjectRequest {
        case_id: "SAR-2".into(),
        place: None,
        contact: None,
        ..request.clone()
    };
    catalog
        .open_subject_request(
            &Case {
                case_id: "SAR-2".into(),
                ..case.clone()
            },
            &placeless,
        )
        .await
        .unwrap();
    assert_eq!(
        catalog.subject_request("SAR-2").await.unwrap(),
        Some(placeless)
    );
    assert_eq!(catalog.subject_request("SAR-3").await.unwrap(), None);

    catalog
        .extend_subject_request(
            "SAR-1",
            t(3000),
            "many recordings to redact",
            "petra",
            t(500),
        )
        .await
        .unwrap();
    assert_eq!(
        catalog.case("SAR-1").await.unwrap().unwrap().due_at,
        Some(t(3000))
    );
    let extended = catalog.subject_request("SAR-1").await.unwrap().unwrap();
    assert_eq!(
        (
            extended.extension_reason.as_deref(),
            extended.extended_by.as_deref(),
            extended.extended_at
        ),
        (
            Some("many recordings to redact"),
            Some("petra"),
            Some(t(500))
        )
    );
    // Not a request, or closed: nothing moves.
    catalog
        .add_case(&Case {
            case_id: "K-plain".into(),
            kind: "incident".into(),
            due_at: None,
            ..case.clone()
        })
        .await
        .unwrap();
    for id in ["K-plain", "SAR-9"] {
        assert!(matches!(
            catalog
                .extend_subject_request(id, t(9000), "x", "petra", t(600))
                .await,
            Err(CatalogError::NotFound { .. })
        ));
    }
    assert_eq!(catalog.case("K-plain").await.unwrap().unwrap().due_at, None);
    // What was delivered.
    let export_id = Uuid::now_v7();
    catalog
        .record_subject_delivery("SAR-1", export_id, t(650))
        .await
        .unwrap();
    let delivered = catalog.subject_request("SAR-1").await.unwrap().unwrap();
    assert_eq!(
        (delivered.delivered_export, delivered.delivered_at),
        (Some(export_id), Some(t(650)))
    );
    assert!(matches!(
        catalog
            .record_subject_delivery("K-plain", export_id, t(650))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog.close_case("SAR-2", "petra", t(700)).await.unwrap();
    assert!(matches!(
        catalog
            .extend_subject_request("SAR-2", t(9000), "x", "petra", t(800))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert_eq!(
        catalog.case("SAR-2").await.unwrap().unwrap().due_at,
        Some(t(1000))
    );
    derivative_story(catalog).await;
}

/// Derivatives: stored with their key, listed per case, orphaned when
/// their source recording is gone, and then forgotten (key and all).
async fn derivative_story(catalog: &dyn Catalog) {
    catalog
        .add_device(&Device {
            device_id: "cam-d".into(),
            public_key: "cd".repeat(32),
            enrolled_at: t(0),
            revoked_at: None,
            retention_category: STANDARD_CATEGORY.into(),
            assigned_officer: None,
            team: None,
        })
        .await
        .unwrap();
    let source = recording("cam-d", 1);
    catalog.commit_recording(&source, None).await.unwrap();
    let derivative = Derivative {
        derivative_id: Uuid::now_v7(),
        recording_id: source.recording_id,
        case_id: "SAR-1".into(),
        plan: r#"{"tracks":[]}"#.into(),
        sha256: "ef".repeat(32),
        plaintext_length: 4_000_000_000,
        age_header: b"age-encryption.org/v1\n--- x\n".to_vec(),
        blob_key: "derived/one.age".into(),
        ciphertext_length: 4_000_100_000,
        frames: 900,
        created_by: "petra".into(),
        created_at: t(900),
        deleted_at: None,
    };
    catalog.add_derivative(&derivative).await.unwrap();
    assert!(matches!(
        catalog.add_derivative(&derivative).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.derivative(derivative.derivative_id).await.unwrap(),
        Some(derivative.clone())
    );
    assert_eq!(catalog.derivative(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        catalog.derivatives_for_case("SAR-1").await.unwrap(),
        vec![derivative.clone()]
    );
    assert!(catalog
        .derivatives_for_case("SAR-2")
        .await
        .unwrap()
        .is_empty());
    // While the source exists, nothing is orphaned.
    assert!(catalog.orphaned_derivatives(10).await.unwrap().is_empty());
    let tombstone = source.tombstone(t(1_000), "retention-period");
    catalog.replace_with_tombstones(&[tombstone]).await.unwrap();
    let orphaned = catalog.orphaned_derivatives(10).await.unwrap();
    assert_eq!(orphaned, vec![derivative.clone()]);
    catalog
        .delete_derivative(derivative.derivative_id, t(1_001))
        .await
        .unwrap();
    // Twice is fine (a sweep that crashed runs again); the first time stays.
    catalog
        .delete_derivative(derivative.derivative_id, t(1_002))
        .await
        .unwrap();
    let gone = catalog
        .derivative(derivative.derivative_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.deleted_at, Some(t(1_001)));
    assert!(gone.age_header.is_empty(), "the key is forgotten");
    assert!(catalog.orphaned_derivatives(10).await.unwrap().is_empty());
}

/// Day `d` of the statistics story at `hour`: day 0 is Monday 2026-11-02 (UTC).
fn day_at(d: i64, hour: i64) -> UtcMillis {
    UtcMillis::from_millis(1_793_577_600_000 + d * 86_400_000 + hour * 3_600_000).unwrap()
}

/// What a story recording's manifest says: seconds long, stored hours
/// after its end, pre-record kept, display switched on, how it stopped.
struct Facts(i64, i64, u64, usize, &'static str);

/// A recording whose manifest carries the facts the statistics read.
fn recording_with_facts(
    device: &str,
    seq: u64,
    officer: &str,
    started: UtcMillis,
    facts: Facts,
) -> Recording {
    let Facts(seconds, stored_after_hours, prerecord_ms, display_on, stop_reason) = facts;
    let ended = UtcMillis::from_millis(started.as_millis() + seconds * 1000).unwrap();
    let mut display = Vec::new();
    for i in 0..display_on {
        display.push(serde_json::json!({"at": started.to_string(), "on": true}));
        display.push(serde_json::json!({"at": started.to_string(), "on": false, "i": i}));
    }
    let manifest = serde_json::json!({
        "format": "custos.manifest/1",
        "prerecord_included_ms": prerecord_ms,
        "display_events": display,
        "trigger": "record-button",
        "stop_reason": stop_reason,
        "firmware": if device == "cam-a" { "1.2.0" } else { "1.3.1" },
    });
    Recording {
        officer_id: Some(officer.into()),
        started_at: started,
        ended_at: ended,
        stored_at: UtcMillis::from_millis(ended.as_millis() + stored_after_hours * 3_600_000)
            .unwrap(),
        manifest: serde_json::to_vec(&manifest).unwrap(),
        ..recording(device, seq)
    }
}

/// The statistics' sources (ADR 0011): every count read back exactly, with
/// each filter, a deleted recording still counted, and an officer's own view.
pub async fn statistics_story(catalog: &dyn Catalog) {
    use custos_audit::{AuditEvent, Outcome};
    use custos_catalog::statistics::*;
    for (id, team) in [("cam-a", Some("noord")), ("cam-b", Some("zuid"))] {
        catalog
            .add_device(&Device {
                device_id: id.into(),
                public_key: "ab".repeat(32),
                enrolled_at: day_at(-10, 0),
                revoked_at: None,
                retention_category: STANDARD_CATEGORY.into(),
                assigned_officer: None,
                team: team.map(str::to_owned),
            })
            .await
            .unwrap();
    }
    // Week 45: cam-a three recordings on day 0, one on day 1 (with officer
    // boa-1); cam-b one on day 2 (boa-2). Week 46: cam-b one on day 8.
    let recordings = [
        recording_with_facts(
            "cam-a",
            1,
            "boa-1",
            day_at(0, 9),
            Facts(60, 2, 30_000, 1, "stop-button"),
        ),
        recording_with_facts(
            "cam-a",
            2,
            "boa-1",
            day_at(0, 10),
            Facts(120, 2, 0, 0, "stop-button"),
        ),
        recording_with_facts(
            "cam-a",
            3,
            "boa-1",
            day_at(0, 11),
            Facts(30, 30, 5_000, 2, "storage-full"),
        ),
        recording_with_facts(
            "cam-a",
            4,
            "boa-1",
            day_at(1, 9),
            Facts(90, 1, 0, 0, "power-loss"),
        ),
        recording_with_facts(
            "cam-b",
            1,
            "boa-2",
            day_at(2, 9),
            Facts(45, 5, 10_000, 0, "stop-button"),
        ),
        recording_with_facts(
            "cam-b",
            2,
            "boa-2",
            day_at(8, 9),
            Facts(15, 50, 0, 1, "stop-button"),
        ),
    ];
    for r in &recordings {
        catalog.commit_recording(r, None).await.unwrap();
    }
    // Moving cam-a to another team changes its next recordings, not these.
    catalog
        .set_device_team("cam-a", Some("centrum"))
        .await
        .unwrap();
    assert_eq!(
        catalog
            .device("cam-a")
            .await
            .unwrap()
            .unwrap()
            .team
            .as_deref(),
        Some("centrum")
    );
    assert!(matches!(
        catalog.set_device_team("cam-x", None).await,
        Err(CatalogError::NotFound { .. })
    ));

    // A hold on recording 1 (a complaint) and on 5 (an incident); recording 2
    // is deleted on schedule on day 9, recording 1 after its hold, day 10.
    for (case, kind, r, day) in [("C-1", "complaint", 0, 3), ("C-2", "incident", 4, 3)] {
        catalog
            .add_case(&Case {
                case_id: case.into(),
                kind: kind.into(),
                reference: None,
                label: "story".into(),
                opened_by: "user:rita".into(),
                opened_at: day_at(day, 8),
                due_at: None,
                closed_by: None,
                closed_at: None,
            })
            .await
            .unwrap();
        catalog
            .add_hold(&Hold {
                hold_id: Uuid::now_v7(),
                case_id: case.into(),
                recording_id: recordings[r].recording_id,
                reason: "kept".into(),
                placed_by: "user:rita".into(),
                placed_at: day_at(day, 9),
                approved_by: None,
                approved_at: None,
                released_by: None,
                released_at: None,
            })
            .await
            .unwrap();
    }
    let tombstone = |r: &Recording, day: i64| r.tombstone(day_at(day, 3), "retention-period");
    catalog
        .replace_with_tombstones(&[tombstone(&recordings[1], 9)])
        .await
        .unwrap();
    catalog
        .replace_with_tombstones(&[tombstone(&recordings[0], 10)])
        .await
        .unwrap();

    // Accesses: anna plays recording 1 three times (one access), and its
    // thumbnail (another action, the same access); bert plays it for another
    // case (a second access); the next day anna again (a third). One refused.
    let play = |d: i64, who: &str, r: usize, purpose: &str, case: &str, action: &str| {
        AuditEvent::new(day_at(d, 12), format!("user:{who}"), action, Outcome::Ok)
            .object(format!("recording:{}", recordings[r].recording_id))
            .purpose(purpose, case)
    };
    let events = vec![
        play(3, "anna", 0, "complaint", "C-1", "recording.play"),
        play(3, "anna", 0, "complaint", "C-1", "recording.play"),
        play(3, "anna", 0, "complaint", "C-1", "recording.play"),
        play(3, "anna", 0, "complaint", "C-1", "recording.thumbnail"),
        play(3, "bert", 0, "investigation", "C-2", "recording.player"),
        play(4, "anna", 0, "complaint", "C-1", "recording.play"),
        play(4, "anna", 4, "investigation", "C-2", "recording.download"),
        AuditEvent::new(
            day_at(4, 13),
            "user:carl",
            "recording.play",
            Outcome::Refused,
        )
        .object(format!("recording:{}", recordings[4].recording_id)),
        AuditEvent::new(day_at(4, 14), "user:anna", "export.create", Outcome::Ok)
            .object("case:C-2")
            .purpose("investigation", "C-2"),
        AuditEvent::new(day_at(5, 14), "link:x", "export.download", Outcome::Ok)
            .object("case:C-2")
            .purpose("investigation", "C-2"),
        AuditEvent::new(day_at(5, 15), "dock:d1", "ingest.complete", Outcome::Failed),
        AuditEvent::new(day_at(5, 16), "dock:d1", "ingest.complete", Outcome::Ok),
        AuditEvent::new(day_at(6, 1), "system:sweeper", "upload.expire", Outcome::Ok),
        // Outside the period asked below.
        play(20, "anna", 4, "complaint", "C-1", "recording.play"),
    ];
    let key = custos_format::SigningKey::from_seed(&[9; 32]);
    let signer = custos_audit::NoteSigner::new("test.example/audit", key).unwrap();
    let mut frontier = custos_audit::Frontier::new();
    assert!(
        catalog.audit_tip().await.unwrap().is_none(),
        "the statistics story starts on an empty log"
    );
    let (rows, checkpoint) = custos_audit::append_batch(&mut frontier, events, &signer).unwrap();
    catalog
        .append_audit(0, &rows, &checkpoint, &frontier.to_bytes())
        .await
        .unwrap();
    for (device, kind) in [
        ("cam-a", IncidentKind::Gap),
        ("cam-b", IncidentKind::BrokenChain),
    ] {
        catalog
            .add_incident(
                &NewIncident {
                    kind,
                    device_id: Some(device.into()),
                    dock_id: None,
                    sequence: None,
                    recording_id: None,
                    detail: "story".into(),
                },
                day_at(6, 2),
            )
            .await
            .unwrap();
    }

    // The projection of accesses says what the log says.
    assert_eq!(
        catalog.statistics_projection_differences().await.unwrap(),
        0
    );
    let two_weeks = StatisticsQuery {
        from: day_at(0, 0),
        to: day_at(14, 0),
        team: None,
        device_id: None,
        officer_id: None,
    };
    let s = catalog.statistics(&two_weeks).await.unwrap();
    let days: Vec<_> = s
        .recordings
        .iter()
        .map(|r| (r.day - 20_759, r.recordings))
        .collect();
    // Grouped by week (day 0 is a Monday): days 0–2, then day 8.
    assert_eq!(days, [(0, 5), (7, 1)]);
    let day0 = &s.recordings[0];
    assert_eq!(
        (
            day0.recorded_ms,
            day0.known,
            day0.with_prerecord,
            day0.with_display,
            day0.display_activations,
            day0.uploaded_within_24h
        ),
        (345_000, 5, 3, 2, 3, 4),
        "deleted recordings 1 and 2 are still counted: {day0:?}"
    );
    let delays: Vec<_> = s
        .upload_delays
        .iter()
        .map(|u| (u.day - 20_759, u.hours, u.recordings))
        .collect();
    assert_eq!(
        delays,
        [(0, 1, 1), (0, 2, 2), (0, 5, 1), (0, 30, 1), (7, 50, 1)]
    );
    let stops: Vec<_> = s
        .stop_reasons
        .iter()
        .map(|k| (k.day - 20_759, k.kind.as_str(), k.count))
        .collect();
    assert_eq!(
        stops,
        [
            (0, "power-loss", 1),
            (0, "stop-button", 3),
            (0, "storage-full", 1),
            (7, "stop-button", 1)
        ]
    );
    let firmware: Vec<_> = s
        .firmware
        .iter()
        .map(|f| (f.firmware.as_deref(), f.cameras, f.recordings))
        .collect();
    assert_eq!(firmware, [(Some("1.2.0"), 1, 4), (Some("1.3.1"), 1, 2)]);
    let holds: Vec<_> = s
        .holds
        .iter()
        .map(|k| (k.day - 20_759, k.kind.as_str(), k.count))
        .collect();
    assert_eq!(holds, [(0, "complaint", 1), (0, "incident", 1)]);
    let accesses: Vec<_> = s
        .accesses
        .iter()
        .map(|a| {
            (
                a.day - 20_759,
                a.purpose.as_deref(),
                a.outcome.as_str(),
                a.accesses,
            )
        })
        .collect();
    assert_eq!(
        accesses,
        [
            (3, Some("complaint"), "ok", 1),
            (3, Some("investigation"), "ok", 1),
            (4, None, "refused", 1),
            (4, Some("complaint"), "ok", 1),
            (4, Some("investigation"), "ok", 1),
        ]
    );
    let exports: Vec<_> = s
        .exports
        .iter()
        .map(|e| (e.day - 20_759, e.action.as_str(), e.count))
        .collect();
    assert_eq!(
        exports,
        [(4, "export.create", 1), (5, "export.download", 1)]
    );
    let deletions: Vec<_> = s
        .deletions
        .iter()
        .map(|d| (d.day - 20_759, d.reason.as_str(), d.after_hold, d.count))
        .collect();
    assert_eq!(
        deletions,
        [
            (7, "retention-period", false, 1),
            (7, "retention-period", true, 1)
        ]
    );
    let incidents: Vec<_> = s
        .incidents
        .iter()
        .map(|k| (k.kind.as_str(), k.count))
        .collect();
    assert_eq!(incidents, [("broken-chain", 1), ("gap", 1)]);
    let failures: Vec<_> = s
        .upload_failures
        .iter()
        .map(|k| (k.day - 20_759, k.kind.as_str(), k.count))
        .collect();
    assert_eq!(
        failures,
        [(5, "ingest.complete", 1)],
        "an expired upload is audited ok: not a failure"
    );
    assert!(s.subject_requests.is_empty());

    // A team: the team each recording was made in (cam-a's were "noord").
    let noord = catalog
        .statistics(&StatisticsQuery {
            team: Some("noord".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        noord.recordings.iter().map(|r| r.recordings).sum::<u64>(),
        4
    );
    assert_eq!(
        noord.accesses.iter().map(|a| a.accesses).sum::<u64>(),
        3,
        "accesses to noord's recordings only"
    );
    assert_eq!(noord.holds.len(), 1);
    assert_eq!(noord.deletions.iter().map(|d| d.count).sum::<u64>(), 2);
    assert_eq!(
        noord.incidents.len(),
        0,
        "incidents follow the camera's team now"
    );
    let centrum = catalog
        .statistics(&StatisticsQuery {
            team: Some("centrum".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert!(centrum.recordings.is_empty());
    assert_eq!(centrum.incidents.len(), 1);
    // A camera.
    let cam_b = catalog
        .statistics(&StatisticsQuery {
            device_id: Some("cam-b".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        cam_b.recordings.iter().map(|r| r.recordings).sum::<u64>(),
        2
    );
    assert_eq!(cam_b.firmware.len(), 1);
    assert_eq!(cam_b.incidents.len(), 1);
    // An officer's own numbers: their recordings, and nothing about others.
    let own = catalog
        .statistics(&StatisticsQuery {
            officer_id: Some("boa-2".into()),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(own.recordings.iter().map(|r| r.recordings).sum::<u64>(), 2);
    assert_eq!(own.accesses.iter().map(|a| a.accesses).sum::<u64>(), 2);
    assert!(own.exports.is_empty() && own.incidents.is_empty() && own.upload_failures.is_empty());
    // The period is half-open and narrows everything.
    let first_day = catalog
        .statistics(&StatisticsQuery {
            to: day_at(1, 0),
            ..two_weeks.clone()
        })
        .await
        .unwrap();
    assert_eq!(first_day.recordings.len(), 1);
    assert!(first_day.accesses.is_empty() && first_day.deletions.is_empty());

    // The weekly cache: asking again gives the same (now from the cache);
    // a recording arriving late for a counted week, and a deletion in one,
    // are counted at the next asking.
    assert_eq!(catalog.statistics(&two_weeks).await.unwrap(), s);
    let late = recording_with_facts(
        "cam-b",
        3,
        "boa-2",
        day_at(1, 20),
        Facts(10, 200, 0, 0, "stop-button"),
    );
    catalog.commit_recording(&late, None).await.unwrap();
    catalog
        .replace_with_tombstones(&[tombstone(&recordings[3], 12)])
        .await
        .unwrap();
    let again = catalog.statistics(&two_weeks).await.unwrap();
    let counts: Vec<_> = again.recordings.iter().map(|r| r.recordings).collect();
    assert_eq!(counts, [6, 1]);
    assert_eq!(again.deletions.iter().map(|d| d.count).sum::<u64>(), 3);
    assert!(again
        .upload_delays
        .iter()
        .any(|u| u.day == 20_759 && u.hours == 200));
    // The same numbers as counting every week live: a camera's filter
    // bypasses the cache, and the two cameras are everything.
    let mut by_camera = 0;
    for c in ["cam-a", "cam-b"] {
        let q = StatisticsQuery {
            device_id: Some(c.into()),
            ..two_weeks.clone()
        };
        by_camera += catalog
            .statistics(&q)
            .await
            .unwrap()
            .recordings
            .iter()
            .map(|r| r.recordings)
            .sum::<u64>();
    }
    assert_eq!(by_camera, 7);
    assert_eq!(
        catalog.statistics_projection_differences().await.unwrap(),
        0
    );
}

mod activations;
mod admission;
pub use activations::activation_story;
pub use admission::{admission_story, incident_sighting_story};
