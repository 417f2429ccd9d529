//! Cases and holds on their pages; exports and links from the case page.

use super::*;

/// A form's fields, without its CSRF token.
type Form<'a> = Vec<(&'static str, &'a str)>;

/// The one-time passphrase the export form on `page` offers.
fn export_passphrase(page: &Page) -> String {
    let at = page.body.find("id=\"export-passphrase\">").unwrap() + 23;
    page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
}

/// What a downloaded package holds, opened with its passphrase.
fn unpacked(package: &[u8], passphrase: &str) -> custos_export::read::Contents {
    let tar = open_package(package, passphrase);
    custos_export::read::Contents::from_tar(&tar[..]).unwrap()
}

/// A recording from a new `camera`, and rita, a reviewer, who opens a case
/// labelled `label` and holds the recording for it: rita and the case.
async fn rita_holds_a_recording(w: &World, camera: &str, label: &str) -> (Account, String) {
    let r = w.one_recording(camera, 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = w.with_case_labelled(&tr, "complaint", label).await;
    w.held(&tr, &case, r.recording_id, "PV").await;
    (rita, case)
}

fn holds_need_a_second_approver() -> custos_access::Policy {
    custos_access::Policy {
        hold_needs_second_approver: true,
        ..Default::default()
    }
}

/// A deployment where a hold needs a second approver, with one recording
/// (cam-a, `id`); rita, a reviewer, signed in in her browser on the case
/// list (`cases`), whose forms carry `csrf`; petra, a privacy officer, who
/// has not signed in yet.
struct Cases {
    w: World,
    r: custos_catalog::Recording,
    id: String,
    petra: Account,
    b: Browser,
    cases: Page,
    csrf: String,
}

async fn cases() -> Cases {
    let w = world_with(holds_need_a_second_approver()).await;
    let r = w.one_recording("cam-a", 20).await;
    let id = r.recording_id.to_string();
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let cases = b.get("/cases").await;
    let csrf = Browser::csrf(&cases);
    Cases {
        w,
        r,
        id,
        petra,
        b,
        cases,
        csrf,
    }
}

impl Cases {
    /// Case K-17 opened by rita.
    async fn opened() -> Self {
        let mut c = cases().await;
        let opened = c.open_k17().await;
        assert_eq!(opened.status, 303, "{}", opened.body);
        c
    }

    /// The recording secured twice for K-17, from the case page and from
    /// its own page: the two holds, oldest first.
    async fn secured() -> (Self, String, String) {
        let mut c = Self::opened().await;
        assert_eq!(c.place_hold().await.status, 303);
        assert_eq!(c.secure_from_recording().await.status, 303);
        let holds = c.holds().await;
        assert_eq!(holds.len(), 2);
        (c, holds[0].clone(), holds[1].clone())
    }

    /// The first hold approved by petra, the second released by rita.
    async fn approved() -> Self {
        let (mut c, first, second) = Self::secured().await;
        let (_, approved) = c.petra_approves(&first).await;
        assert_eq!(approved.status, 303, "{}", approved.body);
        assert_eq!(c.release(&second).await.status, 303);
        c
    }

    /// … and the case exported.
    async fn exported() -> Self {
        let mut c = Self::approved().await;
        let passphrase = c.passphrase().await;
        let download = c.export(&passphrase).await;
        assert_eq!(download.status, 200, "{}", download.body);
        c
    }

    /// Every step of the scenario, in order, as the tests below take them.
    async fn whole_story() -> Self {
        let mut c = cases().await;
        c.bad_cases().await;
        c.open_k17().await;
        c.open_k17_again().await;
        c.bad_holds().await;
        c.place_hold().await;
        c.secure_from_recording().await;
        let holds = c.holds().await;
        c.form(&format!("/holds/{}/approve", holds[0]), &[]).await;
        c.petra_approves(&holds[0]).await;
        c.release(&holds[1]).await;
        c.release(&holds[1]).await;
        let passphrase = c.passphrase().await;
        c.bad_exports(&passphrase).await;
        c.forged_export(&passphrase).await;
        c.export(&passphrase).await;
        c.form("/cases/K-17/close", &[]).await;
        c.late_hold().await;
        c
    }

    /// `fields` posted to `path` with rita's CSRF token first.
    async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend(fields.iter().copied());
        self.b.post(path, &all).await
    }

    /// A forged form; forms with garbage or without a reference, each with
    /// the status and error it should get; the form without a reference
    /// again: the answers.
    async fn bad_cases(&mut self) -> (Page, Vec<(Form<'static>, u16, &'static str, Page)>, Page) {
        let forged = self
            .b
            .post(
                "/cases",
                &[("csrf", "forged"), ("kind", "complaint"), ("label", "x")],
            )
            .await;
        let mut refused = Vec::new();
        for (fields, status, code) in [
            (
                vec![("kind", "police-request"), ("label", "PV asked")],
                400,
                "error-reference-needed",
            ),
            (
                vec![("kind", "party"), ("label", "x")],
                400,
                "error-invalid",
            ),
            (
                vec![("kind", "complaint"), ("label", "")],
                400,
                "error-invalid",
            ),
            (
                vec![
                    ("kind", "complaint"),
                    ("label", "x"),
                    ("case_id", "has spaces"),
                ],
                400,
                "error-invalid",
            ),
        ] {
            let page = self.form("/cases", &fields).await;
            refused.push((fields, status, code, page));
        }
        let kept = self
            .form(
                "/cases",
                &[("kind", "police-request"), ("label", "PV asked")],
            )
            .await;
        (forged, refused, kept)
    }

    async fn open_k17(&mut self) -> Page {
        self.form(
            "/cases",
            &[
                ("kind", "complaint"),
                ("label", "Complaint 2026-17"),
                ("case_id", "K-17"),
                ("reference", ""),
            ],
        )
        .await
    }

    async fn open_k17_again(&mut self) -> Page {
        self.form(
            "/cases",
            &[("kind", "complaint"), ("label", "x"), ("case_id", "K-17")],
        )
        .await
    }

    /// A hold on `recording` for K-17, for `reason`.
    async fn hold(&mut self, recording: &str, reason: &str) -> Page {
        self.form(
            "/cases/K-17/holds",
            &[("recording_id", recording), ("reason", reason)],
        )
        .await
    }

    /// Holds the form refuses (a bad number, an unknown one, no reason):
    /// each recording, the status and error it should get, the answer.
    async fn bad_holds(&mut self) -> Vec<(String, u16, &'static str, Page)> {
        let id = self.id.clone();
        let mut refused = Vec::new();
        for (recording, status, code) in [
            ("not-a-uuid", 400, "error-recording-id"),
            (
                "0190f0c4-0000-7000-8000-000000000001",
                404,
                "error-recording-not-found",
            ),
            (id.as_str(), 400, "error-invalid"),
        ] {
            let reason = if status == 400 && code == "error-invalid" {
                ""
            } else {
                "seen at the scene"
            };
            let page = self.hold(recording, reason).await;
            refused.push((recording.to_owned(), status, code, page));
        }
        refused
    }

    async fn place_hold(&mut self) -> Page {
        let id = self.id.clone();
        self.hold(&id, "complaint about the stop").await
    }

    /// A second hold for K-17, from the recording's page.
    async fn secure_from_recording(&mut self) -> Page {
        let path = format!("/recordings/{}/secure", self.id);
        self.form(&path, &[("case", "K-17"), ("reason", "second look")])
            .await
    }

    async fn late_hold(&mut self) -> Page {
        let id = self.id.clone();
        self.hold(&id, "too late").await
    }

    /// The holds K-17's page lists.
    async fn holds(&mut self) -> Vec<String> {
        let case = self.b.get("/cases/K-17").await;
        data_values(&case, "hold")
    }

    /// Petra signs in (in Dutch), opens K-17 and approves `hold`: the case
    /// page she saw, and the answer.
    async fn petra_approves(&self, hold: &str) -> (Page, Page) {
        let mut p = Browser::new(&self.w, "nl");
        assert_eq!(p.sign_in(&self.w, &self.petra).await.status, 303);
        let seen = p.get("/cases/K-17").await;
        let approved = p
            .post(
                &format!("/holds/{hold}/approve"),
                &[("csrf", &Browser::csrf(&seen))],
            )
            .await;
        (seen, approved)
    }

    async fn release(&mut self, hold: &str) -> Page {
        self.form(&format!("/holds/{hold}/release"), &[]).await
    }

    /// The passphrase a freshly loaded K-17 page offers.
    async fn passphrase(&mut self) -> String {
        export_passphrase(&self.b.get("/cases/K-17").await)
    }

    /// Exports the form refuses: each form, the error it should get, and
    /// the answer.
    async fn bad_exports<'a>(
        &mut self,
        passphrase: &'a str,
    ) -> Vec<(Form<'a>, &'static str, Page)> {
        let mut refused = Vec::new();
        for (fields, code) in [
            (
                vec![("recipient", ""), ("passphrase", passphrase)],
                "error-recipient-required",
            ),
            (
                vec![("recipient", "Politie"), ("passphrase", "short")],
                "error-protection-required",
            ),
            (
                vec![("recipient", "Politie"), ("age_recipient", "age1nonsense")],
                "error-bad-recipient-key",
            ),
        ] {
            let mut all = vec![("purpose", "complaint")];
            all.extend(fields.iter().copied());
            let page = self.form("/cases/K-17/export", &all).await;
            refused.push((fields, code, page));
        }
        refused
    }

    async fn forged_export(&mut self, passphrase: &str) -> Page {
        self.b
            .post(
                "/cases/K-17/export",
                &[
                    ("csrf", "forged"),
                    ("purpose", "complaint"),
                    ("recipient", "x"),
                    ("passphrase", passphrase),
                ],
            )
            .await
    }

    async fn export(&mut self, passphrase: &str) -> Page {
        self.form(
            "/cases/K-17/export",
            &[
                ("purpose", "complaint"),
                ("recipient", "Politie Rotterdam"),
                ("passphrase", passphrase),
                ("age_recipient", ""),
            ],
        )
        .await
    }
}

