//! A catalog written before migration 0025 (the audit log's search columns
//! on SQLite) opens with every entry found by its fields, as a new one is:
//! the migration fills the columns from the entries themselves.

use custos_audit::{append_batch, AuditEvent, Frontier, NoteSigner, Outcome};
use custos_catalog::stores::*;
use custos_catalog::AuditQuery;
use custos_format::{SigningKey, UtcMillis};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Migrations 1 to 24, as a deployment of session 22 had them.
fn before_0025() -> Vec<(i64, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            let version: i64 = name.get(..4)?.parse().ok()?;
            (version < 25).then(|| (version, std::fs::read_to_string(&p).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn entries_written_before_the_search_columns_are_found_by_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    let old = before_0025();
    assert_eq!(old.len(), 24, "migrations 1..=24");
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("catalog.sqlite"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (version, sql) in &old {
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations VALUES ($1, 0)")
            .bind(version)
            .execute(&pool)
            .await
            .unwrap();
    }
    // Entries as that version stored them: bytes and leaf hash only.
    let signer = NoteSigner::new("test.example/audit", SigningKey::from_seed(&[3; 32])).unwrap();
    let mut frontier = Frontier::new();
    let at = |i: i64| UtcMillis::from_millis(1_795_424_400_000 + i).unwrap();
    let events = vec![
        AuditEvent::new(at(1), "user:rita", "recording.play", Outcome::Ok)
            .object("recording:0190f0c4-0000-7000-8000-000000000001")
            .purpose("complaint", "K-1"),
        AuditEvent::new(at(2), "user:adam", "recording.play", Outcome::Refused)
            .object("recording:0190f0c4-0000-7000-8000-000000000001"),
        AuditEvent::new(at(3), "system:sweeper", "recording.delete", Outcome::Ok),
    ];
    let (rows, checkpoint) = append_batch(&mut frontier, events, &signer).unwrap();
    for row in &rows {
        sqlx::query("INSERT INTO audit_log (idx, entry, leaf_hash) VALUES ($1, $2, $3)")
            .bind(row.index as i64)
            .bind(&row.bytes)
            .bind(&row.leaf_hash[..])
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO audit_checkpoints (size, note, frontier) VALUES ($1, $2, $3)")
        .bind(checkpoint.size as i64)
        .bind(&checkpoint.note)
        .bind(frontier.to_bytes())
        .execute(&pool)
        .await
        .unwrap();
    // …and projected for the statistics in the same way as then.
    sqlx::query(&custos_catalog::statistics::project_accesses_sql())
        .bind(0i64)
        .bind(rows.len() as i64)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let catalog = custos_catalog_sqlite::open(dir.path()).await.unwrap();
    let find = |q: AuditQuery| {
        let catalog = &catalog;
        async move {
            let (found, total) = catalog
                .search_audit(&AuditQuery {
                    oldest_first: true,
                    limit: 100,
                    ..q
                })
                .await
                .unwrap();
            assert_eq!(found.len() as u64, total);
            found.iter().map(|e| e.index).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        find(AuditQuery {
            actor: Some("user:rita".into()),
            ..Default::default()
        })
        .await,
        [0]
    );
    assert_eq!(
        find(AuditQuery {
            action: Some("recording.".into()),
            outcome: Some("refused".into()),
            ..Default::default()
        })
        .await,
        [1]
    );
    assert_eq!(
        find(AuditQuery {
            case: Some("K-1".into()),
            purpose: Some("complaint".into()),
            ..Default::default()
        })
        .await,
        [0]
    );
    assert_eq!(
        find(AuditQuery {
            from: Some(at(2)),
            before: Some(at(3)),
            ..Default::default()
        })
        .await,
        [1]
    );
    let trail = catalog
        .audit_entries_for_object("recording:0190f0c4-0000-7000-8000-000000000001", 10)
        .await
        .unwrap();
    assert_eq!(trail.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1]);
    // The statistics read the same columns through their view.
    assert_eq!(
        catalog.statistics_projection_differences().await.unwrap(),
        0
    );
    // And the log goes on from its tip, its new entries searchable too.
    let size = frontier.size();
    let (more, next) = append_batch(
        &mut frontier,
        vec![AuditEvent::new(
            at(4),
            "user:pia",
            "case.close",
            Outcome::Ok,
        )],
        &signer,
    )
    .unwrap();
    catalog
        .append_audit(size, &more, &next, &frontier.to_bytes())
        .await
        .unwrap();
    assert_eq!(
        find(AuditQuery {
            actor: Some("user:pia".into()),
            ..Default::default()
        })
        .await,
        [3]
    );
    custos_audit::verify_log(
        &signer.verifier(),
        &catalog.audit_entries(0, 10).await.unwrap(),
        &catalog.audit_checkpoints().await.unwrap(),
    )
    .unwrap();
}
