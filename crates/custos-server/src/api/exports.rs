//! Exports, their requests and download links (`crate::export`,
//! `crate::links`), over HTTP.

use super::*;

/// `POST /api/v1/cases/{id}/exports`: see [`crate::export`].
pub(crate) async fn post_export(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
    body: Result<Json<crate::export::NewExport>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let prepared = crate::export::prepare(&d, &a, &case_id, json_body(body)?).await?;
    crate::export::deliver(d, &a, prepared).await
}

pub(crate) async fn get_export_links(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
) -> Result<Json<Vec<custos_catalog::ExportLink>>, ApiError> {
    Ok(Json(crate::links::links_for_case(&d, &a, &case_id).await?))
}

pub(crate) async fn post_revoke_link(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::ExportLink>, ApiError> {
    Ok(Json(crate::links::revoke(&d, &a, &id).await?))
}

/// `POST /api/v1/downloads/{token}`: no session; the token is the key.
pub(crate) async fn post_download(
    State(d): State<Arc<Deployment>>,
    Client(client): Client,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    crate::links::download(&d, &client, &token).await
}

pub(crate) async fn post_export_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
    body: Result<Json<crate::export::NewExportRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::ExportRequest>), ApiError> {
    let request = crate::export::request_export(&d, &a, &case_id, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

pub(crate) async fn get_export_requests(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
) -> Result<Json<Vec<custos_catalog::ExportRequest>>, ApiError> {
    Ok(Json(
        crate::export::export_requests(&d, &a, &case_id).await?,
    ))
}

pub(crate) async fn post_approve_export(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::ExportRequest>, ApiError> {
    Ok(Json(crate::export::approve_export(&d, &a, &id).await?))
}
