//! Subject access requests.

use custos_catalog::*;
use uuid::Uuid;

use crate::*;

/// Subject access requests: opened with their case in one transaction,
/// read back whole (with and without a place), extended only while open.
pub async fn subject_request_story(
    catalog: &(impl DeviceStore
          + RecordingStore
          + RetentionStore
          + CaseStore
          + ExportStore
          + SubjectRequestStore
          + ?Sized),
) {
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
    crate::exports::derivative_story(catalog).await;
}
