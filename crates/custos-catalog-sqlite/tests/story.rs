//! The shared catalog stories (`custos-catalog-story`) on SQLite, one test
//! per story, each in a directory of its own.

use custos_catalog::stores::*;
use custos_catalog_sqlite::SqliteCatalog;

/// A catalog in a fresh directory, removed with it.
struct Fresh {
    catalog: SqliteCatalog,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Fresh {
    type Target = SqliteCatalog;
    fn deref(&self) -> &SqliteCatalog {
        &self.catalog
    }
}

async fn fresh(_story: &str) -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let catalog = custos_catalog_sqlite::open(dir.path()).await.unwrap();
    assert_eq!(custos_catalog::Catalog::backend(&catalog), "sqlite");
    Fresh { catalog, _dir: dir }
}

custos_catalog_story::stories!(fresh);

#[tokio::test]
async fn reopening_applies_no_migration_twice_and_keeps_everything() {
    let catalog = fresh("reopen").await;
    custos_catalog_story::recording_story(&*catalog).await;
    let Fresh { catalog, _dir } = catalog;
    catalog.pool().close().await;
    drop(catalog);
    let catalog = custos_catalog_sqlite::open(_dir.path()).await.unwrap();
    assert_eq!(catalog.recordings().await.unwrap().len(), 3);
}
