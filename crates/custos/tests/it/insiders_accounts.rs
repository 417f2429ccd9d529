//! Insiders and accounts: the admin never holds the credentials of an
//! account that can see footage, and the statistics give an evaluator
//! nothing below k by subtraction (issue 20).

use crate::common::*;

/// Separation of duties: the admin creates or resets an account that can
/// see footage only with the privacy officer's approval, and its password
/// and TOTP secret reach the person alone, through a one-time link. The
/// admin never holds credentials that open footage. Existing accounts and
/// accounts that cannot see footage work as before.
/// An admin (adam), a privacy officer (petra) and a reviewer (rita),
/// signed in.
struct Accounts {
    w: World,
    ta: String,
    tp: String,
    tr: String,
}

async fn accounts() -> Accounts {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (ta, tp) = (w.sign_in(&adam).await, w.sign_in(&petra).await);
    let tr = w.sign_in(&rita).await;
    Accounts { w, ta, tp, tr }
}

impl Accounts {
    /// The admin asks for reviewer robin: the request's id.
    async fn asked_for_robin(&self) -> String {
        let asked = self
            .w
            .call(
                "POST",
                "/api/v1/users",
                Some(&self.ta),
                Some(serde_json::json!({"name": "robin", "role": "reviewer"})),
                &[],
            )
            .await;
        assert_eq!(asked.status, 202, "{}", asked.json());
        asked.json()["activation_id"].as_str().unwrap().to_owned()
    }

    /// Robin's request, approved by the privacy officer: the link's token.
    async fn robins_link(&self) -> String {
        let request = self.asked_for_robin().await;
        let approved = self
            .w
            .call(
                "POST",
                &format!("/api/v1/activations/{request}/approve"),
                Some(&self.tp),
                None,
                &[],
            )
            .await;
        assert_eq!(approved.status, 200, "{}", approved.json());
        let link = approved.json()["activation_link"]
            .as_str()
            .unwrap()
            .to_owned();
        link.strip_prefix("/activate/").unwrap().to_owned()
    }

    /// The admin asks for privacy officer mallory and the privacy officer
    /// refuses: the request's id.
    async fn mallory_refused(&self) -> String {
        let asked = self
            .w
            .call(
                "POST",
                "/api/v1/users",
                Some(&self.ta),
                Some(serde_json::json!({"name": "mallory", "role": "privacy-officer"})),
                &[],
            )
            .await;
        let id = asked.json()["activation_id"].as_str().unwrap().to_owned();
        let refused = self
            .w
            .call(
                "POST",
                &format!("/api/v1/activations/{id}/reject"),
                Some(&self.tp),
                None,
                &[],
            )
            .await;
        assert_eq!(refused.status, 200);
        id
    }

