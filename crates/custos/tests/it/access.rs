//! People at the evidence server: sign-in with password and TOTP, lockout,
//! idle expiry, CSRF, and the full authorisation matrix — every endpoint ×
//! every role + anonymous — against a table written here, independently of
//! the policy module. The clock is injected: nothing waits.

use crate::common::ROLES;
use custos_catalog::stores::*;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use custos_format::UtcMillis;
use custos_keys::secrecy::SecretString;
use custos_server::admin::Admin;
use custos_server::{RunningServer, ServerConfig};

const PASS: &str = "access test passphrase";
const START: i64 = 1_790_000_000_000;

struct World {
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    now: Arc<AtomicI64>,
    agent: ureq::Agent,
    base: String,
}

struct Account {
    name: String,
    password: String,
    secret: String,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("server");
        custos_keys::EvidenceKeyStore::new(&data)
            .init(&SecretString::from(PASS.to_owned()), 10)
            .unwrap();
        let now = Arc::new(AtomicI64::new(START));
        let clock_now = now.clone();
        let clock: custos_server::Clock =
            Arc::new(move || UtcMillis::from_millis(clock_now.load(Ordering::SeqCst)).unwrap());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = ServerConfig {
            axis: None,
            // Every person here signs in from 127.0.0.1: the limits on one
            // source have tests of their own (abuse.rs), these test accounts.
            limits: custos_server::limits::Limits {
                admission: custos_server::admission::AdmissionConfig {
                    source_free_failures: 1000,
                    ..Default::default()
                },
                new_connections_per_source_per_second: 1_000_000,
                new_connections_per_source_burst: 1_000_000,
                ..Default::default()
            },
            storage: Default::default(),
            data: data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            server_id: "test-city".into(),
            retention: custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
            policy: Default::default(),
        };
        let server = rt
            .block_on(custos_server::start(
                config,
                &SecretString::from(PASS.to_owned()),
                clock,
            ))
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = ureq::tls::Certificate::from_pem(server.certificate_pem.as_bytes()).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("https://localhost:{}", server.addr.port());
        Self {
            _tmp: tmp,
            data,
            rt,
            server: Some(server),
            now,
            agent,
            base,
        }
    }

    fn advance_seconds(&self, s: i64) {
        self.now.fetch_add(s * 1000, Ordering::SeqCst);
    }

    fn now(&self) -> UtcMillis {
        UtcMillis::from_millis(self.now.load(Ordering::SeqCst)).unwrap()
    }

    fn add_user(&self, name: &str, role: &str, officer_id: Option<&str>) -> Account {
        let initial = self.add_user_initial(name, role, officer_id);
        // The initial password must be replaced at the first sign-in; the
        // clock steps past the TOTP step used here.
        self.advance_seconds(30);
        let token = self.sign_in(&initial);
        let renewed = format!("renewed {}", initial.password);
        let (status, body) = self.call(
            "POST",
            "/api/v1/session/password",
            Some(&token),
            Some(
                serde_json::json!({"current_password": initial.password, "new_password": renewed}),
            ),
        );
        assert_eq!(status, 200, "{body}");
        self.advance_seconds(30);
        Account {
            password: renewed,
            ..initial
        }
    }

    /// An account as the admin made it: initial password, not yet replaced.
    fn add_user_initial(&self, name: &str, role: &str, officer_id: Option<&str>) -> Account {
        let role = custos_access::Role::parse(role).unwrap();
        let e = self
            .rt
            .block_on(async {
                Admin::open(&self.data)
                    .await
                    .unwrap()
                    .add_user(name, role, officer_id.map(str::to_owned))
                    .await
            })
            .unwrap();
        Account {
            name: name.into(),
            password: e.password.to_string(),
            secret: e.totp_secret.to_string(),
        }
    }

    fn code(&self, a: &Account) -> String {
        custos_server::auth::totp_code(&a.secret, self.now()).unwrap()
    }

    /// Signs in; returns (status, body, set-cookie).
    fn sign_in_raw(
        &self,
        name: &str,
        password: &str,
        code: &str,
    ) -> (u16, serde_json::Value, String) {
        let mut r = self
            .agent
            .post(format!("{}/api/v1/session", self.base))
            .send_json(serde_json::json!({"name": name, "password": password, "code": code}))
            .unwrap();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = r.body_mut().read_json().unwrap_or(serde_json::Value::Null);
        (r.status().as_u16(), body, cookie)
    }

    /// The `Retry-After` of a sign-in refused with 429 (the body: a wrong
    /// password, which an account in back-off does not look at).
    fn retry_after(&self, name: &str) -> Option<u64> {
        let r = self
            .agent
            .post(format!("{}/api/v1/session", self.base))
            .send_json(serde_json::json!({"name": name, "password": "x", "code": "000000"}))
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            429,
            "only asked of an account in back-off"
        );
        r.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// The wait the catalog holds for an account, in seconds from now.
    fn stored_wait(&self, name: &str) -> Option<i64> {
        let d = &self.server.as_ref().unwrap().deployment;
        let user = self.rt.block_on(d.catalog.user(name)).unwrap().unwrap();
        user.locked_until
            .map(|t| (t.as_millis() - self.now().as_millis()) / 1000)
            .filter(|s| *s > 0)
    }

    fn sign_in(&self, a: &Account) -> String {
        let (status, body, _) = self.sign_in_raw(&a.name, &a.password, &self.code(a));
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call()
            }
            ("PUT", body) => {
                let mut req = self.agent.put(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.send_json(body.unwrap_or_default())
            }
            ("DELETE", _) => {
                let mut req = self.agent.delete(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call()
            }
            ("POST", body) => {
                let mut req = self.agent.post(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                match body {
                    Some(b) => req.send_json(b),
                    None => req.send_empty(),
                }
            }
            _ => unreachable!(),
        }
        .unwrap();
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_json()
            .unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// The audit entries from index `from` on, read from the running server's catalog.
    fn audit_since(&self, from: u64) -> Vec<custos_audit::AuditEvent> {
        let catalog = self.server.as_ref().unwrap().deployment.catalog.clone();
        self.rt.block_on(async {
            catalog
                .audit_entries(from, 100_000)
                .await
                .unwrap()
                .iter()
                .map(|r| custos_audit::AuditEntry::parse(&r.bytes).unwrap().event)
                .collect()
        })
    }

    fn audit_actions(&self) -> Vec<(String, String, String)> {
        self.rt.block_on(async {
            let catalog = custos_catalog_sqlite::open(&self.data).await.unwrap();
            catalog
                .audit_entries(0, 100_000)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    let e = custos_audit::AuditEntry::parse(&r.bytes).unwrap().event;
                    (e.actor, e.action, e.outcome.as_str().to_owned())
                })
                .collect()
        })
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// Endpoints that take a dock's credentials, never a person's session.
fn dock_only(path: &str) -> bool {
    path == "/api/v1/dock" || path.starts_with("/api/v1/dock/") || path.contains("/uploads")
}

/// The deployment's promise, written out independently of the policy
/// module, one route a line: method and path, the roles allowed (`-`: no
/// person at all, a dock's credentials only) and the JSON body sent, if
/// any. `{id}` stands for a well-formed id of nothing; `#` starts a note.
const MATRIX: &str = r#"
GET /api/v1/session                                             | officer reviewer privacy-officer admin auditor evaluator
# Aggregates only: an officer gets their own numbers.
GET /api/v1/statistics                                          | officer privacy-officer auditor evaluator
GET /api/v1/statistics/csv?from=2026-01-01&to=2026-01-31        | officer privacy-officer auditor evaluator
PUT /api/v1/devices/cam-1/team                                  | admin | {"team": "noord"}
GET /api/v1/recordings                                          | officer reviewer privacy-officer
GET /api/v1/recordings/{id}                                     | officer reviewer privacy-officer
GET /api/v1/recordings/{id}/audit                               | reviewer privacy-officer auditor
GET /api/v1/incidents                                           | privacy-officer admin auditor
GET /api/v1/audit/checkpoint                                    | privacy-officer auditor
GET /api/v1/audit/entries?from=0&limit=5                        | privacy-officer auditor
GET /api/v1/audit/proofs/inclusion?index=0&size=1               | privacy-officer auditor
GET /api/v1/audit/proofs/consistency?from=0&to=1                | privacy-officer auditor
GET /api/v1/users                                               | privacy-officer admin
POST /api/v1/users                                              | admin | {"name": "", "role": "auditor"}
POST /api/v1/users/nobody/unlock                                | admin
POST /api/v1/users/nobody/reset-password                        | admin
POST /api/v1/users/nobody/disable                               | admin
POST /api/v1/users/nobody/reset-mfa                             | admin
GET /api/v1/devices                                             | admin
POST /api/v1/devices                                            | admin | {"device_id": "cam-new", "public_key": "zz"}
POST /api/v1/devices/nope/revoke                                | admin
PUT /api/v1/devices/nope/officer                                | admin | {"officer_id": "boa-1"}
GET /api/v1/settings                                            | privacy-officer admin auditor
PUT /api/v1/settings                                            | admin | {"retention": "0d", "purposes": []}
GET /api/v1/docks                                               | admin
POST /api/v1/docks                                              | admin | {"dock_id": "has spaces"}
POST /api/v1/docks/nope/revoke                                  | admin
PUT /api/v1/devices/nope/retention                              | admin | {"category": "standard"}
GET /api/v1/retention                                           | officer reviewer privacy-officer admin auditor evaluator
PUT /api/v1/recordings/{id}/retention                           | privacy-officer | {"category": "standard", "reason": "test footage"}
# Footage: allowed roles then meet the purpose check (403 purpose-…).
GET /api/v1/recordings/{id}/video                               | reviewer privacy-officer
GET /api/v1/recordings/{id}/video?purpose=complaint&case=k-1    | reviewer privacy-officer
GET /api/v1/recordings/{id}/joined                              | reviewer privacy-officer
GET /api/v1/recordings/{id}/joined?purpose=complaint&case=k-1   | reviewer privacy-officer
GET /api/v1/recordings/{id}/thumbnail?at=1                      | reviewer privacy-officer
GET /api/v1/recordings/{id}/faces?at=1                          | reviewer privacy-officer
GET /api/v1/recordings/{id}/download?purpose=complaint&case=k-1 | reviewer privacy-officer
GET /api/v1/cases                                               | reviewer privacy-officer
POST /api/v1/cases                                              | reviewer privacy-officer | {"kind": "nonsense", "label": "x"}
GET /api/v1/cases/k-1                                           | reviewer privacy-officer
POST /api/v1/cases/k-1/close                                    | reviewer privacy-officer
POST /api/v1/cases/k-1/holds                                    | reviewer privacy-officer | {"recording_id": "{id}", "reason": "x"}
POST /api/v1/cases/k-1/recordings                               | reviewer privacy-officer | {"recording_id": "{id}", "reason": "x"}
POST /api/v1/cases/k-1/exports                                  | reviewer privacy-officer | {"purpose": "complaint", "recipient": "x", "passphrase": "0123456789abcdef"}
GET /api/v1/cases/k-1/export-requests                           | reviewer privacy-officer
POST /api/v1/cases/k-1/export-requests                          | reviewer privacy-officer | {"purpose": "complaint", "recipient": "x"}
POST /api/v1/export-requests/{id}/approve                       | reviewer privacy-officer
GET /api/v1/cases/k-1/export-links                              | reviewer privacy-officer
POST /api/v1/export-links/{id}/revoke                           | reviewer privacy-officer
POST /api/v1/subject-requests                                   | privacy-officer | {}
GET /api/v1/subject-requests                                    | privacy-officer
GET /api/v1/subject-requests/k-1                                | privacy-officer
POST /api/v1/subject-requests/k-1/extend                        | privacy-officer | {"months": 1, "reason": "x"}
POST /api/v1/subject-requests/k-1/search                        | privacy-officer | {}
GET /api/v1/subject-requests/k-1/derivatives                    | privacy-officer
POST /api/v1/subject-requests/k-1/delivery                      | privacy-officer | {"passphrase": "0123456789abcdef"}
POST /api/v1/subject-requests/k-1/derivatives                   | privacy-officer | {}
GET /api/v1/derivatives/{id}/video                              | privacy-officer
POST /api/v1/holds/{id}/approve                                 | reviewer privacy-officer
POST /api/v1/holds/{id}/release                                 | reviewer privacy-officer
# Accounts that can see footage: asked by an admin, decided by the
# privacy officer (issue 20).
GET /api/v1/activations                                         | privacy-officer admin
POST /api/v1/activations/{id}/approve                           | privacy-officer
POST /api/v1/activations/{id}/reject                            | privacy-officer
# Docks' endpoints take dock credentials, never a person's session.
GET /api/v1/dock                                                | -
GET /api/v1/dock/cameras/cam-1                                  | -
POST /api/v1/dock/set-aside                                     | - | {}
POST /api/v1/uploads                                            | - | {}
"#;

/// (method, path, body, roles allowed)
type MatrixRow = (
    &'static str,
    String,
    Option<serde_json::Value>,
    Vec<&'static str>,
);

fn matrix(some_id: &str) -> Vec<MatrixRow> {
    MATRIX
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.splitn(3, " | ");
            let route = fields.next().unwrap();
            let (method, path) = route.split_once(' ').unwrap();
            let roles = fields.next().expect(line).trim();
            let allowed = match roles {
                "-" => Vec::new(),
                roles => roles.split(' ').collect(),
            };
            let body = fields
                .next()
                .map(|json| serde_json::from_str(&json.replace("{id}", some_id)).expect(line));
            (method, path.trim().replace("{id}", some_id), body, allowed)
        })
        .collect()
}

