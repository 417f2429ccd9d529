//! The first thing every request meets. Each path segment must be an
//! identifier and each query value bounded text, before any handler, the
//! catalog, an error message or the audit log sees them: a hostile value
//! is refused with `400` (and that refusal audited with an excerpt of it),
//! never carried further as it was given.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use custos_audit::{excerpt, is_hostile_char, AuditEvent, Outcome};

use crate::http::{ApiError, Code};
use crate::Deployment;

/// Every id Custos hands out or accepts (recording and hold UUIDs, case,
/// camera and dock ids, user names, 64-hex-digit link tokens) fits.
pub const MAX_SEGMENT_BYTES: usize = 64;
/// A query string as a whole, and one value in it (decoded).
pub const MAX_QUERY_BYTES: usize = 4096;
pub const MAX_QUERY_VALUE_BYTES: usize = 1024;
/// Parameters in one query string.
pub const MAX_QUERY_PAIRS: usize = 32;

/// What is wrong with a request's target; says where, never echoes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error(
        "path segment {0} is not an identifier (at most {MAX_SEGMENT_BYTES} of A-Z a-z 0-9 . _ -)"
    )]
    Segment(usize),
    #[error("the query string is longer than {MAX_QUERY_BYTES} bytes")]
    QueryTooLong,
    #[error("the query string has more than {MAX_QUERY_PAIRS} parameters")]
    TooManyParameters,
    #[error("query parameter {0} is not text of at most {MAX_QUERY_VALUE_BYTES} bytes without control characters")]
    Parameter(usize),
}

fn identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn bounded_text(bytes: &[u8]) -> bool {
    bytes.len() <= MAX_QUERY_VALUE_BYTES
        && std::str::from_utf8(bytes).is_ok_and(|s| !s.chars().any(is_hostile_char))
}

