//! Axis recordings in a package (docs/FORMAT.md §12.6): each object of the
//! recording's container as it arrived, and `axis.json` saying what the
//! system controller said of them and what the server saw on arrival. There
//! is no camera signature to check (an Axis camera signs no metadata); the
//! objects are vouched for by their hashes, taken by the server as they
//! arrived, and by the server's signature of `SHA256SUMS`.

use std::collections::BTreeMap;

use custos_format::{sha256, UtcMillis};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::read::Contents;
use crate::{check_path, ExportedRecording};

/// The record in each Axis recording's directory.
pub const RECORD: &str = "axis.json";
/// The directory of its objects, inside its own.
pub const OBJECTS: &str = "objects";

/// The directory of one Axis recording in a package.
pub fn axis_dir(device_id: &str, sequence: u64) -> String {
    format!("axis/{device_id}-{sequence:06}")
}

/// Where object number `index` named `name` goes: under its own name where
/// that is a package path, else under its number (the name is in
/// `axis.json` either way).
pub fn object_file(dir: &str, index: usize, name: &str) -> String {
    let named = format!("{dir}/{OBJECTS}/{name}");
    if check_path(&named).is_ok() {
        named
    } else {
        format!("{dir}/{OBJECTS}/{index:04}.bin")
    }
}

/// `axis.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisRecordingRecord {
    pub recording_id: Uuid,
    pub device_id: String,
    pub sequence: u64,
    /// The Axis connection (one system controller) it came through.
    pub connection: String,
    /// Its container's name: `<UserID>_<BWCSerialNumber>_<TriggerOnTime>`.
    pub container: String,
    /// When the controller said `Status=Complete`.
    pub completed_at: UtcMillis,
    /// The container's metadata as completed: lower-case keys, values as
    /// sent (decoded).
    pub metadata: BTreeMap<String, String>,
    /// Hex SHA-256 of `metadata` written as compact JSON, keys in order
    /// (the form the server keeps and digests).
    pub metadata_sha256: String,
    /// Hex [`custos_format::axis_content_digest`] of the objects.
    pub content_sha256: String,
    pub objects: Vec<AxisObjectRecord>,
    /// The clips their camera encrypted (Axis' own encryption), each with
    /// what opens it: the objects above are the ciphertext as it arrived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clip_keys: Vec<AxisClipKey>,
    /// What the server's check of the clips' signed video found when the
    /// recording arrived (docs/SIGNED-VIDEO.md); absent if never checked.
    /// The clips above are the signed originals: Axis' own validator
    /// checks them without Custos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_video: Option<AxisSignedVideo>,
}

/// The signed-video check as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSignedVideo {
    /// `authentic`, `incomplete`, `unsigned`, `unverifiable` or `altered`.
    pub outcome: String,
    pub checked_at: UtcMillis,
    /// Hex SHA-256 of the camera's signing key (SubjectPublicKeyInfo DER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    pub clips: Vec<AxisSignedClip>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSignedClip {
    /// The clip's object name.
    pub clip: String,
    pub outcome: String,
    /// The first GOP that fails, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Why the clip could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<String>,
    /// GOPs checked.
    pub gops: u64,
}

/// The words a signed-video outcome is written in.
pub const SIGNED_VIDEO_OUTCOMES: [&str; 5] = [
    "authentic",
    "incomplete",
    "unsigned",
    "unverifiable",
    "altered",
];

/// An encrypted clip's key, unwrapped by the server: `openssl enc -d
/// -aes-256-cbc -K <key> -iv <iv> -in <clip's file>` gives the clip, of
/// `length` bytes and SHA-256 `sha256`. The package is encrypted itself;
/// each key opens its one clip only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisClipKey {
    /// The clip's object name, and its key file's.
    pub clip: String,
    pub key_file: String,
    /// The AES-256 key and the IV (hex), absent when the key file does not
    /// open the clip; `error` then says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// The decrypted clip's length and SHA-256 (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisObjectRecord {
    /// The object's name in its container.
    pub name: String,
    /// Its path in the package.
    pub file: String,
    pub metadata: BTreeMap<String, String>,
    /// The bytes as they arrived: length, SHA-256 and MD5 (the Swift
    /// `Etag` the controller was answered with), hex.
    pub length: u64,
    pub sha256: String,
    pub md5: String,
    pub stored_at: UtcMillis,
}

