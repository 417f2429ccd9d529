//! The camera's local control interface: a Unix socket in the camera
//! directory, one JSON request line in, one JSON response line out. It is
//! how the buttons (and `custos device press`) reach the running agent.
//! Nothing in it can fetch, play or delete a recording.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::camera::{Button, Status};
use crate::storage::CameraDir;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    Record,
    Stop,
    Display,
    Bookmark { label: Option<String> },
    Status,
    Shutdown,
}

impl Request {
    pub fn button(&self) -> Option<Button> {
        match self {
            Request::Record => Some(Button::Record),
            Request::Stop => Some(Button::Stop),
            Request::Display => Some(Button::Display),
            Request::Bookmark { label } => Some(Button::Bookmark {
                label: label.clone(),
            }),
            Request::Status | Request::Shutdown => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    pub error: Option<String>,
    pub status: Option<Status>,
}

/// Longest request line accepted; anything longer is refused unread.
pub const MAX_REQUEST_BYTES: u64 = 4096;

/// Parses one request line; errors are for the client, not panics.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|e| format!("bad request: {e}"))?;
    // serde ignores unknown fields of internally tagged unit variants, so the
    // allowed fields are checked here: a request is exactly what it says.
    let allowed: &[&str] = match value.get("op").and_then(|o| o.as_str()) {
        Some("bookmark") => &["op", "label"],
        _ => &["op"],
    };
    if let Some(obj) = value.as_object() {
        if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("bad request: unexpected field `{extra}`"));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("bad request: {e}"))
}

/// Sends one request to the running agent.
pub fn send(dir: &CameraDir, request: &Request) -> Result<Response> {
    let path = dir.control_socket();
    let stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "the camera agent is not running ({} unreachable); start it with `custos device run`",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut writer = &stream;
    writer.write_all(format!("{}\n", serde_json::to_string(request)?).as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .context("reading the camera's answer")?;
    if line.is_empty() {
        bail!("the camera closed the connection without answering");
    }
    serde_json::from_str(&line).context("the camera's answer is not understood")
}
