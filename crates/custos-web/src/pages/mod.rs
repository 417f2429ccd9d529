//! One module per area of the UI.

pub mod activate;
pub mod admin;
pub mod audit;
pub mod cases;
pub mod download;
pub mod incidents;
pub mod recordings;
pub mod session;
pub mod statistics;
pub mod subjects;

use axum::response::Response;
use custos_access::Action;
use custos_server::http::ApiError;
use minijinja::value::Value;

use crate::render;
use crate::Person;

impl Person {
    /// May this person do `action` (to show or hide a button; the operation
    /// itself asks the policy again).
    pub fn may(&self, d: &custos_server::Deployment, action: Action) -> bool {
        d.settings.decide(self.who.caller.role, action).is_ok()
    }

    /// What every page's layout needs: language, zone, who is signed in,
    /// the menu this role has, and where the language switch comes back to.
    pub fn base(&self, d: &custos_server::Deployment, here: &str) -> Value {
        minijinja::context! {
            lang => self.lang.code(),
            languages => render::languages(),
            tz => self.config.time_zone_name.clone(),
            here => here,
            person => self.summary(d),
        }
    }

    fn summary(&self, d: &custos_server::Deployment) -> Value {
        let c = &self.who.caller;
        minijinja::context! {
            name => c.name.clone(),
            role => c.role.as_str(),
            csrf => c.csrf_token.clone(),
            nav => minijinja::context! {
                recordings => self.may(d, Action::ListRecordings),
                cases => self.may(d, Action::ManageCases),
                subject_requests => self.may(d, Action::HandleSubjectRequests),
                audit => self.may(d, Action::ReadAudit),
                incidents => self.may(d, Action::ListIncidents),
                users => self.may(d, Action::ListUsers),
                devices => self.may(d, Action::ListDevices),
                settings => self.may(d, Action::ReadSettings),
                statistics => self.may(d, Action::ReadStatistics),
            },
        }
    }

    /// An operation's refusal or failure as a page in this person's language.
    pub fn error(&self, d: &custos_server::Deployment, e: ApiError) -> Response {
        render::error_page(
            self.lang,
            e.status(),
            e.code().as_str(),
            Some(self.summary(d)),
        )
    }
}

/// The start page: the first area this role works in.
pub async fn start(
    axum::extract::State(d): axum::extract::State<std::sync::Arc<custos_server::Deployment>>,
    person: Person,
) -> Response {
    use axum::response::IntoResponse;
    let to = if person.may(&d, Action::ListRecordings) {
        "/recordings"
    } else if person.may(&d, Action::ReadAudit) {
        "/audit"
    } else if person.may(&d, Action::ManageUsers) {
        "/admin/users"
    } else if person.may(&d, Action::ReadStatistics) {
        "/statistics"
    } else {
        "/recordings"
    };
    axum::response::Redirect::to(to).into_response()
}

/// `context` with the layout's fields merged in.
pub fn with_base(base: Value, context: Value) -> Value {
    minijinja::context! { ..base, ..context }
}

/// The page that shows a new download link once, with its address as this
/// browser reached the server (Custos serves HTTPS only): HTTP/1.1's Host
/// header, or HTTP/2's authority. `back` is where the page leads back to.
/// This server's address as the browser reached it (Custos serves HTTPS
/// only): HTTP/1.1's Host header, or HTTP/2's authority.
pub fn origin(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    format!("https://{host}")
}

pub fn link_page(
    d: &custos_server::Deployment,
    person: &Person,
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
    back: String,
    created: &custos_server::links::CreatedLink,
    passphrase: Option<String>,
) -> Response {
    let origin = origin(headers, uri);
    render::page(
        axum::http::StatusCode::CREATED,
        "link.html",
        with_base(
            person.base(d, &back),
            minijinja::context! {
                back => back,
                url => format!("{origin}{}", created.page),
                link => Value::from_serialize(&created.link),
                passphrase => passphrase,
            },
        ),
    )
}
