//! Leases on periodic jobs, and settings saved at run time.

use custos_catalog::*;

use crate::*;

/// Leases on periodic jobs, and settings saved at run time.
pub async fn lease_story(catalog: &(impl LeaseStore + ?Sized)) {
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
}
