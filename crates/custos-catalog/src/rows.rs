//! Rows as both SQL catalogs store them (ADR 0008: the same shapes on
//! SQLite and PostgreSQL — epoch milliseconds, 0/1 flags, hex hashes, UUIDs
//! as text), read once for both. Each backend implements [`SqlRow`] for its
//! row type; a value of the wrong type is the catalog's corruption, reported
//! as such.

use custos_format::UtcMillis;
use uuid::Uuid;

use crate::*;

/// A row's columns by name, as the catalogs' tables hold them.
pub trait SqlRow {
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>>;
}

pub fn corrupt(what: &str) -> CatalogError {
    CatalogError::Unavailable(format!("corrupt catalog row: {what}"))
}

pub fn ms(t: UtcMillis) -> i64 {
    t.as_millis()
}

pub fn time(v: i64) -> Result<UtcMillis> {
    UtcMillis::from_millis(v).ok_or_else(|| corrupt("timestamp"))
}

pub fn hash(s: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| corrupt("hash"))?;
    Ok(out)
}

pub fn uuid(s: &str) -> Result<Uuid> {
    s.parse().map_err(|_| corrupt("uuid"))
}

fn at(r: &impl SqlRow, column: &str) -> Result<UtcMillis> {
    time(r.int(column)?)
}

pub fn opt_time(r: &impl SqlRow, column: &str) -> Result<Option<UtcMillis>> {
    r.opt_int(column)?.map(time).transpose()
}

pub fn device(r: &impl SqlRow) -> Result<Device> {
    Ok(Device {
        device_id: r.text("device_id")?,
        public_key: r.text("public_key")?,
        enrolled_at: at(r, "enrolled_at")?,
        revoked_at: opt_time(r, "revoked_at")?,
        retention_category: r.text("retention_category")?,
        assigned_officer: r.opt_text("assigned_officer")?,
        team: r.opt_text("team")?,
        kind: DeviceKind::parse(&r.text("kind")?).ok_or_else(|| corrupt("device kind"))?,
    })
}

pub fn dock(r: &impl SqlRow) -> Result<Dock> {
    Ok(Dock {
        dock_id: r.text("dock_id")?,
        token_sha256: r.text("token_sha256")?,
        enrolled_at: at(r, "enrolled_at")?,
        revoked_at: opt_time(r, "revoked_at")?,
    })
}

pub fn axis_connection(r: &impl SqlRow) -> Result<AxisConnection> {
    Ok(AxisConnection {
        name: r.text("name")?,
        key_sha256: r.text("key_sha256")?,
        created_at: at(r, "created_at")?,
        rotated_at: opt_time(r, "rotated_at")?,
        revoked_at: opt_time(r, "revoked_at")?,
    })
}

pub fn axis_content_key(r: &impl SqlRow) -> Result<AxisContentKey> {
    Ok(AxisContentKey {
        connection: r.text("connection")?,
        key_id: r.text("key_id")?,
        public_pem: r.text("public_pem")?,
        sealed: r.bytes("sealed")?,
        created_at: at(r, "created_at")?,
    })
}

pub fn signed_video_check(r: &impl SqlRow) -> Result<SignedVideoCheck> {
    Ok(SignedVideoCheck {
        recording_id: uuid(&r.text("recording_id")?)?,
        outcome: r.text("outcome")?,
        report: r.text("report")?,
        key_sha256: r.opt_text("key_sha256")?,
        checked_at: at(r, "checked_at")?,
    })
}

pub fn axis_container(r: &impl SqlRow) -> Result<AxisContainer> {
    Ok(AxisContainer {
        connection: r.text("connection")?,
        name: r.text("name")?,
        recording_id: r
            .opt_text("recording_id")?
            .as_deref()
            .map(uuid)
            .transpose()?,
        metadata: r.text("metadata")?,
        created_at: at(r, "created_at")?,
        updated_at: at(r, "updated_at")?,
        completed_at: opt_time(r, "completed_at")?,
    })
}

