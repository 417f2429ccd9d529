//! Download links: the package is kept encrypted for its recipient, served
//! without an account to whoever holds the link until it expires, is used
//! up or is revoked; every download — refused or broken off too — is in
//! the audit log with the export's purpose and case; the package leaves
//! the blob store when the link closes.

use super::*;

/// A case of the police's with two held recordings; a reviewer (rita), a
/// privacy officer (petra) and an admin (adam), signed in.
struct LinkCase {
    w: World,
    rita: Account,
    tr: String,
    tp: String,
    ta: String,
    case: String,
    exports: String,
}

async fn link_case() -> LinkCase {
    let w = world().await;
    let cam = w.camera("cam-l", 2, true).await;
    w.offload(&cam).await;
    let recordings = w.server.deployment.catalog.recordings().await.unwrap();
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tr, tp, ta) = (
        w.sign_in(&rita).await,
        w.sign_in(&petra).await,
        w.sign_in(&adam).await,
    );
    let case = w.with_case(&tr, "police-request").await;
    for r in &recordings {
        w.held(&tr, &case, r.recording_id, "PV").await;
    }
    let exports = format!("/api/v1/cases/{case}/exports");
    LinkCase {
        w,
        rita,
        tr,
        tp,
        ta,
        case,
        exports,
    }
}

fn with_link(link: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"purpose": "investigation", "recipient": "Politie Rotterdam",
        "passphrase": EXPORT_PASS, "link": link})
}

