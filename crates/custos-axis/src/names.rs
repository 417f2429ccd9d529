//! Container and object names, as the system controller writes them
//! (README "File Upload API", "Overview of Container and Object
//! structure"). A name is checked once, here, before it reaches a path, a
//! row or a log line: anything the spec does not describe is refused.

use custos_format::UtcMillis;
use time::macros::format_description;
use uuid::Uuid;

use crate::{printable, AxisError};

/// Swift's longest container name, in bytes.
pub const MAX_CONTAINER_NAME: usize = 256;
/// Swift's longest object name, in bytes.
pub const MAX_OBJECT_NAME: usize = 1024;
/// The longest camera serial number taken (Axis serials are 12 characters).
pub const MAX_SERIAL: usize = 64;

/// A container of the Axis account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// `System`: capabilities, categories, the system's id.
    System,
    /// `Users`: one object per Axis user.
    Users,
    /// `Devices`: one object per camera.
    Devices,
    /// One recording: `<UserID>_<BWCSerialNumber>_<TriggerOnTime>`.
    Recording(RecordingName),
    /// Content the system controller could not deliver normally:
    /// `RejectedContent_<time or UnknownTime>_<uuid>`.
    Rejected(RejectedName),
}

/// What a recording container's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingName {
    /// The Axis user the camera was assigned to.
    pub user: Uuid,
    /// The camera's serial number.
    pub serial: String,
    /// When the officer triggered the recording, to the second.
    pub trigger_on: UtcMillis,
}

/// What a rejected-content container's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedName {
    /// When the system controller decided to reject, if it knew.
    pub at: Option<UtcMillis>,
    pub id: Uuid,
}

/// Whether a clip is Matroska or MP4 (the connection file's `ContainerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipType {
    Mkv,
    Mp4,
}

impl ClipType {
    pub fn extension(self) -> &'static str {
        match self {
            ClipType::Mkv => "mkv",
            ClipType::Mp4 => "mp4",
        }
    }
}

/// An object in one of the containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// `System/Capabilities.json`, read by the system controller.
    Capabilities,
    /// `System/Categories.json`, read by the system controller.
    Categories,
    /// `System/<SystemID>`: one per body-worn system.
    SystemId(Uuid),
    /// `Users/<UserUUID>`.
    User(Uuid),
    /// `Devices/<BWCSerialNumber>`.
    Device(String),
    /// `<StartTime>_<RecordingID>.<mkv|mp4>`: the stem pairs it with its key.
    Clip { stem: String, kind: ClipType },
    /// `<StartTime>_<RecordingID>.key`: the wrapped key of the clip (or the
    /// trail) of the same stem.
    Key { stem: String },
    /// `bookmark_<Timestamp>_<ID>`.
    Bookmark(String),
    /// `<date>_<time>_<RecordingID>_<bwcid>_gpstrail.json`.
    Trail(String),
}

fn container_error(raw: &str, why: &str) -> AxisError {
    AxisError::ContainerName(format!("`{}` {why}", printable(raw)))
}

fn object_error(raw: &str, why: &str) -> AxisError {
    AxisError::ObjectName(format!("`{}` {why}", printable(raw)))
}

/// What every name must be, container or object: non-empty, no control
/// characters, no path tricks. Slashes are refused too: the spec's names
/// have none, and a name is a file's name nowhere.
fn plain(raw: &str, max: usize) -> Result<(), &'static str> {
    if raw.is_empty() {
        return Err("is empty");
    }
    if raw.len() > max {
        return Err("is too long");
    }
    if raw.chars().any(char::is_control) {
        return Err("has a control character");
    }
    if raw.contains(['/', '\\']) {
        return Err("has a slash");
    }
    if raw == "." || raw.contains("..") {
        return Err("has `..`");
    }
    Ok(())
}