/// One signed-in person per role (`u-<role>`), then nobody at all.
fn everyone(w: &World) -> Vec<(&'static str, Option<String>)> {
    let mut tokens = Vec::new();
    for role in ROLES {
        let officer_id = (role == "officer").then_some("boa-1");
        let account = w.add_user(&format!("u-{role}"), role, officer_id);
        tokens.push((role, Some(w.sign_in(&account))));
    }
    tokens.push(("anonymous", None));
    tokens
}

/// Calls every route of `matrix` as every one of `tokens`: the routes that
/// answered 2xx to a person, and every answer that broke the promise.
fn walk(
    w: &World,
    matrix: &[MatrixRow],
    tokens: &[(&str, Option<String>)],
) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut seen = w.audit_since(0).len() as u64;
    let mut reads_checked = Vec::new();
    for (method, path, body, allowed) in matrix {
        for (role, token) in tokens {
            let (status, response) = w.call(method, path, token.as_deref(), body.clone());
            // Every read and change that succeeded wrote an entry, by this
            // person, naming what it was about (issue 20: no read leaves no
            // trace). One's own session is the only thing read unrecorded.
            let written = w.audit_since(seen);
            seen += written.len() as u64;
            if (200..300).contains(&status) && token.is_some() && path != "/api/v1/session" {
                reads_checked.push(format!("{method} {path}"));
                let actor = format!("user:u-{role}");
                if !written
                    .iter()
                    .any(|e| e.actor == actor && e.object.is_some())
                {
                    failures.push(format!(
                        "{method} {path} as {role}: {status} without an audit entry naming its object: {written:?}"
                    ));
                }
            }
            let expect_allowed = allowed.contains(role);
            // A role refusal is 403 `forbidden`; other 403s (no purpose) come after it.
            let was_allowed =
                status != 401 && !(status == 403 && response["error"]["code"] == "forbidden");
            let right_refusal = match (token, expect_allowed) {
                (None, _) => status == 401,
                (Some(_), false) if dock_only(path) => status == 401,
                (Some(_), false) => status == 403,
                (Some(_), true) => was_allowed && status < 500,
            };
            if !right_refusal {
                failures.push(format!("{method} {path} as {role}: {status} {response}"));
            }
        }
    }
    (reads_checked, failures)
}

