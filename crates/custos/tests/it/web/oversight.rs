//! The audit log's and the incidents' pages.

use super::*;

/// A reviewer (rita) who opened the player for a case she linked the
/// recording to, once refused for want of the case; a privacy officer
/// (petra) signed in on the pages.
struct AuditTrail {
    w: World,
    r: custos_catalog::Recording,
    case: String,
    /// Rita's browser.
    b: Browser,
    /// Petra's browser.
    p: Browser,
}

async fn audit_trail() -> AuditTrail {
    let w = world().await;
    let r = w.one_recording("cam-a", 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    // Rita tries the player without a purpose (refused), then with one.
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &rita).await;
    let token = w.sign_in(&rita).await;
    let case = w
        .with_case_labelled(&token, "complaint", "complaint 3")
        .await;
    w.link(&token, &case, r.recording_id).await;
    b.get(&format!(
        "/recordings/{}/play?purpose=complaint",
        r.recording_id
    ))
    .await;
    b.get(&format!(
        "/recordings/{}/play?purpose=complaint&case={case}",
        r.recording_id
    ))
    .await;
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    AuditTrail { w, r, case, b, p }
}

impl AuditTrail {
    /// The stored entries rita is the actor of, oldest first.
    async fn rita_rows(&self) -> Vec<custos_catalog::StoredEntry> {
        let stored = self
            .w
            .server
            .deployment
            .catalog
            .audit_entries(0, 100_000)
            .await
            .unwrap();
        stored
            .into_iter()
            .filter(|e| {
                serde_json::from_slice::<serde_json::Value>(&e.bytes).unwrap()["actor"]
                    == "user:rita"
            })
            .collect()
    }
}

/// The log's page, for a privacy officer: its signature checked, in the
/// menu, every entry, newest first.
#[tokio::test]
async fn the_audit_log_shows_a_privacy_officer_every_entry_newest_first_under_a_valid_signature() {
    let AuditTrail { mut p, .. } = audit_trail().await;
    // The start page of a privacy officer is the recordings list; of an auditor, this.
    let log = p.get("/audit").await;
    assert_eq!(log.status, 200);
    assert!(
        log.body.contains("data-signature=\"valid\""),
        "{}",
        log.body
    );
    assert!(log.body.contains("data-nav=\"audit\""));
    let all = data_values(&log, "index");
    assert!(all.len() > 5);
    assert!(
        all.windows(2)
            .all(|x| x[0].parse::<u64>().unwrap() > x[1].parse::<u64>().unwrap()),
        "newest first"
    );
}

/// The filters: actor and outcome, object and case, an action's family;
/// a filter that does not parse is named.
#[tokio::test]
async fn the_audit_log_filters_by_actor_outcome_object_case_and_action_and_names_a_bad_filter() {
    let AuditTrail { mut p, r, case, .. } = audit_trail().await;
    let mine = p.get("/audit?actor=rita&outcome=refused").await;
    assert_eq!(data_values(&mine, "outcome"), ["refused"]);
    assert!(mine.body.contains("recording.player"));
    let played = p
        .get(&format!("/audit?object={}&case={case}", r.recording_id))
        .await;
    // The link to the case, then the player opened for it.
    assert_eq!(
        data_values(&played, "outcome"),
        ["ok", "ok"],
        "{}",
        played.body
    );
    assert!(played.body.contains("case.link") && played.body.contains("recording.player"));
    assert!(played
        .body
        .contains(&format!("href=\"/recordings/{}\"", r.recording_id)));
    let family = p.get("/audit?action=session.").await;
    assert!(!data_values(&family, "index").is_empty());
    for bad in [
        "/audit?from=yesterday",
        "/audit?outcome=maybe",
        "/audit?page=0",
    ] {
        let page = p.get(bad).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.body.contains("data-error=\"filter-"), "{bad}");
    }
}

/// The CSV export: the same filter, oldest first, leaf hashes as stored;
/// the export is itself audited.
#[tokio::test]
async fn the_audit_log_exports_a_filter_as_csv_with_the_stored_leaf_hashes_and_audits_the_export() {
    let mut f = audit_trail().await;
    let csv = f.p.get("/audit/export.csv?actor=rita").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment; filename=\"custos-audit-")));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], custos_audit::csv::CSV_HEADER);
    let rita_rows = f.rita_rows().await;
    assert_eq!(lines.len() - 1, rita_rows.len());
    for (line, row) in lines[1..].iter().zip(&rita_rows) {
        assert!(line.starts_with(&format!("{},", row.index)));
        assert!(line.ends_with(&hex_of(&row.leaf_hash)), "{line}");
    }
    let exports: Vec<_> = audit_actions(&f.w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "audit.export")
        .collect();
    assert_eq!(exports.len(), 1, "the export is itself audited");
    assert_eq!(exports[0]["actor"], "user:petra");
}

