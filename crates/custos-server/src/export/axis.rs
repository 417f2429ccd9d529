//! Axis recordings in an export (docs/FORMAT.md §12.6): every object of
//! the recording's container, decrypted as it is written, byte for byte as
//! the system controller uploaded it, and `axis.json` with the controller's
//! metadata and the hashes the server took on arrival.

use std::collections::BTreeMap;

use custos_catalog::{AxisObject, AxisStore};
use custos_export::axis::{
    object_file, AxisClipKey, AxisObjectRecord, AxisRecordingRecord, RECORD,
};

use super::*;

/// An Axis recording ready to be written.
pub(super) struct GatheredAxis {
    pub recording: Recording,
    pub record: AxisRecordingRecord,
    /// Its container's objects, in `record.objects`' order.
    pub objects: Vec<AxisObject>,
    /// Its clips with key files (their camera encrypted them), and the
    /// connection's content keys, newest first.
    pub encrypted: Vec<crate::parts::Clip>,
    pub content_keys: Vec<crate::parts::SealedContentKey>,
}

/// Metadata as the catalog keeps it (a JSON object of lower-case keys).
fn metadata(json: &str) -> Result<BTreeMap<String, String>> {
    Ok(custos_axis::metadata::Metadata::from_json(json)?.to_map())
}

