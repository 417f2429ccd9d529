//! Signing in, the initial password, accounts and their activation.

use super::*;

#[tokio::test]
async fn sign_in_with_totp_then_replace_the_initial_password_then_sign_out() {
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
    let mut b = Browser::new(&w, "en");

    // No session: to the sign-in page, and back after.
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

    // A wrong code, a wrong password, garbage: the same answer, no session.
    let good_code = custos_server::auth::totp_code(&initial.secret, w.now()).unwrap();
    let wrong_code = format!("{:06}", (good_code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for (password, code) in [
        (initial.password.as_str(), wrong_code.as_str()),
        ("not the password", good_code.as_str()),
        ("", ""),
    ] {
        let page = b
            .post(
                "/login",
                &[("name", "anna"), ("password", password), ("code", code)],
            )
            .await;
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(page.body.contains("data-error=\"error-bad-credentials\""));
        assert!(page.cookies.is_empty());
        assert!(
            page.body.contains("value=\"anna\""),
            "the name stays filled in"
        );
    }
    let page = b.request("POST", "/login", Some("%%%".into()), &[]).await;
    assert_eq!(page.status, 400);
    let page = b
        .request("POST", "/login", Some("name=anna".into()), &[])
        .await;
    assert_eq!(page.status, 400, "a truncated form");

    // A sign-in form posted from another site is refused before anything.
    let page = b
        .request(
            "POST",
            "/login",
            Some(form_encode(&[
                ("name", "anna"),
                ("password", &initial.password),
                ("code", &good_code),
            ])),
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.cookies.is_empty());

    // The right name, password and code: a session, but first a new password.
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
    let form = b.get("/password").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("role=\"status\""), "says why");
    let csrf = Browser::csrf(&form);

    let renewed = "a long and private passphrase";
    for (fields, status, error) in [
        (
            vec![
                ("csrf", "forged"),
                ("current", initial.password.as_str()),
                ("new", renewed),
                ("repeat", renewed),
            ],
            403,
            "error-csrf",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("current", initial.password.as_str()),
                ("new", renewed),
                ("repeat", "something else entirely"),
            ],
            400,
            "error-password-mismatch",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("current", initial.password.as_str()),
                ("new", "short"),
                ("repeat", "short"),
            ],
            400,
            "error-password-rules",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("current", "wrong current one"),
                ("new", renewed),
                ("repeat", renewed),
            ],
            401,
            "error-current-password",
        ),
    ] {
        let page = b.post("/password", &fields).await;
        assert_eq!(page.status, status, "{error}: {}", page.body);
        assert!(
            page.body.contains(&format!("data-error=\"{error}\"")),
            "{error}"
        );
    }
    let page = b
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", &initial.password),
                ("new", renewed),
                ("repeat", renewed),
            ],
        )
        .await;
    // To the start page, which sends each role where it begins.
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

    // Signing out ends the session on the server, not only in the browser.
    let stolen = b.jar.clone();
    let csrf = Browser::csrf(&list);
    let page = b.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(page.status, 403, "{:?} {}", page.location, page.body);
    let page = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/login"))
    );
    b.jar = stolen;
    let page = b.get("/recordings").await;
    assert_eq!(page.status, 303, "the old cookie no longer works");

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

