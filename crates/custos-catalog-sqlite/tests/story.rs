//! The shared catalog stories (`custos-catalog-story`) on SQLite.

use custos_catalog::Catalog;
use custos_catalog_story::{
    admission_story, audit_search_story, export_story, search_story, statistics_story, story,
    subject_request_story,
};

#[tokio::test]
async fn sqlite_audit_search_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    audit_search_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    assert_eq!(catalog.backend(), "sqlite");
    story(&catalog).await;
    // Reopening applies no migration twice and keeps everything.
    drop(catalog);
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    assert_eq!(catalog.recordings().await.unwrap().len(), 3);
}

#[tokio::test]
async fn sqlite_search_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    search_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_export_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    export_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_subject_request_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    subject_request_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_statistics_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    statistics_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_admission_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    admission_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_activation_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    custos_catalog_story::activation_story(&catalog).await;
}

#[tokio::test]
async fn sqlite_incident_sighting_story() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::SqliteCatalog::open(tmp.path())
        .await
        .unwrap();
    custos_catalog_story::incident_sighting_story(&catalog).await;
}
