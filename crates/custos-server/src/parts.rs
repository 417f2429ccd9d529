//! A recording's bytes as stored, part by part (issue 23 point 3): a
//! Custos camera's recording is one part, its one blob; an Axis recording's
//! parts are its clips, in the order they were recorded. Playback,
//! downloads and the evidence key's grant work on one part; exports and
//! deletion on all of them.

use custos_axis::metadata::Metadata;
use custos_axis::names::{ClipType, Container, Object};
use custos_axis::recording::ClipFacts;
use custos_catalog::{AxisObject, AxisStore, CatalogError, Provenance, Recording};
use custos_format::UtcMillis;

/// One stored part: what opens it and where its bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// From 0, in recording order.
    pub index: usize,
    pub blob_key: String,
    pub age_header: Vec<u8>,
    /// The stored ciphertext's length, header included (the blob holds
    /// zeros where the header is).
    pub ciphertext_length: u64,
    /// An Axis clip's own facts; `None` for a Custos camera's recording.
    pub clip: Option<Clip>,
}

impl Part {
    /// What opens this part.
    pub fn stored(&self) -> StoredObject<'_> {
        StoredObject {
            blob_key: &self.blob_key,
            age_header: &self.age_header,
            ciphertext_length: self.ciphertext_length,
            encrypted: self
                .clip
                .as_ref()
                .and_then(|c| c.key_file.as_ref().map(|k| (k, c.length))),
        }
    }
}

/// An object as stored, to be opened ([`crate::playback::decrypting_reader`]):
/// a recording's part, or another object of an Axis recording (its GNSS
/// trail).
#[derive(Clone, Copy, Debug)]
pub struct StoredObject<'a> {
    pub blob_key: &'a str,
    pub age_header: &'a [u8],
    /// Header included (the blob holds zeros where the header is).
    pub ciphertext_length: u64,
    /// Its key file and the length of the bytes that arrived, if its
    /// camera encrypted it.
    pub encrypted: Option<(&'a KeyObject, u64)>,
}

/// A connection's RSA key as the catalog keeps it: its id and its PKCS#8
/// private key age-encrypted to the evidence key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedContentKey {
    pub key_id: String,
    pub sealed: Vec<u8>,
}

/// A clip's key file (Axis' own encryption): stored as every object is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyObject {
    pub name: String,
    pub blob_key: String,
    pub age_header: Vec<u8>,
    /// The bytes as they arrived.
    pub length: u64,
}

impl KeyObject {
    pub fn ciphertext_length(&self) -> u64 {
        ciphertext_length(self.length, self.age_header.len() as u64)
    }
}

/// An Axis clip as the controller sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clip {
    pub name: String,
    pub kind: ClipType,
    /// From its metadata, where the controller gave them (they may come
    /// only with the clip's name, which starts with its start time).
    pub start: Option<UtcMillis>,
    pub stop: Option<UtcMillis>,
    /// The bytes that arrived: their length, SHA-256 and MD5 (hex).
    pub length: u64,
    pub sha256: [u8; 32],
    pub md5: String,
    /// Its key file, if the camera encrypted it (`<stem>.key`, or
    /// `<name>.key` as Axis' reference decrypter looks for it).
    pub key_file: Option<KeyObject>,
}

/// The length of the age ciphertext of `plaintext` bytes under a header of
/// `header` bytes: the payload nonce, then 64 KiB chunks with a 16-byte tag
/// each (an empty payload is one empty chunk). The inverse of
/// [`crate::playback::plaintext_length`].
pub fn ciphertext_length(plaintext: u64, header: u64) -> u64 {
    const CHUNK: u64 = 64 * 1024;
    const TAG: u64 = 16;
    let chunks = plaintext.div_ceil(CHUNK).max(1);
    header + 16 + plaintext + chunks * TAG
}

/// The key file of object `name` among a container's key files, if its
/// camera encrypted it: `<stem>.key`, or `<name>.key` as Axis' reference
/// decrypter looks for it.
pub fn key_file_of(name: &str, keys: &[AxisObject]) -> Option<KeyObject> {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    keys.iter()
        .find(|k| k.name == format!("{stem}.key"))
        .or_else(|| keys.iter().find(|k| k.name == format!("{name}.key")))
        .map(|k| KeyObject {
            name: k.name.clone(),
            blob_key: k.blob_key.clone(),
            age_header: k.age_header.clone(),
            length: k.length,
        })
}