pub fn axis_object(r: &impl SqlRow) -> Result<AxisObject> {
    Ok(AxisObject {
        connection: r.text("connection")?,
        container: r.text("container")?,
        name: r.text("name")?,
        metadata: r.text("metadata")?,
        length: u64::try_from(r.int("length")?).map_err(|_| corrupt("length"))?,
        sha256: hash(&r.text("sha256")?)?,
        md5: r.text("md5")?,
        blob_key: r.text("blob_key")?,
        age_header: r.bytes("age_header")?,
        stored_at: at(r, "stored_at")?,
    })
}

pub fn stored_entry(r: &impl SqlRow) -> Result<StoredEntry> {
    Ok(StoredEntry {
        index: r.int("idx")? as u64,
        bytes: r.bytes("entry")?,
        leaf_hash: r
            .bytes("leaf_hash")?
            .try_into()
            .map_err(|_| corrupt("leaf hash"))?,
    })
}

pub fn recording(r: &impl SqlRow) -> Result<Recording> {
    let provenance = match r.text("origin")?.as_str() {
        "camera" => Provenance::Camera(CameraRecording {
            ciphertext_sha256: hash(&r.text("ciphertext_sha256")?)?,
            ciphertext_length: r.int("ciphertext_length")? as u64,
            manifest: r.bytes("manifest")?,
            manifest_signature: r.bytes("manifest_signature")?,
            manifest_sha256: hash(&r.text("manifest_sha256")?)?,
            blob_key: r.text("blob_key")?,
            receipt: r.bytes("receipt")?,
            receipt_signature: r.bytes("receipt_signature")?,
            age_header: r.bytes("age_header")?,
        }),
        "axis" => Provenance::Axis(AxisRecording {
            connection: r
                .opt_text("axis_connection")?
                .ok_or_else(|| corrupt("Axis recording without its connection"))?,
            container: r
                .opt_text("axis_container")?
                .ok_or_else(|| corrupt("Axis recording without its container"))?,
            length: r.int("ciphertext_length")? as u64,
            content_sha256: hash(&r.text("ciphertext_sha256")?)?,
            metadata_sha256: hash(&r.text("manifest_sha256")?)?,
        }),
        _ => return Err(corrupt("recording origin")),
    };
    Ok(Recording {
        recording_id: uuid(&r.text("recording_id")?)?,
        device_id: r.text("device_id")?,
        sequence: r.int("sequence")? as u64,
        officer_id: r.opt_text("officer_id")?,
        started_at: at(r, "started_at")?,
        ended_at: at(r, "ended_at")?,
        truncated: r.int("truncated")? != 0,
        stored_at: at(r, "stored_at")?,
        delete_after: at(r, "delete_after")?,
        retention_category: r.text("retention_category")?,
        provenance,
    })
}

pub fn incident(r: &impl SqlRow) -> Result<Incident> {
    Ok(Incident {
        id: r.int("id")?,
        at: at(r, "at")?,
        kind: IncidentKind::parse(&r.text("kind")?).ok_or_else(|| corrupt("incident kind"))?,
        device_id: r.opt_text("device_id")?,
        dock_id: r.opt_text("dock_id")?,
        sequence: r.opt_int("sequence")?.map(|s| s as u64),
        recording_id: r.opt_text("recording_id")?.map(|s| uuid(&s)).transpose()?,
        detail: r.text("detail")?,
        source: r.opt_text("source")?,
        occurrences: r.int("occurrences")?.max(1) as u64,
        last_at: opt_time(r, "last_at")?,
    })
}

pub fn user(r: &impl SqlRow) -> Result<User> {
    Ok(User {
        name: r.text("name")?,
        role: r.text("role")?,
        officer_id: r.opt_text("officer_id")?,
        password_hash: r.text("password_hash")?,
        totp_secret_sealed: r.bytes("totp_secret_sealed")?,
        failed_attempts: r.int("failed_attempts")? as u32,
        locked_until: opt_time(r, "locked_until")?,
        totp_last_step: r.opt_int("totp_last_step")?,
        created_at: at(r, "created_at")?,
        disabled_at: opt_time(r, "disabled_at")?,
        password_must_change: r.int("password_must_change")? != 0,
    })
}

