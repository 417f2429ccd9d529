//! The Custos camera agent: capture → pre-record ring (RAM) → H.264 in
//! fragmented MP4 → age encryption to the evidence key → signed manifest.
//!
//! The camera can record, stop, bookmark and show the live image on its
//! front display. It cannot play back or delete a recording: it has no key
//! to decrypt, and no code path removes a recording's files.
#![forbid(unsafe_code)]

pub mod camera;
pub mod control;
pub mod display;
pub mod encoder;
mod font;
pub mod prerecord;
pub mod recorder;
pub mod run;
pub mod source;
pub mod storage;
pub mod wipe;

pub use camera::{Button, Camera, PressError, State, Status};
pub use storage::{CameraConfig, CameraDir};
