//! The catalog's stores, one per aggregate (ADR 0016). Each backend
//! implements every store; code takes the narrowest one it needs, and
//! `use custos_catalog::stores::*` brings their methods into scope where
//! the whole [`Catalog`] is held.

use async_trait::async_trait;
use custos_format::UtcMillis;
use uuid::Uuid;

use crate::*;

/// Cameras and docks: enrolment, revocation, assignment, chain heads.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn add_device(&self, device: &Device) -> Result<()>;
    async fn device(&self, device_id: &str) -> Result<Option<Device>>;
    async fn revoke_device(&self, device_id: &str, at: UtcMillis) -> Result<()>;
    async fn devices(&self) -> Result<Vec<Device>>;
    async fn chain_head(&self, device_id: &str) -> Result<Option<ChainHead>>;
    async fn add_dock(&self, dock: &Dock) -> Result<()>;
    async fn dock(&self, dock_id: &str) -> Result<Option<Dock>>;
    async fn revoke_dock(&self, dock_id: &str, at: UtcMillis) -> Result<()>;
    /// Every dock, revoked or not, by id.
    async fn docks(&self) -> Result<Vec<Dock>>;
    /// Assigns a camera to an officer, or (`None`) returns it to the pool.
    async fn assign_officer(&self, device_id: &str, officer_id: Option<&str>) -> Result<()>;
    /// Puts a camera in a team or district (`None`: none). Its next
    /// recordings are counted for that team in the statistics.
    async fn set_device_team(&self, device_id: &str, team: Option<&str>) -> Result<()>;
    /// The category new recordings of this camera start in.
    async fn set_device_retention_category(&self, device_id: &str, category: &str) -> Result<()>;
}

/// Uploads in progress and committed recordings (ingest and the recordings list).
#[async_trait]
pub trait RecordingStore: Send + Sync {
    async fn create_upload(&self, upload: &Upload) -> Result<()>;
    async fn upload(&self, upload_id: Uuid) -> Result<Option<Upload>>;
    async fn upload_for_recording(&self, recording_id: Uuid) -> Result<Option<Upload>>;
    async fn delete_upload(&self, upload_id: Uuid) -> Result<()>;
    async fn set_upload_age_header(&self, upload_id: Uuid, header: &[u8]) -> Result<()>;
    /// Hands an upload to the dock now sending it (the camera moved to
    /// another dock mid-upload). Only that dock may append to it or
    /// complete it from then on. False if there is no such upload.
    async fn move_upload(&self, upload_id: Uuid, dock_id: &str) -> Result<bool>;
    /// Uploads begun before `before`, oldest first.
    async fn uploads_begun_before(&self, before: UtcMillis) -> Result<Vec<Upload>>;
    /// Stores an accepted recording, advances the camera's chain head if this
    /// is its newest recording, and removes the upload — in one transaction.
    async fn commit_recording(&self, recording: &Recording, upload_id: Option<Uuid>) -> Result<()>;
    async fn recording(&self, recording_id: Uuid) -> Result<Option<Recording>>;
    async fn recording_by_sequence(
        &self,
        device_id: &str,
        sequence: u64,
    ) -> Result<Option<Recording>>;
    async fn recordings(&self) -> Result<Vec<Recording>>;
    /// Recordings matching `query`, newest first, one page of them.
    async fn search_recordings(&self, query: &RecordingQuery) -> Result<RecordingPage>;
}

