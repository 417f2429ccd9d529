//! What an Axis system controller uploaded that never became a recording —
//! a recording it gave up on, one refused at `Complete`, rejected content —
//! is deleted once untouched for the deployment's standard retention
//! period, as a recording of the standard category would be: its objects'
//! rows (the only keys) first, then their blobs (through the clean-up of
//! blobs nothing stores). `System`, `Users` and `Devices` stay: they
//! describe the connection, not footage.

use custos_audit::{AuditEvent, Outcome};
use custos_axis::names::Container;
use custos_catalog::CatalogError;

use super::Refusal;

/// Containers looked at per maintenance pass.
const PER_PASS: u64 = 500;

/// One pass: returns how many containers were deleted.
pub async fn expire_containers(d: &crate::Deployment) -> Result<usize, Refusal> {
    let now = (d.clock)();
    let before = now.plus_millis(-d.retention().default_millis);
    let mut expired = 0;
    for c in d.catalog.stale_axis_containers(before, PER_PASS).await? {
        if !matches!(
            Container::parse(&c.name),
            Ok(Container::Recording(_) | Container::Rejected(_))
        ) {
            continue;
        }
        let object = format!("axis:{}/{}", c.connection, c.name);
        let event = |outcome, detail: String| {
            AuditEvent::new(now, "system:sweeper", "axis.container.expire", outcome)
                .object(&object)
                .detail(detail)
        };
        // On record before anything goes.
        d.audit
            .record(event(
                Outcome::Ok,
                format!(
                    "never a recording; untouched since {}, the standard period has passed",
                    c.updated_at
                ),
            ))
            .await
            .map_err(|e| Refusal::Unavailable(e.to_string()))?;
        // The blobs are named pending as of long ago: the clean-up that
        // follows deletes them at once.
        let pending_at = now.plus_millis(-super::PENDING_MILLIS - 1);
        match d.catalog.remove_axis_container(&c, pending_at).await {
            Ok(_) => expired += 1,
            Err(CatalogError::NotFound { .. }) => {
                d.audit
                    .record(event(Outcome::Failed, "changed meanwhile: kept".into()))
                    .await
                    .map_err(|e| Refusal::Unavailable(e.to_string()))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(expired)
}
