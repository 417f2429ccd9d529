//! Subject access requests and their redacted copies (`crate::subject`,
//! `crate::redaction`), over HTTP.

use super::*;

pub(crate) async fn post_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<crate::subject::NewSubjectRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<crate::subject::SubjectRequestView>), ApiError> {
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.open",
        "subject-requests",
    )
    .await?;
    let view = crate::subject::open(&d, &a, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub(crate) async fn get_subject_requests(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<crate::subject::SubjectRequestView>>, ApiError> {
    Ok(Json(crate::subject::list(&d, &a).await?))
}

pub(crate) async fn get_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<crate::subject::SubjectRequestView>, ApiError> {
    Ok(Json(crate::subject::get(&d, &a, &id).await?))
}

pub(crate) async fn post_extend_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::subject::Extension>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::subject::SubjectRequestView>, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.extend",
        &object,
    )
    .await?;
    Ok(Json(
        crate::subject::extend(&d, &a, &id, json_body(body)?).await?,
    ))
}

pub(crate) async fn post_search_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::subject::Search>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Vec<crate::subject::Candidate>>, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.search",
        &object,
    )
    .await?;
    Ok(Json(
        crate::subject::search(&d, &a, &id, json_body(body)?).await?,
    ))
}

pub(crate) async fn post_derivative(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::redaction::NewDerivative>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::Derivative>), ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "recording.redact",
        &object,
    )
    .await?;
    let made = crate::redaction::create(&d, &a, &id, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// The answer to a request: see [`crate::export::prepare_subject_delivery`].
pub(crate) async fn post_subject_delivery(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::export::NewDelivery>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.deliver",
        &object,
    )
    .await?;
    let prepared = crate::export::prepare_subject_delivery(&d, &a, &id, json_body(body)?).await?;
    crate::export::deliver(d, &a, prepared).await
}

pub(crate) async fn get_derivatives(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<custos_catalog::Derivative>>, ApiError> {
    Ok(Json(crate::redaction::list(&d, &a, &id).await?))
}

pub(crate) async fn derivative_video(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    crate::redaction::video(
        &d,
        &a,
        &id,
        q.purpose.as_deref(),
        q.case.as_deref(),
        range.as_deref(),
    )
    .await
}
