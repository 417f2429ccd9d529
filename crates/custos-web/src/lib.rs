//! The web UI: server-rendered pages for the authorised few, in Dutch,
//! German and English. Pages call the same operations as the JSON API
//! (`custos_server::api`), so every read and every change goes through the
//! one policy module and the one audit log; this crate only turns their
//! answers into HTML and forms into their arguments.
//!
//! Browsers hold the session in the API's cookie (HttpOnly, Secure,
//! SameSite=Strict). Forms carry the session's CSRF token, and a POST from
//! another site is refused by its `Origin`/`Sec-Fetch-Site` headers before
//! anything else (the sign-in form has no session yet).
#![forbid(unsafe_code)]

pub mod i18n;
mod pages;
mod render;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use custos_server::api::{cookie, Authenticated, SESSION_COOKIE};
use custos_server::Deployment;

pub use i18n::Lang;

/// The cookie that remembers a chosen language (not personal data).
pub const LANGUAGE_COOKIE: &str = "custos_lang";

/// What the pages need beyond the deployment.
pub struct WebConfig {
    /// Times are shown, and dates in filters read, in this zone.
    pub time_zone: jiff::tz::TimeZone,
    /// The zone's name, as configured (`Europe/Amsterdam`).
    pub time_zone_name: String,
    /// When neither a cookie nor the browser says.
    pub default_language: Lang,
}

impl WebConfig {
    /// `Europe/Amsterdam`, `Europe/Berlin`, … from the bundled time-zone database.
    pub fn new(time_zone: &str, default_language: Lang) -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::get(time_zone)
            .map_err(|e| format!("unknown time zone `{time_zone}`: {e}"))?;
        Ok(Self {
            time_zone: tz,
            time_zone_name: time_zone.to_owned(),
            default_language,
        })
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self::new("Europe/Amsterdam", Lang::Nl).expect("bundled zone")
    }
}

pub fn routes(config: WebConfig) -> Router<Arc<Deployment>> {
    Router::new()
        .route("/", get(pages::start))
        .route(
            "/login",
            get(pages::session::login_form).post(pages::session::login),
        )
        .route("/logout", post(pages::session::logout))
        .route(
            "/password",
            get(pages::session::password_form).post(pages::session::change_password),
        )
        .route("/language", get(pages::session::language))
        .route("/recordings", get(pages::recordings::list))
        .route("/recordings/{id}", get(pages::recordings::detail))
        .route("/recordings/{id}/play", get(pages::recordings::play))
        .route("/recordings/{id}/link", post(pages::recordings::link))
        .route(
            "/recordings/{id}/secure",
            post(pages::cases::secure_recording),
        )
        .route("/cases", get(pages::cases::list).post(pages::cases::open))
        .route("/cases/{id}", get(pages::cases::detail))
        .route("/cases/{id}/holds", post(pages::cases::place_hold))
        .route("/cases/{id}/close", post(pages::cases::close))
        .route("/cases/{id}/export", post(pages::cases::export))
        .route(
            "/cases/{id}/export-requests",
            post(pages::cases::request_export),
        )
        .route(
            "/export-requests/{id}/approve",
            post(pages::cases::approve_export),
        )
        .route("/export-links/{id}/revoke", post(pages::cases::revoke_link))
        .route("/download/{token}", get(pages::download::landing))
        .route(
            "/activate/{token}",
            get(pages::activate::form).post(pages::activate::submit),
        )
        .route(
            "/admin/activations/{id}/approve",
            post(pages::admin::approve_activation),
        )
        .route(
            "/admin/activations/{id}/reject",
            post(pages::admin::reject_activation),
        )
        .route(
            "/subject-requests",
            get(pages::subjects::list).post(pages::subjects::open),
        )
        .route("/subject-requests/{id}", get(pages::subjects::detail))
        .route(
            "/subject-requests/{id}/extend",
            post(pages::subjects::extend),
        )
        .route(
            "/subject-requests/{id}/search",
            post(pages::subjects::search),
        )
        .route(
            "/subject-requests/{id}/delivery",
            post(pages::subjects::deliver),
        )
        .route(
            "/subject-requests/{id}/recordings/{recording}/redact",
            get(pages::subjects::editor).post(pages::subjects::make_copy),
        )
        .route("/holds/{id}/approve", post(pages::cases::approve_hold))
        .route("/holds/{id}/release", post(pages::cases::release_hold))
        .route("/incidents", get(pages::incidents::list))
        .route("/statistics", get(pages::statistics::view_page))
        .route("/statistics/report", get(pages::statistics::report_page))
        .route("/statistics/export.csv", get(pages::statistics::export_csv))
        .route(
            "/admin/users",
            get(pages::admin::users).post(pages::admin::add_user),
        )
        .route(
            "/admin/users/{name}/unlock",
            post(pages::admin::unlock_user),
        )
        .route(
            "/admin/users/{name}/reset-password",
            post(pages::admin::reset_password),
        )
        .route(
            "/admin/users/{name}/reset-mfa",
            post(pages::admin::reset_mfa),
        )
        .route(
            "/admin/users/{name}/disable",
            post(pages::admin::disable_user),
        )
        .route(
            "/admin/settings",
            get(pages::admin::settings).post(pages::admin::change_settings),
        )
        .route("/admin/devices", get(pages::admin::devices))
        .route("/admin/devices/cameras", post(pages::admin::enroll_camera))
        .route(
            "/admin/devices/cameras/{id}/settings",
            post(pages::admin::camera_settings),
        )
        .route(
            "/admin/devices/cameras/{id}/revoke",
            post(pages::admin::revoke_camera),
        )
        .route("/admin/devices/docks", post(pages::admin::enroll_dock))
        .route(
            "/admin/devices/docks/{id}/revoke",
            post(pages::admin::revoke_dock),
        )
        .route("/audit", get(pages::audit::view))
        .route("/audit/verify", post(pages::audit::verify))
        .route("/audit/export.csv", get(pages::audit::export_csv))
        .route("/static/custos.css", get(render::stylesheet))
        .route("/static/redact.js", get(render::editor_script))
        .route("/static/player.js", get(render::player_script))
        .layer(Extension(Arc::new(config)))
}

