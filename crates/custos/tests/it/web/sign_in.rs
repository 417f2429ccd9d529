//! Signing in, the initial password, accounts and their activation.

use super::*;

/// Anna, a reviewer the admin has just added (her initial password and
/// authenticator secret), and a browser of hers that has not signed in.
struct Anna {
    w: World,
    initial: Account,
    b: Browser,
}

/// The password anna chooses for herself.
const RENEWED: &str = "a long and private passphrase";

async fn anna() -> Anna {
    let w = world().await;
    let e = w
        .admin()
        .await
        .add_user("anna", custos_access::Role::Reviewer, None)
        .await
        .unwrap();
    let initial = Account {
        name: "anna".into(),
        password: e.password.to_string(),
        secret: e.totp_secret.to_string(),
    };
    let b = Browser::new(&w, "en");
    Anna { w, initial, b }
}

impl Anna {
    /// Anna signed in with her initial password (and asked for a new one).
    async fn signed_in() -> Self {
        let mut a = anna().await;
        let page = a.sign_in().await;
        assert_eq!(page.status, 303, "{}", page.body);
        a
    }

    /// Anna signed in with her own password: the recording list she lands on.
    async fn renewed() -> (Self, Page) {
        let mut a = Self::signed_in().await;
        let form = a.b.get("/password").await;
        let page = a.renew(&Browser::csrf(&form)).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let list = a.b.get("/recordings").await;
        (a, list)
    }

    /// Every step of the scenario, in order, as the tests below take them.
    async fn whole_story() -> Self {
        let mut a = anna().await;
        a.b.get("/recordings?page=1").await;
        a.bad_sign_ins().await;
        a.garbage_sign_ins().await;
        a.cross_site_sign_in().await;
        a.sign_in().await;
        a.b.get("/recordings").await;
        let form = a.b.get("/password").await;
        let csrf = Browser::csrf(&form);
        a.bad_renewals(&csrf).await;
        a.renew(&csrf).await;
        a.b.get("/").await;
        let list = a.b.get("/recordings").await;
        a.sign_out(&list).await;
        a
    }

    async fn sign_in(&mut self) -> Page {
        self.b.sign_in(&self.w, &self.initial).await
    }

    /// The right TOTP code of now, and a wrong one.
    fn codes(&self) -> (String, String) {
        let good_code = custos_server::auth::totp_code(&self.initial.secret, self.w.now()).unwrap();
        let wrong_code = format!("{:06}", (good_code.parse::<u32>().unwrap() + 1) % 1_000_000);
        (good_code, wrong_code)
    }

    /// A wrong code, a wrong password, nothing: the answers.
    async fn bad_sign_ins(&mut self) -> Vec<Page> {
        let (good_code, wrong_code) = self.codes();
        let mut pages = Vec::new();
        for (password, code) in [
            (self.initial.password.as_str(), wrong_code.as_str()),
            ("not the password", good_code.as_str()),
            ("", ""),
        ] {
            let page = self
                .b
                .post(
                    "/login",
                    &[("name", "anna"), ("password", password), ("code", code)],
                )
                .await;
            pages.push(page);
        }
        pages
    }

    /// Garbage posted as the sign-in form, and a truncated form.
    async fn garbage_sign_ins(&mut self) -> (Page, Page) {
        let garbage = self
            .b
            .request("POST", "/login", Some("%%%".into()), &[])
            .await;
        let truncated = self
            .b
            .request("POST", "/login", Some("name=anna".into()), &[])
            .await;
        (garbage, truncated)
    }

