//! `custos migrate`: a SQLite + local files deployment moved to
//! PostgreSQL + S3, verified and resumable, and a server on the moved
//! directory with the same footage and people.

use crate::common::*;
use custos_keys::secrecy::SecretString;

const DAY: i64 = 86_400_000;

/// `custos migrate` moves a SQLite + local files deployment to PostgreSQL +
/// S3: a server started on the data directory afterwards runs on the new
/// storage with the same recordings, playable, and the same audit log,
/// verifiable. Running it again finds everything there; a row changed in
/// the target is found.
/// A deployment on SQLite and local files with two recordings and a
/// reviewer (rita), and an empty PostgreSQL schema and S3 prefix to move to.
struct Move {
    w: World,
    rita: Account,
    before: Vec<custos_catalog::Recording>,
    schema: String,
    database: String,
    admin: sqlx::PgPool,
}

async fn to_move() -> Move {
    let w = world().await;
    let cam = w.camera("cam-m", 2, true).await;
    w.offload(&cam).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let before = w.server.deployment.catalog.recordings().await.unwrap();
    assert_eq!(before.len(), 2);

    let unique = format!(
        "migrate_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let admin = sqlx::PgPool::connect(&test_postgres()).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {unique}"))
        .execute(&admin)
        .await
        .unwrap();
    let database = format!("{}?options=-c%20search_path%3D{unique}", test_postgres());
    Move {
        w,
        rita,
        before,
        schema: unique,
        database,
        admin,
    }
}

impl Move {
    /// `custos migrate` to the schema and the prefix.
    fn migrate(&self) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
            .args(["migrate", "--to-database", &self.database])
            .args(["--to-blobs", &format!("s3://custos-test/{}", self.schema)])
            .args([
                "--s3-endpoint",
                &test_s3(),
                "--s3-region",
                "us-east-1",
                "--data",
            ])
            .arg(&self.w.data)
            .env("AWS_ACCESS_KEY_ID", "custos-test")
            .env("AWS_SECRET_ACCESS_KEY", "custos-test-secret")
            .env("CUSTOS_LOG", "warn")
            .env_remove("CUSTOS_DATABASE")
            .env_remove("CUSTOS_BLOBS")
            .output()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_a_deployment_to_postgresql_and_s3_verified_and_resumable() {
    let m = to_move().await;
    let (w, unique, admin) = (&m.w, &m.schema, &m.admin);
    let migrate = || m.migrate();
    let out = migrate();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("every table compared row by row: identical"),
        "{stderr}"
    );
    assert!(stderr.contains("blobs: 2 copied"), "{stderr}");
    // A second run on a migrated directory is refused: it names new storage now.
    let again = migrate();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already names postgres + s3"));

    // Resumable: with the old storage named again, a rerun finds it all there.
    let toml = std::fs::read_to_string(w.data.join("custos.toml")).unwrap();
    std::fs::remove_file(w.data.join("custos.toml")).unwrap();
    let rerun = migrate();
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "{stderr}");
    assert!(
        stderr.contains("blobs: 0 copied, 2 there already"),
        "{stderr}"
    );
    assert!(stderr.contains("were there already"), "{stderr}");
    // A row changed in the target is found by the comparison.
    std::fs::remove_file(w.data.join("custos.toml")).unwrap();
    sqlx::query(&format!(
        "UPDATE {unique}.recordings SET officer_id = 'someone-else'"
    ))
    .execute(admin)
    .await
    .unwrap();
    let tampered = migrate();
    assert!(!tampered.status.success());
    assert!(
        String::from_utf8_lossy(&tampered.stderr).contains("recordings: the rows differ"),
        "{}",
        String::from_utf8_lossy(&tampered.stderr)
    );
    sqlx::query(&format!(
        "UPDATE {unique}.recordings SET officer_id = 'boa-5'"
    ))
    .execute(admin)
    .await
    .unwrap();
    std::fs::write(w.data.join("custos.toml"), toml).unwrap();
}

/// A server on the migrated data directory, given the S3 credentials.
async fn moved_server(w: &World) -> custos_server::RunningServer {
    let offset = w.clock_offset.clone();
    let clock: custos_server::Clock = std::sync::Arc::new(move || {
        custos_format::UtcMillis::now()
            .plus_millis(offset.load(std::sync::atomic::Ordering::SeqCst))
    });
    // The operator gives the server its S3 credentials (the test's run has
    // no AWS_* environment to share).
    let toml = std::fs::read_to_string(w.data.join("custos.toml")).unwrap();
    std::fs::write(
        w.data.join("custos.toml"),
        format!(
            "{toml}access_key_id = \"custos-test\"\nsecret_access_key = \"custos-test-secret\"\n"
        ),
    )
    .unwrap();
    custos_server::start(
        custos_server::ServerConfig {
            axis: None,
            limits: test_limits(),
            storage: custos_server::storage::StorageConfig::resolve(&w.data, None, None).unwrap(),
            data: w.data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            server_id: "test-city".into(),
            retention: custos_server::retention::RetentionPolicy::new(28 * DAY),
            policy: Default::default(),
        },
        &SecretString::from(PASS.to_owned()),
        clock,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_the_migrated_directory_runs_on_postgresql_and_s3_with_the_same_footage_and_people(
) {
    let m = to_move().await;
    let out = m.migrate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, rita, before) = (&m.w, &m.rita, m.before.clone());
    // A server on the data directory now runs on PostgreSQL + S3.
    let moved = moved_server(w).await;
    let d = &moved.deployment;
    assert_eq!((d.catalog.backend(), d.blobs.backend()), ("postgres", "s3"));
    let mut after = d.catalog.recordings().await.unwrap();
    let mut before = before;
    after.sort_by_key(|r| r.sequence);
    before.sort_by_key(|r| r.sequence);
    assert!(after == before, "the recordings differ after the move");
    for r in &after {
        assert_eq!(
            d.blobs.size(&r.camera().unwrap().blob_key).await.unwrap(),
            Some(r.camera().unwrap().ciphertext_length)
        );
    }
    // The same person signs in there, and plays footage that decrypts.
    assert!(d.catalog.user("rita").await.unwrap().is_some());
    let code = custos_server::auth::totp_code(&rita.secret, w.now().plus_millis(60_000)).unwrap();
    w.clock_offset
        .fetch_add(60_000, std::sync::atomic::Ordering::SeqCst);
    let signed_in = d
        .auth
        .sign_in(
            "rita",
            &rita.password,
            &code,
            &custos_server::admission::Source::new([127, 0, 0, 1].into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(signed_in.caller.name, "rita");
    let verified = custos_server::audit::verify_stored(&*d.catalog, d.audit.verifier())
        .await
        .unwrap()
        .unwrap();
    let entries = d.catalog.audit_entries(0, 100_000).await.unwrap();
    assert_eq!(verified.size, entries.len() as u64);
    assert!(entries.iter().any(|e| {
        serde_json::from_slice::<serde_json::Value>(&e.bytes).unwrap()["action"]
            == "storage.migrate"
    }));
    moved.shutdown().await;
}