/// The page's language: the `custos_lang` cookie, else the browser's
/// `Accept-Language`, else the deployment's default.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(lang) = cookie(parts, LANGUAGE_COOKIE).and_then(|c| Lang::parse(&c)) {
            return Ok(lang);
        }
        if let Some(lang) = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::negotiate)
        {
            return Ok(lang);
        }
        Ok(parts
            .extensions
            .get::<Arc<WebConfig>>()
            .map(|c| c.default_language)
            .unwrap_or(Lang::En))
    }
}

/// A POST from a page of another site (or one that will not say) is
/// refused: browsers send `Sec-Fetch-Site` and `Origin` with every POST.
pub fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (headers.get(header::ORIGIN), host) {
        (Some(origin), Some(host)) => origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("https://"))
            .is_none_or(|o| o != host),
        // Not a browser (no Origin): nothing to forge with.
        (None, _) => false,
        (Some(_), None) => true,
    }
}

/// A signed-in person on a page. No session: to the sign-in page, and back
/// here after. An initial password not yet replaced: to the password page.
pub struct Person {
    pub who: Authenticated,
    pub lang: Lang,
    pub config: Arc<WebConfig>,
}

/// Where an unauthenticated page visit goes.
pub enum PageRejection {
    SignIn { next: String },
    ChangePassword,
    Page(Response),
}

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        match self {
            PageRejection::SignIn { next } => {
                Redirect::to(&format!("/login?next={}", render::url_encode(&next))).into_response()
            }
            PageRejection::ChangePassword => Redirect::to("/password").into_response(),
            PageRejection::Page(r) => r,
        }
    }
}

impl FromRequestParts<Arc<Deployment>> for Person {
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        d: &Arc<Deployment>,
    ) -> Result<Self, PageRejection> {
        let lang = Lang::from_request_parts(parts, d).await.unwrap_or(Lang::En);
        let config = parts
            .extensions
            .get::<Arc<WebConfig>>()
            .cloned()
            .unwrap_or_default();
        if parts.method == Method::POST && cross_site(&parts.headers) {
            return Err(PageRejection::Page(render::error_page(
                lang,
                StatusCode::FORBIDDEN,
                "csrf",
                None,
            )));
        }
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let Some(token) = cookie(parts, SESSION_COOKIE) else {
            return Err(PageRejection::SignIn { next });
        };
        let caller = match d.auth.caller(&token).await {
            Ok(c) => c,
            Err(custos_server::auth::AuthError::Unavailable(_)) => {
                return Err(PageRejection::Page(render::error_page(
                    lang,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    None,
                )))
            }
            Err(_) => return Err(PageRejection::SignIn { next }),
        };
        if caller.must_change_password && parts.uri.path() != "/password" {
            return Err(PageRejection::ChangePassword);
        }
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(Person {
            who: Authenticated { caller, client },
            lang,
            config,
        })
    }
}

impl Person {
    /// A form's `csrf` field against the session's token: `None` if it
    /// matches, else the page that says it does not.
    /// A posted form, parsed and carrying this session's CSRF token;
    /// otherwise the answer to give (400 for garbage, 403 for a forgery).
    // Handlers return their `Response` by value anyway; boxing it here
    // would only move the allocation.
    #[allow(clippy::result_large_err)]
    pub fn posted<T>(
        &self,
        form: Result<axum::Form<T>, axum::extract::rejection::FormRejection>,
        csrf: fn(&T) -> &str,
    ) -> Result<T, Response> {
        let Ok(axum::Form(form)) = form else {
            return Err(render::error_page(
                self.lang,
                StatusCode::BAD_REQUEST,
                "invalid",
                None,
            ));
        };
        match self.csrf_refusal(csrf(&form)) {
            Some(refusal) => Err(refusal),
            None => Ok(form),
        }
    }

    pub fn csrf_refusal(&self, presented: &str) -> Option<Response> {
        let good = custos_server::auth::constant_time_eq(
            presented.as_bytes(),
            self.who.caller.csrf_token.as_bytes(),
        );
        (!good).then(|| render::error_page(self.lang, StatusCode::FORBIDDEN, "csrf", None))
    }
}