pub(super) async fn gather(
    catalog: &(impl AxisStore + custos_catalog::SignedVideoStore + ?Sized),
    recording: Recording,
) -> Result<GatheredAxis> {
    let axis = recording.axis().context("not an Axis recording")?.clone();
    let container = catalog
        .axis_container(&axis.connection, &axis.container)
        .await?
        .context("its container is gone")?;
    let completed_at = container
        .completed_at
        .context("its container is not complete")?;
    let mut objects = catalog
        .axis_objects(&axis.connection, &axis.container)
        .await?;
    // Name order by bytes (FORMAT.md §12.6), whatever the database's
    // collation: it numbers the objects whose names are no package path.
    objects.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let container_metadata = metadata(&container.metadata)?;
    let dir = custos_export::axis::axis_dir(&recording.device_id, recording.sequence);
    // What was digested at `Complete` is what goes out: a difference is
    // damage, and the export is refused rather than made of it.
    anyhow::ensure!(
        custos_catalog::axis_content_digest(&objects) == axis.content_sha256,
        "its objects are not the ones it completed with"
    );
    anyhow::ensure!(
        custos_export::axis::metadata_sha256(&container_metadata) == axis.metadata_sha256,
        "its metadata is not the one it completed with"
    );
    let records = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            Ok(AxisObjectRecord {
                name: o.name.clone(),
                file: object_file(&dir, i, &o.name),
                metadata: metadata(&o.metadata)?,
                length: o.length,
                sha256: hex::encode(o.sha256),
                md5: o.md5.clone(),
                stored_at: o.stored_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let encrypted: Vec<crate::parts::Clip> = crate::parts::clips(&axis.container, objects.clone())?
        .into_iter()
        .map(|(clip, _)| clip)
        .filter(|c| c.key_file.is_some())
        .collect();
    let content_keys = if encrypted.is_empty() {
        Vec::new()
    } else {
        crate::parts::content_keys(catalog, &axis.connection).await?
    };
    let signed_video = match catalog.signed_video_check(recording.recording_id).await? {
        Some(check) => {
            let kept: crate::axis::signed::RecordingCheck = serde_json::from_str(&check.report)
                .context("a signed-video check the catalog keeps does not parse")?;
            Some(custos_export::axis::AxisSignedVideo {
                outcome: check.outcome,
                checked_at: check.checked_at,
                key_sha256: check.key_sha256,
                clips: kept
                    .clips
                    .into_iter()
                    .map(|c| custos_export::axis::AxisSignedClip {
                        clip: c.clip,
                        outcome: c.outcome.word().into(),
                        failure: c.failure,
                        unread: c.unread,
                        gops: c.gops as u64,
                    })
                    .collect(),
            })
        }
        None => None,
    };
    Ok(GatheredAxis {
        encrypted,
        content_keys,
        record: AxisRecordingRecord {
            recording_id: recording.recording_id,
            device_id: recording.device_id.clone(),
            sequence: recording.sequence,
            connection: axis.connection.clone(),
            container: axis.container.clone(),
            completed_at,
            metadata: container_metadata,
            metadata_sha256: hex::encode(axis.metadata_sha256),
            content_sha256: hex::encode(axis.content_sha256),
            objects: records,
            clip_keys: Vec::new(),
            signed_video,
        },
        recording,
        objects,
    })
}

/// Writes one Axis recording's directory; the bytes of its objects.
pub(super) fn write<S: custos_export::package::Sink>(
    d: &Deployment,
    runtime: &tokio::runtime::Handle,
    opens: &ExportGrant,
    package: &mut PackageWriter<S>,
    g: &GatheredAxis,
    trail: &RecordingAudit,
) -> Result<u64> {
    let dir = custos_export::axis::axis_dir(&g.recording.device_id, g.recording.sequence);
    let mut bytes = 0;
    for (o, record) in g.objects.iter().zip(&g.record.objects) {
        let stored = crate::playback::StoredCiphertext::new(
            o.age_header.clone(),
            d.blobs.clone(),
            o.blob_key.clone(),
            crate::parts::ciphertext_length(o.length, o.age_header.len() as u64),
            runtime.clone(),
        );
        let identity = d.keys.evidence.identity(opens, &o.blob_key)?;
        let decryptor =
            age::Decryptor::new_buffered(std::io::BufReader::with_capacity(1 << 20, stored))?;
        let mut plaintext = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .context("an Axis object does not open with the evidence key")?;
        let sha = package.add_stream(&record.file, o.length, &mut plaintext)?;
        // The bytes that leave are the bytes that arrived.
        anyhow::ensure!(
            sha == o.sha256,
            "Axis object {} changed since it arrived",
            record.file
        );
        bytes += o.length;
    }
    let mut record = g.record.clone();
    for clip in &g.encrypted {
        record.clip_keys.push(clip_key(d, runtime, opens, g, clip)?);
    }
    package.add_bytes(
        &format!("{dir}/{RECORD}"),
        &serde_json::to_vec_pretty(&record)?,
    )?;
    package.add_bytes(
        &format!("{dir}/{}", item::AUDIT),
        &serde_json::to_vec_pretty(trail)?,
    )?;
    Ok(bytes)
}

/// An encrypted clip's key for `axis.json`: unwrapped as playback does,
/// and checked by decrypting the clip once more (its length and SHA-256
/// are what a court's `openssl enc -d` must give). A key file that does
/// not open its clip is said, and the export goes on: the bytes that
/// arrived are in it either way.
fn clip_key(
    d: &Deployment,
    runtime: &tokio::runtime::Handle,
    opens: &ExportGrant,
    g: &GatheredAxis,
    clip: &crate::parts::Clip,
) -> Result<AxisClipKey> {
    use custos_axis::content::ContentError;
    use sha2::Digest;
    let key_file = clip
        .key_file
        .clone()
        .context("a clip without its key file")?;
    let object = g
        .objects
        .iter()
        .find(|o| o.name == clip.name)
        .context("an encrypted clip not among its objects")?;
    let mut record = AxisClipKey {
        clip: clip.name.clone(),
        key_file: key_file.name.clone(),
        key: None,
        iv: None,
        length: None,
        sha256: None,
        error: None,
    };
    let identity = d.keys.evidence.identity(opens, &key_file.blob_key)?;
    let key = match crate::axis::content::clip_key(
        identity,
        &key_file,
        &g.content_keys,
        &d.blobs,
        runtime.clone(),
    ) {
        Ok(key) => key,
        // The store failing is the export's failure, never the clip's.
        Err(ContentError::Io(e)) => anyhow::bail!("reading a key file: {e}"),
        Err(e) => {
            record.error = Some(e.to_string());
            return Ok(record);
        }
    };
    let stored = crate::playback::StoredCiphertext::new(
        object.age_header.clone(),
        d.blobs.clone(),
        object.blob_key.clone(),
        crate::parts::ciphertext_length(object.length, object.age_header.len() as u64),
        runtime.clone(),
    );
    let identity = d.keys.evidence.identity(opens, &object.blob_key)?;
    let plain = age::Decryptor::new(stored)?
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .context("an Axis object does not open with the evidence key")?;
    let mut reader =
        match custos_axis::content::DecryptingReader::new(plain, key.clone(), object.length) {
            Ok(reader) => reader,
            Err(ContentError::Io(e)) => anyhow::bail!("reading an encrypted clip: {e}"),
            Err(e) => {
                record.error = Some(e.to_string());
                return Ok(record);
            }
        };
    let mut sha = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut length = 0u64;
    loop {
        let n = std::io::Read::read(&mut reader, &mut buffer)?;
        if n == 0 {
            break;
        }
        sha.update(&buffer[..n]);
        length += n as u64;
    }
    record.key = Some(hex::encode(key.key()));
    record.iv = Some(hex::encode(key.iv()));
    record.length = Some(length);
    record.sha256 = Some(hex::encode(sha.finalize()));
    Ok(record)
}