/// Without the key: a record in a log or a panic message leaks nothing.
impl std::fmt::Debug for AxisClipKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxisClipKey")
            .field("clip", &self.clip)
            .field("key_file", &self.key_file)
            .field("length", &self.length)
            .field("sha256", &self.sha256)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 the record's `metadata_sha256` must be.
pub fn metadata_sha256(metadata: &BTreeMap<String, String>) -> [u8; 32] {
    sha256(&serde_json::to_vec(metadata).expect("strings serialise"))
}

/// One Axis recording of a package checked: its record as `export.json`
/// lists it, every object's bytes as the record says, the two digests, no
/// file more or less. Notes for the verdict, or what is wrong.
pub(crate) fn check<'a>(
    listed: &dyn Fn(&str) -> Option<&'a [u8]>,
    contents: &Contents,
    r: &ExportedRecording,
) -> Result<(AxisRecordingRecord, Vec<String>), String> {
    let dir = axis_dir(&r.device_id, r.sequence);
    if r.dir != dir {
        return Err(format!("listed in {}, expected {dir}", r.dir));
    }
    let record: AxisRecordingRecord =
        match listed(&format!("{dir}/{RECORD}")).map(serde_json::from_slice) {
            Some(Ok(x)) => x,
            Some(Err(e)) => return Err(format!("{RECORD} unreadable: {e}")),
            None => return Err(format!("{dir}/{RECORD} missing or not as listed")),
        };
    if record.recording_id != r.recording_id
        || record.device_id != r.device_id
        || record.sequence != r.sequence
    {
        return Err(format!(
            "{RECORD} is another recording than export.json lists"
        ));
    }
    if hex::encode(metadata_sha256(&record.metadata)) != record.metadata_sha256 {
        return Err(format!(
            "{RECORD}: the metadata is not what metadata_sha256 names"
        ));
    }
    let prefix = format!("{dir}/{OBJECTS}/");
    let mut files = std::collections::BTreeSet::new();
    let mut names = std::collections::BTreeSet::new();
    let mut digest_input = Vec::new();
    for o in &record.objects {
        if !o.file.starts_with(&prefix) || !files.insert(o.file.as_str()) {
            return Err(format!(
                "object {}: its file {} is not its own",
                o.name.escape_debug(),
                o.file
            ));
        }
        if !names.insert(o.name.as_str()) {
            return Err(format!("object {} listed twice", o.name.escape_debug()));
        }
        let seen = contents
            .files
            .get(&o.file)
            .ok_or_else(|| format!("{} missing", o.file))?;
        let mut want = [0u8; 32];
        hex::decode_to_slice(&o.sha256, &mut want)
            .map_err(|_| format!("object {}: its SHA-256 is not hex", o.name.escape_debug()))?;
        if seen.sha256 != want || seen.length != o.length {
            return Err(format!(
                "{} is not the object that arrived (SHA-256 or length differs from {RECORD})",
                o.file
            ));
        }
        digest_input.push((o.name.as_str(), want));
    }
    if let Some(extra) = contents
        .files
        .keys()
        .find(|p| p.starts_with(&prefix) && !files.contains(p.as_str()))
    {
        return Err(format!("{extra} is in no object's record"));
    }
    for k in &record.clip_keys {
        let hex_of = |v: &Option<String>, n: usize| {
            v.as_deref()
                .is_some_and(|h| h.len() == 2 * n && h.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        let opened =
            hex_of(&k.key, 32) && hex_of(&k.iv, 16) && hex_of(&k.sha256, 32) && k.length.is_some();
        if !names.contains(k.clip.as_str())
            || !names.contains(k.key_file.as_str())
            || opened == k.error.is_some()
        {
            return Err(format!(
                "{RECORD}: the key of clip {} is not a key of one of its objects",
                k.clip.escape_debug()
            ));
        }
    }
    if let Some(sv) = &record.signed_video {
        let word = |w: &str| SIGNED_VIDEO_OUTCOMES.contains(&w);
        if !word(&sv.outcome)
            || sv
                .clips
                .iter()
                .any(|c| !word(&c.outcome) || !names.contains(c.clip.as_str()))
        {
            return Err(format!(
                "{RECORD}: its signed-video check names an outcome or a clip it does not have"
            ));
        }
    }
    let digest = custos_format::axis_content_digest(digest_input.iter().map(|(n, h)| (*n, h)));
    if hex::encode(digest) != record.content_sha256 {
        return Err(format!(
            "{RECORD}: the objects are not what content_sha256 names"
        ));
    }
    let notes = vec![
        format!(
            "{} objects, each the bytes Axis connection {} uploaded into {} (SHA-256 and MD5 as the server took them on arrival)",
            record.objects.len(),
            record.connection,
            record.container
        ),
        "no camera signature on its metadata: an Axis camera signs none".into(),
    ];
    let mut notes = notes;
    notes.push(match &record.signed_video {
        Some(sv) => format!(
            "signed video {} when it arrived ({} clips{}); the clips are the signed originals, which Axis' own validator checks",
            sv.outcome,
            sv.clips.len(),
            sv.key_sha256
                .as_deref()
                .map(|k| format!(", camera key SHA-256 {k}"))
                .unwrap_or_default()
        ),
        None => "signed video never checked by the server".into(),
    });
    if !record.clip_keys.is_empty() {
        notes.push(format!(
            "{} clips encrypted by their camera, {} with the key that opens them (decrypt with `openssl enc -d -aes-256-cbc`; the standard-tools script checks each)",
            record.clip_keys.len(),
            record.clip_keys.iter().filter(|k| k.key.is_some()).count()
        ));
    }
    Ok((record, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::FileSeen;

    const DIR: &str = "axis/ACCC8EF0A1B2-000001";

    fn listed_recording() -> ExportedRecording {
        ExportedRecording {
            recording_id: Uuid::nil(),
            device_id: "ACCC8EF0A1B2".into(),
            sequence: 1,
            officer_id: None,
            started_at: UtcMillis::from_millis(1_787_485_620_000).unwrap(),
            ended_at: UtcMillis::from_millis(1_787_485_700_000).unwrap(),
            dir: DIR.into(),
        }
    }

    /// A package's files holding one Axis recording of two objects, the
    /// second under its number (its name is no package path).
    fn package() -> (Contents, AxisRecordingRecord) {
        let objects = [
            ("1787485620_1.mp4", b"clip".as_slice()),
            ("bookmark 1", b""),
        ];
        let mut contents = Contents::default();
        let mut records = Vec::new();
        for (i, (name, bytes)) in objects.iter().enumerate() {
            let file = object_file(DIR, i, name);
            contents.files.insert(
                file.clone(),
                FileSeen {
                    sha256: sha256(bytes),
                    length: bytes.len() as u64,
                    bytes: None,
                },
            );
            records.push(AxisObjectRecord {
                name: (*name).into(),
                file,
                metadata: BTreeMap::new(),
                length: bytes.len() as u64,
                sha256: hex::encode(sha256(bytes)),
                md5: "0".repeat(32),
                stored_at: UtcMillis::from_millis(1_787_485_710_000).unwrap(),
            });
        }
        let metadata: BTreeMap<String, String> =
            [("status".to_owned(), "Complete".to_owned())].into();
        let hashes: Vec<[u8; 32]> = objects.iter().map(|(_, b)| sha256(b)).collect();
        let record = AxisRecordingRecord {
            recording_id: Uuid::nil(),
            device_id: "ACCC8EF0A1B2".into(),
            sequence: 1,
            connection: "scu-1".into(),
            container: "u_ACCC8EF0A1B2_20260823T114706Z".into(),
            completed_at: UtcMillis::from_millis(1_787_485_720_000).unwrap(),
            metadata_sha256: hex::encode(metadata_sha256(&metadata)),
            metadata,
            content_sha256: hex::encode(custos_format::axis_content_digest(
                objects.iter().map(|(n, _)| *n).zip(hashes.iter()),
            )),
            objects: records,
            clip_keys: Vec::new(),
            signed_video: None,
        };
        (contents, record)
    }

    fn checked(contents: &Contents, record: &AxisRecordingRecord) -> Result<(), String> {
        let json = serde_json::to_vec(record).unwrap();
        let listed = |p: &str| (p == format!("{DIR}/{RECORD}")).then_some(json.as_slice());
        check(&listed, contents, &listed_recording()).map(|_| ())
    }

    #[test]
    fn a_whole_axis_recording_passes_and_names_no_camera_signature() {
        let (contents, record) = package();
        assert_eq!(record.objects[1].file, format!("{DIR}/objects/0001.bin"));
        let json = serde_json::to_vec(&record).unwrap();
        let listed = |p: &str| (p == format!("{DIR}/{RECORD}")).then_some(json.as_slice());
        let (_, notes) = check(&listed, &contents, &listed_recording()).unwrap();
        assert!(
            notes.iter().any(|n| n.contains("no camera signature")),
            "{notes:?}"
        );
        assert!(notes.contains(&"signed video never checked by the server".to_owned()));
    }

    #[test]
    fn a_signed_video_check_names_its_clips_and_outcomes_or_is_refused() {
        let (contents, mut record) = package();
        let clip = |name: &str, outcome: &str| AxisSignedClip {
            clip: name.into(),
            outcome: outcome.into(),
            failure: None,
            unread: None,
            gops: 5,
        };
        let check = |outcome: &str, clips| AxisSignedVideo {
            outcome: outcome.into(),
            checked_at: UtcMillis::from_millis(1_787_485_720_000).unwrap(),
            key_sha256: Some("ab".repeat(32)),
            clips,
        };
        record.signed_video = Some(check(
            "authentic",
            vec![clip("1787485620_1.mp4", "authentic")],
        ));
        let json = serde_json::to_vec(&record).unwrap();
        let listed = |p: &str| (p == format!("{DIR}/{RECORD}")).then_some(json.as_slice());
        let (_, notes) = check_fn(&listed, &contents);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("signed video authentic when it arrived (1 clips")),
            "{notes:?}"
        );
        for bad in [
            check("fine", vec![]),
            check("authentic", vec![clip("1787485620_1.mp4", "ok")]),
            check("authentic", vec![clip("someone else's.mp4", "authentic")]),
        ] {
            record.signed_video = Some(bad);
            assert!(checked(&contents, &record)
                .unwrap_err()
                .contains("signed-video check"));
        }
    }

    fn check_fn<'a>(
        listed: &dyn Fn(&str) -> Option<&'a [u8]>,
        contents: &Contents,
    ) -> (AxisRecordingRecord, Vec<String>) {
        check(listed, contents, &listed_recording()).unwrap()
    }

    #[test]
    fn every_change_to_an_axis_recording_is_named() {
        let (contents, record) = package();
        let mut changed = contents.clone();
        changed
            .files
            .get_mut(&record.objects[0].file)
            .unwrap()
            .sha256[0] ^= 1;
        assert!(checked(&changed, &record)
            .unwrap_err()
            .contains("not the object that arrived"));

        let mut added = contents.clone();
        added.files.insert(
            format!("{DIR}/objects/extra"),
            FileSeen {
                sha256: [0; 32],
                length: 0,
                bytes: None,
            },
        );
        assert!(checked(&added, &record)
            .unwrap_err()
            .contains("in no object's record"));

        let mut dropped = record.clone();
        dropped.objects.pop();
        assert!(
            checked(&contents, &dropped).is_err(),
            "an object left out of axis.json"
        );

        let mut meta = record.clone();
        meta.metadata.insert("triggeron".into(), "Button".into());
        assert!(checked(&contents, &meta)
            .unwrap_err()
            .contains("metadata_sha256"));

        let mut renamed = record.clone();
        renamed.objects[0].name = "1787485620_2.mp4".into();
        assert!(checked(&contents, &renamed)
            .unwrap_err()
            .contains("content_sha256"));

        let mut twice = record.clone();
        twice.objects[1].file = twice.objects[0].file.clone();
        assert!(checked(&contents, &twice)
            .unwrap_err()
            .contains("not its own"));

        let mut escaping = record.clone();
        escaping.objects[0].file = "recordings/x/video.mp4".into();
        assert!(checked(&contents, &escaping).is_err());

        let mut other = record.clone();
        other.sequence = 2;
        assert!(checked(&contents, &other)
            .unwrap_err()
            .contains("another recording"));
    }
}