/// Deadlines, the sweep's due recordings, and tombstones.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Recordings whose time is up and that no unreleased hold keeps, oldest
    /// deadline first; found by index, never by scanning the catalog.
    async fn due_recordings(&self, now: UtcMillis, limit: u64) -> Result<Vec<Recording>>;
    /// In one transaction: the tombstones in, their recordings (and with them
    /// their age headers, the only copies of their keys) out. Recordings
    /// already gone are skipped; returns the ids replaced now.
    async fn replace_with_tombstones(&self, tombstones: &[Tombstone]) -> Result<Vec<Uuid>>;
    async fn tombstone(&self, recording_id: Uuid) -> Result<Option<Tombstone>>;
    async fn tombstone_by_sequence(
        &self,
        device_id: &str,
        sequence: u64,
    ) -> Result<Option<Tombstone>>;
    /// Tombstones whose blob deletion has not been confirmed.
    async fn tombstones_with_blob(&self) -> Result<Vec<Tombstone>>;
    async fn mark_blobs_deleted(&self, recording_ids: &[Uuid]) -> Result<()>;
    async fn set_delete_after(&self, recording_id: Uuid, at: UtcMillis) -> Result<()>;
    /// Moves a recording to another retention category with its new deadline.
    async fn set_recording_retention(
        &self,
        recording_id: Uuid,
        category: &str,
        delete_after: UtcMillis,
    ) -> Result<()>;
}

/// Cases, holds and the recordings linked to a case.
#[async_trait]
pub trait CaseStore: Send + Sync {
    async fn add_case(&self, case: &Case) -> Result<()>;
    async fn case(&self, case_id: &str) -> Result<Option<Case>>;
    async fn cases(&self) -> Result<Vec<Case>>;
    /// Closes the case and releases its holds, in one transaction; returns
    /// the holds it released.
    async fn close_case(&self, case_id: &str, by: &str, at: UtcMillis) -> Result<Vec<Hold>>;
    async fn add_hold(&self, hold: &Hold) -> Result<()>;
    async fn hold(&self, hold_id: Uuid) -> Result<Option<Hold>>;
    async fn approve_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()>;
    /// Releases one hold (approved or not) that is still in force; `NotFound`
    /// if there is none such.
    async fn release_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()>;
    async fn holds_for_recording(&self, recording_id: Uuid) -> Result<Vec<Hold>>;
    async fn holds_for_case(&self, case_id: &str) -> Result<Vec<Hold>>;
    /// A case and a recording, each if it exists, and whether the one is
    /// attached to the other (every access to footage needs all three;
    /// backends answer in one query).
    async fn case_and_recording(
        &self,
        case_id: &str,
        recording_id: Uuid,
    ) -> Result<CaseAndRecording>;
    /// Attaches a recording to a case for viewing; false if it already was
    /// (the first link and its reason stand).
    async fn link_recording(&self, link: &CaseLink) -> Result<bool>;
    /// A case's links, oldest first.
    async fn case_links(&self, case_id: &str) -> Result<Vec<CaseLink>>;
}

