//! One module per area of the UI.

pub mod recordings;
pub mod session;

use axum::response::Response;
use custos_access::{decide, Action};
use custos_server::http::ApiError;
use minijinja::value::Value;

use crate::render;
use crate::Person;

impl Person {
    /// May this person do `action` (to show or hide a button; the operation
    /// itself asks the policy again).
    pub fn may(&self, d: &custos_server::Deployment, action: Action) -> bool {
        decide(self.who.caller.role, action, &d.policy).is_ok()
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
            },
        }
    }

    /// An operation's refusal or failure as a page in this person's language.
    pub fn error(&self, d: &custos_server::Deployment, e: ApiError) -> Response {
        render::error_page(self.lang, e.status(), e.code(), Some(self.summary(d)))
    }
}

/// `context` with the layout's fields merged in.
pub fn with_base(base: Value, context: Value) -> Value {
    minijinja::context! { ..base, ..context }
}