const COMPACT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// `YYYYMMDDTHHMMSSZ`, UTC.
pub fn parse_compact_time(s: &str) -> Option<UtcMillis> {
    let at = time::PrimitiveDateTime::parse(s, COMPACT)
        .ok()?
        .assume_utc();
    UtcMillis::from_millis((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn compact(at: UtcMillis) -> String {
    at.to_offset_date_time()
        .format(COMPACT)
        .expect("a UtcMillis is a year 1970..=9999")
}

/// A camera serial number: letters, digits and `-`.
pub fn valid_serial(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SERIAL
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Container {
    /// `raw` is the path segment, percent-decoded once.
    pub fn parse(raw: &str) -> Result<Container, AxisError> {
        plain(raw, MAX_CONTAINER_NAME).map_err(|why| container_error(raw, why))?;
        match raw {
            "System" => return Ok(Container::System),
            "Users" => return Ok(Container::Users),
            "Devices" => return Ok(Container::Devices),
            _ => {}
        }
        if let Some(rest) = raw.strip_prefix("RejectedContent_") {
            let (at, id) = rest
                .rsplit_once('_')
                .ok_or_else(|| container_error(raw, "is not RejectedContent_<time>_<uuid>"))?;
            let at = match at {
                "UnknownTime" => None,
                at => Some(
                    parse_compact_time(at)
                        .ok_or_else(|| container_error(raw, "has no YYYYMMDDTHHMMSSZ time"))?,
                ),
            };
            let id = Uuid::parse_str(id).map_err(|_| container_error(raw, "has no UUID"))?;
            return Ok(Container::Rejected(RejectedName { at, id }));
        }
        let (rest, trigger_on) = raw.rsplit_once('_').ok_or_else(|| {
            container_error(
                raw,
                "is neither System, Users, Devices, a recording nor rejected content",
            )
        })?;
        let (user, serial) = rest
            .split_once('_')
            .ok_or_else(|| container_error(raw, "is not <UserID>_<BWCSerialNumber>_<time>"))?;
        let user = Uuid::parse_str(user)
            .map_err(|_| container_error(raw, "does not start with a user's UUID"))?;
        if !valid_serial(serial) {
            return Err(container_error(raw, "has no camera serial number"));
        }
        let trigger_on = parse_compact_time(trigger_on)
            .ok_or_else(|| container_error(raw, "does not end in a YYYYMMDDTHHMMSSZ time"))?;
        Ok(Container::Recording(RecordingName {
            user,
            serial: serial.to_owned(),
            trigger_on,
        }))
    }

    /// The name as the system controller wrote it.
    pub fn name(&self) -> String {
        match self {
            Container::System => "System".into(),
            Container::Users => "Users".into(),
            Container::Devices => "Devices".into(),
            Container::Recording(r) => {
                format!("{}_{}_{}", r.user, r.serial, compact(r.trigger_on))
            }
            Container::Rejected(r) => {
                let at = match r.at {
                    None => "UnknownTime".to_owned(),
                    Some(at) => compact(at),
                };
                format!("RejectedContent_{at}_{}", r.id)
            }
        }
    }

    /// Whether it holds a recording's content (normal or rejected).
    pub fn is_recording(&self) -> bool {
        matches!(self, Container::Recording(_) | Container::Rejected(_))
    }
}

impl Object {
    /// `raw`, an object of `container`, percent-decoded once.
    pub fn parse(container: &Container, raw: &str) -> Result<Object, AxisError> {
        plain(raw, MAX_OBJECT_NAME).map_err(|why| object_error(raw, why))?;
        match container {
            Container::System => match raw {
                "Capabilities.json" => Ok(Object::Capabilities),
                "Categories.json" => Ok(Object::Categories),
                id => Uuid::parse_str(id)
                    .map(Object::SystemId)
                    .map_err(|_| object_error(raw, "is not an object of System")),
            },
            Container::Users => Uuid::parse_str(raw)
                .map(Object::User)
                .map_err(|_| object_error(raw, "is not a user's UUID")),
            Container::Devices => {
                if valid_serial(raw) {
                    Ok(Object::Device(raw.to_owned()))
                } else {
                    Err(object_error(raw, "is not a camera serial number"))
                }
            }
            Container::Recording(_) | Container::Rejected(_) => recording_object(raw),
        }
    }
}

/// The objects a recording holds, told apart by the spec's names.
fn recording_object(raw: &str) -> Result<Object, AxisError> {
    if raw.starts_with("bookmark_") {
        return Ok(Object::Bookmark(raw.to_owned()));
    }
    if raw.ends_with("_gpstrail.json") {
        return Ok(Object::Trail(raw.to_owned()));
    }
    let (stem, extension) = raw
        .rsplit_once('.')
        .ok_or_else(|| object_error(raw, "is not a clip, key, bookmark or GNSS trail"))?;
    if stem.is_empty() {
        return Err(object_error(raw, "has no name before its extension"));
    }
    let stem = stem.to_owned();
    match extension {
        "mkv" => Ok(Object::Clip {
            stem,
            kind: ClipType::Mkv,
        }),
        "mp4" => Ok(Object::Clip {
            stem,
            kind: ClipType::Mp4,
        }),
        "key" => Ok(Object::Key { stem }),
        _ => Err(object_error(
            raw,
            "is not a clip, key, bookmark or GNSS trail",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10";

    #[test]
    fn a_recording_container_names_its_user_camera_and_trigger_time() {
        let raw = format!("{USER}_ACCC8EF0A1B2_20260823T114706Z");
        let Container::Recording(r) = Container::parse(&raw).unwrap() else {
            panic!("not a recording");
        };
        assert_eq!(r.user.to_string(), USER);
        assert_eq!(r.serial, "ACCC8EF0A1B2");
        assert_eq!(r.trigger_on.to_string(), "2026-08-23T11:47:06.000Z");
        assert_eq!(Container::Recording(r).name(), raw, "written back as read");
    }

    #[test]
    fn system_users_devices_and_rejected_content_are_known() {
        assert_eq!(Container::parse("System").unwrap(), Container::System);
        assert_eq!(Container::parse("Users").unwrap(), Container::Users);
        assert_eq!(Container::parse("Devices").unwrap(), Container::Devices);
        let id = "0190f0c4-0000-7000-8000-000000000001";
        for (raw, at) in [
            (format!("RejectedContent_20260101T000000Z_{id}"), true),
            (format!("RejectedContent_UnknownTime_{id}"), false),
        ] {
            let c = Container::parse(&raw).unwrap();
            let Container::Rejected(r) = &c else {
                panic!("{raw}")
            };
            assert_eq!(r.at.is_some(), at);
            assert!(c.is_recording());
            assert_eq!(c.name(), raw);
        }
    }

    #[test]
    fn hostile_and_malformed_container_names_are_refused_with_a_reason() {
        let long = "x".repeat(MAX_CONTAINER_NAME + 1);
        for (raw, why) in [
            ("", "empty"),
            ("..", "`..`"),
            (".", "`..`"),
            ("../System", "slash"),
            ("a/b", "slash"),
            ("a\\b", "slash"),
            ("Sys\ntem", "control"),
            ("x\u{0}", "control"),
            (long.as_str(), "too long"),
            ("system", "neither"),
            ("Recordings", "neither"),
            ("nouser_ACCC8E_20260823T114706Z", "UUID"),
            (
                "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10_ACCC8E_2026-08-23",
                "YYYYMMDD",
            ),
            (
                "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10_ACCC8E_20261323T114706Z",
                "YYYYMMDD",
            ),
            (
                "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10_AC;C8E_20260823T114706Z",
                "serial",
            ),
            (
                "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10__20260823T114706Z",
                "serial",
            ),
            ("RejectedContent_sometime_x", "YYYYMMDD"),
            ("RejectedContent_UnknownTime_notauuid", "UUID"),
            ("RejectedContent_", "RejectedContent_<time>_<uuid>"),
        ] {
            let err = Container::parse(raw).unwrap_err();
            assert_eq!((err.code(), err.status()), ("container-name", 400));
            assert!(err.to_string().contains(why), "{raw:?}: {err}");
            assert!(
                !err.to_string().chars().any(char::is_control),
                "echoed safely: {err:?}"
            );
        }
    }

    #[test]
    fn a_recordings_objects_are_clips_keys_bookmarks_and_trails() {
        let c = Container::parse(&format!("{USER}_ACCC8E_20260823T114706Z")).unwrap();
        let clip = Object::parse(&c, "20260823_114700_1234.mp4").unwrap();
        assert_eq!(
            clip,
            Object::Clip {
                stem: "20260823_114700_1234".into(),
                kind: ClipType::Mp4
            }
        );
        assert_eq!(
            Object::parse(&c, "20260823_114700_1234.key").unwrap(),
            Object::Key {
                stem: "20260823_114700_1234".into()
            }
        );
        assert!(matches!(
            Object::parse(&c, "20260823_114700_1234.mkv").unwrap(),
            Object::Clip {
                kind: ClipType::Mkv,
                ..
            }
        ));
        assert!(matches!(
            Object::parse(&c, "bookmark_1661255230_7").unwrap(),
            Object::Bookmark(_)
        ));
        assert!(matches!(
            Object::parse(&c, "20220823_114810_1234_ACCC8E_gpstrail.json").unwrap(),
            Object::Trail(_)
        ));
        for bad in [
            "notes.txt",
            "clip",
            ".mp4",
            "a/b.mp4",
            "../x.mp4",
            "x\r\n.mp4",
            "",
        ] {
            let err = Object::parse(&c, bad).unwrap_err();
            assert_eq!(err.code(), "object-name", "{bad:?}");
        }
        let long = format!("{}.mp4", "x".repeat(MAX_OBJECT_NAME));
        assert!(Object::parse(&c, &long)
            .unwrap_err()
            .to_string()
            .contains("too long"));
    }

    #[test]
    fn system_users_and_devices_hold_only_their_own_objects() {
        let s = Container::System;
        assert_eq!(
            Object::parse(&s, "Capabilities.json").unwrap(),
            Object::Capabilities
        );
        assert_eq!(
            Object::parse(&s, "Categories.json").unwrap(),
            Object::Categories
        );
        assert!(matches!(
            Object::parse(&s, USER).unwrap(),
            Object::SystemId(_)
        ));
        assert!(Object::parse(&s, "custos.toml").is_err());
        assert!(matches!(
            Object::parse(&Container::Users, USER).unwrap(),
            Object::User(_)
        ));
        assert!(Object::parse(&Container::Users, "anna").is_err());
        assert_eq!(
            Object::parse(&Container::Devices, "ACCC8E-01").unwrap(),
            Object::Device("ACCC8E-01".into())
        );
        assert!(Object::parse(&Container::Devices, "cam 1").is_err());
        assert!(Object::parse(&Container::Devices, &"A".repeat(MAX_SERIAL + 1)).is_err());
    }
}