    /// The right name, password and code, posted from another site.
    async fn cross_site_sign_in(&mut self) -> Page {
        let (good_code, _) = self.codes();
        self.b
            .request(
                "POST",
                "/login",
                Some(form_encode(&[
                    ("name", "anna"),
                    ("password", &self.initial.password),
                    ("code", &good_code),
                ])),
                &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site"),
                ],
            )
            .await
    }

    /// Changes of the initial password that must be refused: the status and
    /// error each should get, and the answer.
    async fn bad_renewals(&mut self, csrf: &str) -> Vec<(u16, &'static str, Page)> {
        let initial = self.initial.password.as_str();
        let mut answers = Vec::new();
        for (fields, status, error) in [
            (
                vec![
                    ("csrf", "forged"),
                    ("current", initial),
                    ("new", RENEWED),
                    ("repeat", RENEWED),
                ],
                403,
                "error-csrf",
            ),
            (
                vec![
                    ("csrf", csrf),
                    ("current", initial),
                    ("new", RENEWED),
                    ("repeat", "something else entirely"),
                ],
                400,
                "error-password-mismatch",
            ),
            (
                vec![
                    ("csrf", csrf),
                    ("current", initial),
                    ("new", "short"),
                    ("repeat", "short"),
                ],
                400,
                "error-password-rules",
            ),
            (
                vec![
                    ("csrf", csrf),
                    ("current", "wrong current one"),
                    ("new", RENEWED),
                    ("repeat", RENEWED),
                ],
                401,
                "error-current-password",
            ),
        ] {
            let page = self.b.post("/password", &fields).await;
            answers.push((status, error, page));
        }
        answers
    }

    /// The initial password replaced by anna's own.
    async fn renew(&mut self, csrf: &str) -> Page {
        self.b
            .post(
                "/password",
                &[
                    ("csrf", csrf),
                    ("current", &self.initial.password),
                    ("new", RENEWED),
                    ("repeat", RENEWED),
                ],
            )
            .await
    }

    /// Signing out from `list`, first with a forged form, then the session's
    /// cookie used again: the three answers.
    async fn sign_out(&mut self, list: &Page) -> (Page, Page, Page) {
        let b = &mut self.b;
        let stolen = b.jar.clone();
        let csrf = Browser::csrf(list);
        let forged = b.post("/logout", &[("csrf", "forged")]).await;
        let out = b.post("/logout", &[("csrf", &csrf)]).await;
        b.jar = stolen;
        let again = b.get("/recordings").await;
        (forged, out, again)
    }
}

/// No session: a page sends to the sign-in page, which will send back after.
#[tokio::test]
async fn without_a_session_a_page_sends_to_the_sign_in_page_and_back_after() {
    let Anna { w: _w, mut b, .. } = anna().await;
    let page = b.get("/recordings?page=1").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Frecordings%3Fpage%3D1")
    );
    let page = b.get("/login?next=%2Frecordings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    assert!(page.body.contains("<html lang=\"en\">"));
}

/// A wrong code, a wrong password, garbage: the same answer, no session.
#[tokio::test]
async fn a_wrong_code_a_wrong_password_or_garbage_get_the_same_answer_and_no_session() {
    let mut a = anna().await;
    for page in a.bad_sign_ins().await {
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(page.body.contains("data-error=\"error-bad-credentials\""));
        assert!(page.cookies.is_empty());
        assert!(
            page.body.contains("value=\"anna\""),
            "the name stays filled in"
        );
    }
    let (garbage, truncated) = a.garbage_sign_ins().await;
    assert_eq!(garbage.status, 400);
    assert_eq!(truncated.status, 400, "a truncated form");
}

/// A sign-in form posted from another site is refused before anything.
#[tokio::test]
async fn a_sign_in_form_posted_from_another_site_is_refused_before_anything() {
    let mut a = anna().await;
    let page = a.cross_site_sign_in().await;
    assert_eq!(page.status, 403);
    assert!(page.cookies.is_empty());
}

/// The right name, password and code: a strict session cookie, but every
/// page asks for a new password first.
#[tokio::test]
async fn the_right_name_password_and_code_give_a_strict_session_but_first_a_new_password() {
    let Anna { w, initial, mut b } = anna().await;
    let page = b.sign_in(&w, &initial).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/password"));
    let cookie = &page.cookies[0];
    for attribute in [
        "__Host-custos_session=",
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let page = b.get("/recordings").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/password"))
    );
}

