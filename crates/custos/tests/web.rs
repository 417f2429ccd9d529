//! The web UI over real HTTPS, as a browser uses it: forms, cookies,
//! redirects. Every page is answered by the same operations as the API, so
//! these tests check what the pages show and refuse; the audit log is read
//! back to see that the UI's actions are in it.

mod common;

use common::*;

/// An HTTP answer that does not follow redirects.
struct Page {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
    headers: Vec<(String, String)>,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, needle: &str) -> usize {
        self.body.matches(needle).count()
    }
}

/// A browser: a cookie jar (session, language) and a language preference.
struct Browser {
    base: String,
    agent: ureq::Agent,
    jar: Vec<(String, String)>,
    accept_language: String,
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Browser {
    fn new(w: &World, lang: &str) -> Self {
        Self {
            base: w.base(),
            agent: agent_with_redirects(w, 0),
            jar: Vec::new(),
            accept_language: lang.into(),
        }
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        form: Option<String>,
        extra: &[(&str, &str)],
    ) -> Page {
        let agent = self.agent.clone();
        let url = format!("{}{path}", self.base);
        let cookie = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("accept-language", &self.accept_language);
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        if method == "POST" && extra.is_empty() {
            // What a browser sends with a form of the same site.
            request = request
                .header("origin", &self.base)
                .header("sec-fetch-site", "same-origin");
        }
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        let page = tokio::task::spawn_blocking(move || {
            let response = match form {
                Some(body) => agent.run(
                    request
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body.into_bytes())
                        .unwrap(),
                ),
                None => agent.run(request.body(()).unwrap()),
            };
            let mut response = response.unwrap();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            Page {
                status: response.status().as_u16(),
                location: response
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap().to_owned()),
                cookies: response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect(),
                body: String::from_utf8_lossy(
                    &response.body_mut().read_to_vec().unwrap_or_default(),
                )
                .into_owned(),
                headers,
            }
        })
        .await
        .unwrap();
        for c in &page.cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.jar.retain(|(name, _)| name != k);
            if !c.contains("Max-Age=0") {
                self.jar.push((k.to_owned(), v.to_owned()));
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, None, &[]).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.request("POST", path, Some(form_encode(fields)), &[])
            .await
    }

    /// The CSRF token the page's forms carry.
    fn csrf(page: &Page) -> String {
        let at = page
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with csrf");
        let rest = &page.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    async fn sign_in(&mut self, w: &World, a: &Account) -> Page {
        w.clock_offset
            .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
        let code = custos_server::auth::totp_code(&a.secret, w.now()).unwrap();
        self.post(
            "/login",
            &[
                ("name", &a.name),
                ("password", &a.password),
                ("code", &code),
                ("next", "/recordings"),
            ],
        )
        .await
    }
}

async fn open_case(w: &World, token: &str, label: &str) -> String {
    let answer = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(token),
            Some(serde_json::json!({"kind": "complaint", "label": label})),
            &[],
        )
        .await;
    answer.json()["case_id"].as_str().unwrap().to_owned()
}

async fn audit_actions(w: &World) -> Vec<serde_json::Value> {
    w.server
        .deployment
        .catalog
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_slice(&e.bytes).unwrap())
        .collect()
}

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
        "custos_session=",
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
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/recordings"))
    );
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

