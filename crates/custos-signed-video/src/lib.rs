//! Axis signed video, verified (issue 23 point 5; docs/SIGNED-VIDEO.md).
//!
//! An Axis camera that signs puts a SEI of the signed-video framework into
//! its stream once per GOP: hashes of the GOP's pictures, chained to the
//! previous GOP, and an ECDSA signature over them with the camera's key.
//! This crate checks them GOP by GOP and says which GOP and which frame
//! fails, written from the format alone (the framework's C code was read,
//! not used), and checked against the framework's own test files.
//!
//! What it does not do: judge whose key it is. The key travels in the
//! stream; Axis' attestation of it (a certificate chain to Axis' root) is
//! reported as present, not checked. A caller may pin a camera's key.
#![forbid(unsafe_code)]

pub mod nal;
pub mod sei;
pub mod verify;

use std::io::{Read, Seek};

pub use nal::Codec;
pub use verify::{Failure, Gop, Options, Outcome, Report, Scheme, Verifier};

/// Why a file could not be read as video at all (a signature that fails
/// is a [`Report`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum SignedVideoError {
    #[error("not a video this verifier reads: {0}")]
    Format(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Verifies an MP4 (progressive or fragmented; H.264 or H.265), frame by
/// frame: memory holds one frame and the hashes of the pictures not yet
/// checked (at most [`verify`]'s bound; older ones count as unsigned).
pub fn verify_mp4<R: Read + Seek>(reader: R, options: Options) -> Result<Report, SignedVideoError> {
    let mut mp4 = custos_video::Fmp4::open(reader).map_err(video_error)?;
    let track = mp4.track().clone();
    let codec = match track.codec {
        custos_video::VideoCodec::H264 => Codec::H264,
        custos_video::VideoCodec::H265 => Codec::H265,
    };
    let mut verifier = Verifier::new(codec, options);
    let mut end = 0u64;
    for (at, frame) in mp4.frames().map_err(video_error)?.iter().enumerate() {
        // A camera writes each frame once, in order: a table naming the
        // same bytes twice would show a frame twice (and make one file
        // cost terabytes to read).
        if frame.offset < end {
            return Err(SignedVideoError::Format(format!(
                "sample {at} overlaps or comes before the one before it"
            )));
        }
        end = frame.offset.saturating_add(frame.size);
        let sample = mp4.frame(frame).map_err(video_error)?;
        let units = nal::length_prefixed(&sample, track.length_size)
            .map_err(|e| SignedVideoError::Format(format!("sample {at}: {e}")))?;
        for unit in units {
            verifier.push(at as u64, unit);
        }
    }
    Ok(verifier.finish())
}

/// Verifies a raw Annex B stream; frames are numbered by NAL unit.
pub fn verify_annex_b(codec: Codec, stream: &[u8], options: Options) -> Report {
    let mut verifier = Verifier::new(codec, options);
    for (at, unit) in nal::annex_b(stream).into_iter().enumerate() {
        verifier.push(at as u64, unit);
    }
    verifier.finish()
}

/// Fuzz entry point (`fuzz/fuzz_targets/signed_video.rs`): any bytes —
/// after a first byte choosing H.264 or H.265 Annex B, or MP4 — give a
/// report or an error: never a panic, an endless loop or an allocation
/// beyond the limits (a SEI of 64 KiB, one hash per picture).
#[doc(hidden)]
pub fn fuzz_signed_video(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let report = match mode % 3 {
        0 => verify_annex_b(Codec::H264, rest, Options::default()),
        1 => verify_annex_b(Codec::H265, rest, Options::default()),
        _ => match verify_mp4(std::io::Cursor::new(rest), Options::default()) {
            Ok(r) => r,
            Err(_) => return,
        },
    };
    // Whatever it says, it says it whole.
    let _ = (report.outcome(), report.first_failure());
}

fn video_error(e: custos_video::VideoError) -> SignedVideoError {
    match e {
        custos_video::VideoError::Io(io) => SignedVideoError::Io(io),
        other => SignedVideoError::Format(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