/// The form replacing the initial password refuses a forged form, a
/// mismatch, a weak and a wrong current password; the right change leads to
/// the start page, which sends a reviewer to a list sent with the security
/// headers and never cached.
#[tokio::test]
async fn the_initial_password_is_replaced_on_its_form_which_refuses_bad_changes() {
    let mut a = Anna::signed_in().await;
    let form = a.b.get("/password").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("role=\"status\""), "says why");
    let csrf = Browser::csrf(&form);
    for (status, error, page) in a.bad_renewals(&csrf).await {
        assert_eq!(page.status, status, "{error}: {}", page.body);
        assert!(
            page.body.contains(&format!("data-error=\"{error}\"")),
            "{error}"
        );
    }
    let page = a.renew(&csrf).await;
    // To the start page, which sends each role where it begins.
    let b = &mut a.b;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/")));
    assert_eq!(b.get("/").await.location.as_deref(), Some("/recordings"));
    let list = b.get("/recordings").await;
    assert_eq!(list.status, 200, "{}", list.body);
    for header in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(list.header(header).is_some(), "{header}");
    }
    assert_eq!(list.header("cache-control"), Some("no-store"));
}

/// Signing out ends the session on the server, not only in the browser.
#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_not_only_in_the_browser() {
    let (mut a, list) = Anna::renewed().await;
    let (forged, out, again) = a.sign_out(&list).await;
    assert_eq!(forged.status, 403, "{:?} {}", forged.location, forged.body);
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert_eq!(again.status, 303, "the old cookie no longer works");
}

/// Refused and good sign-ins, the new password, the list and the sign-out
/// are each in the audit log under anna.
#[tokio::test]
async fn signing_in_replacing_the_password_and_signing_out_are_in_the_audit_log() {
    let Anna { w, .. } = Anna::whole_story().await;
    let actions: Vec<String> = audit_actions(&w)
        .await
        .iter()
        .filter(|e| e["actor"] == "user:anna" || e["object"] == "user:anna")
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "session.sign-in refused",
        "session.sign-in ok",
        "user.password-change ok",
        "recordings.list ok",
        "session.sign-out ok",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} not in {actions:?}"
        );
    }
}

/// An admin (adam), signed in in his browser, and a privacy officer
/// (petra) who is not yet. An account that can see footage, in the
/// browser: the admin asks, the privacy officer approves and hands over a
/// link, the person chooses their own password on it and gets their own
/// authenticator secret. The admin's pages never show a credential of it.
struct Activation {
    w: World,
    petra: Account,
    b: Browser,
}

async fn activation() -> Activation {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &adam).await.status, 303);
    Activation { w, petra, b }
}

impl Activation {
    /// The admin asks for robin, a reviewer, on the user list: the answer.
    async fn ask_for_robin(&mut self) -> Page {
        let users = self.b.get("/admin/users").await;
        let csrf = Browser::csrf(&users);
        self.b
            .post(
                "/admin/users",
                &[
                    ("csrf", &csrf),
                    ("name", "robin"),
                    ("role", "reviewer"),
                    ("officer_id", ""),
                ],
            )
            .await
    }

    /// Petra signed in, in Dutch, and the user list she sees.
    async fn petra(&self) -> (Browser, Page) {
        let mut p = Browser::new(&self.w, "nl");
        assert_eq!(p.sign_in(&self.w, &self.petra).await.status, 303);
        let page = p.get("/admin/users").await;
        (p, page)
    }

    /// Robin asked for and approved by petra: her browser and the path of
    /// the activation link she was shown.
    async fn approved() -> (Self, Browser, String) {
        let mut a = activation().await;
        assert_eq!(a.ask_for_robin().await.status, 202);
        let (mut p, page) = a.petra().await;
        let (_, approved) = approve_first_activation(&mut p, &page).await;
        assert_eq!(approved.status, 200, "{}", approved.body);
        let path = activation_path(&approved);
        (a, p, path)
    }
}