/// Export requests and approvals, derivatives, download links.
#[async_trait]
pub trait ExportStore: Send + Sync {
    async fn add_export_request(&self, request: &ExportRequest) -> Result<()>;
    async fn export_request(&self, request_id: Uuid) -> Result<Option<ExportRequest>>;
    /// A case's export requests, oldest first.
    async fn export_requests_for_case(&self, case_id: &str) -> Result<Vec<ExportRequest>>;
    /// The second person's approval; `NotFound` unless one is awaited.
    async fn approve_export_request(&self, request_id: Uuid, by: &str, at: UtcMillis)
        -> Result<()>;
    /// Spends an approval; `NotFound` unless approved and not yet used, so
    /// two exports can never share one.
    async fn use_export_request(&self, request_id: Uuid, at: UtcMillis) -> Result<()>;
    async fn add_derivative(&self, derivative: &Derivative) -> Result<()>;
    async fn derivative(&self, derivative_id: Uuid) -> Result<Option<Derivative>>;
    /// A case's derivatives, oldest first (deleted ones too).
    async fn derivatives_for_case(&self, case_id: &str) -> Result<Vec<Derivative>>;
    /// Derivatives not yet deleted whose source recording is gone.
    async fn orphaned_derivatives(&self, limit: u64) -> Result<Vec<Derivative>>;
    /// Forgets the derivative's key (its age header) and marks it deleted.
    async fn delete_derivative(&self, derivative_id: Uuid, at: UtcMillis) -> Result<()>;
    async fn add_export_link(&self, link: &ExportLink) -> Result<()>;
    async fn export_link(&self, link_id: Uuid) -> Result<Option<ExportLink>>;
    async fn export_link_by_token(&self, token_sha256: &str) -> Result<Option<ExportLink>>;
    /// A case's download links, oldest first.
    async fn export_links_for_case(&self, case_id: &str) -> Result<Vec<ExportLink>>;
    /// Counts one more download if the link still serves at `at` (not
    /// revoked, removed, expired or used up), atomically: two downloads
    /// racing for the last one cannot both get it. `false` if it does not.
    async fn claim_export_download(&self, link_id: Uuid, at: UtcMillis) -> Result<bool>;
    /// `NotFound` unless the link exists and is not revoked yet.
    async fn revoke_export_link(&self, link_id: Uuid, by: &str, at: UtcMillis) -> Result<()>;
    /// Links whose package is still stored but no longer serves at `now`
    /// (revoked or expired), at most `limit`.
    async fn export_links_to_remove(&self, now: UtcMillis, limit: u64) -> Result<Vec<ExportLink>>;
    /// The link's package is gone from the blob store.
    async fn mark_export_link_removed(&self, link_id: Uuid, at: UtcMillis) -> Result<()>;
}

/// Subject access requests and their deadlines.
#[async_trait]
pub trait SubjectRequestStore: Send + Sync {
    /// Opens the request's case and records the request, in one transaction.
    async fn open_subject_request(&self, case: &Case, request: &SubjectRequest) -> Result<()>;
    async fn subject_request(&self, case_id: &str) -> Result<Option<SubjectRequest>>;
    /// Moves the case's deadline to `due_at` with a reason, in one
    /// transaction; `NotFound` unless the request exists and is open.
    async fn extend_subject_request(
        &self,
        case_id: &str,
        due_at: UtcMillis,
        reason: &str,
        by: &str,
        at: UtcMillis,
    ) -> Result<()>;
    /// Records that an answer (export `export_id`) was made for the request.
    async fn record_subject_delivery(
        &self,
        case_id: &str,
        export_id: Uuid,
        at: UtcMillis,
    ) -> Result<()>;
}

