//! The audit log and its search.

use custos_catalog::*;

use crate::*;

/// The audit log: batches append only onto the tip they were built on.
pub async fn audit_story(catalog: &(impl AuditStore + ?Sized)) {
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
}

/// Audit entries found by who, what, outcome, object, case, purpose and time.
pub async fn audit_search_story(catalog: &(impl AuditStore + ?Sized)) {
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