/// Garbage, a missing reference and a forged form are refused, the form
/// kept and no case opened; then a case opens under its own id, once.
#[tokio::test]
async fn a_case_is_opened_on_the_case_list_and_bad_or_forged_forms_are_refused_and_kept() {
    let mut c = cases().await;
    assert_eq!(c.cases.status, 200);
    assert!(c.cases.body.contains("data-nav=\"cases\""));
    let (forged, refused, kept) = c.bad_cases().await;
    assert_eq!(forged.status, 403);
    for (fields, status, code, page) in refused {
        assert_eq!(page.status, status, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            page.body
        );
    }
    assert!(
        kept.body.contains("value=\"PV asked\""),
        "the form keeps what was typed"
    );
    let w = &c.w;
    assert!(w
        .server
        .deployment
        .catalog
        .cases()
        .await
        .unwrap()
        .is_empty());
    let opened = c.open_k17().await;
    assert_eq!(
        (opened.status, opened.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let again = c.open_k17_again().await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("data-error=\"error-exists\""));
}

/// Securing a recording: a bad number and an unknown one are the form's
/// errors; a hold from the case page and one from the recording's page
/// wait for a second person, and the placer may not approve (four eyes).
#[tokio::test]
async fn a_recording_is_secured_from_the_case_page_and_its_own_and_its_placer_cannot_approve() {
    let mut c = Cases::opened().await;
    let id = c.id.clone();
    for (recording, status, code, page) in c.bad_holds().await {
        assert_eq!(page.status, status, "{recording}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{recording}: {}",
            page.body
        );
    }
    let placed = c.place_hold().await;
    assert_eq!(
        (placed.status, placed.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let case = c.b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["pending"]);
    assert!(
        !case.body.contains("/approve\""),
        "the placer is offered no approval"
    );
    let first_hold = data_values(&case, "hold").remove(0);

    // From the recording's page, a second hold for the same case.
    let page = c.b.get(&format!("/recordings/{id}")).await;
    assert!(page.body.contains("id=\"secure-recording\""));
    assert!(page.body.contains("<option value=\"K-17\">"));
    let secured = c.secure_from_recording().await;
    assert_eq!(
        secured.location.as_deref(),
        Some(format!("/recordings/{id}").as_str())
    );
    let holds = c.holds().await;
    assert_eq!(holds.len(), 2);
    // Approving one's own hold is refused (four eyes) and audited.
    let own = c.form(&format!("/holds/{first_hold}/approve"), &[]).await;
    assert_eq!(own.status, 403);
    assert!(own.body.contains("data-error=\"error-four-eyes\""));
}

/// The privacy officer approves the first hold, the reviewer releases the
/// second (once); the recording is then listed as held.
#[tokio::test]
async fn a_second_person_approves_one_hold_and_the_reviewer_releases_the_other() {
    let (mut c, first_hold, second_hold) = Cases::secured().await;
    let (seen, approved) = c.petra_approves(&first_hold).await;
    assert!(seen.body.contains(&format!("/holds/{first_hold}/approve")));
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let released = c.release(&second_hold).await;
    assert_eq!(released.status, 303);
    let twice = c.release(&second_hold).await;
    assert_eq!(twice.status, 409);
    let case = c.b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["in-force", "released"]);
    let held = c.b.get("/recordings?held=yes").await;
    let id = &c.id;
    assert!(held.body.contains(&format!("data-recording=\"{id}\"")));
}

/// The export: a one-time passphrase on the page (a new one each time),
/// bad and forged forms refused, and the package downloads and verifies.
#[tokio::test]
async fn a_case_is_exported_from_its_page_with_a_one_time_passphrase() {
    let mut c = Cases::approved().await;
    let case = c.b.get("/cases/K-17").await;
    assert!(case.body.contains("id=\"export\""), "{}", case.body);
    let passphrase = export_passphrase(&case);
    assert_eq!(passphrase.len(), 29, "{passphrase}");
    assert_ne!(
        passphrase,
        c.passphrase().await,
        "a new passphrase for every page"
    );
    for (fields, code, page) in c.bad_exports(&passphrase).await {
        assert_eq!(page.status, 400, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            page.body
        );
    }
    let forged = c.forged_export(&passphrase).await;
    assert_eq!(forged.status, 403);
    let download = c.export(&passphrase).await;
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(download
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"custos-export-K-17-"));
    let contents = unpacked(&download.raw, &passphrase);
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    let r = &c.r;
    assert!(contents
        .files
        .contains_key(&format!("recordings/cam-a-{:06}/video.mp4", r.sequence)));
}

