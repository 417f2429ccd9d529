//! Templates (compiled into the binary), the `t` function that translates in
//! them, time formatting in the deployment's zone, and the headers every
//! page carries.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use fluent_bundle::{FluentArgs, FluentValue};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::i18n::{self, Lang};

/// Every template, by name. Auto-escaping is on for all of them (`.html`).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("password.html", include_str!("../templates/password.html")),
    (
        "recordings.html",
        include_str!("../templates/recordings.html"),
    ),
    (
        "recording.html",
        include_str!("../templates/recording.html"),
    ),
    ("purpose.html", include_str!("../templates/purpose.html")),
    ("player.html", include_str!("../templates/player.html")),
    ("deletion.html", include_str!("../templates/deletion.html")),
    ("cases.html", include_str!("../templates/cases.html")),
    ("case.html", include_str!("../templates/case.html")),
    ("audit.html", include_str!("../templates/audit.html")),
    (
        "incidents.html",
        include_str!("../templates/incidents.html"),
    ),
    ("users.html", include_str!("../templates/users.html")),
    ("secret.html", include_str!("../templates/secret.html")),
    ("awaiting.html", include_str!("../templates/awaiting.html")),
    (
        "activation_link.html",
        include_str!("../templates/activation_link.html"),
    ),
    ("activate.html", include_str!("../templates/activate.html")),
    ("link.html", include_str!("../templates/link.html")),
    ("redact.html", include_str!("../templates/redact.html")),
    (
        "subject_requests.html",
        include_str!("../templates/subject_requests.html"),
    ),
    (
        "subject_request.html",
        include_str!("../templates/subject_request.html"),
    ),
    ("download.html", include_str!("../templates/download.html")),
    ("devices.html", include_str!("../templates/devices.html")),
    ("settings.html", include_str!("../templates/settings.html")),
    (
        "statistics.html",
        include_str!("../templates/statistics.html"),
    ),
];

fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::En)
}

/// `{{ t("key", name=value) }}`: the key in the page's language. A
/// `fallback=` shows instead of a key no file has (a purpose a deployment
/// added to its list, say).
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<String, Error> {
    let lang = lang_of(state);
    if let Some(fallback) = kwargs.get::<Option<String>>("fallback")? {
        if !i18n::has(lang, key) {
            return Ok(fallback);
        }
    }
    let mut args = FluentArgs::new();
    for name in kwargs.args().filter(|n| *n != "fallback") {
        let value: Value = kwargs.get(name)?;
        let fluent = match value.as_i64() {
            Some(n) => FluentValue::from(n),
            None => FluentValue::from(value.to_string()),
        };
        args.set(name.to_owned(), fluent);
    }
    Ok(i18n::t(lang, key, Some(&args)))
}

/// `{{ at|time }}`: an RFC 3339 time as `2026-11-24 14:05:09 CET` in the
/// deployment's zone (`tz` in the context).
fn time(state: &State, value: Value) -> Result<String, Error> {
    let Some(text) = value.as_str() else {
        return Ok(String::new());
    };
    let zone = state
        .lookup("tz")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UTC".into());
    format_time(text, &zone).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("not an RFC 3339 time: {text}"),
        )
    })
}

pub fn format_time(rfc3339: &str, zone: &str) -> Option<String> {
    let ts: jiff::Timestamp = rfc3339.parse().ok()?;
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    Some(ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
}

/// `{{ bytes|size }}`: 734003200 → `700.0 MiB`.
fn size(value: Value) -> String {
    let n = value.as_i64().unwrap_or(0) as f64;
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `{{ seconds|clock }}`: 125 → `2:05`, 3725 → `1:02:05`.
fn clock(value: Value) -> String {
    let s = value.as_i64().unwrap_or(0).max(0);
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

pub fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
        }
        env.add_function("t", translate);
        env.add_filter("time", time);
        env.add_filter("size", size);
        env.add_filter("clock", clock);
        env.add_filter("urlencode_component", |v: String| url_encode(&v));
        env
    })
}

