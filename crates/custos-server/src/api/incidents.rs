//! Integrity incidents, a page at a time.

use super::*;

/// A page of incidents: those after id `after`, oldest first.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IncidentPage {
    #[serde(default)]
    pub after: i64,
    #[serde(default = "default_incident_limit")]
    pub limit: u64,
}

pub(crate) fn default_incident_limit() -> u64 {
    100
}

/// Incidents per page at most.
pub const MAX_INCIDENT_PAGE: u64 = 1000;

/// Integrity incidents (gaps, broken chains, bad signatures, refused
/// credentials counted per source and hour, …), oldest first, a page at a
/// time (the next one starts after the last id).
pub async fn list_incidents(
    d: &Deployment,
    a: &Authenticated,
    page: &IncidentPage,
) -> Result<Vec<custos_catalog::Incident>, ApiError> {
    a.permit(d, Action::ListIncidents, "incidents.list", "incidents")
        .await?;
    if !(1..=MAX_INCIDENT_PAGE).contains(&page.limit) || page.after < 0 {
        let answer = ApiError::new(
            Code::Invalid,
            format!("limit must be 1–{MAX_INCIDENT_PAGE} and after at least 0"),
        );
        let event = a
            .event(d, "incidents.list", Outcome::Refused)
            .object("incidents");
        return Err(a.refused(d, event, answer).await);
    }
    a.ok(d, "incidents.list", "incidents").await?;
    d.catalog
        .incidents_page(page.after, page.limit)
        .await
        .map_err(unavailable)
}

/// Incidents newest first, narrowed by kind and camera (the web UI's list).
pub async fn search_incidents(
    d: &Deployment,
    a: &Authenticated,
    query: &custos_catalog::IncidentQuery,
) -> Result<Vec<custos_catalog::Incident>, ApiError> {
    a.permit(d, Action::ListIncidents, "incidents.list", "incidents")
        .await?;
    a.ok(d, "incidents.list", "incidents").await?;
    d.catalog.search_incidents(query).await.map_err(unavailable)
}

pub(crate) async fn incidents(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    page: Result<Query<IncidentPage>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<custos_catalog::Incident>>, ApiError> {
    list_incidents(&d, &a, &query(page)?).await.map(Json)
}