#[tokio::test]
async fn the_recordings_list_filters_and_pages_and_a_recording_shows_its_trail() {
    let w = world().await;
    let first = w.one_recording("cam-a", 20).await;
    let second = w.one_recording("cam-b", 20).await;
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let mut b = Browser::new(&w, "en-GB,en;q=0.9");
    assert_eq!(b.sign_in(&w, &reviewer).await.status, 303);

    let all = b.get("/recordings").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.count("<tr data-recording="), 2);
    assert!(all.body.contains("Recordings 1–2 of 2."), "{}", all.body);
    // Both listed (their order is the catalog story's to test), both playable for a reviewer.
    assert!(all.body.contains(&second.recording_id.to_string()));
    assert!(all.body.contains(&first.recording_id.to_string()));
    assert_eq!(all.count("class=\"button play\""), 2);

    let only_b = b.get("/recordings?camera=cam-b").await;
    assert_eq!(only_b.count("<tr data-recording="), 1);
    assert!(only_b.body.contains(&second.recording_id.to_string()));
    assert!(
        only_b.body.contains("value=\"cam-b\""),
        "the filter stays filled in"
    );
    let none = b.get("/recordings?status=stored-truncated").await;
    assert_eq!(none.count("<tr data-recording="), 0);
    assert!(none.body.contains("No recordings match."));
    let held = b.get("/recordings?held=yes").await;
    assert_eq!(held.count("<tr data-recording="), 0);
    let due = b.get("/recordings?due=7d").await;
    assert_eq!(due.count("<tr data-recording="), 0, "28 days to go");
    let today = b.get("/recordings?from=2020-01-01&to=2099-12-31").await;
    assert_eq!(today.count("<tr data-recording="), 2);
    let past = b.get("/recordings?to=2020-01-01").await;
    assert_eq!(past.count("<tr data-recording="), 0);
    // Garbage in a filter: named, nothing listed, nothing lost.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("due=forever", "due"),
        ("page=0", "page"),
        ("status=%00", "status"),
    ] {
        let page = b.get(&format!("/recordings?{query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(
            page.body
                .contains(&format!("data-error=\"filter-{field}\"")),
            "{query}"
        );
    }
    // Beyond the last page: an empty page, not an error.
    let far = b.get("/recordings?page=9").await;
    assert_eq!((far.status, far.count("<tr data-recording=")), (200, 0));

    // A recording's page: metadata, integrity, deletion, and its trail.
    let id = first.recording_id.to_string();
    let page = b.get(&format!("/recordings/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&hex_of(&first.ciphertext_sha256)));
    assert!(page.body.contains("cam-a"));
    let deletion = &page.body[page.body.find("id=\"deletion\"").unwrap()..][..200];
    let left = |now: custos_format::UtcMillis| {
        let hours = (first.delete_after.as_millis() - now.as_millis()) / 3_600_000;
        format!("in {} days, {} h", hours / 24, hours % 24)
    };
    assert!(
        deletion.contains(&left(w.now())),
        "time left: {deletion} vs {}",
        left(w.now())
    );
    assert!(page.body.contains("id=\"trail\""));
    // The trail shows the reads before this one: ingest, then this page's metadata read.
    assert!(
        page.body.contains("<code>recording.metadata</code>"),
        "{}",
        page.body
    );
    for bad in ["not-a-uuid", "0190f0c4-0000-7000-8000-000000000001"] {
        let page = b.get(&format!("/recordings/{bad}")).await;
        assert_eq!(page.status, 404, "{bad}");
        assert!(page.body.contains("data-error=\"error-not-found\""));
    }

    // An officer sees their own recordings only, and no trail.
    let officer = w.add_user("otto", "officer", Some("boa-9")).await;
    let mut o = Browser::new(&w, "en");
    assert_eq!(o.sign_in(&w, &officer).await.status, 303);
    let list = o.get("/recordings").await;
    assert_eq!(list.count("<tr data-recording="), 0, "not their recordings");
    assert_eq!(list.count("class=\"button play\""), 0);
    let page = o.get(&format!("/recordings/{id}")).await;
    assert_eq!(page.status, 404);
}

/// What a browser reads from an attribute the templates escaped.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn hex_of(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_player_asks_for_a_purpose_and_a_case_before_any_footage() {
    let w = world().await;
    let r = w.one_recording("cam-a", 20).await;
    let id = r.recording_id.to_string();
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&reviewer).await;
    let case = open_case(&w, &token, "complaint 17").await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &reviewer).await.status, 303);

    let ask = b.get(&format!("/recordings/{id}/play")).await;
    assert_eq!(ask.status, 200);
    assert!(!ask.body.contains("<video"), "no footage before a purpose");
    assert!(ask.body.contains("name=\"purpose\" value=\"complaint\""));
    assert!(
        ask.body.contains(&format!("<option value=\"{case}\"")),
        "open cases offered"
    );

    for (query, code) in [
        ("purpose=complaint".to_owned(), "error-purpose-required"),
        (format!("case={case}"), "error-purpose-required"),
        (
            format!("purpose=curiosity&case={case}"),
            "error-purpose-not-allowed",
        ),
        (
            "purpose=complaint&case=no-such-case".to_owned(),
            "error-case-unknown",
        ),
    ] {
        let page = b.get(&format!("/recordings/{id}/play?{query}")).await;
        assert_eq!(page.status, 403, "{query}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{query}: {}",
            page.body
        );
        assert!(!page.body.contains("<video"), "{query}");
    }
    let before = audit_actions(&w).await;
    assert!(before.iter().all(|e| e["action"] != "recording.play"));
    let refused = before
        .iter()
        .filter(|e| e["action"] == "recording.player" && e["outcome"] == "refused")
        .count();
    assert_eq!(refused, 4, "every refused attempt is in the audit log");

    let player = b
        .get(&format!(
            "/recordings/{id}/play?purpose=complaint&case={case}"
        ))
        .await;
    assert_eq!(player.status, 200, "{}", player.body);
    let src = format!("/api/v1/recordings/{id}/video?purpose=complaint&case={case}");
    assert!(
        unescape(&player.body).contains(&format!("src=\"{src}\"")),
        "{}",
        player.body
    );
    let opened = audit_actions(&w).await;
    let entry = opened
        .iter()
        .find(|e| e["action"] == "recording.player" && e["outcome"] == "ok")
        .expect("opening the player is audited");
    assert_eq!(entry["purpose"], "complaint");
    assert_eq!(entry["case"].as_str(), Some(case.as_str()));
    assert_eq!(entry["object"], format!("recording:{id}"));

    // The browser's <video> asks with the session cookie.
    let video = b.get(&src).await;
    assert_eq!(video.status, 200);
    assert_eq!(video.header("content-type"), Some("video/mp4"));
}