    /// The person behind a link sets their password with it.
    async fn activate(&self, token: String, password: &str) -> Answer {
        self.w
            .call(
                "POST",
                "/api/v1/activate",
                None,
                Some(serde_json::json!({"token": token, "password": password})),
                &[],
            )
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_asking_for_a_reviewer_gets_a_request_and_no_credentials() {
    let a = accounts().await;
    let Accounts { w, ta, .. } = &a;
    let asked = w
        .call(
            "POST",
            "/api/v1/users",
            Some(ta),
            Some(serde_json::json!({"name": "robin", "role": "reviewer"})),
            &[],
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.json());
    let body = asked.json();
    assert_eq!(body["status"], "awaiting-approval");
    for secret in ["password", "totp", "otpauth", "token"] {
        assert!(!body.to_string().contains(secret), "{secret} in {body}");
    }
    let request = body["activation_id"].as_str().unwrap();
    assert!(request.parse::<uuid::Uuid>().is_ok(), "{request}");
    assert!(w
        .server
        .deployment
        .catalog
        .user("robin")
        .await
        .unwrap()
        .is_none());
    let twice = w
        .call(
            "POST",
            "/api/v1/users",
            Some(ta),
            Some(serde_json::json!({"name": "robin", "role": "privacy-officer"})),
            &[],
        )
        .await;
    assert_eq!(
        (twice.status, twice.code().as_str()),
        (409, "awaiting-approval")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_account_is_asked_for_and_no_second_account_takes_an_officers_id() {
    let a = accounts().await;
    let Accounts { w, ta, .. } = &a;
    let officer = w
        .call(
            "POST",
            "/api/v1/users",
            Some(ta),
            Some(serde_json::json!({"name": "ouda", "role": "officer", "officer_id": "boa-9"})),
            &[],
        )
        .await;
    assert_eq!(officer.status, 202, "{}", officer.json());
    w.add_user("olga", "officer", Some("boa-5")).await;
    for (role, id) in [
        ("officer", "boa-5"),
        ("auditor", "boa-5"),
        ("officer", "boa-9"),
    ] {
        let twin = w
            .call(
                "POST",
                "/api/v1/users",
                Some(ta),
                Some(serde_json::json!({"name": "twin", "role": role, "officer_id": id})),
                &[],
            )
            .await;
        assert_eq!(
            (twin.status, twin.code().as_str()),
            (409, "officer-id-taken"),
            "{role} {id}: taken by an account, or asked for already"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_that_cannot_see_footage_are_made_at_once() {
    let a = accounts().await;
    let Accounts { w, ta, .. } = &a;
    let auditor = w
        .call(
            "POST",
            "/api/v1/users",
            Some(ta),
            Some(serde_json::json!({"name": "otto", "role": "auditor"})),
            &[],
        )
        .await;
    assert_eq!(auditor.status, 201);
    assert!(auditor.json()["initial_password"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_privacy_officer_approves_and_nobody_signs_in_before_the_link_is_used() {
    let a = accounts().await;
    let Accounts { w, ta, tp, tr } = &a;
    let request = a.asked_for_robin().await;
    let approve = format!("/api/v1/activations/{request}/approve");
    for token in [&ta, &tr] {
        let answer = w.call("POST", &approve, Some(token), None, &[]).await;
        assert_eq!((answer.status, answer.code().as_str()), (403, "forbidden"));
    }
    for bad in ["nonsense", "0190f0c4-0000-7000-8000-000000000001"] {
        let answer = w
            .call(
                "POST",
                &format!("/api/v1/activations/{bad}/approve"),
                Some(tp),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 404, "{bad}");
    }
    let listed = w
        .call("GET", "/api/v1/activations", Some(ta), None, &[])
        .await;
    assert_eq!(listed.status, 200);
    assert!(!listed.json().to_string().contains("token"));
    let approved = w.call("POST", &approve, Some(tp), None, &[]).await;
    assert_eq!(approved.status, 200, "{}", approved.json());
    let link = approved.json()["activation_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = link.strip_prefix("/activate/").unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let again = w.call("POST", &approve, Some(tp), None, &[]).await;
    assert_eq!((again.status, again.code().as_str()), (409, "not-pending"));
    // Nobody can sign in to it before its person has used the link.
    let code = custos_server::auth::totp_code("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", w.now()).unwrap();
    let tried = w
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(serde_json::json!({"name": "robin", "password": "", "code": code})),
            &[],
        )
        .await;
    assert_eq!(tried.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activation_link_refuses_garbage_and_forgeries_and_works_once() {
    let a = accounts().await;
    let w = &a.w;
    let token = a.robins_link().await;
    let activate = |token: String, password: &'static str| a.activate(token, password);
    for forged in [
        String::new(),
        "x".repeat(64),
        token.to_uppercase(),
        token[..63].to_owned(),
        format!("{token}0"),
        format!(
            "{}{}",
            &token[..63],
            if token.ends_with('0') { '1' } else { '0' }
        ),
        "../../etc/passwd".into(),
        "a".repeat(100_000),
    ] {
        let answer = activate(forged.clone(), "a long enough password").await;
        assert_eq!(answer.status, 404, "{}", forged.len());
    }
    for weak in ["short", "robin-is-my-password"] {
        let answer = activate(token.clone(), weak).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (400, "invalid"),
            "{weak}"
        );
    }
    let done = activate(token.clone(), "correct horse battery staple").await;
    assert_eq!(done.status, 200, "{}", done.json());
    let secret = done.json()["totp_secret"].as_str().unwrap().to_owned();
    let used = activate(token.clone(), "another good password").await;
    assert_eq!(used.status, 404, "a link works once");
    let robin = Account {
        name: "robin".into(),
        password: "correct horse battery staple".into(),
        secret,
    };
    let tb = w.sign_in(&robin).await;
    let me = w.call("GET", "/api/v1/session", Some(&tb), None, &[]).await;
    assert_eq!(me.json()["role"], "reviewer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewers_reset_ends_her_sessions_once_approved_and_its_link_expires() {
    let a = accounts().await;
    let Accounts { w, ta, tp, tr } = &a;
    let activate = |token: String, password: &'static str| a.activate(token, password);
    let reset = w
        .call(
            "POST",
            "/api/v1/users/rita/reset-password",
            Some(ta),
            None,
            &[],
        )
        .await;
    assert_eq!(reset.status, 202, "{}", reset.json());
    assert!(!reset.json().to_string().contains("initial_password"));
    let mfa = w
        .call("POST", "/api/v1/users/rita/reset-mfa", Some(ta), None, &[])
        .await;
    assert_eq!(
        (mfa.status, mfa.code().as_str()),
        (409, "awaiting-approval")
    );
    assert_eq!(
        w.call("GET", "/api/v1/session", Some(tr), None, &[])
            .await
            .status,
        200
    );
    let reset_id = reset.json()["activation_id"].as_str().unwrap().to_owned();
    let approved = w
        .call(
            "POST",
            &format!("/api/v1/activations/{reset_id}/approve"),
            Some(tp),
            None,
            &[],
        )
        .await;
    assert_eq!(approved.status, 200);
    assert_eq!(
        w.call("GET", "/api/v1/session", Some(tr), None, &[])
            .await
            .status,
        401,
        "her sessions ended"
    );
    // The link expires after 72 hours.
    w.clock_offset
        .fetch_add(73 * 3_600_000, std::sync::atomic::Ordering::SeqCst);
    let link = approved.json()["activation_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = activate(
        link.strip_prefix("/activate/").unwrap().to_owned(),
        "a new long password",
    )
    .await;
    assert_eq!((late.status, late.code().as_str()), (410, "expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_changes_nothing_and_cannot_be_approved_later() {
    let a = accounts().await;
    let Accounts { w, tp, .. } = &a;
    let id = a.mallory_refused().await;
    let late = w
        .call(
            "POST",
            &format!("/api/v1/activations/{id}/approve"),
            Some(tp),
            None,
            &[],
        )
        .await;
    assert_eq!(late.code(), "not-pending");
    assert!(w
        .server
        .deployment
        .catalog
        .user("mallory")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_tells_the_story_and_holds_neither_tokens_nor_passwords() {
    let a = accounts().await;
    let w = &a.w;
    let token = a.robins_link().await;
    let done = a
        .activate(token.clone(), "correct horse battery staple")
        .await;
    assert_eq!(done.status, 200, "{}", done.json());
    a.mallory_refused().await;
    let entries = audit_events(w).await;
    for action in ["user.add", "user.approve", "user.reject", "user.activate"] {
        assert!(entries.iter().any(|e| e.action == action), "{action}");
    }
    let text = format!("{entries:?}");
    assert!(!text.contains(&token) && !text.contains("correct horse"));
}

/// Statistics resist differencing: an evaluator who asks for overlapping
/// periods (aligned to weeks or not) and tries to filter by one camera
/// learns nothing below k. Every number shown is a sum of weeks that are
/// themselves shown, so no subtraction of shown numbers gives a hidden one.
/// Three closed weeks of 6, 7 and 2 recordings (the last below k = 5)
/// before the week of camera cam-d's own recording; an evaluator signed in.
struct Weeks {
    w: World,
    te: String,
    /// The first day (a Monday, days since the epoch) of each crafted week.
    weeks: [i64; 3],
    /// The Monday of the camera's own week.
    monday: i64,
}

const DAY: i64 = 86_400_000;

async fn three_weeks() -> Weeks {
    let w = world().await;
    let template = w.one_recording("cam-d", 10).await;
    // Three weeks before the camera's (all closed by the server's clock):
    // 6, 7 and 2 recordings (the last below k = 5).
    let day = template.started_at.as_millis().div_euclid(DAY);
    let monday = day - (day + 3).rem_euclid(7);
    let weeks = [monday - 21, monday - 14, monday - 7];
    let mut sequence = 100;
    for (week, count) in weeks.iter().zip([6, 7, 2]) {
        for i in 0..count {
            sequence += 1;
            let mut r = template.clone();
            r.recording_id = uuid::Uuid::now_v7();
            r.sequence = sequence;
            r.started_at = custos_format::UtcMillis::from_millis(
                week * DAY + 2 * DAY + 3_600_000 + i * 60_000,
            )
            .unwrap();
            r.ended_at = r.started_at.plus_millis(10_000);
            r.camera_mut().unwrap().blob_key = format!("cam-d/crafted-{sequence}.age");
            w.server
                .deployment
                .catalog
                .commit_recording(&r, None)
                .await
                .unwrap();
        }
    }
    let te = w.signed_in("evaluator").await.token;
    Weeks {
        w,
        te,
        weeks,
        monday,
    }
}

impl Weeks {
    /// The statistics from day `from` to day `to` (days since the epoch),
    /// with `extra` query parameters, as the evaluator reads them.
    async fn read(&self, from: i64, to: i64, extra: &str) -> Answer {
        let date = |d: i64| {
            custos_format::UtcMillis::from_millis(d * DAY)
                .unwrap()
                .to_string()[..10]
                .to_owned()
        };
        let path = format!(
            "/api/v1/statistics?from={}&to={}{extra}",
            date(from),
            date(to)
        );
        self.w.call("GET", &path, Some(&self.te), None, &[]).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluator_cannot_filter_statistics_by_one_camera_or_team() {
    let s = three_weeks().await;
    let weeks = s.weeks;
    for filter in ["&camera=cam-d", "&team=noord"] {
        let answer = s.read(weeks[0], weeks[2] + 6, filter).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "filter-not-allowed"),
            "{filter}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_of_nothing_but_the_week_the_server_is_in_is_refused() {
    let s = three_weeks().await;
    // A period of nothing but the week the server is in is refused.
    let today = s.w.now().as_millis().div_euclid(DAY);
    let this_monday = today - (today + 3).rem_euclid(7);
    let open = s.read(this_monday, this_monday + 6, "").await;
    assert_eq!((open.status, open.code().as_str()), (400, "bad-period"));
}

/// In every table of a report, a shown total is the sum of its weeks,
/// each of them shown.
fn every_shown_total_is_a_sum_of_shown_weeks(report: &serde_json::Value) {
    for table in report["tables"].as_array().unwrap() {
        let columns = table["columns"].as_array().unwrap();
        if columns.last() != Some(&serde_json::json!("total")) {
            continue;
        }
        for row in table["rows"].as_array().unwrap() {
            let cells = row["cells"].as_array().unwrap();
            let (total, weekly) = cells.split_last().unwrap();
            if !total.is_number() || row["unit"] != "count" {
                continue;
            }
            assert!(
                weekly.iter().all(|c| c.is_number()),
                "a shown total over a hidden week: {} {}",
                table["id"],
                row
            );
            let sum: f64 = weekly.iter().map(|c| c.as_f64().unwrap()).sum();
            assert_eq!(total.as_f64().unwrap(), sum, "{} {row}", table["id"]);
        }
    }
}

/// Checks a report's activations table against the crafted weeks; returns
/// its total, if shown.
fn activations_count_whole_weeks(report: &serde_json::Value, weeks: [i64; 3]) -> Option<f64> {
    let activations = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "activations")
        .unwrap()
        .clone();
    let columns: Vec<String> = activations["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let cells = activations["rows"][0]["cells"].as_array().unwrap().clone();
    // The weeks the period touches, counted whole: the same numbers in
    // every reading; the small week always hidden.
    for (column, cell) in columns.iter().zip(&cells) {
        let week = custos_stats::week_of(weeks[2]);
        if *column == week {
            assert_eq!(cell, "<5", "{column}");
        } else if *column == custos_stats::week_of(weeks[0]) {
            assert_eq!(cell, 6.0, "{column}");
        } else if *column == custos_stats::week_of(weeks[1]) {
            assert_eq!(cell, 7.0, "{column}");
        }
    }
    cells.last().and_then(|c| c.as_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_periods_show_only_sums_of_shown_weeks_and_no_difference_gives_the_hidden_one()
{
    let s = three_weeks().await;
    let (weeks, monday) = (s.weeks, s.monday);
    // Periods that overlap, start and end mid-week, or take one week.
    let mut shown_totals = Vec::new();
    for (from, to) in [
        (weeks[0], weeks[2] + 6),
        (weeks[0], weeks[1] + 6),
        (weeks[1], weeks[2] + 6),
        (weeks[2], weeks[2] + 6),
        (weeks[0] + 2, weeks[2] + 1),
        (weeks[2] + 1, weeks[2] + 2),
        (weeks[1] + 3, weeks[1] + 3),
        (weeks[0], weeks[0] + 6),
        // Into the camera's own week.
        (weeks[0], monday + 3),
    ] {
        let answer = s.read(from, to, "").await;
        assert_eq!(answer.status, 200, "{}", answer.json());
        let report = answer.json();
        every_shown_total_is_a_sum_of_shown_weeks(&report);
        if let Some(total) = activations_count_whole_weeks(&report, weeks) {
            shown_totals.push(total);
        }
    }
    // What the evaluator can combine: 6, 7 and 13, never anything with the 2.
    shown_totals.sort_by(f64::total_cmp);
    shown_totals.dedup();
    assert_eq!(shown_totals, [6.0, 7.0, 13.0]);
    for a in &shown_totals {
        for b in &shown_totals {
            assert_ne!((a - b).abs(), 2.0);
        }
    }
}