/// Integrity incidents and refused credentials (admission).
#[async_trait]
pub trait IncidentStore: Send + Sync {
    async fn add_incident(&self, incident: &NewIncident, at: UtcMillis) -> Result<i64>;
    /// An incident that is a fact about one camera's recording (its camera
    /// and sequence number known): one row per kind and recording, however
    /// often it is seen (each docking offers a refused recording again);
    /// `occurrences` counts the sightings, `last_at` says the latest and
    /// `detail` what the latest said (`at` stays the first). A fact a
    /// dock reports about no nameable recording is counted into the first
    /// one of its kind from that dock with the very same detail. Anything
    /// else is added as it comes.
    async fn sight_incident(&self, incident: &NewIncident, at: UtcMillis) -> Result<i64>;
    /// `count` refused credentials from `source`, seen from `first` to
    /// `last`, counted into the one incident that source has for its kind,
    /// detail and the window starting at `window_start` (made if there is
    /// none): a flood of refusals is one row with a count, in one statement
    /// however many race.
    async fn count_refused_credential(
        &self,
        incident: &NewIncident,
        source: &str,
        window_start: UtcMillis,
        seen: (UtcMillis, UtcMillis),
        count: u64,
    ) -> Result<i64>;
    /// Incidents after `after_id`, oldest first, at most `limit`.
    async fn incidents_page(&self, after_id: i64, limit: u64) -> Result<Vec<Incident>>;
    /// Incidents newest first, narrowed as `query` says.
    async fn search_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>>;
    /// The incidents about one recording: naming it, or its camera and
    /// sequence number; oldest first, at most `limit`.
    async fn incidents_for_recording(
        &self,
        recording_id: Uuid,
        device_id: &str,
        sequence: u64,
        limit: u64,
    ) -> Result<Vec<Incident>>;
    /// Every incident, oldest first (read page by page).
    async fn incidents(&self) -> Result<Vec<Incident>> {
        let mut all: Vec<Incident> = Vec::new();
        loop {
            let after = all.last().map_or(0, |i| i.id);
            let page = self.incidents_page(after, 1000).await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}

/// Accounts, their sign-in state, and account activations.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn add_user(&self, user: &User) -> Result<()>;
    async fn user(&self, name: &str) -> Result<Option<User>>;
    async fn users(&self) -> Result<Vec<User>>;
    /// One more consecutive failed sign-in, counted in one statement (each
    /// of many parallel failures counts): returns the failures now and the
    /// time before which the next attempt is not looked at, as
    /// [`SignInBackoff`] sets it. `None` if there is no such user.
    async fn count_failed_sign_in(
        &self,
        name: &str,
        at: UtcMillis,
        backoff: &SignInBackoff,
    ) -> Result<Option<(u32, Option<UtcMillis>)>>;
    /// Claims the one attempt an account in back-off may have once its
    /// wait is over, holding off the next until `hold_until` and counting
    /// it as a failure until [`Catalog::accept_sign_in`] says otherwise:
    /// true for exactly one of many racing attempts.
    async fn claim_sign_in_attempt(
        &self,
        name: &str,
        at: UtcMillis,
        hold_until: UtcMillis,
    ) -> Result<bool>;
    /// A sign-in whose code matched TOTP step `step`: taken only if no
    /// sign-in took this step or a later one (a code opens one session,
    /// however many race), clearing failures and back-off.
    async fn accept_sign_in(&self, name: &str, step: i64) -> Result<bool>;
    /// Failed attempts, lock and last TOTP step, set as given (an admin's unlock).
    async fn set_login_state(
        &self,
        name: &str,
        failed_attempts: u32,
        locked_until: Option<UtcMillis>,
        totp_last_step: Option<i64>,
    ) -> Result<()>;
    /// A new password hash (clearing failed attempts and any lock); every
    /// other session of the user ends, all but `keep_session` (a token hash).
    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        at: UtcMillis,
    ) -> Result<()>;
    async fn disable_user(&self, name: &str, at: UtcMillis) -> Result<()>;
    /// A new (sealed) TOTP secret for a lost or replaced phone: the last used
    /// step, failed attempts and any lock are cleared, every session ends.
    async fn reset_totp(&self, name: &str, totp_secret_sealed: &[u8], at: UtcMillis) -> Result<()>;
    async fn add_activation(&self, a: &Activation) -> Result<()>;
    async fn activation(&self, id: Uuid) -> Result<Option<Activation>>;
    async fn activation_by_token(&self, token_sha256: &str) -> Result<Option<Activation>>;
    /// The newest 200, newest first.
    async fn activations(&self) -> Result<Vec<Activation>>;
    /// Requests for `name` still open at `now` (see [`activations`]).
    async fn open_activations_for(&self, name: &str, now: UtcMillis) -> Result<u64>;
    /// False if it was decided already.
    async fn approve_activation(
        &self,
        id: Uuid,
        by: &str,
        at: UtcMillis,
        token_sha256: &str,
        expires_at: UtcMillis,
    ) -> Result<bool>;
    /// False if it was decided already.
    async fn reject_activation(&self, id: Uuid, by: &str, at: UtcMillis) -> Result<bool>;
    /// False unless approved, unused and unexpired at `at`.
    async fn finish_activation(&self, id: Uuid, at: UtcMillis) -> Result<bool>;
}

