//! The Axis listener's routes: `GET /auth/v1.0`, and `/v1/AUTH_<connection>/…`
//! for containers and objects. Paths are split on their raw `/` and each
//! part percent-decoded once (a `%2F` is a character of a name, which the
//! names' parsers refuse); every answer after authentication is audited.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use custos_audit::{AuditEvent, Outcome};
use custos_axis::names::{Container, Object};
use percent_encoding::percent_decode_str;

use super::auth::{self, Connection};
use super::store::{Account, Head};
use super::{Destination, Refusal};
use crate::Deployment;

/// What the Axis listener's handlers share.
#[derive(Clone)]
pub struct Axis {
    pub d: Arc<Deployment>,
    pub dest: Arc<Destination>,
}

pub fn router(axis: Axis) -> Router {
    Router::new()
        .route("/auth/v1.0", get(authenticate))
        .route("/v1/{*rest}", any(storage))
        .route("/v1/", any(storage))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not-found: this listener serves /auth/v1.0 and /v1/AUTH_<connection>/ only\n",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(|request, next| {
            crate::http::read_small_body_first(request, next, || {
                Refusal::Interrupted("a small body could not be read".into()).into_response()
            })
        }))
        .layer(axum::middleware::from_fn(crate::headers::secure_headers))
        .with_state(axis)
}

async fn authenticate(State(axis): State<Axis>, request: Request) -> Response {
    let source = crate::admission::source_of_request(&request);
    let headers = request.headers();
    let Some(host) = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| valid_host(h))
        .map(str::to_owned)
    else {
        return (
            StatusCode::BAD_REQUEST,
            "bad-request: a Host header naming this server is required\n",
        )
            .into_response();
    };
    match auth::issue(&axis.d, headers, &source).await {
        Ok((Connection(name), token)) => {
            let mut answer = StatusCode::OK.into_response();
            let h = answer.headers_mut();
            h.insert("x-auth-token", HeaderValue::from_str(&token).expect("hex"));
            h.insert(
                "x-storage-url",
                HeaderValue::from_str(&format!("https://{host}/v1/AUTH_{name}"))
                    .expect("a checked host and an identifier"),
            );
            h.insert(
                "x-auth-token-expires",
                HeaderValue::from(super::TOKEN_MILLIS / 1000),
            );
            answer
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// A `Host` header's value fit to be echoed in a URL: a name or address
/// and a port, nothing else.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Where a request points.
enum Target {
    Container(Container),
    Object(Container, Object, String),
}

/// A part of the path, percent-decoded once, as UTF-8; `error` names the
/// part that is not.
fn decode(part: &str, error: fn(String) -> custos_axis::AxisError) -> Result<String, Refusal> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Refusal::Invalid(error("the name is not percent-encoded UTF-8".into())))
}

/// The container and object `path` names for `connection`'s account.
fn target(path: &str, connection: &Connection) -> Result<Target, Refusal> {
    let rest = path.strip_prefix("/v1/").unwrap_or_default();
    let (account, rest) = rest.split_once('/').unwrap_or((rest, ""));
    if account != format!("AUTH_{}", connection.0) {
        return Err(Refusal::Forbidden(
            "other-account",
            "this token is for another account".into(),
        ));
    }
    let (container, object) = match rest.split_once('/') {
        Some((c, o)) => (c, Some(o)),
        None => (rest, None),
    };
    if container.is_empty() {
        return Err(Refusal::Forbidden(
            "no-listing",
            "Custos lists no containers of an account".into(),
        ));
    }
    let container = Container::parse(&decode(container, custos_axis::AxisError::ContainerName)?)?;
    match object {
        None => Ok(Target::Container(container)),
        Some(raw) => {
            let raw = decode(raw, custos_axis::AxisError::ObjectName)?;
            let object = Object::parse(&container, &raw)?;
            Ok(Target::Object(container, object, raw))
        }
    }
}

/// The audit entry's object for a request of `connection` on `path`: the
/// container's name, the object's as an excerpt.
fn audited_object(
    connection: &Connection,
    target: Option<&Target>,
    path: &str,
) -> (String, String) {
    let at = format!("axis:{}", connection.0);
    match target {
        Some(Target::Container(c)) => (format!("{at}/{}", c.name()), String::new()),
        Some(Target::Object(c, _, raw)) => (
            format!("{at}/{}", c.name()),
            format!("object {}", custos_audit::excerpt(raw)),
        ),
        None => (
            format!("{at}/{}", custos_audit::excerpt(path)),
            String::new(),
        ),
    }
}

fn action(method: &Method, target: Option<&Target>) -> &'static str {
    let on_object = matches!(target, Some(Target::Object(..)));
    match (method.as_str(), on_object) {
        ("PUT", false) => "axis.container.put",
        ("POST", false) => "axis.container.post",
        ("HEAD", false) => "axis.container.head",
        ("PUT", true) => "axis.object.put",
        ("POST", true) => "axis.object.post",
        ("HEAD", true) => "axis.object.head",
        ("GET", true) => "axis.object.get",
        _ => "axis.request",
    }
}

/// What a handled request answers and says in its audit entry.
struct Answer {
    response: Response,
    detail: String,
}