pub fn tombstone(r: &impl SqlRow) -> Result<Tombstone> {
    Ok(Tombstone {
        recording_id: uuid(&r.text("recording_id")?)?,
        device_id: r.text("device_id")?,
        sequence: r.int("sequence")? as u64,
        started_at: at(r, "started_at")?,
        ended_at: at(r, "ended_at")?,
        ciphertext_sha256: hash(&r.text("ciphertext_sha256")?)?,
        manifest_sha256: hash(&r.text("manifest_sha256")?)?,
        deleted_at: at(r, "deleted_at")?,
        reason: r.text("reason")?,
        // An Axis recording's objects' blobs are added from
        // `tombstone_blobs` by the catalog that reads this row.
        blob_keys: Some(r.text("blob_key")?)
            .filter(|k| !k.is_empty())
            .into_iter()
            .collect(),
        blob_deleted: r.int("blob_deleted")? != 0,
    })
}

pub fn case(r: &impl SqlRow) -> Result<Case> {
    Ok(Case {
        case_id: r.text("case_id")?,
        kind: r.text("kind")?,
        reference: r.opt_text("reference")?,
        label: r.text("label")?,
        opened_by: r.text("opened_by")?,
        opened_at: at(r, "opened_at")?,
        due_at: opt_time(r, "due_at")?,
        closed_by: r.opt_text("closed_by")?,
        closed_at: opt_time(r, "closed_at")?,
    })
}

pub fn hold(r: &impl SqlRow) -> Result<Hold> {
    Ok(Hold {
        hold_id: uuid(&r.text("hold_id")?)?,
        case_id: r.text("case_id")?,
        recording_id: uuid(&r.text("recording_id")?)?,
        reason: r.text("reason")?,
        placed_by: r.text("placed_by")?,
        placed_at: at(r, "placed_at")?,
        approved_by: r.opt_text("approved_by")?,
        approved_at: opt_time(r, "approved_at")?,
        released_by: r.opt_text("released_by")?,
        released_at: opt_time(r, "released_at")?,
    })
}

pub fn activation(r: &impl SqlRow) -> Result<Activation> {
    Ok(Activation {
        activation_id: uuid(&r.text("activation_id")?)?,
        user_name: r.text("user_name")?,
        kind: r.text("kind")?,
        role: r.text("role")?,
        officer_id: r.opt_text("officer_id")?,
        requested_by: r.text("requested_by")?,
        requested_at: at(r, "requested_at")?,
        approved_by: r.opt_text("approved_by")?,
        approved_at: opt_time(r, "approved_at")?,
        rejected_by: r.opt_text("rejected_by")?,
        rejected_at: opt_time(r, "rejected_at")?,
        token_sha256: r.opt_text("token_sha256")?,
        expires_at: opt_time(r, "expires_at")?,
        activated_at: opt_time(r, "activated_at")?,
    })
}

pub fn case_link(r: &impl SqlRow) -> Result<CaseLink> {
    Ok(CaseLink {
        case_id: r.text("case_id")?,
        recording_id: uuid(&r.text("recording_id")?)?,
        reason: r.text("reason")?,
        linked_by: r.text("linked_by")?,
        linked_at: at(r, "linked_at")?,
    })
}

pub fn export_request(r: &impl SqlRow) -> Result<ExportRequest> {
    let recordings: Vec<Uuid> = serde_json::from_str(&r.text("recordings")?)
        .map_err(|_| corrupt("export request recordings"))?;
    Ok(ExportRequest {
        request_id: uuid(&r.text("request_id")?)?,
        case_id: r.text("case_id")?,
        purpose: r.text("purpose")?,
        recipient: r.text("recipient")?,
        recordings,
        requested_by: r.text("requested_by")?,
        requested_at: at(r, "requested_at")?,
        approved_by: r.opt_text("approved_by")?,
        approved_at: opt_time(r, "approved_at")?,
        used_at: opt_time(r, "used_at")?,
    })
}

