//! Export requests, download links and derivatives.

use custos_catalog::*;
use uuid::Uuid;

use crate::*;

/// Export requests where a second person approves each export: what may
/// leave is fixed when asked, an approval is given once and spent once.
/// Download links: found by their token's hash, counted atomically, closed
/// by revocation, expiry or use, and offered for removal when closed.
pub async fn export_story(catalog: &(impl CaseStore + ExportStore + ?Sized)) {
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

async fn export_link_story(catalog: &(impl ExportStore + ?Sized)) {
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

/// Derivatives: stored with their key, listed per case, orphaned when
/// their source recording is gone, and then forgotten (key and all).
pub(crate) async fn derivative_story(
    catalog: &(impl DeviceStore + RecordingStore + RetentionStore + ExportStore + ?Sized),
) {
    catalog
        .add_device(&Device {
            device_id: "cam-d".into(),
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