/// The first activation on the user list `page` approved, first with a
/// forged form: both answers.
async fn approve_first_activation(p: &mut Browser, page: &Page) -> (Page, Page) {
    let id = data_values(page, "activation")[0].clone();
    let csrf = Browser::csrf(page);
    let forged = p
        .post(
            &format!("/admin/activations/{id}/approve"),
            &[("csrf", "forged")],
        )
        .await;
    let approved = p
        .post(
            &format!("/admin/activations/{id}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    (forged, approved)
}

/// The path of the activation link an approval shows, on this server.
fn activation_path(approved: &Page) -> String {
    let link = shown_secret(approved, "link");
    link.find("/activate/")
        .map(|at| link[at..].to_owned())
        .expect("a link to this server")
}

/// The admin asks for a reviewer: the request waits, the admin is shown no
/// credential of it and is offered no approval.
#[tokio::test]
async fn an_admin_asks_for_a_reviewer_account_and_is_shown_no_credential_and_no_approval() {
    let mut a = activation().await;
    let asked = a.ask_for_robin().await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert!(asked.body.contains("id=\"awaiting\""));
    assert!(
        !asked.body.contains("data-secret"),
        "no credential for the admin"
    );
    let page = a.b.get("/admin/users").await;
    assert!(page
        .body
        .contains("data-user=\"robin\" data-state=\"pending\""));
    assert!(
        !page.body.contains("/approve\""),
        "the admin cannot approve"
    );
}

/// The privacy officer approves the asked account (a forged form is
/// refused) and is shown its one-time activation link, never cached.
#[tokio::test]
async fn the_privacy_officer_approves_a_reviewer_account_and_is_shown_its_activation_link() {
    let mut a = activation().await;
    assert_eq!(a.ask_for_robin().await.status, 202);
    let (mut p, page) = a.petra().await;
    assert_eq!(page.status, 200);
    let (forged, approved) = approve_first_activation(&mut p, &page).await;
    assert_eq!(forged.status, 403);
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.header("cache-control"), Some("no-store"));
    // A link to this server (or the path's `expect` fails).
    activation_path(&approved);
}

/// The person, without an account yet: the link's page changes nothing; a
/// weak password is refused with the form again; then their own secret,
/// with which they sign in; the link works once.
#[tokio::test]
async fn the_person_chooses_their_own_password_on_the_activation_link_which_works_once() {
    let (a, mut p, path) = Activation::approved().await;
    let w = &a.w;
    let mut person = Browser::new(w, "de");
    let form = person.get(&path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("id=\"activate\"") && form.body.contains("robin"));
    let weak = person.post(&path, &[("password", "robin12345678")]).await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("id=\"activate\""));
    let done = person
        .post(&path, &[("password", "mijn eigen wachtwoord")])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let secret = shown_secret(&done, "totp");
    assert_eq!(
        api_sign_in(w, "robin", "mijn eigen wachtwoord", &secret).await,
        200
    );
    let gone = person.get(&path).await;
    assert_eq!(gone.status, 404, "a link works once");
    assert!(!gone.body.contains("id=\"activate\""));
    let page = p.get("/admin/users").await;
    assert!(page
        .body
        .contains("data-user=\"robin\" data-state=\"activated\""));
}

/// An admin (adam) signed in in his browser on the user list, where the
/// list's forms carry `csrf`.
struct Users {
    w: World,
    b: Browser,
    csrf: String,
}

/// A form's fields, without its CSRF token.
type Form = Vec<(&'static str, &'static str)>;

/// Rita's credentials as the admin's pages showed them.
struct Rita {
    password: String,
    secret: String,
}

async fn users() -> Users {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &adam).await.status, 303);
    Users {
        w,
        b,
        csrf: String::new(),
    }
}

impl Users {
    /// The user list, whose CSRF token the fixture keeps.
    async fn list(&mut self) -> Page {
        let users = self.b.get("/admin/users").await;
        self.csrf = Browser::csrf(&users);
        users
    }

    /// A form with the list's CSRF token posted to `path`.
    async fn act(&mut self, path: &str) -> Page {
        self.b.post(path, &[("csrf", &self.csrf)]).await
    }

    /// Rita, an auditor, added: her credentials shown once.
    async fn with_rita() -> (Self, Rita) {
        let mut u = users().await;
        u.list().await;
        let added = u.add_rita().await;
        assert_eq!(added.status, 200, "{}", added.body);
        let rita = Rita {
            password: shown_secret(&added, "password"),
            secret: shown_secret(&added, "totp"),
        };
        (u, rita)
    }

