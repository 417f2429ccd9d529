//! The web UI over real HTTPS, as a browser uses it: forms, cookies,
//! redirects. Every page is answered by the same operations as the API, so
//! these tests check what the pages show and refuse; the audit log is read
//! back to see that the UI's actions are in it.

mod common;

use common::*;

const DAY: i64 = 86_400_000;

/// An HTTP answer that does not follow redirects.
struct Page {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
    /// The body as sent (downloads).
    raw: Vec<u8>,
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
                raw: response
                    .body_mut()
                    .with_config()
                    .limit(1 << 30)
                    .read_to_vec()
                    .unwrap_or_default(),
                body: String::new(),
                headers,
            }
        })
        .await
        .unwrap();
        let mut page = page;
        page.body = String::from_utf8_lossy(&page.raw).into_owned();
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
        ("status=bogus", "status"),
    ] {
        let page = b.get(&format!("/recordings?{query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(
            page.body
                .contains(&format!("data-error=\"filter-{field}\"")),
            "{query}"
        );
    }
    // A control character never reaches the page: refused at the edge.
    let page = b.get("/recordings?status=%00").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("query parameter 1"), "{}", page.body);
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

    // A real case the recording is not attached to: the page asks for the
    // link and its reason (audited), and nothing of the footage is shown.
    let unlinked = b
        .get(&format!(
            "/recordings/{id}/play?purpose=complaint&case={case}"
        ))
        .await;
    assert_eq!(unlinked.status, 403);
    assert!(unlinked.body.contains("data-error=\"error-not-attached\""));
    assert!(unlinked
        .body
        .contains(&format!("action=\"/recordings/{id}/link\"")));
    assert!(!unlinked.body.contains("<video"));
    let csrf = Browser::csrf(&unlinked);
    // Without a reason, or with a forged form: refused, nothing linked.
    let empty = b
        .post(
            &format!("/recordings/{id}/link"),
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("case", &case),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    let forged = b
        .post(
            &format!("/recordings/{id}/link"),
            &[
                ("csrf", "forged"),
                ("purpose", "complaint"),
                ("case", &case),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(w
        .server
        .deployment
        .catalog
        .case_links(&case)
        .await
        .unwrap()
        .is_empty());
    let linked = b
        .post(
            &format!("/recordings/{id}/link"),
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("case", &case),
                ("reason", "the complaint names this shift"),
            ],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    assert_eq!(
        linked.header("location"),
        Some(format!("/recordings/{id}/play?purpose=complaint&case={case}").as_str())
    );
    let links = w.server.deployment.catalog.case_links(&case).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].reason.as_str(), links[0].linked_by.as_str()),
        ("the complaint names this shift", "rita")
    );

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
    assert_eq!(away.location.as_deref(), Some("/"));
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