/// Checks a request target (path and query) as [`Malformed`] describes.
pub fn check_target(uri: &Uri) -> Result<(), Malformed> {
    for (i, segment) in uri.path().split('/').enumerate().skip(1) {
        // Percent-encoding spells nothing an identifier needs: any `%` is
        // refused with the bytes it would decode to.
        if segment.len() > MAX_SEGMENT_BYTES || !segment.bytes().all(identifier_byte) {
            return Err(Malformed::Segment(i));
        }
    }
    let Some(query) = uri.query() else {
        return Ok(());
    };
    if query.len() > MAX_QUERY_BYTES {
        return Err(Malformed::QueryTooLong);
    }
    let mut pairs = 0;
    for (i, pair) in query.split('&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        pairs += 1;
        if pairs > MAX_QUERY_PAIRS {
            return Err(Malformed::TooManyParameters);
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| -> Vec<u8> {
            let plus_as_space = s.replace('+', " ");
            percent_encoding::percent_decode_str(&plus_as_space).collect()
        };
        if !bounded_text(&decode(key)) || !bounded_text(&decode(value)) {
            return Err(Malformed::Parameter(i + 1));
        }
    }
    Ok(())
}

/// Refuses a malformed target with `400`, audited: the actor is whoever
/// the request's bearer token names (an insider's probing is theirs), else
/// `anonymous`; the object is an excerpt of the path.
pub async fn refuse_malformed(
    State(d): State<Arc<Deployment>>,
    request: Request,
    next: Next,
) -> Response {
    let Err(malformed) = check_target(request.uri()) else {
        return next.run(request).await;
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    // Only a bearer token names the sender: a cookie is sent by the
    // browser whoever made it send the request (another host of the city's
    // domain is same-site), and a refusal must not be pinned on its owner.
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let caller = match token {
        Some(token) => d.auth.caller(&token).await.ok(),
        None => None,
    };
    let mut event = AuditEvent::new(
        (d.clock)(),
        caller
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |c| c.actor()),
        "request.refused",
        Outcome::Refused,
    )
    .object(format!("path:{}", excerpt(request.uri().path())))
    .client(client)
    .detail(format!("{} {malformed}", request.method()));
    if let Some(c) = &caller {
        event = event.role(c.role.as_str());
    }
    // An insider's refusals are each theirs on record; an anonymous source
    // past its rate is counted and recorded once a second (RefusalAudit).
    let own_entry = caller.is_some()
        || d.auth
            .refusal_audit
            .admit(&crate::admission::source_of_request(&request), (d.clock)());
    if own_entry {
        if let Err(e) = d.audit.record(event).await {
            return crate::api::unavailable(e).into_response();
        }
    }
    let answer = ApiError::new(Code::MalformedRequest, malformed.to_string());
    if request.uri().path().starts_with("/api/") {
        answer.into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("400 Bad Request: {malformed}\n"),
        )
            .into_response()
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/request_target.rs`): request
/// targets and `Cookie` headers as they arrive. A target the edge lets
/// through holds only identifiers in its path and bounded text in its
/// query; a cookie is found or not — never a panic.
#[doc(hidden)]
pub fn fuzz_request(data: &[u8]) {
    let (target, cookie) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(uri) = Uri::try_from(target) {
        if check_target(&uri).is_ok() {
            for segment in uri.path().split('/').skip(1) {
                assert!(segment.len() <= MAX_SEGMENT_BYTES && segment.bytes().all(identifier_byte));
            }
        }
    }
    if let Ok(value) = axum::http::HeaderValue::from_bytes(cookie) {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, value);
        let _ = crate::api::cookie_in(&headers, crate::api::SESSION_COOKIE);
        let _ = crate::api::cookie_in(&headers, "custos_lang");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &str) -> Result<(), Malformed> {
        check_target(&target.parse::<Uri>().unwrap())
    }

    #[test]
    fn identifiers_and_bounded_queries_pass() {
        for good in [
            "/",
            "/api/v1/recordings/0190f0c4-0000-7000-8000-000000000001/video?purpose=complaint&case=K-17",
            "/api/v1/users/anna.de-vries_2/reset-password",
            "/download/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "/recordings?from=2026-01-01&officer=boa+17&page=2",
            "/language?set=de&back=%2Frecordings%3Fpage%3D2",
            "/login?next=/cases/K-17",
            "/recordings?q=Stra%C3%9Fe",
            "/static/custos.css",
            "/api/v1/audit/entries?",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn hostile_targets_are_named_not_echoed() {
        let long = "a".repeat(65);
        let long_query = format!("/recordings?x={}", "a".repeat(MAX_QUERY_BYTES));
        let long_value = format!("/recordings?x={}", "a".repeat(MAX_QUERY_VALUE_BYTES + 1));
        let many = format!("/recordings?{}", "a=1&".repeat(MAX_QUERY_PAIRS + 1));
        let cases = [
            (format!("/api/v1/recordings/{long}"), Malformed::Segment(4)),
            ("/api/v1/recordings/a%2Fb".into(), Malformed::Segment(4)),
            ("/api/v1/cases/K%0A17/close".into(), Malformed::Segment(4)),
            ("/api/v1/cases/K%C2%8517".into(), Malformed::Segment(4)),
            ("/api/v1/users/%C3%A9".into(), Malformed::Segment(4)),
            ("/api/v1/users/a:b".into(), Malformed::Segment(4)),
            ("/recordings/%00".into(), Malformed::Segment(2)),
            ("/language?set=en&back=/%0a".into(), Malformed::Parameter(2)),
            (
                "/language?set=en&back=/%09/evil.example".into(),
                Malformed::Parameter(2),
            ),
            ("/x?a=%C2%85".into(), Malformed::Parameter(1)),
            ("/x?a=%E2%80%AE".into(), Malformed::Parameter(1)),
            ("/x?a=%FF%FE".into(), Malformed::Parameter(1)),
            ("/x?%7f=1".into(), Malformed::Parameter(1)),
            (long_query, Malformed::QueryTooLong),
            (long_value, Malformed::Parameter(1)),
            (many, Malformed::TooManyParameters),
        ];
        for (target, expected) in cases {
            let got = check(&target);
            assert_eq!(got, Err(expected), "{target}");
            let message = got.unwrap_err().to_string();
            assert!(!message.contains("evil") && message.len() < 200);
        }
    }
}