/// Signed-in sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn add_session(&self, session: &Session) -> Result<()>;
    async fn session(&self, token_sha256: &str) -> Result<Option<Session>>;
    /// A session and its user together (every authenticated request asks;
    /// backends answer in one query).
    async fn session_with_user(&self, token_sha256: &str) -> Result<Option<(Session, User)>>;
    async fn touch_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()>;
    async fn end_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()>;
}

/// The audit log: entries, checkpoints, search.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The audit log's newest checkpoint and frontier (`None` when empty).
    async fn audit_tip(&self) -> Result<Option<AuditTip>>;
    /// Appends `rows` and their checkpoint in one transaction, provided the
    /// log still has `expected_size` entries (else [`CatalogError::Conflict`]:
    /// another writer came first; reload the tip and rebuild the batch).
    async fn append_audit(
        &self,
        expected_size: u64,
        rows: &[StoredEntry],
        checkpoint: &StoredCheckpoint,
        frontier: &[u8],
    ) -> Result<()>;
    /// Up to `limit` entries from index `from` on, in index order.
    async fn audit_entries(&self, from: u64, limit: u64) -> Result<Vec<StoredEntry>>;
    /// Entries naming `object` (`recording:UUID`, …), oldest first, at most `limit`.
    async fn audit_entries_for_object(&self, object: &str, limit: u64) -> Result<Vec<StoredEntry>>;
    /// The entries an [`AuditQuery`] selects, and how many match in all.
    async fn search_audit(&self, q: &AuditQuery) -> Result<(Vec<StoredEntry>, u64)>;
    /// The leaf hashes of the first `size` entries (for proofs).
    async fn audit_leaf_hashes(&self, size: u64) -> Result<Vec<Hash>>;
    /// Every checkpoint, ascending by size.
    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
    async fn audit_checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>>;
}

/// The evaluation statistics.
#[async_trait]
pub trait StatisticsStore: Send + Sync {
    /// Rows by which the statistics' projection of accesses differs from
    /// the audit log ([`statistics::projection_differences_sql`]).
    async fn statistics_projection_differences(&self) -> Result<u64>;
    /// What the evaluation statistics count, per day (module [`statistics`]).
    async fn statistics(
        &self,
        query: &statistics::StatisticsQuery,
    ) -> Result<statistics::StatisticsSources>;
}

/// Leases on periodic jobs, and deployment settings saved at run time.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes (or renews) the lease on periodic job `name` for `holder` until
    /// `until`: `true` if it is now `holder`'s, `false` if another holder's
    /// lease is still running at `now`.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<bool>;
    /// Who holds lease `name`, and until when.
    async fn lease(&self, name: &str) -> Result<Option<(String, UtcMillis)>>;
    /// Ends `holder`'s lease on `name` (nothing if another holds it).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// A deployment setting saved at run time (JSON), if any.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str, at: UtcMillis) -> Result<()>;
}