    /// Rita added, then her authenticator and her password reset: her new
    /// credentials.
    async fn with_rita_reset() -> (Self, Rita) {
        let (mut u, _) = Self::with_rita().await;
        let mfa = u.act("/admin/users/rita/reset-mfa").await;
        assert_eq!(mfa.status, 200);
        let reset = u.act("/admin/users/rita/reset-password").await;
        let rita = Rita {
            password: shown_secret(&reset, "password"),
            secret: shown_secret(&mfa, "totp"),
        };
        (u, rita)
    }

    /// Every step of the scenario after the resets, in order: rita locked
    /// out and unlocked, disabled; the refused actions.
    async fn whole_story() -> Self {
        let (mut u, rita) = Self::with_rita_reset().await;
        u.lock_out(&rita).await;
        u.list().await;
        u.act("/admin/users/rita/unlock").await;
        api_sign_in(&u.w, "rita", &rita.password, &rita.secret).await;
        u.act("/admin/users/rita/disable").await;
        u.b.get("/admin/users").await;
        api_sign_in(&u.w, "rita", &rita.password, &rita.secret).await;
        u.act("/admin/users/adam/disable").await;
        u.act("/admin/users/nobody/unlock").await;
        u.b.post("/admin/users/rita/unlock", &[("csrf", "forged")])
            .await;
        u
    }

    /// Additions the form refuses: each form, the status and error it
    /// should get, and the answer.
    async fn bad_additions(&mut self) -> Vec<(Form, u16, &'static str, Page)> {
        let mut answers = Vec::new();
        for (fields, status, code) in [
            (
                vec![("name", "Has Space"), ("role", "reviewer")],
                400,
                "error-invalid",
            ),
            (
                vec![("name", "olga"), ("role", "officer")],
                400,
                "error-invalid",
            ),
            (
                vec![("name", "x"), ("role", "superuser")],
                400,
                "error-invalid",
            ),
        ] {
            let mut all = vec![("csrf", self.csrf.as_str())];
            all.extend(fields.iter().copied());
            let page = self.b.post("/admin/users", &all).await;
            answers.push((fields, status, code, page));
        }
        answers
    }

    async fn add_rita(&mut self) -> Page {
        self.b
            .post(
                "/admin/users",
                &[
                    ("csrf", &self.csrf),
                    ("name", "rita"),
                    ("role", "auditor"),
                    ("officer_id", ""),
                ],
            )
            .await
    }

    /// Five sign-ins of rita's with a wrong password.
    async fn lock_out(&self, rita: &Rita) {
        for _ in 0..5 {
            api_sign_in(&self.w, "rita", "wrong password!", &rita.secret).await;
        }
    }
}

/// The admin starts on the user list, adds an auditor (bad forms and a
/// second rita are refused) and is shown her credentials once; they work.
#[tokio::test]
async fn an_admin_adds_a_person_on_the_user_list_and_is_shown_their_credentials_once() {
    let mut u = users().await;
    assert_eq!(u.b.get("/").await.location.as_deref(), Some("/admin/users"));
    let users = u.list().await;
    assert_eq!(users.status, 200);
    assert_eq!(data_values(&users, "user"), ["adam"]);
    for (fields, status, code, page) in u.bad_additions().await {
        assert_eq!(page.status, status, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}"
        );
    }
    let added = u.add_rita().await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.header("cache-control"), Some("no-store"));
    let password = shown_secret(&added, "password");
    let secret = shown_secret(&added, "totp");
    assert!(password.len() >= 20 && secret.len() >= 32);
    let again =
        u.b.post(
            "/admin/users",
            &[("csrf", &u.csrf), ("name", "rita"), ("role", "auditor")],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("data-error=\"error-exists\""));
    let w = &u.w;
    assert_eq!(api_sign_in(w, "rita", &password, &secret).await, 200);
}