/// The recordings of an export request as stored: a JSON array of UUIDs.
pub fn export_request_recordings(r: &ExportRequest) -> String {
    serde_json::to_string(&r.recordings).expect("UUIDs serialize")
}

pub fn subject_request(r: &impl SqlRow) -> Result<SubjectRequest> {
    let place = match (
        r.opt_int("place_lat_e7")?,
        r.opt_int("place_lon_e7")?,
        r.opt_int("place_radius_m")?,
    ) {
        (Some(lat_e7), Some(lon_e7), Some(radius)) => Some(Place {
            lat_e7,
            lon_e7,
            radius_m: u32::try_from(radius).map_err(|_| corrupt("place radius"))?,
        }),
        (None, None, None) => None,
        _ => return Err(corrupt("subject request place")),
    };
    Ok(SubjectRequest {
        case_id: r.text("case_id")?,
        requester: r.text("requester")?,
        contact: r.opt_text("contact")?,
        identity_check: r.text("identity_check")?,
        description: r.text("description")?,
        window_from: at(r, "window_from")?,
        window_to: at(r, "window_to")?,
        place,
        received_at: at(r, "received_at")?,
        extension_reason: r.opt_text("extension_reason")?,
        extended_by: r.opt_text("extended_by")?,
        extended_at: opt_time(r, "extended_at")?,
        delivered_export: r
            .opt_text("delivered_export")?
            .map(|u| uuid(&u))
            .transpose()?,
        delivered_at: opt_time(r, "delivered_at")?,
    })
}

pub fn derivative(r: &impl SqlRow) -> Result<Derivative> {
    let count = |column: &str| -> Result<u64> {
        u64::try_from(r.int(column)?).map_err(|_| corrupt("derivative size"))
    };
    Ok(Derivative {
        derivative_id: uuid(&r.text("derivative_id")?)?,
        recording_id: uuid(&r.text("recording_id")?)?,
        case_id: r.text("case_id")?,
        plan: r.text("plan")?,
        sha256: r.text("sha256")?,
        plaintext_length: count("plaintext_length")?,
        age_header: r.opt_bytes("age_header")?.unwrap_or_default(),
        blob_key: r.text("blob_key")?,
        ciphertext_length: count("ciphertext_length")?,
        frames: count("frames")?,
        created_by: r.text("created_by")?,
        created_at: at(r, "created_at")?,
        deleted_at: opt_time(r, "deleted_at")?,
    })
}

pub fn export_link(r: &impl SqlRow) -> Result<ExportLink> {
    let count = |column: &str| -> Result<u32> {
        u32::try_from(r.int(column)?).map_err(|_| corrupt("export link count"))
    };
    Ok(ExportLink {
        link_id: uuid(&r.text("link_id")?)?,
        export_id: uuid(&r.text("export_id")?)?,
        case_id: r.text("case_id")?,
        purpose: r.text("purpose")?,
        recipient: r.text("recipient")?,
        token_sha256: r.text("token_sha256")?,
        blob_key: r.text("blob_key")?,
        file_name: r.text("file_name")?,
        size: u64::try_from(r.int("size")?).map_err(|_| corrupt("export link size"))?,
        package_sha256: r.text("package_sha256")?,
        created_by: r.text("created_by")?,
        created_at: at(r, "created_at")?,
        expires_at: at(r, "expires_at")?,
        max_downloads: count("max_downloads")?,
        downloads: count("downloads")?,
        revoked_by: r.opt_text("revoked_by")?,
        revoked_at: opt_time(r, "revoked_at")?,
        removed_at: opt_time(r, "removed_at")?,
    })
}

pub fn upload(r: &impl SqlRow) -> Result<Upload> {
    Ok(Upload {
        upload_id: uuid(&r.text("upload_id")?)?,
        recording_id: uuid(&r.text("recording_id")?)?,
        device_id: r.text("device_id")?,
        sequence: r.int("sequence")? as u64,
        manifest: r.bytes("manifest")?,
        manifest_signature: r.bytes("manifest_signature")?,
        dock_id: r.text("dock_id")?,
        created_at: at(r, "created_at")?,
        age_header: r.opt_bytes("age_header")?,
    })
}