/// Closing releases what is left; the forms are gone, a late hold is
/// refused, and the case is listed among the closed ones.
#[tokio::test]
async fn closing_a_case_releases_what_is_left_and_takes_its_forms_away() {
    let mut c = Cases::exported().await;
    let closed = c.form("/cases/K-17/close", &[]).await;
    assert_eq!(closed.status, 303);
    let case = c.b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["released", "released"]);
    assert!(
        !case.body.contains("id=\"add-recording\"")
            && !case.body.contains("id=\"close-case\"")
            && !case.body.contains("id=\"export\"")
    );
    let late = c.late_hold().await;
    assert_eq!(late.status, 409);
    assert!(late.body.contains("data-error=\"error-case-closed\""));
    let list = c.b.get("/cases").await;
    assert_eq!(data_values(&list, "case"), ["K-17"]);
    assert!(list.body.contains("id=\"closed-cases\""));
}

/// Every step on the case pages is the API's audit entry, under the API's
/// action names, refusals included.
#[tokio::test]
async fn every_step_on_the_case_pages_is_the_apis_audit_entry() {
    let c = Cases::whole_story().await;
    let entries = audit_actions(&c.w).await;
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome && e["case"] == "K-17")
            .count()
    };
    assert_eq!(count("case.open", "ok"), 1);
    assert_eq!(count("hold.place", "ok"), 2);
    assert_eq!(count("hold.approve", "ok"), 1);
    assert_eq!(count("hold.release", "ok"), 2);
    assert_eq!(count("case.close", "ok"), 1);
    assert_eq!(count("export.create", "ok"), 1);
    assert_eq!(count("export.create", "refused"), 3);
    assert_eq!(count("recording.export", "ok"), 1);
    assert!(entries.iter().any(|e| e["action"] == "hold.approve"
        && e["outcome"] == "refused"
        && e["actor"] == "user:rita"));
}