/// How many refusals of a signed-in person walking `matrix` must be logged.
fn refusals_expected(matrix: &[MatrixRow]) -> usize {
    let by_role: usize = matrix
        .iter()
        .filter(|(_, path, _, _)| !dock_only(path) && !path.ends_with("/session"))
        .map(|(_, _, _, allowed)| ROLES.len() - allowed.len())
        .sum();
    // Allowed roles asking for footage without a valid purpose and case
    // are refused too (the export names a case that does not exist).
    let by_purpose: usize = matrix
        .iter()
        .filter(|(method, path, _, _)| {
            ["/video", "/joined", "/thumbnail", "/faces", "/download", "/exports"]
                .iter()
                .any(|p| path.contains(p))
                || (*method == "POST" && path.ends_with("/export-requests"))
                // An answer to an unknown request is refused and audited too.
                || path.ends_with("/delivery")
        })
        .map(|(_, _, _, allowed)| allowed.len())
        .sum();
    by_role + by_purpose
}

#[test]
fn authorisation_matrix_every_endpoint_every_role_and_anonymous() {
    let w = World::new();
    let tokens = everyone(&w);
    let matrix = matrix("0190f0c4-0000-7000-8000-000000000001");
    let (mut reads_checked, failures) = walk(&w, &matrix, &tokens);
    assert!(
        failures.is_empty(),
        "matrix broken:\n{}",
        failures.join("\n")
    );
    reads_checked.sort();
    reads_checked.dedup();
    eprintln!(
        "{} routes answered 2xx and were checked for their audit entry",
        reads_checked.len()
    );
    assert!(reads_checked.len() >= 15, "{reads_checked:?}");

    // Every refusal of a signed-in person is in the audit log.
    let refused: Vec<_> = w
        .audit_actions()
        .into_iter()
        .filter(|(_, _, outcome)| outcome == "refused")
        .collect();
    assert_eq!(refused.len(), refusals_expected(&matrix), "{refused:?}");
    assert!(refused
        .iter()
        .any(|(actor, action, _)| actor == "user:u-admin" && action == "recordings.list"));

    // Signing out ends the session for good.
    let admin_token = tokens[3].1.clone().unwrap();
    assert_eq!(
        w.call("DELETE", "/api/v1/session", Some(&admin_token), None)
            .0,
        204
    );
    assert_eq!(
        w.call("GET", "/api/v1/devices", Some(&admin_token), None).0,
        401
    );
}