/// Checking the whole log: fine, then an entry edited in the database is
/// found and named; a forged form checks nothing.
#[tokio::test]
async fn checking_the_audit_log_finds_an_edited_entry_and_names_it() {
    let mut f = audit_trail().await;
    let log = f.p.get("/audit").await;
    let csrf = Browser::csrf(&log);
    let checked = f.p.post("/audit/verify", &[("csrf", &csrf)]).await;
    assert!(
        checked.body.contains("data-verification=\"ok\""),
        "{}",
        checked.body
    );
    let victim = f.rita_rows().await[0].index;
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3\ndb = sqlite3.connect({:?})\n\
             db.execute(\"UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), 'user:rita', 'user:nora') AS BLOB) WHERE idx = {victim}\")\n\
             db.commit()\n",
            f.w.data.join("catalog.sqlite").to_str().unwrap()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let checked = f.p.post("/audit/verify", &[("csrf", &csrf)]).await;
    assert!(
        checked.body.contains("data-verification=\"failed\""),
        "{}",
        checked.body
    );
    assert!(
        checked.body.contains(&format!("number {victim}.")),
        "the first bad entry is named: {}",
        checked.body
    );
    let forged = f.p.post("/audit/verify", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
}

/// Reviewers and admins have no audit log; an auditor starts there.
#[tokio::test]
async fn a_reviewer_has_no_audit_log_and_an_auditor_starts_there() {
    let AuditTrail { w, mut b, .. } = audit_trail().await;
    let refused = b.get("/audit").await;
    assert_eq!(refused.status, 403);
    assert_eq!(b.get("/audit/export.csv").await.status, 403);
    let aude = w.add_user("aude", "auditor", None).await;
    let mut a = Browser::new(&w, "de");
    a.sign_in(&w, &aude).await;
    let start = a.get("/").await;
    assert_eq!(start.location.as_deref(), Some("/audit"));
    let log = a.get("/audit").await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("Protokoll"));
}

#[tokio::test]
async fn integrity_incidents_are_listed_filtered_and_kept_from_reviewers() {
    let w = world().await;
    let r = w.one_recording("cam-a", 10).await;
    let catalog = &w.server.deployment.catalog;
    for (kind, sequence, recording) in [
        (custos_catalog::IncidentKind::Gap, Some(3), None),
        (
            custos_catalog::IncidentKind::BadSignature,
            Some(5),
            Some(r.recording_id),
        ),
    ] {
        catalog
            .add_incident(
                &custos_catalog::NewIncident {
                    kind,
                    device_id: Some("cam-a".into()),
                    dock_id: Some("dock-1".into()),
                    sequence,
                    recording_id: recording,
                    detail: "<script>alert(1)</script>".into(),
                },
                w.now(),
            )
            .await
            .unwrap();
    }
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut p = Browser::new(&w, "nl");
    p.sign_in(&w, &petra).await;
    let all = p.get("/incidents").await;
    assert_eq!(all.status, 200);
    assert_eq!(data_values(&all, "incident"), ["bad-signature", "gap"]);
    assert!(all.body.contains("handtekening"), "in Dutch");
    assert!(!all.body.contains("<script>alert"), "details are escaped");
    assert!(all
        .body
        .contains(&format!("href=\"/recordings/{}\"", r.recording_id)));
    let gaps = p.get("/incidents?kind=gap&camera=cam-a").await;
    assert_eq!(data_values(&gaps, "incident"), ["gap"]);
    let none = p.get("/incidents?camera=cam-z").await;
    assert!(none.body.contains("id=\"no-incidents\""));
    let bad = p.get("/incidents?kind=meteor").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("data-error=\"filter-kind\""));
    // The admin sees incidents (devices are theirs) but no way to a recording.
    let adam = w.add_user("adam", "admin", None).await;
    let mut a = Browser::new(&w, "en");
    a.sign_in(&w, &adam).await;
    let seen = a.get("/incidents").await;
    assert_eq!(data_values(&seen, "incident").len(), 2);
    assert!(!seen.body.contains("href=\"/recordings/"));
    let rita = w.add_user("rita", "reviewer", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &rita).await;
    assert_eq!(b.get("/incidents").await.status, 403);
    let listed = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "incidents.list")
        .count();
    assert!(listed >= 5, "every look is audited: {listed}");
}