/// `data-NAME="…"` values in a page, in order.
fn data_values(page: &Page, name: &str) -> Vec<String> {
    let needle = format!("data-{name}=\"");
    page.body
        .match_indices(&needle)
        .map(|(at, _)| {
            let rest = &page.body[at + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn cases_are_opened_recordings_secured_approved_by_a_second_person_released_and_closed() {
    let w = world_with(custos_access::Policy {
        hold_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let r = w.one_recording("cam-a", 20).await;
    let id = r.recording_id.to_string();
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let cases = b.get("/cases").await;
    assert_eq!(cases.status, 200);
    assert!(cases.body.contains("data-nav=\"cases\""));
    let csrf = Browser::csrf(&cases);

    // Garbage, a missing reference and a forged form are refused, the form kept.
    let forged = b
        .post(
            "/cases",
            &[("csrf", "forged"), ("kind", "complaint"), ("label", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
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
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let page = b.post("/cases", &all).await;
        assert_eq!(page.status, status, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            page.body
        );
    }
    let kept = b
        .post(
            "/cases",
            &[
                ("csrf", &csrf),
                ("kind", "police-request"),
                ("label", "PV asked"),
            ],
        )
        .await;
    assert!(
        kept.body.contains("value=\"PV asked\""),
        "the form keeps what was typed"
    );
    assert!(w
        .server
        .deployment
        .catalog
        .cases()
        .await
        .unwrap()
        .is_empty());

    let opened = b
        .post(
            "/cases",
            &[
                ("csrf", &csrf),
                ("kind", "complaint"),
                ("label", "Complaint 2026-17"),
                ("case_id", "K-17"),
                ("reference", ""),
            ],
        )
        .await;
    assert_eq!(
        (opened.status, opened.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let again = b
        .post(
            "/cases",
            &[
                ("csrf", &csrf),
                ("kind", "complaint"),
                ("label", "x"),
                ("case_id", "K-17"),
            ],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("data-error=\"error-exists\""));

    // Securing a recording: a bad number and an unknown one are the form's errors.
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
        let page = b
            .post(
                "/cases/K-17/holds",
                &[
                    ("csrf", &csrf),
                    ("recording_id", recording),
                    ("reason", reason),
                ],
            )
            .await;
        assert_eq!(page.status, status, "{recording}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{recording}: {}",
            page.body
        );
    }
    let placed = b
        .post(
            "/cases/K-17/holds",
            &[
                ("csrf", &csrf),
                ("recording_id", &id),
                ("reason", "complaint about the stop"),
            ],
        )
        .await;
    assert_eq!(
        (placed.status, placed.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let case = b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["pending"]);
    assert!(
        !case.body.contains("/approve\""),
        "the placer is offered no approval"
    );
    let first_hold = data_values(&case, "hold").remove(0);

    // From the recording's page, a second hold for the same case.
    let page = b.get(&format!("/recordings/{id}")).await;
    assert!(page.body.contains("id=\"secure-recording\""));
    assert!(page.body.contains("<option value=\"K-17\">"));
    let secured = b
        .post(
            &format!("/recordings/{id}/secure"),
            &[("csrf", &csrf), ("case", "K-17"), ("reason", "second look")],
        )
        .await;
    assert_eq!(
        secured.location.as_deref(),
        Some(format!("/recordings/{id}").as_str())
    );
    let case = b.get("/cases/K-17").await;
    let holds = data_values(&case, "hold");
    assert_eq!(holds.len(), 2);
    let second_hold = holds[1].clone();
    // Approving one's own hold is refused (four eyes) and audited.
    let own = b
        .post(&format!("/holds/{first_hold}/approve"), &[("csrf", &csrf)])
        .await;
    assert_eq!(own.status, 403);
    assert!(own.body.contains("data-error=\"error-four-eyes\""));

    // The privacy officer approves the first, the reviewer releases the second.
    let mut p = Browser::new(&w, "nl");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let seen = p.get("/cases/K-17").await;
    assert!(seen.body.contains(&format!("/holds/{first_hold}/approve")));
    let approved = p
        .post(
            &format!("/holds/{first_hold}/approve"),
            &[("csrf", &Browser::csrf(&seen))],
        )
        .await;
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let released = b
        .post(&format!("/holds/{second_hold}/release"), &[("csrf", &csrf)])
        .await;
    assert_eq!(released.status, 303);
    let twice = b
        .post(&format!("/holds/{second_hold}/release"), &[("csrf", &csrf)])
        .await;
    assert_eq!(twice.status, 409);
    let case = b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["in-force", "released"]);
    let held = b.get("/recordings?held=yes").await;
    assert!(held.body.contains(&format!("data-recording=\"{id}\"")));

    // The export: a one-time passphrase on the page, the package downloads.
    let case = b.get("/cases/K-17").await;
    assert!(case.body.contains("id=\"export\""), "{}", case.body);
    let passphrase = {
        let at = case.body.find("id=\"export-passphrase\">").unwrap() + 23;
        case.body[at..at + case.body[at..].find('<').unwrap()].to_owned()
    };
    assert_eq!(passphrase.len(), 29, "{passphrase}");
    assert_ne!(
        passphrase,
        {
            let again = b.get("/cases/K-17").await;
            let at = again.body.find("id=\"export-passphrase\">").unwrap() + 23;
            again.body[at..at + again.body[at..].find('<').unwrap()].to_owned()
        },
        "a new passphrase for every page"
    );
    for (fields, code) in [
        (
            vec![("recipient", ""), ("passphrase", passphrase.as_str())],
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
        let mut all = vec![("csrf", csrf.as_str()), ("purpose", "complaint")];
        all.extend(fields.iter().copied());
        let page = b.post("/cases/K-17/export", &all).await;
        assert_eq!(page.status, 400, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            page.body
        );
    }
    let forged = b
        .post(
            "/cases/K-17/export",
            &[
                ("csrf", "forged"),
                ("purpose", "complaint"),
                ("recipient", "x"),
                ("passphrase", &passphrase),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    let download = b
        .post(
            "/cases/K-17/export",
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("recipient", "Politie Rotterdam"),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
            ],
        )
        .await;
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(download
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"custos-export-K-17-"));
    let tar = open_package(&download.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    assert!(contents
        .files
        .contains_key(&format!("recordings/cam-a-{:06}/video.mp4", r.sequence)));

    // Closing releases what is left; the forms are gone.
    let closed = b.post("/cases/K-17/close", &[("csrf", &csrf)]).await;
    assert_eq!(closed.status, 303);
    let case = b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["released", "released"]);
    assert!(
        !case.body.contains("id=\"add-recording\"")
            && !case.body.contains("id=\"close-case\"")
            && !case.body.contains("id=\"export\"")
    );
    let late = b
        .post(
            "/cases/K-17/holds",
            &[
                ("csrf", &csrf),
                ("recording_id", &id),
                ("reason", "too late"),
            ],
        )
        .await;
    assert_eq!(late.status, 409);
    assert!(late.body.contains("data-error=\"error-case-closed\""));
    let list = b.get("/cases").await;
    assert_eq!(data_values(&list, "case"), ["K-17"]);
    assert!(list.body.contains("id=\"closed-cases\""));

    // Every step is the API's audit entry, under the API's action names.
    let entries = audit_actions(&w).await;
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

    // Neither an admin nor an auditor works on cases.
    for (name, role) in [("adam", "admin"), ("aude", "auditor")] {
        let who = w.add_user(name, role, None).await;
        let mut x = Browser::new(&w, "en");
        x.sign_in(&w, &who).await;
        let page = x.get("/cases").await;
        assert_eq!(page.status, 403, "{role}");
        assert!(!page.body.contains("data-nav=\"cases\""));
    }
}

#[tokio::test]
async fn the_audit_log_filters_exports_csv_and_checks_itself_and_finds_tampering() {
    let w = world().await;
    let r = w.one_recording("cam-a", 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    // Rita tries the player without a purpose (refused), then with one.
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &rita).await;
    let token = w.sign_in(&rita).await;
    let case = open_case(&w, &token, "complaint 3").await;
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

    // The CSV export: the same filter, oldest first, leaf hashes as stored.
    let csv = p.get("/audit/export.csv?actor=rita").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment; filename=\"custos-audit-")));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], custos_audit::csv::CSV_HEADER);
    let stored = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 100_000)
        .await
        .unwrap();
    let rita_rows: Vec<_> = stored
        .iter()
        .filter(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.bytes).unwrap()["actor"] == "user:rita"
        })
        .collect();
    assert_eq!(lines.len() - 1, rita_rows.len());
    for (line, row) in lines[1..].iter().zip(&rita_rows) {
        assert!(line.starts_with(&format!("{},", row.index)));
        assert!(line.ends_with(&hex_of(&row.leaf_hash)), "{line}");
    }
    let exports: Vec<_> = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "audit.export")
        .collect();
    assert_eq!(exports.len(), 1, "the export is itself audited");
    assert_eq!(exports[0]["actor"], "user:petra");

    // Checking the whole log: fine, then an edited entry is found and named.
    let csrf = Browser::csrf(&log);
    let checked = p.post("/audit/verify", &[("csrf", &csrf)]).await;
    assert!(
        checked.body.contains("data-verification=\"ok\""),
        "{}",
        checked.body
    );
    let victim = rita_rows[0].index;
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3\ndb = sqlite3.connect({:?})\n\
             db.execute(\"UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), 'user:rita', 'user:nora') AS BLOB) WHERE idx = {victim}\")\n\
             db.commit()\n",
            w.data.join("catalog.sqlite").to_str().unwrap()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let checked = p.post("/audit/verify", &[("csrf", &csrf)]).await;
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
    let forged = p.post("/audit/verify", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);

    // Reviewers and admins have no audit log; an auditor starts there.
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

/// The value a one-time page shows for `data-secret="KIND"`.
fn shown_secret(page: &Page, kind: &str) -> String {
    let needle = format!("data-secret=\"{kind}\">");
    let at = page
        .body
        .find(&needle)
        .unwrap_or_else(|| panic!("no {kind} in {}", page.body));
    let rest = &page.body[at + needle.len()..];
    unescape(&rest[..rest.find('<').unwrap()])
}

/// A sign-in over the API: its status (the clock moves to a fresh TOTP step).
async fn api_sign_in(w: &World, name: &str, password: &str, secret: &str) -> u16 {
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let code = custos_server::auth::totp_code(secret, w.now()).unwrap();
    w.call(
        "POST",
        "/api/v1/session",
        None,
        Some(serde_json::json!({"name": name, "password": password, "code": code})),
        &[],
    )
    .await
    .status
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

#[tokio::test]
async fn an_admin_enrolls_assigns_and_revokes_cameras_and_docks_and_the_dock_follows() {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &adam).await;
    let page = b.get("/admin/devices").await;
    assert_eq!(page.status, 200);
    let csrf = Browser::csrf(&page);
    // The world's own dock is listed.
    assert_eq!(data_values(&page, "dock"), ["dock-1"]);

    let cam = w.camera("cam-p", 0, false).await;
    let key = cam.verifying_key().unwrap().to_hex();
    for (fields, code) in [
        (
            vec![("device_id", "cam-p"), ("public_key", "zz")],
            "error-bad-key",
        ),
        (
            vec![("device_id", "cam p"), ("public_key", key.as_str())],
            "error-invalid",
        ),
        (
            vec![
                ("device_id", "cam-p"),
                ("public_key", key.as_str()),
                ("retention_category", "forever"),
            ],
            "error-unknown-category",
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let refused = b.post("/admin/devices/cameras", &all).await;
        assert_eq!(refused.status, 400, "{fields:?}");
        assert!(
            refused.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}"
        );
    }
    let enrolled = b
        .post(
            "/admin/devices/cameras",
            &[
                ("csrf", &csrf),
                ("device_id", "cam-p"),
                ("public_key", &key),
                ("retention_category", "standard"),
                ("assigned_officer", "boa-9"),
                ("team", "noord"),
            ],
        )
        .await;
    assert_eq!(enrolled.status, 303);
    let catalog = &w.server.deployment.catalog;
    let team_of = |id: &'static str| async move { catalog.device(id).await.unwrap().unwrap().team };
    assert_eq!(team_of("cam-p").await.as_deref(), Some("noord"));
    let twice = b
        .post(
            "/admin/devices/cameras",
            &[
                ("csrf", &csrf),
                ("device_id", "cam-p"),
                ("public_key", &key),
            ],
        )
        .await;
    assert_eq!(twice.status, 409);

    // A dock checking the camera out asks the server whose it is.
    let dock_config = w.dock_config.clone();
    let ask = |cam: custos_camera::CameraDir| {
        let config = dock_config.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                custos_dock::Dock::new(config)
                    .unwrap()
                    .checkout_assigned(&cam)
                    .map_err(|e| format!("{e:#}"))
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(ask(cam.clone()).await, Ok("boa-9".to_owned()));
    assert_eq!(
        cam.load_config().unwrap().officer_id.as_deref(),
        Some("boa-9")
    );
    // Back to the pool: the dock needs to be told an officer.
    let pooled = b
        .post(
            "/admin/devices/cameras/cam-p/settings",
            &[
                ("csrf", &csrf),
                ("retention_category", "standard"),
                ("assigned_officer", ""),
                ("team", "zuid"),
            ],
        )
        .await;
    assert_eq!(pooled.status, 303);
    // The team changed too, and was audited (the officer as well).
    assert_eq!(team_of("cam-p").await.as_deref(), Some("zuid"));
    let teams: Vec<_> = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "camera.team")
        .map(|e| e["detail"].clone())
        .collect();
    assert_eq!(teams, [serde_json::json!("team zuid")]);
    let bad_team = b
        .post(
            "/admin/devices/cameras/cam-p/settings",
            &[("csrf", &csrf), ("team", "<b>zuid</b>")],
        )
        .await;
    assert_eq!(bad_team.status, 400);
    assert_eq!(team_of("cam-p").await.as_deref(), Some("zuid"));
    assert!(ask(cam.clone()).await.unwrap_err().contains("pool camera"));
    let bad = b
        .post(
            "/admin/devices/cameras/cam-p/settings",
            &[("csrf", &csrf), ("assigned_officer", "boa 9")],
        )
        .await;
    assert_eq!(bad.status, 400);
    let unknown = w.camera("cam-x", 0, false).await;
    assert!(ask(unknown)
        .await
        .unwrap_err()
        .contains("does not know camera cam-x"));
    // Revoked: the dock will not hand it out.
    assert_eq!(
        b.post("/admin/devices/cameras/cam-p/revoke", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    assert!(ask(cam.clone()).await.unwrap_err().contains("revoked"));
    let page = b.get("/admin/devices").await;
    assert!(page
        .body
        .contains("data-camera=\"cam-p\" data-state=\"revoked\""));
    assert_eq!(
        b.post("/admin/devices/cameras/cam-p/revoke", &[("csrf", &csrf)])
            .await
            .status,
        409
    );

    // A new dock: its token is shown once and works until revoked.
    let dock = b
        .post(
            "/admin/devices/docks",
            &[("csrf", &csrf), ("dock_id", "dock-2")],
        )
        .await;
    assert_eq!(dock.status, 200);
    let token = shown_secret(&dock, "token");
    let whoami = |token: String| {
        let w = &w;
        async move {
            w.call(
                "GET",
                "/api/v1/dock",
                Some(&format!("dock-2:{token}")),
                None,
                &[],
            )
            .await
            .status
        }
    };
    assert_eq!(whoami(token.clone()).await, 200);
    assert_eq!(
        b.post("/admin/devices/docks/dock-2/revoke", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    assert_eq!(whoami(token).await, 403, "a revoked dock is refused");
    let bad_dock = b
        .post(
            "/admin/devices/docks",
            &[("csrf", &csrf), ("dock_id", "dock 3")],
        )
        .await;
    assert_eq!(bad_dock.status, 400);

    let entries = audit_actions(&w).await;
    for (action, object) in [
        ("camera.enroll", "camera:cam-p"),
        ("camera.officer", "camera:cam-p"),
        ("camera.revoke", "camera:cam-p"),
        ("dock.enroll", "dock:dock-2"),
        ("dock.revoke", "dock:dock-2"),
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action
                && e["object"] == object
                && e["actor"] == "user:adam"),
            "{action}"
        );
    }
    assert!(entries
        .iter()
        .any(|e| e["action"] == "camera.lookup" && e["actor"] == "dock:dock-1"));
}

async fn post_settings(b: &mut Browser, fields: Vec<(String, String)>) -> Page {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post("/admin/settings", &refs).await
}

#[tokio::test]
async fn an_admin_changes_retention_and_purposes_which_apply_to_new_recordings_and_survive_a_restart(
) {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &adam).await;
    let page = b.get("/admin/settings").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-setting=\"retention\">28d<"),
        "{}",
        page.body
    );
    let csrf = Browser::csrf(&page);
    let save = |retention: &str, categories: &str, purposes: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("retention".to_owned(), retention.to_owned()),
            ("categories".to_owned(), categories.to_owned()),
            ("purposes".to_owned(), purposes.to_owned()),
        ]
    };
    for (fields, status, code) in [
        (save("forever", "", "complaint"), 400, "error-bad-period"),
        (save("30m", "", "complaint"), 400, "error-bad-period"),
        (save("28d", "oops", "complaint"), 400, "error-bad-category"),
        (
            save("28d", "Training=2d", "complaint"),
            400,
            "error-bad-category",
        ),
        (save("28d", "", ""), 400, "error-bad-purposes"),
        (
            save("28d", "", "complaint\ncomplaint"),
            400,
            "error-bad-purposes",
        ),
        (save("28d", "", "<script>"), 400, "error-bad-purposes"),
    ] {
        let answer = post_settings(&mut b, fields.clone()).await;
        assert_eq!(answer.status, status, "{fields:?}");
        assert!(
            answer.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            answer.body
        );
        assert!(!answer.body.contains("<script>\n"), "escaped");
    }
    assert_eq!(w.server.deployment.retention().default_millis, 28 * DAY);

    let saved = post_settings(
        &mut b,
        save(
            "72h",
            "training=2d",
            "investigation\ncomplaint\npolice-request",
        ),
    )
    .await;
    assert_eq!(
        (saved.status, saved.location.as_deref()),
        (303, Some("/admin/settings?saved=1"))
    );
    let page = b.get("/admin/settings?saved=1").await;
    assert!(page.body.contains("data-saved=\"yes\""));
    // 72 hours are shown as the 3 days they are.
    assert!(page.body.contains("data-setting=\"retention\">3d<"));
    assert!(page.body.contains("data-setting=\"category-training\">2d<"));

    // A recording that arrives now gets the new period; the purpose list is the new one.
    let r = w.one_recording("cam-n", 10).await;
    assert_eq!(
        r.delete_after.as_millis() - r.ended_at.as_millis(),
        72 * 3_600_000
    );
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = open_case(&w, &token, "complaint 9").await;
    let mut rb = Browser::new(&w, "en");
    rb.sign_in(&w, &rita).await;
    let ask = rb
        .get(&format!("/recordings/{}/play", r.recording_id))
        .await;
    assert!(ask.body.contains("value=\"police-request\""));
    assert!(!ask.body.contains("value=\"subject-access-request\""));
    let old_purpose = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{}/video?purpose=subject-access-request&case={case}",
                r.recording_id
            ),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (old_purpose.status, old_purpose.code().as_str()),
        (403, "purpose-not-allowed")
    );

    // A category a camera is in cannot be removed.
    let devices = b.get("/admin/devices").await;
    let moved = b
        .post(
            "/admin/devices/cameras/cam-n/settings",
            &[
                ("csrf", &Browser::csrf(&devices)),
                ("retention_category", "training"),
            ],
        )
        .await;
    assert_eq!(moved.status, 303);
    let in_use = post_settings(&mut b, save("72h", "", "complaint")).await;
    assert_eq!(in_use.status, 409);
    assert!(in_use.body.contains("data-error=\"error-category-in-use\""));
    assert!(w.server.deployment.retention().period("training").is_some());

    // The privacy officer and the auditor see the settings; only the admin changes them.
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut p = Browser::new(&w, "en");
    p.sign_in(&w, &petra).await;
    let seen = p.get("/admin/settings").await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("id=\"change-settings\""));
    let refused = p
        .post(
            "/admin/settings",
            &[
                ("csrf", &Browser::csrf(&seen)),
                ("retention", "365d"),
                ("purposes", "complaint"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(rb.get("/admin/settings").await.status, 403);

    let changes: Vec<_> = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "settings.change")
        .collect();
    let ok: Vec<_> = changes.iter().filter(|e| e["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 1);
    let detail = ok[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("standard 28d -> standard 3d, training 2d"),
        "{detail}"
    );
    assert!(
        detail.contains("-> investigation,complaint,police-request"),
        "{detail}"
    );
    assert!(changes
        .iter()
        .any(|e| e["outcome"] == "refused" && e["actor"] == "user:adam"));

    // A restart (a second server on the same data, started with the old
    // flags) runs with the saved settings and says so.
    let again = custos_server::start(
        custos_server::ServerConfig {
            limits: test_limits(),
            storage: Default::default(),
            data: w.data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            server_id: "test-city".into(),
            retention: custos_server::retention::RetentionPolicy::new(28 * DAY),
            policy: Default::default(),
        },
        &custos_keys::secrecy::SecretString::from(PASS.to_owned()),
        custos_server::system_clock(),
    )
    .await
    .unwrap();
    assert_eq!(again.deployment.retention().default_millis, 72 * 3_600_000);
    assert_eq!(
        again.deployment.policy().purposes,
        ["investigation", "complaint", "police-request"]
    );
    let starts: Vec<_> = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "server.start")
        .collect();
    assert!(starts.last().unwrap()["detail"]
        .as_str()
        .unwrap()
        .contains("(saved by an administrator)"));
    again.shutdown().await;
}

/// The UI in Debian's Chromium (playwright-core drives it): sign-in with a
/// TOTP code, the list, a recording, the purpose prompt that blocks the
/// player, playback and seeking, the language switch, the keyboard's first
/// stop, and an administrator who gets no footage; then a hold placed from
/// the case page, the administrator's pages (a person added from the
/// keyboard) and an auditor who checks the whole audit log. Screenshots of
/// the main pages land in `target/tmp/screenshots/` (the README shows some).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_asks_the_purpose_plays_and_switches_language() {
    let w = world().await;
    let r = w.one_recording("cam-v", 150).await;
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let admin = w.add_user("adam", "admin", None).await;
    let auditor = w.add_user("aude", "auditor", None).await;
    let evaluator = w.add_user("eva", "evaluator", None).await;
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
        .env("AUDITOR", &auditor.name)
        .env("AUDITOR_PASSWORD", &auditor.password)
        .env("AUDITOR_CODE", code(&auditor))
        .env("EVALUATOR", &evaluator.name)
        .env("EVALUATOR_PASSWORD", &evaluator.password)
        .env("EVALUATOR_CODE", code(&evaluator))
        .env("RECORDING", r.recording_id.to_string())
        .env("CASE", &case)
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || {
        command
            .output()
            .expect("node must be installed (see ./test.sh)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(seen["ok"], true, "{seen}");
    assert_eq!(seen["asked_to_link"], true, "{seen}");
    // WCAG 2.1 AA basics (tests/browser/a11y.mjs): the checker finds each
    // kind of fault on a page made to have them, and none on ours.
    let selftest: Vec<String> = serde_json::from_value(seen["a11y_selftest"].clone()).unwrap();
    for fault in [
        "h1 elements",
        "used 2 times",
        "has no label",
        "has no alt",
        "<svg> without",
        "has no accessible name",
        "contrast",
        "focus not visible on <button>",
    ] {
        assert!(
            selftest.iter().any(|p| p.contains(fault)),
            "the checker misses {fault:?}: {selftest:?}"
        );
    }
    let pages = seen["a11y"].as_object().unwrap();
    assert_eq!(pages.len(), 20, "{pages:?}");
    for (page, checked) in pages {
        assert_eq!(checked["problems"], serde_json::json!([]), "{page}");
        // Each page was looked at: its text, and a keyboard walk through it.
        assert!(checked["texts"].as_u64().unwrap() >= 5, "{page}: {checked}");
        assert!(checked["stops"].as_u64().unwrap() >= 2, "{page}: {checked}");
    }
    // The forms were among what was checked.
    assert!(pages["login-en"]["controls"].as_u64().unwrap() >= 3);
    assert!(pages["case-de"]["controls"].as_u64().unwrap() >= 5);
    assert!(pages["link-en"]["controls"].as_u64().unwrap() >= 5);
    // The export link made in the browser, and used by a recipient in another.
    assert_eq!(seen["link_path"], "/download/TOKEN");
    assert_eq!(seen["link_passphrase"].as_str().unwrap().len(), 29);
    assert_eq!(seen["landing_title"], "Bewijspakket");
    assert_eq!(seen["downloaded_sha256_matches"], true);
    assert_eq!(seen["downloaded_is_age"], true);
    assert_eq!(seen["downloads_left"], "1");
    assert!(
        seen["downloaded_name"]
            .as_str()
            .unwrap()
            .ends_with("-ID.tar.age"),
        "{seen}"
    );
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
    assert_eq!(seen["hold_states"], serde_json::json!(["in-force"]));
    assert_eq!(seen["admin_users"], 4);
    assert_eq!(seen["enrollment_shown"], true);
    assert_eq!(seen["admin_cameras"], 1);
    assert_eq!(seen["admin_retention"], "28d");
    assert_eq!(seen["auditor_landed"], "/audit");
    assert_eq!(seen["auditor_signature"], "valid");
    assert_eq!(seen["auditor_verified"], 1);
    // The evaluator's statistics: charts, the deployment's k, the one
    // recording of this story (a small count, hidden), report and CSV.
    assert_eq!(seen["evaluator_landed"], "/statistics");
    assert!(seen["evaluator_charts"].as_u64().unwrap() >= 5, "{seen}");
    assert_eq!(seen["evaluator_k"], "5");
    assert_eq!(seen["evaluator_activations"], "<5");
    assert_eq!(seen["evaluator_csv"]["status"], 200);
    assert_eq!(seen["evaluator_csv"]["type"], "text/csv; charset=utf-8");
    assert_eq!(seen["evaluator_csv"]["first"], "table,row,column,value");
    assert_eq!(seen["report_title"], "Evaluatierapport bodycams");
    assert_eq!(seen["report_nav_printed"], false, "the menu is not printed");
    for name in [
        "login-en",
        "recordings-en",
        "recording-en",
        "purpose-en",
        "player-en",
        "recordings-nl",
        "recording-de",
        "admin-refused-en",
        "case-de",
        "users-en",
        "devices-en",
        "settings-en",
        "audit-nl",
        "statistics-nl",
        "report-nl",
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

#[tokio::test]
async fn an_export_is_asked_for_approved_by_a_colleague_and_then_made_from_the_case_page() {
    let w = world_with(custos_access::Policy {
        export_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let r = w.one_recording("cam-e", 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = open_case(&w, &tr, "export with four eyes").await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "PV"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201);
    let here = format!("/cases/{case}");
    let mut b = Browser::new(&w, "nl");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let page = b.get(&here).await;
    assert!(page.body.contains("id=\"ask-export\""), "{}", page.body);
    assert!(!page.body.contains("id=\"export\""), "no direct export");
    let csrf = Browser::csrf(&page);
    let direct = b
        .post(
            &format!("{here}/export"),
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("recipient", "OM"),
                ("passphrase", "ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2"),
            ],
        )
        .await;
    assert_eq!(direct.status, 409);
    assert!(direct
        .body
        .contains("data-error=\"error-approval-required\""));
    let asked = b
        .post(
            &format!("{here}/export-requests"),
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("recipient", "OM Rotterdam"),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let page = b.get(&here).await;
    assert_eq!(
        data_values(&page, "state").last().map(String::as_str),
        Some("pending")
    );
    let request_id = data_values(&page, "export-request").remove(0);
    assert!(!page
        .body
        .contains(&format!("/export-requests/{request_id}/approve")));

    let mut p = Browser::new(&w, "de");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let seen = p.get(&here).await;
    assert!(seen
        .body
        .contains(&format!("/export-requests/{request_id}/approve")));
    let approved = p
        .post(
            &format!("/export-requests/{request_id}/approve"),
            &[("csrf", &Browser::csrf(&seen))],
        )
        .await;
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (303, Some(here.as_str()))
    );
    assert!(
        !p.get(&here)
            .await
            .body
            .contains(&format!("id=\"make-{request_id}\"")),
        "only the requester makes it"
    );

    let page = b.get(&here).await;
    assert!(
        page.body.contains(&format!("id=\"make-{request_id}\"")),
        "{}",
        page.body
    );
    let passphrase = {
        let at = page.body.find("id=\"export-passphrase\">").unwrap() + 23;
        page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
    };
    let download = b
        .post(
            &format!("{here}/export"),
            &[
                ("csrf", &csrf),
                ("request_id", &request_id),
                ("purpose", "complaint"),
                ("recipient", "OM Rotterdam"),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
            ],
        )
        .await;
    assert_eq!(download.status, 200, "{}", download.body);
    let tar = open_package(&download.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
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
    let page = b.get(&here).await;
    assert_eq!(
        data_values(&page, "state").last().map(String::as_str),
        Some("used")
    );
    assert!(!page.body.contains(&format!("id=\"make-{request_id}\"")));
}

/// The case page keeps a package for a download link: the link is shown
/// once, the recipient opens it without an account (looking downloads
/// nothing), downloads with the button, and the reviewer sees it counted
/// and revokes it; the recipient's page then says so.
#[tokio::test]
async fn an_export_link_is_made_on_the_case_page_used_by_the_recipient_and_revoked() {
    let w = world().await;
    let r = w.one_recording("cam-k", 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = open_case(&w, &tr, "export by link").await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "PV"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201);
    let here = format!("/cases/{case}");
    let mut b = Browser::new(&w, "de");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let page = b.get(&here).await;
    assert!(page.body.contains("name=\"delivery\" value=\"link\""));
    assert!(!page.body.contains("id=\"export-links\""), "no links yet");
    let csrf = Browser::csrf(&page);
    let passphrase = {
        let at = page.body.find("id=\"export-passphrase\">").unwrap() + 23;
        page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
    };
    let form = |hours: &'static str, downloads: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("purpose", "investigation".to_owned()),
            ("recipient", "Staatsanwaltschaft Münster".to_owned()),
            ("passphrase", passphrase.clone()),
            ("age_recipient", String::new()),
            ("delivery", "link".to_owned()),
            ("link_hours", hours.to_owned()),
            ("link_downloads", downloads.to_owned()),
        ]
    };
    let export = format!("{here}/export");
    async fn post(b: &mut Browser, path: &str, fields: Vec<(&'static str, String)>) -> Page {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(path, &fields).await
    }
    for (hours, downloads) in [
        ("0", "3"),
        ("9999", "3"),
        ("24", "0"),
        ("24", "eleven"),
        ("", ""),
    ] {
        let refused = post(&mut b, &export, form(hours, downloads)).await;
        assert_eq!(refused.status, 400, "{hours} {downloads}");
        assert!(
            refused.body.contains("data-error=\"error-bad-link\""),
            "{}",
            refused.body
        );
    }
    let made = post(&mut b, &export, form("24", "1")).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let unescaped = made.body.replace("&#x2f;", "/");
    let url = {
        let at = unescaped.find("id=\"link-url\">").unwrap() + 14;
        unescaped[at..at + unescaped[at..].find('<').unwrap()].to_owned()
    };
    let page_path = url.strip_prefix(&w.base()).unwrap().to_owned();
    assert!(page_path.starts_with("/download/"), "{url}");
    assert!(unescaped.contains(&format!("id=\"link-passphrase\">{passphrase}<")));
    assert!(made.body.contains("Download-Link erstellt"), "in German");

    // The recipient, with no account: the page first, then the button.
    let mut recipient = Browser::new(&w, "nl");
    let landing = recipient.get(&page_path).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("Bewijspakket"), "{}", landing.body);
    let action = {
        let body = landing.body.replace("&#x2f;", "/");
        let at = body.find("<form method=\"post\" action=\"").unwrap() + 28;
        body[at..at + body[at..].find('"').unwrap()].to_owned()
    };
    assert!(action.starts_with("/api/v1/downloads/"), "{action}");
    let package = recipient.post(&action, &[]).await;
    assert_eq!(package.status, 200);
    let tar = open_package(&package.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
    // One download allowed: the page now says it is used up.
    let used = recipient.get(&page_path).await;
    assert_eq!(used.status, 410);
    assert!(used.body.contains("data-state=\"used-up\""));

    // The reviewer sees it counted and revokes it; the page says revoked.
    let page = b.get(&here).await;
    assert_eq!(data_values(&page, "export-link").len(), 1);
    assert!(page.body.contains("1 / 1"), "{}", page.body);
    let link_id = data_values(&page, "export-link").remove(0);
    let revoked = b
        .post(
            &format!("/export-links/{link_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let page = b.get(&here).await;
    assert!(page.body.contains(&format!(
        "data-export-link=\"{link_id}\" data-state=\"revoked\""
    )));
    assert!(!page
        .body
        .contains(&format!("/export-links/{link_id}/revoke")));
    let gone = recipient.get(&page_path).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("data-state=\"revoked\""));
    let forged = b
        .post(
            &format!("/export-links/{link_id}/revoke"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);

    let entries = audit_actions(&w).await;
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

/// The privacy officer's pages for subject access requests: intake in the
/// deployment's zone (a form that does not parse says why), the list with
/// each deadline marked as it nears and passes, the request's page with
/// the search (thumbnails asked for with the request's purpose and case)
/// and the extension; nobody else sees any of it.
#[tokio::test]
async fn a_subject_access_request_is_taken_in_searched_and_extended_on_the_privacy_officers_pages()
{
    let w = world().await;
    let r = w.one_recording("cam-s", 20).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let list = p.get("/subject-requests").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-nav=\"subject-requests\""));
    let csrf = Browser::csrf(&list);
    // The recording's minute, as the form takes it (Europe/Amsterdam).
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    let local = |t: custos_format::UtcMillis| {
        jiff::Timestamp::from_millisecond(t.as_millis())
            .unwrap()
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let from = local(r.started_at.plus_millis(-120_000));
    let to = local(r.ended_at.plus_millis(120_000));
    let fields = |window_from: &str, lat: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("case_id", "SAR-web-1".to_owned()),
            ("requester", "Pieter de Vries".to_owned()),
            ("contact", String::new()),
            ("identity_check", "ID card shown at the desk".to_owned()),
            ("description", "blue jacket".to_owned()),
            ("window_from", window_from.to_owned()),
            ("window_to", to.clone()),
            ("lat", lat.to_owned()),
            ("lon", String::new()),
            ("radius_m", "250".to_owned()),
            ("received", String::new()),
        ]
    };
    async fn post(b: &mut Browser, path: &str, fields: Vec<(&'static str, String)>) -> Page {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(path, &fields).await
    }
    for (window_from, lat, code) in [
        ("tomorrow", "", "error-bad-window"),
        (from.as_str(), "51,92", "error-bad-place"),
    ] {
        let refused = post(&mut p, "/subject-requests", fields(window_from, lat)).await;
        assert_eq!(refused.status, 400);
        assert!(
            refused.body.contains(&format!("data-error=\"{code}\"")),
            "{}",
            refused.body
        );
        // What was typed is shown again.
        assert!(refused.body.contains("value=\"Pieter de Vries\""));
    }
    let opened = post(&mut p, "/subject-requests", fields(&from, "")).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    assert_eq!(
        opened.location.as_deref(),
        Some("/subject-requests/SAR-web-1")
    );
    let page = p.get("/subject-requests/SAR-web-1").await;
    assert!(page.body.contains("Pieter de Vries"));
    assert!(page.body.contains("data-state=\"open\""), "{}", page.body);

    // The search: the recording, with its thumbnail for this purpose and case.
    let found = post(
        &mut p,
        "/subject-requests/SAR-web-1/search",
        vec![
            ("csrf", csrf.clone()),
            ("officer", String::new()),
            ("camera", String::new()),
        ],
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(
        data_values(&found, "candidate"),
        [r.recording_id.to_string()]
    );
    let thumbnail = format!(
        "/api/v1/recordings/{}/thumbnail?purpose=subject-access-request&amp;case=SAR-web-1",
        r.recording_id
    );
    assert!(
        found.body.replace("&#x2f;", "/").contains(&thumbnail),
        "{}",
        found.body
    );
    let image = p.get(&thumbnail.replace("&amp;", "&")).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/jpeg"));
    let none = post(
        &mut p,
        "/subject-requests/SAR-web-1/search",
        vec![
            ("csrf", csrf.clone()),
            ("officer", String::new()),
            ("camera", "cam-other".into()),
        ],
    )
    .await;
    assert!(none.body.contains("id=\"no-candidates\""));

    // The deadline as it nears, passes, and is extended.
    let list = p.get("/subject-requests").await;
    assert_eq!(data_values(&list, "subject-request"), ["SAR-web-1"]);
    assert!(list.body.contains("data-state=\"open\""));
    w.clock_offset
        .fetch_add(26 * 86_400_000, std::sync::atomic::Ordering::SeqCst);
    let mut p = Browser::new(&w, "nl");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let list = p.get("/subject-requests").await;
    assert!(
        list.body.contains("data-state=\"due-soon\""),
        "{}",
        list.body
    );
    assert!(list.body.contains("verloopt over"));
    // The landing page says so too, with counts and no names.
    let landing = p.get("/recordings").await;
    assert!(
        landing
            .body
            .contains("id=\"requests-due\" data-overdue=\"0\" data-soon=\"1\""),
        "{}",
        landing.body
    );
    assert!(!landing.body.contains("Pieter"));
    w.clock_offset
        .fetch_add(6 * 86_400_000, std::sync::atomic::Ordering::SeqCst);
    let mut p = Browser::new(&w, "de");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let list = p.get("/subject-requests").await;
    assert!(
        list.body.contains("data-state=\"overdue\""),
        "{}",
        list.body
    );
    let csrf = Browser::csrf(&list);
    let bad = post(
        &mut p,
        "/subject-requests/SAR-web-1/extend",
        vec![
            ("csrf", csrf.clone()),
            ("months", "5".into()),
            ("reason", "x".into()),
        ],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("data-error=\"error-bad-extension\""));
    let extended = post(
        &mut p,
        "/subject-requests/SAR-web-1/extend",
        vec![
            ("csrf", csrf.clone()),
            ("months", "2".into()),
            ("reason", "viele Aufnahmen".into()),
        ],
    )
    .await;
    assert_eq!(extended.status, 303);
    let page = p.get("/subject-requests/SAR-web-1").await;
    assert!(page.body.contains("data-state=\"open\""), "{}", page.body);
    assert!(page.body.contains("viele Aufnahmen"));
    assert!(
        !page.body.contains("id=\"extend\""),
        "three months is the most"
    );
    let forged = post(
        &mut p,
        "/subject-requests/SAR-web-1/search",
        vec![
            ("csrf", "forged".into()),
            ("officer", String::new()),
            ("camera", String::new()),
        ],
    )
    .await;
    assert_eq!(forged.status, 403);

    // A reviewer sees none of it.
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let home = b.get("/recordings").await;
    assert!(!home.body.contains("data-nav=\"subject-requests\""));
    assert!(!home.body.contains("id=\"requests-due\""));
    for path in ["/subject-requests", "/subject-requests/SAR-web-1"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("Pieter"));
    }
}

/// The redaction editor in Chromium: a privacy officer drags a box on one
/// frame, steps two seconds on and drags it again, makes the copy, and the
/// request's page plays it. The plan the browser sent is the plan stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_draws_a_box_that_follows_a_person_and_renders_the_redacted_copy() {
    let w = world().await;
    let r = w.one_recording("cam-e", 150).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-E", "requester": "B. Bakker", "identity_check": "passport",
                "description": "green scarf",
                "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201);
    let found = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-E/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(found.json().as_array().unwrap().len(), 1);
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/redact.mjs");
    let mut command = std::process::Command::new("node");
    command
        .arg(&script)
        .env("BASE", w.base())
        .env("NAME", &petra.name)
        .env("PASSWORD", &petra.password)
        .env(
            "CODE",
            custos_server::auth::totp_code(&petra.secret, w.now()).unwrap(),
        )
        .env("CASE", "SAR-E")
        .env("RECORDING", r.recording_id.to_string())
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || command.output().expect("node (see ./test.sh)"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(seen["ok"], true, "{seen}");
    assert!(seen.get("page_error").is_none(), "{seen}");
    assert_eq!(seen["keyframes_after_first"], "1");
    assert_eq!(seen["keyframes"], "2");
    assert_eq!(seen["mutes"], "1");
    assert!(seen["second_frame_at"].as_u64().unwrap() >= 2000, "{seen}");
    assert_eq!(seen["after_render"], "/subject-requests/SAR-E");
    assert_eq!(seen["derivatives"], 1);
    let duration = seen["duration"].as_f64().unwrap();
    assert!((4.0..6.0).contains(&duration), "the copy plays: {seen}");
    // What the browser drew is what was stored and rendered.
    let stored = w
        .server
        .deployment
        .catalog
        .derivatives_for_case("SAR-E")
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let plan: custos_redact::Plan = serde_json::from_str(&stored[0].plan).unwrap();
    assert_eq!(plan, serde_json::from_value(seen["plan"].clone()).unwrap());
    assert_eq!(plan.tracks.len(), 1);
    assert_eq!(
        plan.mute,
        [custos_redact::MuteRange {
            from_millis: 1000,
            to_millis: 2500
        }]
    );
    let keyframes = &plan.tracks[0].keyframes;
    assert_eq!(keyframes.len(), 2);
    assert_eq!(keyframes[0].at_millis, 0);
    assert!(
        keyframes[1].region.x > keyframes[0].region.x + 0.3,
        "{keyframes:?}"
    );
    for k in keyframes {
        assert!((0.25..0.35).contains(&k.region.w), "{k:?}");
        assert!((0.45..0.55).contains(&k.region.h), "{k:?}");
    }
    assert!(
        (150..=151).contains(&stored[0].frames),
        "{}",
        stored[0].frames
    );
}

/// Without the editor's script: a plan written into the form makes the
/// copy (a broken one is refused with the reason); the request's page then
/// answers the request — downloaded now, or as a one-download link.
#[tokio::test]
async fn a_request_is_redacted_and_answered_from_the_privacy_officers_pages() {
    let w = world().await;
    let r = w.one_recording("cam-w", 30).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-W", "requester": "D. de Boer", "identity_check": "passport",
                "description": "cap", "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await
        .status,
        201
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/subject-requests/SAR-W/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[]
        )
        .await
        .status,
        200
    );
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let page = p.get("/subject-requests/SAR-W").await;
    assert_eq!(data_values(&page, "redact"), [r.recording_id.to_string()]);
    assert!(
        !page.body.contains("id=\"deliver\""),
        "nothing to deliver yet"
    );
    let editor_path = format!(
        "/subject-requests/SAR-W/recordings/{}/redact",
        r.recording_id
    );
    let editor = p.get(&editor_path).await;
    assert_eq!(editor.status, 200);
    assert!(editor
        .body
        .replace("&#x2f;", "/")
        .contains("<script src=\"/static/redact.js\" defer></script>"));
    let script = p.get("/static/redact.js").await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    let csrf = Browser::csrf(&editor);
    let refused = p
        .post(
            &editor_path,
            &[("csrf", &csrf), ("plan", r#"{"tracks": [{"label": "x"}]}"#)],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("data-error=\"error-bad-plan\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"plan-detail\""));
    let plan = r#"{"tracks":[{"label":"p","kind":"pixelate","keyframes":[{"at_millis":0,"x":0.2,"y":0.2,"w":0.3,"h":0.3}]}]}"#;
    let made = p
        .post(&editor_path, &[("csrf", &csrf), ("plan", plan)])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(
        made.location.as_deref(),
        Some("/subject-requests/SAR-W#derivatives")
    );
    let page = p.get("/subject-requests/SAR-W").await;
    assert_eq!(data_values(&page, "derivative").len(), 1);
    assert!(page.body.contains("id=\"deliver\""));
    let passphrase = {
        let at = page.body.find("id=\"deliver-passphrase\">").unwrap() + 24;
        page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
    };

    // Downloaded now: the package holds the copy and verifies.
    let package = p
        .post(
            "/subject-requests/SAR-W/delivery",
            &[
                ("csrf", &csrf),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
                ("delivery", "download"),
                ("link_hours", "24"),
            ],
        )
        .await;
    assert_eq!(package.status, 200, "{}", package.body);
    let tar = open_package(&package.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
    assert!(contents.files.keys().all(|f| !f.starts_with("recordings/")));
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(report.contains("Redacted copy"));
    // Or a link for one download.
    let linked = p
        .post(
            "/subject-requests/SAR-W/delivery",
            &[
                ("csrf", &csrf),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
                ("delivery", "link"),
                ("link_hours", "24"),
            ],
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let unescaped = linked.body.replace("&#x2f;", "/");
    assert!(unescaped.contains("href=\"/subject-requests/SAR-W\""));
    let at = unescaped.find("id=\"link-url\">").unwrap() + 14;
    let url = &unescaped[at..at + unescaped[at..].find('<').unwrap()];
    let token = url.rsplit('/').next().unwrap();
    let fetched = w
        .call(
            "POST",
            &format!("/api/v1/downloads/{token}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(
        w.call(
            "POST",
            &format!("/api/v1/downloads/{token}"),
            None,
            None,
            &[]
        )
        .await
        .status,
        410,
        "one download"
    );
    let page = p.get("/subject-requests/SAR-W").await;
    assert!(page.body.contains("id=\"delivered\""));
}

/// Face proposals in the editor, in Chromium: on a recording of the
/// labelled face clip, the privacy officer asks for proposals, clicks one,
/// and the copy is made with that face's box.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_proposes_faces_and_a_clicked_one_is_redacted() {
    let w = world().await;
    let cam = w.camera("cam-g", 0, true).await;
    record_face_clip(&cam);
    w.offload(&cam).await;
    let r = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-G", "requester": "E. Jong", "identity_check": "passport",
                "description": "-", "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201);
    w.call(
        "POST",
        "/api/v1/subject-requests/SAR-G/search",
        Some(&tp),
        Some(serde_json::json!({})),
        &[],
    )
    .await;
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/redact.mjs");
    let mut command = std::process::Command::new("node");
    command
        .arg(&script)
        .env("BASE", w.base())
        .env("NAME", &petra.name)
        .env("PASSWORD", &petra.password)
        .env(
            "CODE",
            custos_server::auth::totp_code(&petra.secret, w.now()).unwrap(),
        )
        .env("CASE", "SAR-G")
        .env("RECORDING", r.recording_id.to_string())
        .env("FACES", "1")
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || command.output().expect("node (see ./test.sh)"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(seen["ok"], true, "{seen}");
    assert!(seen["proposals"].as_u64().unwrap() >= 4, "{seen}");
    assert_eq!(seen["keyframes"], "1", "{seen}");
    assert_eq!(
        seen["proposals_left"].as_u64().unwrap(),
        seen["proposals"].as_u64().unwrap() - 1
    );
    assert_eq!(seen["after_render"], "/subject-requests/SAR-G");
    assert_eq!(seen["derivatives"], 1);
    let stored = w
        .server
        .deployment
        .catalog
        .derivatives_for_case("SAR-G")
        .await
        .unwrap();
    let plan: custos_redact::Plan = serde_json::from_str(&stored[0].plan).unwrap();
    assert_eq!(plan.tracks.len(), 1);
    assert_eq!(plan.tracks[0].kind, custos_redact::BoxKind::Pixelate);
    let k = plan.tracks[0].keyframes[0];
    let accepted = &seen["accepted"];
    assert_eq!(k.at_millis, 0);
    assert!((k.region.x - accepted["x"].as_f64().unwrap() as f32).abs() < 1e-4);
    assert!((k.region.w - accepted["w"].as_f64().unwrap() as f32).abs() < 1e-4);
}
