//! The web UI over real HTTPS, as a browser uses it: forms, cookies,
//! redirects. Every page is answered by the same operations as the API, so
//! these tests check what the pages show and refuse; the audit log is read
//! back to see that the UI's actions are in it.

use crate::common::*;

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

/// A response read whole, as a browser would have it.
fn page_of(mut response: ureq::http::Response<ureq::Body>) -> Page {
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
            page_of(response.unwrap())
        })
        .await
        .unwrap();
        let mut page = page;
        page.body = String::from_utf8_lossy(&page.raw).into_owned();
        self.keep_cookies(&page);
        page
    }

    /// What a browser keeps of the cookies a page sets.
    fn keep_cookies(&mut self, page: &Page) {
        for c in &page.cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.jar.retain(|(name, _)| name != k);
            if !c.contains("Max-Age=0") {
                self.jar.push((k.to_owned(), v.to_owned()));
            }
        }
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

async fn post_settings(b: &mut Browser, fields: Vec<(String, String)>) -> Page {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post("/admin/settings", &refs).await
}

mod administration;
mod axis;
mod cases;
mod oversight;
mod recordings;
mod sign_in;
mod subject_requests;