async fn storage(State(axis): State<Axis>, request: Request) -> Response {
    let source = crate::admission::source_of_request(&request);
    let (parts, body) = request.into_parts();
    let connection = match auth::check(&axis.d, &parts.headers, &source).await {
        Ok(c) => c,
        Err(refusal) => return refusal.into_response(),
    };
    let path = parts.uri.path().to_owned();
    let target = target(&path, &connection);
    let account = Account {
        d: &axis.d,
        dest: &axis.dest,
        connection: &connection,
    };
    let result = match &target {
        Ok(t) => handle(&account, &parts.method, t, &parts.headers, body).await,
        Err(_) => Err(Refusal::Unavailable(String::new())),
    };
    let (result, target) = match target {
        Ok(t) => (result, Some(t)),
        Err(refusal) => (Err(refusal), None),
    };
    let (object, named) = audited_object(&connection, target.as_ref(), &path);
    let (outcome, detail, response) = match result {
        Ok(answer) => (Outcome::Ok, answer.detail, answer.response),
        Err(refusal) => (
            Outcome::Refused,
            refusal.code().to_owned(),
            refusal.into_response(),
        ),
    };
    let detail = [named, detail]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let mut event = AuditEvent::new(
        (axis.d.clock)(),
        connection.actor(),
        action(&parts.method, target.as_ref()),
        outcome,
    )
    .object(object)
    .client(source.address());
    if !detail.is_empty() {
        event = event.detail(detail);
    }
    // Answered only once on record: an entry that cannot be written is a
    // `500`, and the system controller tries again.
    match axis.d.audit.record(event).await {
        Ok(_) => response,
        Err(e) => Refusal::Unavailable(e.to_string()).into_response(),
    }
}

async fn handle(
    account: &Account<'_>,
    method: &Method,
    target: &Target,
    headers: &HeaderMap,
    body: Body,
) -> Result<Answer, Refusal> {
    match (method.as_str(), target) {
        ("PUT", Target::Container(c)) => {
            let status = account.put_container(c, headers).await?;
            Ok(plain(
                status,
                if status == StatusCode::CREATED {
                    "created"
                } else {
                    "updated"
                },
            ))
        }
        ("POST", Target::Container(c)) => {
            let status = account.post_container(c, headers).await?;
            Ok(plain(status, "updated"))
        }
        ("HEAD", Target::Container(c)) => Ok(head(account.head_container(c).await?, None)),
        ("PUT", Target::Object(c, o, raw)) => {
            let (status, etag) = account
                .put_object(c, o, raw, headers, body.into_data_stream())
                .await?;
            let mut answer = plain(status, "stored");
            answer
                .response
                .headers_mut()
                .insert("etag", HeaderValue::from_str(&etag).expect("hex"));
            Ok(answer)
        }
        ("POST", Target::Object(c, o, raw)) => {
            let status = account.post_object(c, o, raw, headers).await?;
            Ok(plain(status, "updated"))
        }
        ("HEAD", Target::Object(c, o, raw)) => {
            let (h, length, etag) = account.head_object(c, o, raw).await?;
            Ok(head(h, Some((length, etag))))
        }
        (
            "GET",
            Target::Object(Container::System, o @ (Object::Capabilities | Object::Categories), _),
        ) => Ok(system_object(account.d, o)),
        ("GET", _) => Err(Refusal::Forbidden(
            "no-reading",
            "only System/Capabilities.json and System/Categories.json are read here".into(),
        )),
        _ => Err(Refusal::Forbidden(
            "method",
            "Custos takes PUT, POST, HEAD and GET of the Axis integration API only".into(),
        )),
    }
}

fn plain(status: StatusCode, detail: &str) -> Answer {
    Answer {
        response: status.into_response(),
        detail: detail.to_owned(),
    }
}

fn head(h: Head, object: Option<(u64, String)>) -> Answer {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    for (k, v) in h {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::try_from(k),
            HeaderValue::from_str(&v),
        ) {
            headers.insert(k, v);
        }
    }
    if let Some((length, etag)) = object {
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert("etag", HeaderValue::from_str(&etag).expect("hex"));
        headers.insert("content-length", HeaderValue::from(length));
    }
    Answer {
        response,
        detail: String::new(),
    }
}

/// `System/Capabilities.json` and `System/Categories.json`: what Custos
/// stores and the deployment's retention categories, with their MD5 as
/// `Etag`.
fn system_object(d: &Deployment, object: &Object) -> Answer {
    let (body, etag) = match object {
        Object::Capabilities => CAPABILITIES.object(),
        _ => {
            let categories: Vec<_> = d
                .retention()
                .categories_with_periods()
                .into_iter()
                .map(|(name, _)| custos_axis::connection::Category {
                    id: name.clone(),
                    name,
                })
                .collect();
            custos_axis::connection::categories_object(&categories)
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert("etag", HeaderValue::from_str(&etag).expect("hex"));
    h.insert("content-type", HeaderValue::from_static("application/json"));
    Answer {
        response,
        detail: String::new(),
    }
}

/// What Custos declares it stores (once declared, a capability stays: the
/// system controller relies on it). It keeps signed video as it came,
/// bookmarks, GNSS trails, rejected content and the system's id; it does
/// not give a user's key back.
pub const CAPABILITIES: custos_axis::connection::Capabilities =
    custos_axis::connection::Capabilities {
        categories: true,
        system_id: true,
        user_id_key: false,
        bookmarks: true,
        signed_video: true,
        gnss_track: true,
        rejected_content: true,
    };