/// A new authenticator: the old secret stops working, the new one works.
/// A new password: the old one stops working.
#[tokio::test]
async fn an_admin_resets_an_authenticator_and_a_password_and_only_the_new_ones_work() {
    let (mut u, Rita { password, secret }) = Users::with_rita().await;
    let mfa = u.act("/admin/users/rita/reset-mfa").await;
    let w = &u.w;
    assert_eq!(mfa.status, 200);
    let new_secret = shown_secret(&mfa, "totp");
    assert_ne!(new_secret, secret);
    assert_eq!(api_sign_in(w, "rita", &password, &secret).await, 401);
    assert_eq!(api_sign_in(w, "rita", &password, &new_secret).await, 200);
    let reset = u.act("/admin/users/rita/reset-password").await;
    let w = &u.w;
    let new_password = shown_secret(&reset, "password");
    assert_eq!(api_sign_in(w, "rita", &password, &new_secret).await, 401);
    assert_eq!(
        api_sign_in(w, "rita", &new_password, &new_secret).await,
        200
    );
}

/// Locked after five failures; the admin sees it and unlocks.
#[tokio::test]
async fn an_account_locked_after_five_failures_is_unlocked_by_the_admin() {
    let (mut u, rita) = Users::with_rita_reset().await;
    let Rita {
        password: new_password,
        secret: new_secret,
    } = &rita;
    u.lock_out(&rita).await;
    let page = u.b.get("/admin/users").await;
    assert!(
        page.body
            .contains("data-user=\"rita\" data-state=\"locked\""),
        "{}",
        page.body
    );
    assert_eq!(u.act("/admin/users/rita/unlock").await.status, 303);
    assert_eq!(
        api_sign_in(&u.w, "rita", new_password, new_secret).await,
        200
    );
}

/// Disabled: no more sign-ins; one's own account cannot be disabled, an
/// unknown one is not found, and a forged form is refused.
#[tokio::test]
async fn a_disabled_account_signs_in_no_more_and_the_admin_cannot_disable_his_own() {
    let (mut u, rita) = Users::with_rita_reset().await;
    let Rita {
        password: new_password,
        secret: new_secret,
    } = &rita;
    assert_eq!(u.act("/admin/users/rita/disable").await.status, 303);
    let page = u.b.get("/admin/users").await;
    assert!(page
        .body
        .contains("data-user=\"rita\" data-state=\"disabled\""));
    assert_eq!(
        api_sign_in(&u.w, "rita", new_password, new_secret).await,
        401
    );
    let own = u.act("/admin/users/adam/disable").await;
    assert_eq!(own.status, 409);
    assert!(own.body.contains("data-error=\"error-self\""));
    assert_eq!(u.act("/admin/users/nobody/unlock").await.status, 404);
    let b = &mut u.b;
    assert_eq!(
        b.post("/admin/users/rita/unlock", &[("csrf", "forged")])
            .await
            .status,
        403
    );
}

/// Each change to rita's account is in the audit log as the admin's, and
/// the refusal to disable his own account too.
#[tokio::test]
async fn the_admins_changes_to_an_account_and_a_refusal_are_in_the_audit_log() {
    let u = Users::whole_story().await;
    let entries = audit_actions(&u.w).await;
    for action in [
        "user.add",
        "user.mfa-reset",
        "user.password-reset",
        "user.unlock",
        "user.disable",
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action
                && e["outcome"] == "ok"
                && e["actor"] == "user:adam"
                && e["object"] == "user:rita"),
            "{action}"
        );
    }
    assert!(entries
        .iter()
        .any(|e| e["action"] == "user.disable" && e["outcome"] == "refused"));
}

/// The privacy officer sees who may sign in, and changes nothing.
#[tokio::test]
async fn the_privacy_officer_sees_the_user_list_and_changes_nothing() {
    let Users { w, .. } = Users::whole_story().await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut p = Browser::new(&w, "en");
    p.sign_in(&w, &petra).await;
    let list = p.get("/admin/users").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("id=\"add-user\"") && !list.body.contains("/disable\""));
    let csrf_p = Browser::csrf(&list);
    let refused = p
        .post(
            "/admin/users",
            &[("csrf", &csrf_p), ("name", "mallory"), ("role", "admin")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(p.get("/admin/devices").await.status, 403);
}
