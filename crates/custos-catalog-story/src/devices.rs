//! Cameras and docks.

use custos_catalog::*;

use crate::*;

/// Cameras and docks: enrol, refuse duplicates, assign, revoke.
pub async fn device_story(catalog: &(impl DeviceStore + ?Sized)) {
    // Cameras and docks: enroll, refuse duplicates, revoke.
    let cam = Device {
        device_id: "cam-1".into(),
        public_key: "ab".repeat(32),
        enrolled_at: t(0),
        revoked_at: None,
        retention_category: STANDARD_CATEGORY.into(),
        assigned_officer: None,
        team: None,
        kind: DeviceKind::Custos,
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
}