#[test]
fn sign_in_needs_password_and_fresh_code_and_unknown_names_learn_nothing() {
    let w = World::new();
    let anna = w.add_user("anna", "reviewer", None);

    // Both factors, each alone is not enough.
    assert_eq!(w.sign_in_raw("anna", "wrong", &w.code(&anna)).0, 401);
    assert_eq!(w.sign_in_raw("anna", &anna.password, "000000").0, 401);
    assert_eq!(w.sign_in_raw("anna", &anna.password, "12345").0, 401);
    let (status, body, cookie) = w.sign_in_raw("anna", &anna.password, &w.code(&anna));
    assert_eq!(status, 200, "{body}");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "__Host-custos_session=",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The same code is good once.
    assert_eq!(w.sign_in_raw("anna", &anna.password, &w.code(&anna)).0, 401);
    w.advance_seconds(30);
    assert_eq!(w.sign_in_raw("anna", &anna.password, &w.code(&anna)).0, 200);

    // Unknown names and garbage get the same answer as a wrong password.
    for name in ["nobody", "", "../../etc", "ANNA", &"x".repeat(1000)] {
        let (status, body, _) = w.sign_in_raw(name, "pw", "123456");
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("bad-credentials")),
            "{name}"
        );
    }

    let log = w.audit_actions();
    assert_eq!(
        log[0],
        ("system:server".into(), "server.start".into(), "ok".into()),
        "the settings a server starts with are on record"
    );
    assert!(log
        .iter()
        .any(|(a, act, o)| a == "anonymous" && act == "session.sign-in" && o == "refused"));
    assert!(
        !log.iter()
            .any(|(a, _, _)| a.contains("nobody") || a.contains("etc")),
        "unknown names are not written to the audit log"
    );
}

