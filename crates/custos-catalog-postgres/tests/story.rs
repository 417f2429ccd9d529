//! The shared catalog stories (`custos-catalog-story`) on PostgreSQL. Each
//! test gets a schema of its own in the database `CUSTOS_TEST_POSTGRES`
//! names (default: the local server's `test` database). Without a server
//! these tests fail: CI starts one, and a backend that was not really used
//! must not pass.

use custos_catalog::Catalog;
use custos_catalog_postgres::PostgresCatalog;
use custos_catalog_story::{
    admission_story, audit_search_story, export_story, search_story, statistics_story, story,
    subject_request_story,
};

fn url() -> String {
    std::env::var("CUSTOS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema (dropped first if a previous run left it).
async fn fresh(name: &str) -> PostgresCatalog {
    let schema = format!("story_{name}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} ({e}): start it (see ./test.sh)", url()));
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let catalog = PostgresCatalog::connect_in_schema(&url(), &schema)
        .await
        .unwrap();
    assert_eq!(catalog.backend(), "postgres");
    catalog
}

#[tokio::test]
async fn postgres_story() {
    let catalog = fresh("main").await;
    story(&catalog).await;
    // Connecting again applies no migration twice and keeps everything.
    let schema = format!("story_main_{}", std::process::id());
    drop(catalog);
    let again = PostgresCatalog::connect_in_schema(&url(), &schema)
        .await
        .unwrap();
    assert_eq!(again.recordings().await.unwrap().len(), 3);
}

#[tokio::test]
async fn postgres_search_story() {
    search_story(&fresh("search").await).await;
}

#[tokio::test]
async fn postgres_audit_search_story() {
    audit_search_story(&fresh("audit").await).await;
}

#[tokio::test]
async fn postgres_export_story() {
    export_story(&fresh("exports").await).await;
}

#[tokio::test]
async fn postgres_subject_request_story() {
    subject_request_story(&fresh("subjects").await).await;
}

#[tokio::test]
async fn postgres_statistics_story() {
    statistics_story(&fresh("statistics").await).await;
}

#[tokio::test]
async fn postgres_admission_story() {
    admission_story(&fresh("admission").await).await;
}

#[tokio::test]
async fn postgres_activation_story() {
    custos_catalog_story::activation_story(&fresh("activation").await).await;
}

#[tokio::test]
async fn postgres_incident_sighting_story() {
    custos_catalog_story::incident_sighting_story(&fresh("sighting").await).await;
}