/// Neither an admin nor an auditor works on cases.
#[tokio::test]
async fn neither_an_admin_nor_an_auditor_works_on_cases() {
    let w = world_with(holds_need_a_second_approver()).await;
    for (name, role) in [("adam", "admin"), ("aude", "auditor")] {
        let who = w.add_user(name, role, None).await;
        let mut x = Browser::new(&w, "en");
        x.sign_in(&w, &who).await;
        let page = x.get("/cases").await;
        assert_eq!(page.status, 403, "{role}");
        assert!(!page.body.contains("data-nav=\"cases\""));
    }
}

/// A deployment where an export needs a second approver, with a recording
/// (cam-e) held for a case of rita's (`here` is its page); rita, a
/// reviewer, signed in in her browser (in Dutch) on that page (`page`),
/// whose forms carry `csrf`; petra, a privacy officer, not signed in yet.
struct FourEyes {
    w: World,
    petra: Account,
    b: Browser,
    here: String,
    page: Page,
    csrf: String,
}

async fn four_eyes() -> FourEyes {
    let w = world_with(custos_access::Policy {
        export_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let (rita, case) = rita_holds_a_recording(&w, "cam-e", "export with four eyes").await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let here = format!("/cases/{case}");
    let mut b = Browser::new(&w, "nl");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let page = b.get(&here).await;
    let csrf = Browser::csrf(&page);
    FourEyes {
        w,
        petra,
        b,
        here,
        page,
        csrf,
    }
}

impl FourEyes {
    /// Rita asked for an export: the request's id.
    async fn asked() -> (Self, String) {
        let mut f = four_eyes().await;
        let asked = f.ask().await;
        assert_eq!(asked.status, 303, "{}", asked.body);
        let page = f.b.get(&f.here).await;
        let request_id = data_values(&page, "export-request").remove(0);
        (f, request_id)
    }

    /// … and petra approved it.
    async fn approved() -> (Self, String) {
        let (f, request_id) = Self::asked().await;
        let mut p = f.petra().await;
        let (_, approved) = approve_export_request(&mut p, &f.here, &request_id).await;
        assert_eq!(approved.status, 303, "{}", approved.body);
        (f, request_id)
    }

    /// An export made at once, without asking.
    async fn direct_export(&mut self) -> Page {
        self.b
            .post(
                &format!("{}/export", self.here),
                &[
                    ("csrf", &self.csrf),
                    ("purpose", "complaint"),
                    ("recipient", "OM"),
                    ("passphrase", "ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2"),
                ],
            )
            .await
    }

    async fn ask(&mut self) -> Page {
        self.b
            .post(
                &format!("{}/export-requests", self.here),
                &[
                    ("csrf", &self.csrf),
                    ("purpose", "complaint"),
                    ("recipient", "OM Rotterdam"),
                ],
            )
            .await
    }

    /// Petra signed in, in German.
    async fn petra(&self) -> Browser {
        let mut p = Browser::new(&self.w, "de");
        assert_eq!(p.sign_in(&self.w, &self.petra).await.status, 303);
        p
    }

    /// The approved export made as `request_id` asked, with `passphrase`.
    async fn make(&mut self, request_id: &str, passphrase: &str) -> Page {
        self.b
            .post(
                &format!("{}/export", self.here),
                &[
                    ("csrf", &self.csrf),
                    ("request_id", request_id),
                    ("purpose", "complaint"),
                    ("recipient", "OM Rotterdam"),
                    ("passphrase", passphrase),
                    ("age_recipient", ""),
                ],
            )
            .await
    }
}

/// The case page at `here` as `p` sees it, and `p`'s approval of the
/// export request there.
async fn approve_export_request(p: &mut Browser, here: &str, request_id: &str) -> (Page, Page) {
    let seen = p.get(here).await;
    let approved = p
        .post(
            &format!("/export-requests/{request_id}/approve"),
            &[("csrf", &Browser::csrf(&seen))],
        )
        .await;
    (seen, approved)
}

/// Where an export needs a second person, the case page offers to ask for
/// one, not to make it; the request waits, and its asker cannot approve it.
#[tokio::test]
async fn an_export_needing_approval_is_asked_for_on_the_case_page_not_made_at_once() {
    let mut f = four_eyes().await;
    let page = &f.page;
    assert!(page.body.contains("id=\"ask-export\""), "{}", page.body);
    assert!(!page.body.contains("id=\"export\""), "no direct export");
    let direct = f.direct_export().await;
    assert_eq!(direct.status, 409);
    assert!(direct
        .body
        .contains("data-error=\"error-approval-required\""));
    let asked = f.ask().await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let page = f.b.get(&f.here).await;
    assert_eq!(
        data_values(&page, "state").last().map(String::as_str),
        Some("pending")
    );
    let request_id = data_values(&page, "export-request").remove(0);
    assert!(!page
        .body
        .contains(&format!("/export-requests/{request_id}/approve")));
}

/// A colleague approves the request from the case page; only the
/// requester is then offered to make the export.
#[tokio::test]
async fn a_colleague_approves_an_asked_export_and_only_the_requester_may_make_it() {
    let (f, request_id) = FourEyes::asked().await;
    let here = &f.here;
    let mut p = f.petra().await;
    let (seen, approved) = approve_export_request(&mut p, here, &request_id).await;
    assert!(seen
        .body
        .contains(&format!("/export-requests/{request_id}/approve")));
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (303, Some(here.as_str()))
    );
    assert!(
        !p.get(here)
            .await
            .body
            .contains(&format!("id=\"make-{request_id}\"")),
        "only the requester makes it"
    );
}

/// The requester makes the approved export once: it verifies, names its
/// approver, and its report is in the reviewer's language and the
/// deployment's time zone.
#[tokio::test]
async fn the_approved_export_is_made_once_in_the_reviewers_language_and_time_zone() {
    let (mut f, request_id) = FourEyes::approved().await;
    let page = f.b.get(&f.here).await;
    assert!(
        page.body.contains(&format!("id=\"make-{request_id}\"")),
        "{}",
        page.body
    );
    let passphrase = export_passphrase(&page);
    let download = f.make(&request_id, &passphrase).await;
    assert_eq!(download.status, 200, "{}", download.body);
    let contents = unpacked(&download.raw, &passphrase);
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    let description: serde_json::Value =
        serde_json::from_slice(contents.bytes("export.json").unwrap()).unwrap();
    assert_eq!(description["approved_by"], "petra");
    // The report is in the reviewer's language (rita works in Dutch).
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(
        report.contains("<html lang=\"nl\">") && report.contains("Rapport bewijsketen"),
        "{report}"
    );
    assert!(report.contains("goedgekeurd door petra"), "{report}");
    // … and the deployment's time zone, with the offset.
    assert!(
        report.contains("Alle tijden: Europe/Amsterdam."),
        "{report}"
    );
    assert!(
        report.contains(" CET (+01:00)") || report.contains(" CEST (+02:00)"),
        "{report}"
    );
    let page = f.b.get(&f.here).await;
    assert_eq!(
        data_values(&page, "state").last().map(String::as_str),
        Some("used")
    );
    assert!(!page.body.contains(&format!("id=\"make-{request_id}\"")));
}

/// A recording (cam-k) held for a case of rita's (`here` is its page);
/// rita, a reviewer, signed in in her browser (in German) on that page
/// (`page`), whose export form carries `csrf` and offers `passphrase`.
struct LinkExport {
    w: World,
    b: Browser,
    here: String,
    page: Page,
    csrf: String,
    passphrase: String,
}

async fn link_export() -> LinkExport {
    let w = world().await;
    let (rita, case) = rita_holds_a_recording(&w, "cam-k", "export by link").await;
    let here = format!("/cases/{case}");
    let mut b = Browser::new(&w, "de");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let page = b.get(&here).await;
    let csrf = Browser::csrf(&page);
    let passphrase = export_passphrase(&page);
    LinkExport {
        w,
        b,
        here,
        page,
        csrf,
        passphrase,
    }
}

/// The page a made link is shown on, its `/` unescaped, and the link.
fn shown_link(made: &Page) -> (String, String) {
    let unescaped = made.body.replace("&#x2f;", "/");
    let url = {
        let at = unescaped.find("id=\"link-url\">").unwrap() + 14;
        unescaped[at..at + unescaped[at..].find('<').unwrap()].to_owned()
    };
    (unescaped, url)
}

/// Where the download button on a link's page posts.
fn button_action(landing: &Page) -> String {
    let body = landing.body.replace("&#x2f;", "/");
    let at = body.find("<form method=\"post\" action=\"").unwrap() + 28;
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

impl LinkExport {
    /// A link for one download within 24 hours: the path of its page.
    async fn made() -> (Self, String) {
        let mut l = link_export().await;
        let made = l.link("24", "1").await;
        assert_eq!(made.status, 201, "{}", made.body);
        let (_, url) = shown_link(&made);
        let page_path = url.strip_prefix(&l.w.base()).unwrap().to_owned();
        (l, page_path)
    }

    /// … downloaded by its recipient, who has no account: their browser
    /// (in Dutch) and the link's page.
    async fn downloaded() -> (Self, Browser, String) {
        let (l, page_path) = Self::made().await;
        let mut recipient = Browser::new(&l.w, "nl");
        let landing = recipient.get(&page_path).await;
        let package = recipient.post(&button_action(&landing), &[]).await;
        assert_eq!(package.status, 200);
        (l, recipient, page_path)
    }

    /// Every step of the scenario, in order, as the tests below take them.
    async fn whole_story() -> Self {
        let mut l = link_export().await;
        l.bad_links().await;
        let made = l.link("24", "1").await;
        let (_, url) = shown_link(&made);
        let page_path = url.strip_prefix(&l.w.base()).unwrap().to_owned();
        let mut recipient = Browser::new(&l.w, "nl");
        let landing = recipient.get(&page_path).await;
        recipient.post(&button_action(&landing), &[]).await;
        recipient.get(&page_path).await;
        let page = l.b.get(&l.here).await;
        let link_id = data_values(&page, "export-link").remove(0);
        l.revoke(&link_id, &l.csrf.clone()).await;
        l.b.get(&l.here).await;
        recipient.get(&page_path).await;
        l.revoke(&link_id, "forged").await;
        l
    }

    /// The export form asking for a download link valid `hours`, for
    /// `downloads`.
    async fn link(&mut self, hours: &str, downloads: &str) -> Page {
        let export = format!("{}/export", self.here);
        let form = [
            ("csrf", self.csrf.as_str()),
            ("purpose", "investigation"),
            ("recipient", "Staatsanwaltschaft Münster"),
            ("passphrase", self.passphrase.as_str()),
            ("age_recipient", ""),
            ("delivery", "link"),
            ("link_hours", hours),
            ("link_downloads", downloads),
        ];
        self.b.post(&export, &form).await
    }

    /// Links with terms out of bounds or missing: each term and the answer.
    async fn bad_links(&mut self) -> Vec<(&'static str, &'static str, Page)> {
        let mut refused = Vec::new();
        for (hours, downloads) in [
            ("0", "3"),
            ("9999", "3"),
            ("24", "0"),
            ("24", "eleven"),
            ("", ""),
        ] {
            let page = self.link(hours, downloads).await;
            refused.push((hours, downloads, page));
        }
        refused
    }

    async fn revoke(&mut self, link_id: &str, csrf: &str) -> Page {
        self.b
            .post(
                &format!("/export-links/{link_id}/revoke"),
                &[("csrf", csrf)],
            )
            .await
    }
}

/// The case page keeps a package for a download link: terms out of bounds
/// are refused; the link and its passphrase are shown once, in German.
#[tokio::test]
async fn an_export_link_is_made_on_the_case_page_and_shown_once_with_its_passphrase() {
    let mut l = link_export().await;
    let page = &l.page;
    assert!(page.body.contains("name=\"delivery\" value=\"link\""));
    assert!(!page.body.contains("id=\"export-links\""), "no links yet");
    for (hours, downloads, refused) in l.bad_links().await {
        assert_eq!(refused.status, 400, "{hours} {downloads}");
        assert!(
            refused.body.contains("data-error=\"error-bad-link\""),
            "{}",
            refused.body
        );
    }
    let made = l.link("24", "1").await;
    assert_eq!(made.status, 201, "{}", made.body);
    let (unescaped, url) = shown_link(&made);
    let page_path = url.strip_prefix(&l.w.base()).unwrap().to_owned();
    assert!(page_path.starts_with("/download/"), "{url}");
    let passphrase = &l.passphrase;
    assert!(unescaped.contains(&format!("id=\"link-passphrase\">{passphrase}<")));
    assert!(made.body.contains("Download-Link erstellt"), "in German");
}

/// The recipient, with no account, opens the link (looking downloads
/// nothing), downloads with the button, and then the link is used up.
#[tokio::test]
async fn the_recipient_opens_the_link_without_an_account_and_downloads_with_the_button() {
    let (l, page_path) = LinkExport::made().await;
    let passphrase = &l.passphrase;
    let mut recipient = Browser::new(&l.w, "nl");
    let landing = recipient.get(&page_path).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("Bewijspakket"), "{}", landing.body);
    let action = button_action(&landing);
    assert!(action.starts_with("/api/v1/downloads/"), "{action}");
    let package = recipient.post(&action, &[]).await;
    assert_eq!(package.status, 200);
    let contents = unpacked(&package.raw, passphrase);
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
    // One download allowed: the page now says it is used up.
    let used = recipient.get(&page_path).await;
    assert_eq!(used.status, 410);
    assert!(used.body.contains("data-state=\"used-up\""));
}

/// The reviewer sees the download counted and revokes the link (not with a
/// forged form); the recipient's page then says revoked.
#[tokio::test]
async fn the_reviewer_sees_the_download_counted_and_revokes_the_link() {
    let (mut l, mut recipient, page_path) = LinkExport::downloaded().await;
    let page = l.b.get(&l.here).await;
    assert_eq!(data_values(&page, "export-link").len(), 1);
    assert!(page.body.contains("1 / 1"), "{}", page.body);
    let link_id = data_values(&page, "export-link").remove(0);
    let csrf = l.csrf.clone();
    let revoked = l.revoke(&link_id, &csrf).await;
    assert_eq!(revoked.status, 303);
    let page = l.b.get(&l.here).await;
    assert!(page.body.contains(&format!(
        "data-export-link=\"{link_id}\" data-state=\"revoked\""
    )));
    assert!(!page
        .body
        .contains(&format!("/export-links/{link_id}/revoke")));
    let gone = recipient.get(&page_path).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("data-state=\"revoked\""));
    let forged = l.revoke(&link_id, "forged").await;
    assert_eq!(forged.status, 403);
}

/// Making, downloading and revoking the link are audited, and each refused
/// set of terms is a refused export.
#[tokio::test]
async fn an_export_links_making_download_revocation_and_refusals_are_audited() {
    let l = LinkExport::whole_story().await;
    let entries = audit_actions(&l.w).await;
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome)
            .count()
    };
    assert_eq!(count("export-link.create", "ok"), 1);
    assert_eq!(count("export.download", "ok"), 1);
    assert_eq!(count("export-link.revoke", "ok"), 1);
    assert_eq!(count("export.create", "refused"), 5);
}