#[tokio::test]
async fn an_admin_sees_no_footage_and_the_language_follows_the_choice() {
    let w = world().await;
    let r = w.one_recording("cam-a", 20).await;
    let admin = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &admin).await.status, 303);
    let list = b.get("/recordings").await;
    assert_eq!(list.status, 403);
    assert!(list.body.contains("data-error=\"error-forbidden\""));
    assert!(
        !list.body.contains("data-nav=\"recordings\""),
        "no menu entry either"
    );
    let play = b.get(&format!("/recordings/{}/play", r.recording_id)).await;
    assert_eq!(play.status, 403);
    assert!(!play.body.contains("name=\"purpose\""));
    let video = b
        .get(&format!(
            "/api/v1/recordings/{}/video?purpose=complaint&case=x",
            r.recording_id
        ))
        .await;
    assert_eq!(video.status, 403);

    // The language: the browser's, then the switch's, remembered.
    let mut anon = Browser::new(&w, "de-DE,de;q=0.9,en;q=0.5");
    let login = anon.get("/login").await;
    assert!(login.body.contains("<html lang=\"de\">"));
    assert!(login.body.contains(">Anmelden</button>"));
    let switch = anon.get("/language?set=nl&back=%2Flogin").await;
    assert_eq!(
        (switch.status, switch.location.as_deref()),
        (303, Some("/login"))
    );
    assert!(switch.cookies[0].starts_with("custos_lang=nl"));
    let login = anon.get("/login").await;
    assert!(login.body.contains("<html lang=\"nl\">"));
    assert!(login.body.contains(">Aanmelden</button>"));
    assert!(login.body.contains("Gebruikersnaam"));
    // Only local pages to come back to; only languages we have.
    let away = anon
        .get("/language?set=en&back=https%3A%2F%2Fevil.example%2F")
        .await;
    assert_eq!(away.location.as_deref(), Some("/recordings"));
    for bad in ["/language?set=fr", "/language", "/language?set="] {
        assert_eq!(anon.get(bad).await.status, 400, "{bad}");
    }
    // No browser preference, no cookie: the deployment's default (Dutch).
    let mut plain = Browser::new(&w, "");
    assert!(plain
        .get("/login")
        .await
        .body
        .contains("<html lang=\"nl\">"));
}