/// Pages hold personal data: never cached, never framed, no scripts or
/// styles from anywhere else, no referrer leaving the page.
fn with_headers(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Renders `template` with `context` (which must hold `lang`). A template
/// that fails to render is a bug: 500, logged without the context.
pub fn page(status: StatusCode, template: &str, context: Value) -> Response {
    match environment()
        .get_template(template)
        .and_then(|t| t.render(context))
    {
        Ok(html) => with_headers(status, html),
        Err(e) => {
            tracing::error!(template, error = %format!("{e:#}"), "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response()
        }
    }
}

/// An error page: the code's translation (`error-CODE`), else the general one.
pub fn error_page(lang: Lang, status: StatusCode, code: &str, person: Option<Value>) -> Response {
    let key = format!("error-{code}");
    let key = if i18n::has(lang, &key) {
        key
    } else {
        "error-general".to_owned()
    };
    page(
        status,
        "error.html",
        minijinja::context! {
            lang => lang.code(),
            languages => languages(),
            tz => "UTC",
            person => person,
            here => "/",
            status => status.as_u16(),
            message_key => key,
        },
    )
}

pub fn languages() -> Vec<Value> {
    Lang::ALL
        .iter()
        .map(|l| minijinja::context! { code => l.code(), name => l.name() })
        .collect()
}

/// The redaction editor's script (same origin, as every script the UI has).
pub async fn editor_script() -> Response {
    script(include_str!("../static/redact.js"))
}

/// The player's script: an Axis recording's clips played as one.
pub async fn player_script() -> Response {
    script(include_str!("../static/player.js"))
}

fn script(body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

pub async fn stylesheet() -> Response {
    let mut r = include_str!("../static/custos.css").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A local path to come back to (`/recordings?page=2`), never another
/// site. Without one: the start page, which knows where each role begins.
///
/// Only a path on this origin survives: one `/` then visible ASCII, no
/// backslash, at most 2,000 bytes — and the same once percent-decoded, so
/// `/%2F/evil.example` or `/%09/evil.example` is not a way round. Browsers
/// drop tabs and newlines and read `\\` as `/`, which is how `/\t/evil.example`
/// left the site (issue 19); a header value with them made a 500.
pub fn local_path(next: Option<&str>) -> String {
    fn local(p: &str) -> bool {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.contains('\\')
            && !p.chars().any(custos_audit::is_hostile_char)
    }
    match next {
        Some(p)
            if p.len() <= 2000
                && p.bytes().all(|b| b.is_ascii_graphic())
                && local(p)
                && percent_encoding::percent_decode_str(p)
                    .decode_utf8()
                    .is_ok_and(|decoded| local(&decoded)) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_the_deployments_zone_with_its_abbreviation() {
        assert_eq!(
            format_time("2026-11-24T13:05:09.000Z", "Europe/Amsterdam").unwrap(),
            "2026-11-24 14:05:09 CET"
        );
        assert_eq!(
            format_time("2026-07-01T10:00:00.000Z", "Europe/Berlin").unwrap(),
            "2026-07-01 12:00:00 CEST"
        );
        assert_eq!(format_time("yesterday", "Europe/Berlin"), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/recordings?page=2")), "/recordings?page=2");
        for good in [
            "/",
            "/recordings/0190f0c4-0000-7000-8000-000000000001",
            "/cases/K-17?tab=holds#top",
            "/recordings?officer=boa%2017&from=2026-01-01",
            "/@evil.example",
            "/.//x",
        ] {
            assert_eq!(local_path(Some(good)), good);
        }
        // Shapes known to leave a site (OWASP's open-redirect list, and
        // what Chromium does with tabs, newlines and backslashes).
        for bad in [
            "https://evil.example/",
            "http:evil.example",
            "//evil.example/x",
            "///evil.example",
            "////evil.example",
            "/\\evil",
            "\\/evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\r\n/evil.example",
            "/\u{0}/evil.example",
            "/\u{7f}",
            "/\u{85}/evil.example",
            " /evil.example",
            "/ /evil.example",
            "\t//evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5c/evil.example",
            "/%09/evil.example",
            "/%0a/evil.example",
            "/%0D%0ALocation:%20https://evil.example",
            "/%00",
            "/%FF",
            "/\u{3000}evil.example",
            "\u{ff0f}\u{ff0f}evil.example",
            "/\u{2215}\u{2215}evil.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.example",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(2000)))), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn sizes_and_clocks_read_as_people_write_them() {
        assert_eq!(size(Value::from(734_003_200)), "700.0 MiB");
        assert_eq!(size(Value::from(512)), "512 B");
        assert_eq!(clock(Value::from(125)), "2:05");
        assert_eq!(clock(Value::from(3725)), "1:02:05");
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    /// `t("literal-key"` in a template.
    fn literal_keys(source: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for quote in ['"', '\''] {
            let needle = format!("t({quote}");
            let mut rest = source;
            while let Some(i) = rest.find(&needle) {
                rest = &rest[i + needle.len()..];
                let end = rest.find(quote).expect("closed");
                let key = &rest[..end];
                // `t("role-" ~ x)` is a family, checked below.
                if !rest[end + 1..].trim_start().starts_with('~') {
                    keys.push(key.to_owned());
                }
            }
        }
        keys
    }

    #[test]
    fn every_key_a_template_names_exists_in_every_language() {
        let mut checked = 0;
        for (name, source) in TEMPLATES {
            for key in literal_keys(source) {
                for lang in Lang::ALL {
                    assert!(
                        i18n::has(lang, &key),
                        "{name}: `{key}` missing in {}",
                        lang.code()
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn every_member_of_a_key_family_exists() {
        let mut family: Vec<String> = Vec::new();
        family.extend(
            custos_access::Role::ALL
                .iter()
                .map(|r| format!("role-{}", r.as_str())),
        );
        family.extend(
            custos_access::DEFAULT_PURPOSES
                .iter()
                .map(|p| format!("purpose-{p}")),
        );
        family.extend(
            custos_catalog::IncidentKind::ALL
                .iter()
                .map(|k| format!("incident-{}", k.as_str())),
        );
        for status in ["stored", "stored-truncated"] {
            family.push(format!("status-{status}"));
        }
        for kind in ["enrollment", "password", "mfa", "dock"] {
            family.push(format!("secret-{kind}-how"));
        }
        for o in ["ok", "refused", "failed"] {
            family.push(format!("outcome-{o}"));
        }
        for k in custos_server::api::case_kinds() {
            family.push(format!("case-kind-{k}"));
        }
        for t in ["record-button", "display-touch"] {
            family.push(format!("trigger-{t}"));
        }
        for s in [
            "stop-button",
            "storage-full",
            "shutdown",
            "source-ended",
            "power-loss",
        ] {
            family.push(format!("stop-{s}"));
        }
        for f in ["from", "to", "status", "held", "due", "page", "outcome"] {
            family.push(format!("filter-{f}"));
        }
        // Every refusal a person can meet (all but the docks' own, which
        // no page shows), and the pages' own form checks.
        let docks_only = [
            "dock-revoked",
            "camera-unknown",
            "camera-revoked",
            "malformed-manifest",
            "bad-signature",
            "wrong-evidence-key",
            "broken-chain",
            "ciphertext-mismatch",
            "replay",
            "offset-mismatch",
            "upload-busy",
            "incomplete",
            "upload-not-found",
            "recording-deleted",
            "too-large",
            "storage-full",
            "storage-unavailable",
        ];
        for code in custos_server::http::Code::ALL {
            if !docks_only.contains(&code.as_str()) {
                family.push(format!("error-{code}"));
            }
        }
        for code in [
            "recording-id",
            "password-mismatch",
            "password-rules",
            "current-password",
        ] {
            family.push(format!("error-{code}"));
        }
        for key in family {
            for lang in Lang::ALL {
                assert!(i18n::has(lang, &key), "`{key}` missing in {}", lang.code());
            }
        }
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            environment().get_template(name).unwrap();
        }
    }
}