#[test]
fn five_failures_lock_an_account_for_a_wait_that_doubles_up_to_five_minutes() {
    let w = World::new();
    let bert = w.add_user("bert", "reviewer", None);

    // Five failures in a row: the account's next attempt is not looked at
    // for 15 s (429, no password hashed), even with the right answer.
    for _ in 0..5 {
        assert_eq!(w.sign_in_raw("bert", "guess", "123456").0, 401);
    }
    let (status, body, _) = w.sign_in_raw("bert", &bert.password, &w.code(&bert));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("slow-down"))
    );
    assert_eq!(w.retry_after("bert"), Some(15));
    // After the wait the person's own sign-in (password and a fresh code)
    // gets in, and ends the back-off.
    w.advance_seconds(30);
    assert_eq!(w.sign_in_raw("bert", &bert.password, &w.code(&bert)).0, 200);
    // Someone else guessing on: each wait doubles, up to five minutes and
    // no more, so nobody can keep the person out for longer than that.
    let mut waits = Vec::new();
    for _ in 0..9 {
        w.advance_seconds(300);
        assert_eq!(w.sign_in_raw("bert", "guess", "123456").0, 401);
        waits.push(w.stored_wait("bert"));
    }
    assert_eq!(
        waits,
        [
            None,
            None,
            None,
            None,
            Some(15),
            Some(30),
            Some(60),
            Some(120),
            Some(240)
        ]
    );
    w.advance_seconds(300);
    assert_eq!(w.sign_in_raw("bert", "guess", "123456").0, 401);
    assert_eq!(w.stored_wait("bert"), Some(300), "the ceiling");
    assert_eq!(w.retry_after("bert"), Some(300));
    w.advance_seconds(300);
    assert_eq!(w.sign_in_raw("bert", &bert.password, &w.code(&bert)).0, 200);

    let log = w.audit_actions();
    let failed_bert = log
        .iter()
        .filter(|(a, act, o)| a == "user:bert" && act == "session.sign-in" && o == "refused")
        .count();
    assert_eq!(
        failed_bert,
        5 + 2 + 10 + 1,
        "5 failures, 2 refusals in back-off, 10 failures, 1 more refusal in back-off"
    );
}

#[test]
fn sessions_expire_after_thirty_idle_minutes() {
    let w = World::new();
    let admin = w.add_user("root-admin", "admin", None);
    let token = w.sign_in(&admin);
    // Activity keeps a session alive...
    w.advance_seconds(20 * 60);
    assert_eq!(w.call("GET", "/api/v1/devices", Some(&token), None).0, 200);
    w.advance_seconds(25 * 60);
    assert_eq!(w.call("GET", "/api/v1/devices", Some(&token), None).0, 200);
    // ...thirty idle minutes end it.
    w.advance_seconds(30 * 60 + 1);
    assert_eq!(w.call("GET", "/api/v1/devices", Some(&token), None).0, 401);
    assert_eq!(
        w.call("GET", "/api/v1/devices", Some("garbage"), None).0,
        401
    );
}