/// The UI in Debian's Chromium (playwright-core drives it): sign-in with a
/// TOTP code, the list, a recording, the purpose prompt that blocks the
/// player, playback and seeking, the language switch, the keyboard's first
/// stop, and an administrator who gets no footage. Screenshots of the main
/// pages land in `target/tmp/screenshots/` (the README shows some).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_asks_the_purpose_plays_and_switches_language() {
    let w = world().await;
    let r = w.one_recording("cam-v", 150).await;
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let admin = w.add_user("adam", "admin", None).await;
    let token = w.sign_in(&reviewer).await;
    let case = open_case(&w, &token, "complaint about a stop").await;
    // Codes for the server's (shifted) clock; each person signs in once.
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let code = |a: &Account| custos_server::auth::totp_code(&a.secret, w.now()).unwrap();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/ui.mjs");
    let mut command = std::process::Command::new("node");
    command
        .arg(&script)
        .env("BASE", w.base())
        .env("REVIEWER", &reviewer.name)
        .env("REVIEWER_PASSWORD", &reviewer.password)
        .env("REVIEWER_CODE", code(&reviewer))
        .env("ADMIN", &admin.name)
        .env("ADMIN_PASSWORD", &admin.password)
        .env("ADMIN_CODE", code(&admin))
        .env("RECORDING", r.recording_id.to_string())
        .env("CASE", &case)
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || {
        command
            .output()
            .expect("node must be installed (see .ci/run)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(seen["ok"], true, "{seen}");
    assert_eq!(seen["rita_redirected_to"], "/login");
    assert_eq!(seen["after_sign_in"], "/recordings");
    assert_eq!(seen["rows"], 1);
    assert_eq!(seen["nav_en"], "Recordings");
    assert_eq!(
        seen["detail_path"],
        format!("/recordings/{}", r.recording_id)
    );
    assert_eq!(seen["detail_has_trail"], true);
    assert_eq!(
        seen["video_before_purpose"], 0,
        "no player before a purpose"
    );
    assert_eq!(
        seen["still_asking"], true,
        "the form cannot be sent unanswered"
    );
    assert_eq!(
        seen["player_query"],
        format!("?purpose=complaint&case={case}")
    );
    let played = &seen["played"];
    assert!(
        (played["duration"].as_f64().unwrap() - 5.0).abs() < 0.2,
        "{seen}"
    );
    assert!(
        played["advanced"].as_f64().unwrap() > 0.2,
        "currentTime advances: {seen}"
    );
    assert!(
        (played["seekedTo"].as_f64().unwrap() - played["target"].as_f64().unwrap()).abs() < 0.1,
        "{seen}"
    );
    assert_eq!(seen["lang_nl"], "nl");
    assert_eq!(seen["nav_nl"], "Opnamen");
    assert_eq!(seen["nav_de"], "Aufnahmen");
    assert_eq!(seen["first_tab"], "skip");
    assert_eq!(seen["admin_status_text"], "error-forbidden");
    assert_eq!(seen["admin_play_buttons"], 0);
    assert_eq!(seen["admin_video_status"], 403);
    for name in [
        "login-en",
        "recordings-en",
        "recording-en",
        "purpose-en",
        "player-en",
        "recordings-nl",
        "recording-de",
        "admin-refused-en",
    ] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}");
    }
    // The whole visit is in the audit log: the player opened with its purpose, then plays.
    let entries = audit_actions(&w).await;
    let opened = entries
        .iter()
        .position(|e| e["action"] == "recording.player" && e["outcome"] == "ok")
        .expect("player audited");
    assert_eq!(entries[opened]["purpose"], "complaint");
    assert!(entries[opened..]
        .iter()
        .any(|e| e["action"] == "recording.play" && e["outcome"] == "ok"));
}