/// Axis system controllers' connections and their short-lived tokens
/// (ADR 0017).
#[async_trait]
pub trait AxisStore: Send + Sync {
    /// A new connection; `Conflict` if the name is taken, revoked or not.
    async fn add_axis_connection(&self, c: &AxisConnection) -> Result<()>;
    async fn axis_connection(&self, name: &str) -> Result<Option<AxisConnection>>;
    /// Every connection, revoked or not, by name.
    async fn axis_connections(&self) -> Result<Vec<AxisConnection>>;
    /// A new key for a connection that is not revoked; its tokens end.
    async fn rotate_axis_connection(
        &self,
        name: &str,
        key_sha256: &str,
        at: UtcMillis,
    ) -> Result<()>;
    /// Ends a connection and its tokens for good (a second revocation keeps
    /// the first time).
    async fn revoke_axis_connection(&self, name: &str, at: UtcMillis) -> Result<()>;
    /// A new content key of a connection that is not revoked (`NotFound`
    /// otherwise); `Conflict` if it has that id already.
    async fn add_axis_content_key(&self, k: &AxisContentKey) -> Result<()>;
    /// A connection's content keys, oldest first: the last is the one its
    /// connection file names.
    async fn axis_content_keys(&self, connection: &str) -> Result<Vec<AxisContentKey>>;
    /// Keeps a token of a connection that is not revoked; tokens past
    /// `now` are removed on the way.
    async fn add_axis_token(&self, t: &AxisToken, now: UtcMillis) -> Result<()>;
    /// The connection a token of `token_sha256` stands for, if the token is
    /// known, not past its time at `now`, and its connection not revoked.
    async fn axis_token(
        &self,
        token_sha256: &str,
        now: UtcMillis,
    ) -> Result<Option<AxisConnection>>;
    /// A new container; `AlreadyExists` if its connection has one of that name.
    async fn add_axis_container(&self, c: &AxisContainer) -> Result<()>;
    async fn axis_container(&self, connection: &str, name: &str) -> Result<Option<AxisContainer>>;
    /// New metadata for a container not yet complete, completing it if
    /// `completed_at` is given, if its metadata is still `expected` (a
    /// concurrent update is `Conflict`: read again and merge again);
    /// `NotFound` if there is no such open container.
    async fn update_axis_container(
        &self,
        connection: &str,
        name: &str,
        expected: &str,
        metadata: &str,
        at: UtcMillis,
        completed_at: Option<UtcMillis>,
    ) -> Result<()>;
    /// `Status=Complete` of a recording container (compare-and-swap on its
    /// metadata, as [`AxisStore::update_axis_container`]) and, in the same
    /// transaction, its camera if new and its recording, which is given the
    /// camera's next sequence. `AlreadyExists` if a camera of that id is not
    /// an Axis camera; `Conflict` if the metadata or the objects changed
    /// since `completion` was made, or a concurrent completion took the
    /// camera's next sequence (make it again); `NotFound` if the container
    /// is not open, or its Axis camera was revoked. Returns the recording
    /// as stored.
    async fn complete_axis_recording(
        &self,
        connection: &str,
        completion: &AxisCompletion,
        at: UtcMillis,
    ) -> Result<Recording>;
    /// Containers not complete and not changed since `before`, oldest
    /// first: recordings the controller gave up on or that were refused at
    /// `Complete`, rejected content — and `System`, `Users`, `Devices`,
    /// which the caller leaves alone.
    async fn stale_axis_containers(
        &self,
        before: UtcMillis,
        limit: u64,
    ) -> Result<Vec<AxisContainer>>;
    /// Removes container `c` with its objects if it is still as read (not
    /// complete, not changed since): the objects' rows (their keys) go, and
    /// their blobs are named pending as of `pending_at` for the clean-up
    /// that deletes blobs nothing stores. Returns those blobs; `NotFound` if
    /// the container changed or went meanwhile.
    async fn remove_axis_container(
        &self,
        c: &AxisContainer,
        pending_at: UtcMillis,
    ) -> Result<Vec<String>>;
    /// How many of a connection's recordings (containers with a
    /// `recording_id`) are not complete and were changed at or after
    /// `active_since` (one the controller gave up on stops counting).
    async fn open_axis_containers(&self, connection: &str, active_since: UtcMillis) -> Result<u64>;
    /// Names a blob about to be written for an object, before it is.
    async fn add_axis_pending_blob(
        &self,
        blob_key: &str,
        connection: &str,
        at: UtcMillis,
    ) -> Result<()>;
    /// Blobs named before `before` as about to be written whose object
    /// never committed (a request still running named its blob later).
    async fn axis_pending_blobs(&self, before: UtcMillis) -> Result<Vec<String>>;
    /// Removes a pending name; whether it was there. Whoever removes it
    /// owns the blob's fate: the object's commit (which then keeps it), or
    /// the clean-up (which then deletes it, and the commit is refused).
    async fn remove_axis_pending_blob(&self, blob_key: &str) -> Result<bool>;
    /// A new object in an open container of a connection not revoked,
    /// taking its blob's pending name (`Conflict` if the clean-up took it
    /// first): `NotFound` if the container is missing or complete or the
    /// connection revoked, `AlreadyExists` if the name is taken. Serialised with the container's completion: an object is in
    /// a complete container only if it was there before `Complete`.
    async fn add_axis_object(&self, o: &AxisObject) -> Result<()>;
    async fn axis_object(
        &self,
        connection: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<AxisObject>>;
    /// A container's objects, by name.
    async fn axis_objects(&self, connection: &str, container: &str) -> Result<Vec<AxisObject>>;
    /// Replaces an object's metadata (Swift's object `POST`) while its
    /// container is open; `NotFound` otherwise.
    async fn set_axis_object_metadata(
        &self,
        connection: &str,
        container: &str,
        name: &str,
        metadata: &str,
    ) -> Result<()>;
}

/// What the checks of Axis recordings' signed video found, and the key
/// each Axis camera signs with (docs/SIGNED-VIDEO.md).
#[async_trait]
pub trait SignedVideoStore: Send + Sync {
    /// Keeps the check of an Axis recording's signed video if the
    /// recording exists and has none yet: `true` if this call kept it
    /// (another node's check of the same recording came first otherwise).
    async fn add_signed_video_check(&self, c: &SignedVideoCheck) -> Result<bool>;
    async fn signed_video_check(&self, recording_id: Uuid) -> Result<Option<SignedVideoCheck>>;
    /// Axis recordings not yet checked, oldest stored first.
    async fn unchecked_axis_recordings(&self, limit: u64) -> Result<Vec<Uuid>>;
    /// The key an Axis camera signs with, as first seen: pins
    /// `key_sha256` if the camera has none yet, and returns the pinned one.
    async fn pin_axis_signing_key(
        &self,
        device_id: &str,
        key_sha256: &str,
        at: UtcMillis,
    ) -> Result<String>;
    async fn axis_signing_key(&self, device_id: &str) -> Result<Option<String>>;
    /// Every camera's pinned key: camera, key, when pinned; by camera.
    async fn axis_signing_keys(&self) -> Result<Vec<(String, String, UtcMillis)>>;
    /// Forgets a camera's pinned key (an administrator's decision after a
    /// camera's key changed for good reason): its next signed recording
    /// pins anew. `NotFound` if it has none.
    async fn forget_axis_signing_key(&self, device_id: &str) -> Result<()>;
}

/// Where Axis cameras were: each Axis recording's GNSS trail as read once
/// it completed (docs/AXIS.md), for the subject access search by place.
#[async_trait]
pub trait AxisTrailStore: Send + Sync {
    /// Keeps what reading a recording's trail found if the recording
    /// exists and has none yet: `true` if this call kept it.
    async fn add_axis_trail(&self, t: &AxisTrail) -> Result<bool>;
    async fn axis_trail(&self, recording_id: Uuid) -> Result<Option<AxisTrail>>;
    /// Axis recordings whose trail is not read yet, oldest stored first.
    async fn unread_axis_trails(&self, limit: u64) -> Result<Vec<Uuid>>;
}

/// The whole catalog: every store. Code takes the narrowest store it needs
/// (the sweeper a [`RetentionStore`]); the server holds the whole.
pub trait Catalog:
    DeviceStore
    + RecordingStore
    + RetentionStore
    + CaseStore
    + ExportStore
    + SubjectRequestStore
    + IncidentStore
    + UserStore
    + SessionStore
    + AuditStore
    + StatisticsStore
    + LeaseStore
    + AxisStore
    + SignedVideoStore
    + AxisTrailStore
{
    /// Which backend this is (`sqlite`, `postgres`): tests assert on it.
    fn backend(&self) -> &'static str;
}