#[test]
fn a_browsers_cookie_needs_the_csrf_token_for_changes_and_a_new_account_its_own_password() {
    let w = World::new();
    let admin = w.add_user("root-admin", "admin", None);
    // A browser's cookie works for reads; changes need the CSRF token too.
    w.advance_seconds(30);
    let (_, body, _) = w.sign_in_raw(&admin.name, &admin.password, &w.code(&admin));
    let cookie = format!("__Host-custos_session={}", body["token"].as_str().unwrap());
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let get = w
        .agent
        .get(format!("{}/api/v1/devices", w.base))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(get.status().as_u16(), 200);
    let new_user = serde_json::json!({"name": "carla", "role": "auditor"});
    let without = w
        .agent
        .post(format!("{}/api/v1/users", w.base))
        .header("cookie", &cookie)
        .send_json(new_user.clone())
        .unwrap();
    assert_eq!(without.status().as_u16(), 403);
    // A small body is read before the refusal (closing a socket with an
    // unread body would send a reset that can swallow the 403): the
    // connection stays open for the next request.
    assert_ne!(
        without
            .headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close")
    );
    let wrong = w
        .agent
        .post(format!("{}/api/v1/users", w.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", "0".repeat(64))
        .send_json(new_user.clone())
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let mut with = w
        .agent
        .post(format!("{}/api/v1/users", w.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send_json(new_user.clone())
        .unwrap();
    assert_eq!(with.status().as_u16(), 201);
    let enrollment: serde_json::Value = with.body_mut().read_json().unwrap();
    assert!(enrollment["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    // The new account signs in with what it was given.
    w.advance_seconds(30);
    let carla = Account {
        name: "carla".into(),
        password: enrollment["initial_password"].as_str().unwrap().into(),
        secret: enrollment["totp_secret"].as_str().unwrap().into(),
    };
    let carla_token = w.sign_in(&carla);
    // ...and must replace the initial password (the admin saw it) first.
    assert_eq!(
        w.call("GET", "/api/v1/audit/checkpoint", Some(&carla_token), None)
            .0,
        403
    );
    let (status, _) =
        w.change_password(&carla_token, &carla.password, "an auditor's own passphrase");
    assert_eq!(status, 200);
    assert_eq!(
        w.call("GET", "/api/v1/audit/checkpoint", Some(&carla_token), None)
            .0,
        200
    );
}

#[test]
fn bad_requests_to_user_management_are_clear_and_change_nothing() {
    let w = World::new();
    let admin = w.add_user("root-admin", "admin", None);
    w.add_user_initial("carla", "auditor", None);
    // Bad requests to user management are clear and change nothing.
    let admin_token = w.sign_in(&admin);
    for bad in [
        serde_json::json!({"name": "carla", "role": "auditor"}),
        serde_json::json!({"name": "dora", "role": "superuser"}),
        serde_json::json!({"name": "Dora Space", "role": "auditor"}),
        serde_json::json!({"name": "erik", "role": "officer"}),
        serde_json::json!({"name": "fay"}),
        serde_json::json!("garbage"),
    ] {
        let (status, body) = w.call(
            "POST",
            "/api/v1/users",
            Some(&admin_token),
            Some(bad.clone()),
        );
        assert!(
            status == 400 || status == 409 || status == 422,
            "{bad}: {status} {body}"
        );
    }
    let (_, users) = w.call("GET", "/api/v1/users", Some(&admin_token), None);
    assert_eq!(users.as_array().unwrap().len(), 2);
}

/// Every route the server serves, as the OpenAPI document must list it.
const SERVED: &str = "
GET /api/v1/health
GET /api/v1/openapi.json
POST /api/v1/session
GET /api/v1/session
DELETE /api/v1/session
POST /api/v1/session/password
GET /api/v1/recordings
GET /api/v1/recordings/{id}
GET /api/v1/recordings/{id}/video
GET /api/v1/recordings/{id}/joined
GET /api/v1/recordings/{id}/download
GET /api/v1/recordings/{id}/thumbnail
GET /api/v1/recordings/{id}/faces
GET /api/v1/recordings/{id}/audit
GET /api/v1/incidents
GET /api/v1/audit/checkpoint
GET /api/v1/audit/entries
GET /api/v1/audit/proofs/inclusion
GET /api/v1/audit/proofs/consistency
GET /api/v1/users
POST /api/v1/users
POST /api/v1/users/{name}/unlock
POST /api/v1/users/{name}/reset-password
POST /api/v1/users/{name}/disable
POST /api/v1/users/{name}/reset-mfa
GET /api/v1/activations
POST /api/v1/activations/{id}/approve
POST /api/v1/activations/{id}/reject
POST /api/v1/activate
GET /api/v1/devices
POST /api/v1/devices
POST /api/v1/devices/{id}/revoke
PUT /api/v1/devices/{id}/officer
GET /api/v1/docks
GET /api/v1/settings
PUT /api/v1/settings
POST /api/v1/docks
POST /api/v1/docks/{id}/revoke
GET /api/v1/dock/cameras/{id}
PUT /api/v1/devices/{id}/retention
PUT /api/v1/devices/{id}/team
GET /api/v1/statistics
GET /api/v1/statistics/csv
GET /api/v1/retention
PUT /api/v1/recordings/{id}/retention
GET /api/v1/cases
POST /api/v1/cases
GET /api/v1/cases/{id}
POST /api/v1/cases/{id}/close
POST /api/v1/cases/{id}/holds
POST /api/v1/cases/{id}/recordings
POST /api/v1/cases/{id}/exports
GET /api/v1/cases/{id}/export-requests
POST /api/v1/cases/{id}/export-requests
POST /api/v1/export-requests/{id}/approve
GET /api/v1/cases/{id}/export-links
POST /api/v1/export-links/{id}/revoke
POST /api/v1/downloads/{token}
POST /api/v1/subject-requests
GET /api/v1/subject-requests
GET /api/v1/subject-requests/{id}
POST /api/v1/subject-requests/{id}/extend
POST /api/v1/subject-requests/{id}/search
GET /api/v1/subject-requests/{id}/derivatives
POST /api/v1/subject-requests/{id}/derivatives
GET /api/v1/derivatives/{id}/video
POST /api/v1/subject-requests/{id}/delivery
POST /api/v1/holds/{id}/approve
POST /api/v1/holds/{id}/release
GET /api/v1/dock
POST /api/v1/uploads
PATCH /api/v1/uploads/{id}
HEAD /api/v1/uploads/{id}
POST /api/v1/uploads/{id}/complete
POST /api/v1/dock/set-aside
";

impl World {
    /// Any method on any path, without credentials: (status, body).
    fn raw(&self, method: &str, path: &str) -> (u16, String) {
        let url = format!(
            "{}{}",
            self.base,
            path.replace("{id}", "x")
                .replace("{name}", "x")
                .replace("{token}", "x")
        );
        let request = ureq::http::Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(url)
            .body(())
            .unwrap();
        let mut response = self.agent.run(request).unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }
}

#[test]
fn openapi_document_describes_exactly_the_routes_served() {
    let w = World::new();
    let (status, doc) = w.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Everything documented is served (anonymous callers get 401, not 404/405;
    // a download link's token is its own credential: an unknown one is the
    // handler's 404, which says so)...
    let mut documented = Vec::new();
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let (status, body) = w.raw(method, path);
            let handled = if path.contains("{token}") {
                status == 404 && body.contains("link-unknown")
            } else {
                status != 404 && status != 405
            };
            assert!(
                handled,
                "{method} {path} documented but not served: {status} {body}"
            );
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let (status, body) = w.raw("get", "/api/v1/not-a-route");
    assert_eq!(status, 404, "the check above can fail");
    assert!(!body.contains("link-unknown"));
    // ...and everything served is documented.
    let mut served: Vec<String> = SERVED
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    served.sort();
    documented.sort();
    assert_eq!(documented, served);
}

/// Dora, an admin as made: signed in twice with her initial password.
/// (her account, the first session, the second session)
fn dora_with_an_initial_password(w: &World) -> (Account, String, String) {
    let dora = w.add_user_initial("dora", "admin", None);
    let (status, body, _) = w.sign_in_raw("dora", &dora.password, &w.code(&dora));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_change_required"], true);
    let token = body["token"].as_str().unwrap().to_owned();
    w.advance_seconds(30);
    let (_, second) = {
        let (s, b, _) = w.sign_in_raw("dora", &dora.password, &w.code(&dora));
        (s, b)
    };
    let other_session = second["token"].as_str().unwrap().to_owned();
    (dora, token, other_session)
}

impl World {
    /// Asks, in session `token`, to change the password.
    fn change_password(&self, token: &str, current: &str, new: &str) -> (u16, serde_json::Value) {
        self.call(
            "POST",
            "/api/v1/session/password",
            Some(token),
            Some(serde_json::json!({"current_password": current, "new_password": new})),
        )
    }
}

#[test]
fn an_initial_password_must_be_replaced_before_anything_else() {
    let w = World::new();
    let (dora, token, _) = dora_with_an_initial_password(&w);
    // Nothing but the session itself and the password change is open.
    let (status, refused) = w.call("GET", "/api/v1/devices", Some(&token), None);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("password-change-required"))
    );
    assert_eq!(w.call("GET", "/api/v1/users", Some(&token), None).0, 403);
    assert_eq!(w.call("GET", "/api/v1/session", Some(&token), None).0, 200);

    let change = |current: &str, new: &str| w.change_password(&token, current, new);
    let (status, body) = change("not the password", "a long new passphrase");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad-credentials"))
    );
    for weak in [
        "short",
        &dora.password,
        "my name is DORA, ok?",
        &"x".repeat(257),
    ] {
        let (status, body) = change(&dora.password, weak);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid")),
            "{weak}"
        );
    }
    for garbage in [
        serde_json::json!({}),
        serde_json::json!({"current_password": dora.password}),
        serde_json::json!({"current_password": dora.password, "new_password": 5}),
        serde_json::json!({"current_password": dora.password, "new_password": "a long new passphrase", "x": 1}),
    ] {
        let (status, _) = w.call(
            "POST",
            "/api/v1/session/password",
            Some(&token),
            Some(garbage.clone()),
        );
        assert_eq!(status, 400, "{garbage}");
    }
    let (status, body) = change(&dora.password, "a long new passphrase");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_change_required"], false);

    let log = w.audit_actions();
    let changes: Vec<_> = log
        .iter()
        .filter(|(a, act, _)| a == "user:dora" && act == "user.password-change")
        .map(|(_, _, o)| o.as_str())
        .collect();
    assert_eq!(
        changes,
        ["refused", "refused", "refused", "refused", "refused", "ok"]
    );
}

#[test]
fn after_the_change_the_session_goes_on_the_others_end_and_only_the_new_password_signs_in() {
    let w = World::new();
    let (dora, token, other_session) = dora_with_an_initial_password(&w);
    let (status, body) = w.change_password(&token, &dora.password, "a long new passphrase");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_change_required"], false);

    // This session goes on with everything the role allows; the other one ended.
    assert_eq!(w.call("GET", "/api/v1/devices", Some(&token), None).0, 200);
    assert_eq!(
        w.call("GET", "/api/v1/devices", Some(&other_session), None)
            .0,
        401
    );
    w.advance_seconds(30);
    assert_eq!(
        w.sign_in_raw("dora", &dora.password, &w.code(&dora)).0,
        401,
        "old password"
    );
    w.advance_seconds(30);
    let (status, body, _) = w.sign_in_raw("dora", "a long new passphrase", &w.code(&dora));
    assert_eq!(status, 200);
    assert_eq!(body["password_change_required"], false);
}

#[test]
fn a_forgotten_password_is_reset_by_an_admin_ending_every_session_and_must_be_replaced_again() {
    let w = World::new();
    let (dora, token, _) = dora_with_an_initial_password(&w);
    let (status, _) = w.change_password(&token, &dora.password, "a long new passphrase");
    assert_eq!(status, 200);

    // A forgotten password: the admin resets it; every session of the person
    // ends and the new one (shown once) must be replaced again.
    let root = w.add_user("root", "admin", None);
    let root_token = w.sign_in(&root);
    let (status, reset) = w.call(
        "POST",
        "/api/v1/users/dora/reset-password",
        Some(&root_token),
        None,
    );
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["password_change_required"], true);
    let fresh = reset["initial_password"].as_str().unwrap().to_owned();
    assert_eq!(w.call("GET", "/api/v1/devices", Some(&token), None).0, 401);
    w.advance_seconds(30);
    assert_eq!(
        w.sign_in_raw("dora", "a long new passphrase", &w.code(&dora))
            .0,
        401
    );
    w.advance_seconds(30);
    let (status, body, _) = w.sign_in_raw("dora", &fresh, &w.code(&dora));
    assert_eq!(
        (status, body["password_change_required"].clone()),
        (200, serde_json::json!(true))
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/users/nobody/reset-password",
            Some(&root_token),
            None
        )
        .0,
        404
    );
    assert!(w
        .audit_actions()
        .iter()
        .any(|(a, act, o)| a == "user:root" && act == "user.password-reset" && o == "ok"));
}

#[test]
fn wrong_current_passwords_count_toward_the_lockout_like_failed_sign_ins() {
    let w = World::new();
    // Wrong current passwords count toward the lockout like failed sign-ins.
    let erik = w.add_user_initial("erik", "auditor", None);
    let (_, body, _) = w.sign_in_raw("erik", &erik.password, &w.code(&erik));
    let erik_token = body["token"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        let (status, _) = w.call(
            "POST",
            "/api/v1/session/password",
            Some(&erik_token),
            Some(serde_json::json!({"current_password": "guess", "new_password": "a long new passphrase"})),
        );
        assert_eq!(status, 401);
    }
    assert_eq!(
        w.call("GET", "/api/v1/session", Some(&erik_token), None).0,
        401,
        "whoever held the session was guessing: it ended"
    );
    let (status, _, _) = w.sign_in_raw("erik", &erik.password, &w.code(&erik));
    assert_eq!(status, 429, "the account is in back-off");
    w.advance_seconds(30);
    assert_eq!(w.sign_in_raw("erik", &erik.password, &w.code(&erik)).0, 200);
}
