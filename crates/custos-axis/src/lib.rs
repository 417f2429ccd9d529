//! Custos as a *content destination* of the Axis body-worn system (ADR
//! 0017): what the Swift subset of the Axis Body Worn Integration API says,
//! checked before anything is stored — container and object names
//! ([`names`]), the metadata carried in `X-Container-Meta-*` and
//! `X-Object-Meta-*` headers ([`metadata`]), the connection file the Axis
//! manager imports and the `System/` objects the system controller reads
//! ([`connection`]), and a recording's GNSS trail ([`gnss`]).
//!
//! No I/O: the server's Axis listener feeds requests through these types
//! and maps [`AxisError`] to the spec's status codes in one place.
#![forbid(unsafe_code)]

pub mod connection;
pub mod content;
pub mod gnss;
pub mod metadata;
pub mod names;
pub mod recording;

/// Why a request of the system controller cannot be stored. Every variant
/// is the spec's `400 Bad Request` ("can never be stored"): the Axis manager
/// then offers the recording for download instead of retrying it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AxisError {
    #[error("container name: {0}")]
    ContainerName(String),
    #[error("object name: {0}")]
    ObjectName(String),
    #[error("metadata `{key}`: {why}")]
    Metadata { key: String, why: String },
    #[error("connection file: {0}")]
    ConnectionFile(String),
    #[error("GNSS trail: {0}")]
    Trail(String),
}

impl AxisError {
    /// The error's name, as the answer's body and the audit entry give it.
    pub fn code(&self) -> &'static str {
        match self {
            AxisError::ContainerName(_) => "container-name",
            AxisError::ObjectName(_) => "object-name",
            AxisError::Metadata { .. } => "metadata",
            AxisError::ConnectionFile(_) => "connection-file",
            AxisError::Trail(_) => "gnss-trail",
        }
    }

    /// The spec's status code.
    pub fn status(&self) -> u16 {
        400
    }

    pub(crate) fn metadata(key: &str, why: impl Into<String>) -> Self {
        AxisError::Metadata {
            key: printable(key),
            why: why.into(),
        }
    }
}

/// `s` safe to echo in an error or a log line: control characters escaped,
/// at most 80 characters.
pub(crate) fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// The fuzz target `axis_request`'s entry (`fuzz/`, and the suite's
/// `fuzz_entries`): the first line is a container's name, the second an
/// object's, the rest `Name: value` header lines of both kinds of metadata;
/// the whole input is also read as a GNSS trail. Whatever the bytes, every
/// parser answers a value or an [`AxisError`] of status 400, and what it
/// accepts holds what the spec allows.
pub fn fuzz_request(data: &[u8]) {
    use metadata::{Carrier, Metadata};
    use names::{Container, Object};

    let _ = gnss::parse(data);
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let container = Container::parse(lines.next().unwrap_or(""));
    let object_line = lines.next().unwrap_or("");
    let headers: Vec<(&str, &[u8])> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k, v.as_bytes()))
        .collect();
    for carrier in [Carrier::Container, Carrier::Object] {
        match Metadata::from_headers(carrier, headers.iter().copied()) {
            Ok(m) => {
                assert!(m.iter().count() <= metadata::MAX_ITEMS);
                assert!(m.iter().all(|(_, v)| !v.chars().any(char::is_control)));
                let back = m.headers(carrier);
                let again = Metadata::from_headers(
                    carrier,
                    back.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
                )
                .expect("what HEAD gives back reads again");
                assert_eq!(again, m);
                let _ = m.instant("StartTime");
            }
            Err(e) => assert_eq!(e.status(), 400),
        }
    }
    let Ok(container) = container else {
        return;
    };
    let name = container.name();
    assert!(name.len() <= names::MAX_CONTAINER_NAME && !name.contains(['/', '\\']));
    assert_eq!(Container::parse(&name).as_ref(), Ok(&container));
    if let Ok(object) = Object::parse(&container, object_line) {
        assert!(!object_line.contains("..") && !object_line.contains('/'));
        if let (Object::Clip { kind, .. }, names::Container::Recording(_)) = (&object, &container) {
            assert!(object_line.ends_with(kind.extension()));
        }
    }
}
