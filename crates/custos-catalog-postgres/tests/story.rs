//! The shared catalog stories (`custos-catalog-story`) on PostgreSQL, one
//! test per story. Each test gets a schema of its own in the database
//! `CUSTOS_TEST_POSTGRES` names (default: the local server's `test`
//! database). Without a server these tests fail: `./test.sh` starts one,
//! and a backend that was not really used must not pass.

use custos_catalog::stores::*;
use custos_catalog_postgres::PostgresCatalog;

fn url() -> String {
    std::env::var("CUSTOS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn schema(story: &str) -> String {
    format!("story_{story}_{}", std::process::id())
}

/// A fresh schema (dropped first if a previous run left it).
async fn fresh(story: &str) -> Box<PostgresCatalog> {
    let schema = schema(story);
    let admin = sqlx::PgPool::connect(&url())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} ({e}): start it (see ./test.sh)", url()));
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let catalog = custos_catalog_postgres::connect_in_schema(&url(), &schema)
        .await
        .unwrap();
    assert_eq!(custos_catalog::Catalog::backend(&catalog), "postgres");
    Box::new(catalog)
}

custos_catalog_story::stories!(fresh);

#[tokio::test]
async fn connecting_again_applies_no_migration_twice_and_keeps_everything() {
    let catalog = fresh("reconnect").await;
    custos_catalog_story::recording_story(&*catalog).await;
    drop(catalog);
    let again = custos_catalog_postgres::connect_in_schema(&url(), &schema("reconnect"))
        .await
        .unwrap();
    assert_eq!(again.recordings().await.unwrap().len(), 3);
}