/// An Axis recording's clips among its container's objects, in recording
/// order (start time where known, then name: a clip's name starts with its
/// start time). A clip whose stored metadata no longer reads is the
/// catalog's corruption.
pub fn clips(
    container: &str,
    objects: Vec<AxisObject>,
) -> Result<Vec<(Clip, AxisObject)>, CatalogError> {
    let corrupt = |what: String| CatalogError::Unavailable(format!("corrupt Axis object: {what}"));
    let parsed = Container::parse(container).map_err(|e| corrupt(e.to_string()))?;
    let (keys, objects): (Vec<AxisObject>, Vec<AxisObject>) = objects
        .into_iter()
        .partition(|o| matches!(Object::parse(&parsed, &o.name), Ok(Object::Key { .. })));
    let key_file = |clip: &str| key_file_of(clip, &keys);
    let mut clips = Vec::new();
    for o in objects {
        let Ok(Object::Clip { kind, .. }) = Object::parse(&parsed, &o.name) else {
            continue;
        };
        let meta = Metadata::from_json(&o.metadata).map_err(|e| corrupt(e.to_string()))?;
        // Checked against the time it arrived, as it was then.
        let facts = ClipFacts::read(kind, &meta, o.stored_at).ok();
        clips.push((
            Clip {
                name: o.name.clone(),
                kind,
                start: facts.map(|f| f.start),
                stop: facts.map(|f| f.stop),
                length: o.length,
                sha256: o.sha256,
                md5: o.md5.clone(),
                key_file: key_file(&o.name),
            },
            o,
        ));
    }
    clips.sort_by(|(a, _), (b, _)| {
        (a.start.is_none(), a.start, &a.name).cmp(&(b.start.is_none(), b.start, &b.name))
    });
    Ok(clips)
}

/// Every part of `recording`, in order.
pub async fn parts(
    catalog: &(impl AxisStore + ?Sized),
    recording: &Recording,
) -> Result<Vec<Part>, CatalogError> {
    match &recording.provenance {
        Provenance::Camera(c) => Ok(vec![Part {
            index: 0,
            blob_key: c.blob_key.clone(),
            age_header: c.age_header.clone(),
            ciphertext_length: c.ciphertext_length,
            clip: None,
        }]),
        Provenance::Axis(a) => {
            let objects = catalog.axis_objects(&a.connection, &a.container).await?;
            Ok(clips(&a.container, objects)?
                .into_iter()
                .enumerate()
                .map(|(index, (clip, o))| Part {
                    index,
                    ciphertext_length: ciphertext_length(o.length, o.age_header.len() as u64),
                    blob_key: o.blob_key,
                    age_header: o.age_header,
                    clip: Some(clip),
                })
                .collect())
        }
    }
}

/// Where each part starts in its recording, in milliseconds from the
/// recording's start: a clip's own start time where the controller gave
/// it, else the end of the clip before (its stop, or its start where that
/// is all there is). Never before the part before: the parts are in
/// recording order, and a time that says otherwise is not believed.
pub fn offsets(recording: &Recording, parts: &[Part]) -> Vec<u64> {
    let started = recording.started_at.as_millis();
    let mut out = Vec::with_capacity(parts.len());
    let mut follows = 0u64;
    for p in parts {
        let since = |t: UtcMillis| u64::try_from(t.as_millis() - started).unwrap_or(0);
        let clip = p.clip.as_ref();
        let offset = clip
            .and_then(|c| c.start)
            .map_or(follows, since)
            .max(follows);
        follows = clip.and_then(|c| c.stop).map_or(offset, since).max(offset);
        out.push(offset);
    }
    out
}

/// The content keys a clip of `connection` may be wrapped to, newest
/// first (the order they are tried in). Read only when a clip's key is to
/// be unwrapped, not on every range of a playback.
pub async fn content_keys(
    catalog: &(impl AxisStore + ?Sized),
    connection: &str,
) -> Result<Vec<SealedContentKey>, CatalogError> {
    let mut keys = catalog.axis_content_keys(connection).await?;
    keys.reverse();
    Ok(keys
        .into_iter()
        .map(|k| SealedContentKey {
            key_id: k.key_id,
            sealed: k.sealed,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertext_length_is_the_inverse_of_plaintext_length() {
        for header in [0u64, 1, 200] {
            for plain in [0u64, 1, 65_535, 65_536, 65_537, 131_072, 5 << 30] {
                let c = ciphertext_length(plain, header);
                assert_eq!(
                    crate::playback::plaintext_length(c, header),
                    Some(plain),
                    "{plain}+{header}"
                );
            }
        }
    }

    #[test]
    fn ciphertext_length_matches_what_age_writes() {
        let id = age::x25519::Identity::generate();
        for plain in [0usize, 10, 65_536, 70_000] {
            let mut out = Vec::new();
            let recipient = id.to_public();
            let mut w =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .unwrap()
                    .wrap_output(&mut out)
                    .unwrap();
            std::io::Write::write_all(&mut w, &vec![7; plain]).unwrap();
            w.finish().unwrap();
            let header = crate::ingest::age_header_length(&out).unwrap() as u64;
            assert_eq!(
                ciphertext_length(plain as u64, header),
                out.len() as u64,
                "{plain}"
            );
        }
    }
}
