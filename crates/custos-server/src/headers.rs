//! Headers every response carries, whatever route made it: footage, API
//! answers with personal data, export downloads and error pages alike
//! (issue 19 found them only on HTML pages). A route that set one of them
//! itself (a page's own CSP, a stylesheet's cache lifetime) keeps its own.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// One year: browsers then refuse plain HTTP to this host for a year after
/// one visit. Custos serves HTTPS only, so nothing is lost. Not
/// `includeSubDomains`: the city's other hosts are not ours to decide for;
/// not `preload`, for the same reason (ADR 0012).
pub const HSTS: &str = "max-age=31536000";

/// For anything that is not one of the web UI's pages (which send their
/// own): no content of it runs, nothing frames it.
pub const CSP_NOT_A_PAGE: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox";

const DEFAULTS: [(HeaderName, &str); 7] = [
    (header::STRICT_TRANSPORT_SECURITY, HSTS),
    (header::CONTENT_SECURITY_POLICY, CSP_NOT_A_PAGE),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    // Footage, personal data, tokens: never kept by a browser or a proxy.
    // The stylesheet and the editor's script say otherwise themselves.
    (header::CACHE_CONTROL, "no-store"),
    // Another site may not embed our footage or thumbnails.
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
];

pub async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in DEFAULTS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}