impl LinkCase {
    /// Export packages kept for links.
    fn kept(&self) -> usize {
        let dir = self.w.data.join("blobs").join("exports");
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    /// A link on `terms`, made by `token`: the answer.
    async fn make(&self, terms: serde_json::Value, token: &str) -> serde_json::Value {
        let answer = self
            .w
            .call(
                "POST",
                &self.exports,
                Some(token),
                Some(with_link(terms)),
                &[],
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.json());
        answer.json()
    }

    /// The link's row in the catalog.
    async fn row(&self, link_id: uuid::Uuid) -> custos_catalog::ExportLink {
        self.w
            .server
            .deployment
            .catalog
            .export_link(link_id)
            .await
            .unwrap()
            .unwrap()
    }

    /// A link for `hours`, made by rita.
    async fn for_hours(&self, hours: u32) -> serde_json::Value {
        self.make(serde_json::json!({"valid_hours": hours}), &self.tr)
            .await
    }
}

/// A link for two downloads over two days, and what it names.
struct TwoDownloads {
    link: serde_json::Value,
    link_id: uuid::Uuid,
    export_id: String,
    token: String,
    page: String,
    path: String,
}

async fn two_downloads(c: &LinkCase) -> TwoDownloads {
    let link = c
        .make(
            serde_json::json!({"valid_hours": 48, "max_downloads": 2}),
            &c.tr,
        )
        .await;
    let page = link["page"].as_str().unwrap().to_owned();
    let path = link["path"].as_str().unwrap().to_owned();
    let token = path.strip_prefix("/api/v1/downloads/").unwrap().to_owned();
    TwoDownloads {
        link_id: link["link_id"].as_str().unwrap().parse().unwrap(),
        export_id: link["export_id"].as_str().unwrap().to_owned(),
        link,
        token,
        page,
        path,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_terms_out_of_bounds_are_refused_with_a_reason_audited_and_keep_nothing() {
    let c = link_case().await;
    let LinkCase { w, tr, exports, .. } = &c;
    for link in [
        serde_json::json!({"valid_hours": 0}),
        serde_json::json!({"valid_hours": 7 * 24 + 1}),
        serde_json::json!({"valid_hours": 24, "max_downloads": 0}),
        serde_json::json!({"valid_hours": 24, "max_downloads": 11}),
    ] {
        let answer = w
            .call(
                "POST",
                exports,
                Some(tr),
                Some(with_link(link.clone())),
                &[],
            )
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (400, Some("bad-link")),
            "{link}"
        );
    }
    for garbage in [
        serde_json::json!({"valid_hours": "24"}),
        serde_json::json!({"valid_hours": -1}),
        serde_json::json!({"valid_hours": 24, "extra": true}),
        serde_json::json!("24h"),
    ] {
        let answer = w
            .call(
                "POST",
                exports,
                Some(tr),
                Some(with_link(garbage.clone())),
                &[],
            )
            .await;
        assert_eq!(answer.status, 400, "{garbage}");
    }
    let refused = audit(w)
        .await
        .into_iter()
        .filter(|e| {
            e.action == "export.create"
                && e.outcome == custos_audit::Outcome::Refused
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("download link"))
        })
        .count();
    assert_eq!(refused, 4);
    assert_eq!(c.kept(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_is_kept_encrypted_under_its_exports_name_and_its_token_is_nowhere() {
    let c = link_case().await;
    let (w, case) = (&c.w, &c.case);
    let TwoDownloads {
        link,
        link_id,
        export_id,
        token,
        page,
        ..
    } = two_downloads(&c).await;
    assert_eq!(page, format!("/download/{token}"));
    assert_eq!(token.len(), 64);
    assert_eq!(link["max_downloads"], 2);
    assert_eq!(link["downloads"], 0);
    assert!(
        link.get("token_sha256").is_none() && link.get("blob_key").is_none(),
        "{link}"
    );
    // Kept encrypted, under its export's name; the token itself is nowhere.
    let stored = std::fs::read(
        w.data
            .join("blobs/exports")
            .join(format!("{export_id}.tar.age")),
    )
    .unwrap();
    assert!(stored.starts_with(b"age-encryption.org/v1"));
    assert_eq!(link["size"], stored.len() as u64);
    assert_eq!(
        link["package_sha256"].as_str().unwrap(),
        hex::encode(custos_format::sha256(&stored))
    );
    let row = c.row(link_id).await;
    assert_ne!(row.token_sha256, token);
    assert!(audit(w)
        .await
        .iter()
        .all(|e| !serde_json::to_string(e).unwrap().contains(&token)));
    let made = audit(w)
        .await
        .into_iter()
        .find(|e| e.action == "export-link.create")
        .unwrap();
    assert_eq!(
        (
            made.actor.as_str(),
            made.purpose.as_deref(),
            made.case.as_deref()
        ),
        ("user:rita", Some("investigation"), Some(case.as_str()))
    );
    assert_eq!(made.object, Some(format!("export:{export_id}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_lists_its_links_without_tokens_for_who_may_export_but_not_for_an_admin() {
    let c = link_case().await;
    let LinkCase {
        w, tp, ta, case, ..
    } = &c;
    let TwoDownloads { link_id, token, .. } = two_downloads(&c).await;
    let links = w
        .call(
            "GET",
            &format!("/api/v1/cases/{case}/export-links"),
            Some(tp),
            None,
            &[],
        )
        .await;
    assert_eq!(links.status, 200);
    assert_eq!(links.json()[0]["link_id"], link_id.to_string());
    assert!(!String::from_utf8_lossy(&links.body).contains(&token));
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/cases/{case}/export-links"),
            Some(ta),
            None,
            &[]
        )
        .await
        .status,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_serves_its_package_without_an_account_audited_until_it_is_used_up() {
    let c = link_case().await;
    let LinkCase { w, case, .. } = &c;
    let TwoDownloads {
        link,
        link_id,
        export_id,
        page,
        path,
        ..
    } = two_downloads(&c).await;
    let stored = std::fs::read(
        w.data
            .join("blobs/exports")
            .join(format!("{export_id}.tar.age")),
    )
    .unwrap();
    let landing = w.call("GET", &page, None, None, &[]).await;
    assert_eq!(landing.status, 200);
    // (minijinja writes `/` in attributes as `&#x2f;`; browsers read it back.)
    let html = String::from_utf8_lossy(&landing.body).replace("&#x2f;", "/");
    assert!(html.contains(link["package_sha256"].as_str().unwrap()));
    assert!(html.contains(&format!("action=\"{path}\"")));
    assert_eq!(landing.header("referrer-policy"), Some("no-referrer"));

    // Downloads, without an account: the package, whole and verifiable.
    let downloads_before = audit(w).await.len();
    let first = w.call("POST", &path, None, None, &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, stored);
    assert_eq!(
        first.header("custos-package-sha256"),
        link["package_sha256"].as_str()
    );
    let tmp = tempfile::tempdir().unwrap();
    let delivered = tmp.path().join("package.tar.age");
    std::fs::write(&delivered, &first.body).unwrap();
    let (code, out) = verify_package(&delivered, &[]);
    assert_eq!(code, 0, "{out}");
    let events = audit(w).await;
    let downloaded: Vec<_> = events[downloads_before..]
        .iter()
        .filter(|e| e.action == "export.download")
        .collect();
    assert_eq!(downloaded.len(), 1);
    assert_eq!(
        (
            downloaded[0].actor.clone(),
            downloaded[0].outcome,
            downloaded[0].purpose.as_deref(),
            downloaded[0].case.as_deref(),
            downloaded[0].client.as_deref(),
            downloaded[0].object.clone(),
        ),
        (
            format!("link:{link_id}"),
            custos_audit::Outcome::Ok,
            Some("investigation"),
            Some(case.as_str()),
            Some("127.0.0.1"),
            Some(format!("export:{export_id}")),
        )
    );
    assert!(downloaded[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("download 1 of 2"));
    assert_eq!(w.call("POST", &path, None, None, &[]).await.status, 200);
    // Used up: refused, audited, and the page says so.
    let third = w.call("POST", &path, None, None, &[]).await;
    assert_eq!(
        (third.status, third.json()["error"]["code"].as_str()),
        (410, Some("link-used-up"))
    );
    let landing = w.call("GET", &page, None, None, &[]).await;
    assert_eq!(landing.status, 410);
    assert!(String::from_utf8_lossy(&landing.body).contains("data-state=\"used-up\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_and_forged_tokens_name_no_link_are_audited_and_count_nothing() {
    let c = link_case().await;
    let w = &c.w;
    let TwoDownloads { link_id, token, .. } = two_downloads(&c).await;
    let row = c.row(link_id).await;
    let mut forged = token.clone().into_bytes();
    forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let before = audit(w).await.len();
    for bad in [
        "x".to_owned(),
        token[..63].to_owned(),
        token.to_uppercase(),
        forged,
        row.token_sha256.clone(),
    ] {
        let answer = w
            .call("POST", &format!("/api/v1/downloads/{bad}"), None, None, &[])
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (404, Some("link-unknown")),
            "{bad}"
        );
        assert_eq!(
            w.call("GET", &format!("/download/{bad}"), None, None, &[])
                .await
                .status,
            404
        );
    }
    // No token at all: refused at the edge, before any lookup, and audited.
    for bad in [format!("{token}0"), "%00".to_owned()] {
        let answer = w
            .call("POST", &format!("/api/v1/downloads/{bad}"), None, None, &[])
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (400, Some("malformed-request")),
            "{bad}"
        );
        assert_eq!(
            w.call("GET", &format!("/download/{bad}"), None, None, &[])
                .await
                .status,
            400
        );
    }
    let entries = audit(w).await[before..].to_vec();
    let unknown: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "export.download")
        .cloned()
        .collect();
    assert_eq!(unknown.len(), 5);
    let malformed = entries
        .iter()
        .filter(|e| e.action == "request.refused" && e.actor == "anonymous")
        .count();
    assert_eq!(malformed, 4, "each refused at the edge is on record");
    assert!(unknown.iter().all(|e| e.actor == "anonymous"
        && e.outcome == custos_audit::Outcome::Refused
        && e.case.is_none()));
    let row = c.row(link_id).await;
    assert_eq!(row.downloads, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_for_one_hour_serves_no_more_an_hour_later() {
    let c = link_case().await;
    let w = &c.w;
    let short = c.for_hours(1).await;
    let short_path = short["path"].as_str().unwrap().to_owned();
    assert_eq!(short["max_downloads"], 3, "three downloads unless told");
    w.clock_offset
        .fetch_add(3_600_000, std::sync::atomic::Ordering::SeqCst);
    let late = w.call("POST", &short_path, None, None, &[]).await;
    assert_eq!(
        (late.status, late.json()["error"]["code"].as_str()),
        (410, Some("link-expired"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_officer_revokes_a_link_at_once_and_its_package_goes_with_it() {
    let c = link_case().await;
    let LinkCase {
        w,
        tr,
        tp,
        ta,
        case,
        ..
    } = &c;
    let revocable = c.for_hours(24).await;
    let revocable_id = revocable["link_id"].as_str().unwrap().to_owned();
    let revocable_blob = w.data.join("blobs/exports").join(format!(
        "{}.tar.age",
        revocable["export_id"].as_str().unwrap()
    ));
    assert!(revocable_blob.exists());
    let revoke = format!("/api/v1/export-links/{revocable_id}/revoke");
    assert_eq!(
        w.call("POST", &revoke, Some(ta), None, &[]).await.status,
        403
    );
    let revoked = w.call("POST", &revoke, Some(tp), None, &[]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.json());
    assert_eq!(revoked.json()["revoked_by"], "petra");
    assert!(!revocable_blob.exists());
    assert_eq!(
        w.call("POST", &revoke, Some(tr), None, &[]).await.status,
        409
    );
    for id in ["nonsense", "0190f0c4-0000-7000-8000-000000000001"] {
        let answer = w
            .call(
                "POST",
                &format!("/api/v1/export-links/{id}/revoke"),
                Some(tr),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 404, "{id}");
    }
    let gone = w
        .call("POST", revocable["path"].as_str().unwrap(), None, None, &[])
        .await;
    assert_eq!(
        (gone.status, gone.json()["error"]["code"].as_str()),
        (410, Some("link-revoked"))
    );
    let revocation = audit(w)
        .await
        .into_iter()
        .find(|e| e.action == "export-link.revoke" && e.outcome == custos_audit::Outcome::Ok)
        .unwrap();
    assert_eq!(
        (
            revocation.actor.as_str(),
            revocation.role.as_deref(),
            revocation.case.as_deref()
        ),
        ("user:petra", Some("privacy-officer"), Some(case.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_package_breaks_the_download_off_and_the_log_says_so() {
    let c = link_case().await;
    let LinkCase { w, case, .. } = &c;
    let damaged = c.for_hours(24).await;
    let damaged_blob = w.data.join("blobs/exports").join(format!(
        "{}.tar.age",
        damaged["export_id"].as_str().unwrap()
    ));
    let bytes = std::fs::read(&damaged_blob).unwrap();
    std::fs::write(&damaged_blob, &bytes[..bytes.len() / 2]).unwrap();
    let agent = agent(w);
    let url = format!("{}{}", w.base(), damaged["path"].as_str().unwrap());
    let (status, received) = tokio::task::spawn_blocking(move || {
        let mut response = agent.post(&url).send_empty().unwrap();
        let mut body = Vec::new();
        let read = std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut body);
        (response.status().as_u16(), read.map(|_| body.len()))
    })
    .await
    .unwrap();
    assert_eq!(
        status, 200,
        "the link served; the failure comes while sending"
    );
    assert!(
        received.is_err(),
        "the body breaks off instead of ending short: {received:?}"
    );
    // Durable before the body broke off.
    let failed: Vec<_> = audit(w)
        .await
        .into_iter()
        .filter(|e| e.action == "export.download" && e.outcome == custos_audit::Outcome::Failed)
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "a broken-off download is audited as failed"
    );
    assert!(failed[0].detail.as_deref().unwrap().contains("broken off"));
    assert_eq!(failed[0].case.as_deref(), Some(case.as_str()));
}

/// The sweeper removes what can no longer serve: an expired link's package
/// at once, the others once their time is up; a revoked link's went when
/// it was revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_removes_the_packages_of_links_that_can_no_longer_serve() {
    let c = link_case().await;
    let LinkCase { w, tp, case, .. } = &c;
    two_downloads(&c).await;
    c.for_hours(1).await;
    c.for_hours(24).await;
    let revocable = c.for_hours(24).await;
    let revoke = format!(
        "/api/v1/export-links/{}/revoke",
        revocable["link_id"].as_str().unwrap()
    );
    assert_eq!(
        w.call("POST", &revoke, Some(tp), None, &[]).await.status,
        200
    );
    assert_eq!(c.kept(), 3);
    w.clock_offset
        .fetch_add(3_600_000, std::sync::atomic::Ordering::SeqCst);
    // An hour idle ended the sessions: sign in again.
    let tr = w.sign_in(&c.rita).await;
    let report = w.sweep(w.now()).await;
    assert_eq!(report.links_closed, 1, "the one-hour link");
    assert_eq!(c.kept(), 2, "the two-download link and the damaged one");
    let report = w.sweep(w.now().plus_millis(48 * 3_600_000)).await;
    assert_eq!(report.links_closed, 2);
    assert_eq!(c.kept(), 0);
    assert_eq!(
        w.sweep(w.now().plus_millis(96 * 3_600_000))
            .await
            .links_closed,
        0
    );
    let removals = audit(w)
        .await
        .into_iter()
        .filter(|e| e.action == "export-link.remove")
        .count();
    assert_eq!(removals, 3);
    let listed = w
        .call(
            "GET",
            &format!("/api/v1/cases/{case}/export-links"),
            Some(&tr),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|l| !l["removed_at"].is_null()));
}