/// An account that can see footage, in the browser: the admin asks, the
/// privacy officer approves and hands over a link, the person chooses their
/// own password on it and gets their own authenticator secret. The admin's
/// pages never show a credential of it.
#[tokio::test]
async fn a_reviewer_account_is_approved_by_the_privacy_officer_and_activated_by_its_person() {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &adam).await.status, 303);
    let users = b.get("/admin/users").await;
    let csrf = Browser::csrf(&users);
    let asked = b
        .post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "robin"),
                ("role", "reviewer"),
                ("officer_id", ""),
            ],
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert!(asked.body.contains("id=\"awaiting\""));
    assert!(
        !asked.body.contains("data-secret"),
        "no credential for the admin"
    );
    let page = b.get("/admin/users").await;
    assert!(page
        .body
        .contains("data-user=\"robin\" data-state=\"pending\""));
    assert!(
        !page.body.contains("/approve\""),
        "the admin cannot approve"
    );

    let mut p = Browser::new(&w, "nl");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let page = p.get("/admin/users").await;
    assert_eq!(page.status, 200);
    let id = data_values(&page, "activation")[0].clone();
    let csrf = Browser::csrf(&page);
    let forged = p
        .post(
            &format!("/admin/activations/{id}/approve"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let approved = p
        .post(
            &format!("/admin/activations/{id}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.header("cache-control"), Some("no-store"));
    let link = shown_secret(&approved, "link");
    let path = link
        .find("/activate/")
        .map(|at| link[at..].to_owned())
        .expect("a link to this server");

    // The person, without an account yet: the page changes nothing; a weak
    // password is refused with the form again; then their own secret.
    let mut person = Browser::new(&w, "de");
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
        api_sign_in(&w, "robin", "mijn eigen wachtwoord", &secret).await,
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

#[tokio::test]
async fn an_admin_adds_people_resets_their_password_and_authenticator_unlocks_and_disables() {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &adam).await.status, 303);
    assert_eq!(b.get("/").await.location.as_deref(), Some("/admin/users"));
    let users = b.get("/admin/users").await;
    assert_eq!(users.status, 200);
    assert_eq!(data_values(&users, "user"), ["adam"]);
    let csrf = Browser::csrf(&users);

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
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let page = b.post("/admin/users", &all).await;
        assert_eq!(page.status, status, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}"
        );
    }
    let added = b
        .post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "rita"),
                ("role", "auditor"),
                ("officer_id", ""),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.header("cache-control"), Some("no-store"));
    let password = shown_secret(&added, "password");
    let secret = shown_secret(&added, "totp");
    assert!(password.len() >= 20 && secret.len() >= 32);
    let again = b
        .post(
            "/admin/users",
            &[("csrf", &csrf), ("name", "rita"), ("role", "auditor")],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("data-error=\"error-exists\""));
    assert_eq!(api_sign_in(&w, "rita", &password, &secret).await, 200);

    // A new authenticator: the old secret stops working, the new one works.
    let mfa = b
        .post("/admin/users/rita/reset-mfa", &[("csrf", &csrf)])
        .await;
    assert_eq!(mfa.status, 200);
    let new_secret = shown_secret(&mfa, "totp");
    assert_ne!(new_secret, secret);
    assert_eq!(api_sign_in(&w, "rita", &password, &secret).await, 401);
    assert_eq!(api_sign_in(&w, "rita", &password, &new_secret).await, 200);
    // A new password: the old one stops working.
    let reset = b
        .post("/admin/users/rita/reset-password", &[("csrf", &csrf)])
        .await;
    let new_password = shown_secret(&reset, "password");
    assert_eq!(api_sign_in(&w, "rita", &password, &new_secret).await, 401);
    assert_eq!(
        api_sign_in(&w, "rita", &new_password, &new_secret).await,
        200
    );

    // Locked after five failures; the admin unlocks.
    for _ in 0..5 {
        api_sign_in(&w, "rita", "wrong password!", &new_secret).await;
    }
    let page = b.get("/admin/users").await;
    assert!(
        page.body
            .contains("data-user=\"rita\" data-state=\"locked\""),
        "{}",
        page.body
    );
    assert_eq!(
        b.post("/admin/users/rita/unlock", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    assert_eq!(
        api_sign_in(&w, "rita", &new_password, &new_secret).await,
        200
    );

    // Disabled: no more sign-ins; one's own account cannot be disabled.
    assert_eq!(
        b.post("/admin/users/rita/disable", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    let page = b.get("/admin/users").await;
    assert!(page
        .body
        .contains("data-user=\"rita\" data-state=\"disabled\""));
    assert_eq!(
        api_sign_in(&w, "rita", &new_password, &new_secret).await,
        401
    );
    let own = b
        .post("/admin/users/adam/disable", &[("csrf", &csrf)])
        .await;
    assert_eq!(own.status, 409);
    assert!(own.body.contains("data-error=\"error-self\""));
    assert_eq!(
        b.post("/admin/users/nobody/unlock", &[("csrf", &csrf)])
            .await
            .status,
        404
    );
    assert_eq!(
        b.post("/admin/users/rita/unlock", &[("csrf", "forged")])
            .await
            .status,
        403
    );

    let entries = audit_actions(&w).await;
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

    // The privacy officer sees who may sign in, and changes nothing.
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
