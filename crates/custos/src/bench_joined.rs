//! `custos bench joined`: what laying an Axis recording's clips out as one
//! video costs (issue 23; docs/PERFORMANCE.md), beside reading the same
//! bytes once. A request to `…/joined` does the parsing and the layout
//! each time (nothing is cached), and the walk as it sends the file.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sha2::Digest;

/// The best of this many runs of each step.
const RUNS: usize = 5;

fn best<T>(mut step: impl FnMut() -> Result<T>) -> Result<(Duration, T)> {
    let mut fastest: Option<(Duration, T)> = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = step()?;
        let took = t.elapsed();
        if fastest.as_ref().is_none_or(|(f, _)| took < *f) {
            fastest = Some((took, out));
        }
    }
    Ok(fastest.expect("RUNS > 0"))
}

pub fn run(clip: &std::path::Path, copies: usize) -> Result<ExitCode> {
    if copies == 0 {
        bail!("--copies must be at least 1");
    }
    let bytes = std::fs::read(clip).with_context(|| format!("reading {}", clip.display()))?;
    let (read, _) = best(|| {
        let mut hash = sha2::Sha256::new();
        for _ in 0..copies {
            hash.update(&bytes);
        }
        Ok(hash.finalize())
    })?;
    let (parse, tracks) = best(|| {
        (0..copies)
            .map(|_| {
                let moov = custos_join::read_moov(&mut std::io::Cursor::new(&bytes))?;
                let tracks = custos_join::tracks(&moov)?;
                custos_join::check_within(&tracks, bytes.len() as u64)?;
                Ok(tracks)
            })
            .collect::<Result<Vec<_>, custos_join::JoinError>>()
            .context("the clip is not one custos-join reads")
    })?;
    let samples: usize = tracks.iter().flatten().map(|t| t.samples.len()).sum();
    let (layout, joined) = best(|| Ok(custos_join::Joined::new(tracks.clone())?))?;
    let (walk, (pieces, boxes)) = best(|| {
        let (mut pieces, mut boxes) = (0u64, 0u64);
        joined.read_range(0, joined.length() - 1, |p| {
            pieces += 1;
            if let custos_join::Piece::Made(b) = p {
                boxes += b.len() as u64;
            }
            Ok::<(), std::convert::Infallible>(())
        })?;
        Ok((pieces, boxes))
    })?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let seconds = joined.duration_millis() as f64 / 1000.0;
    println!(
        "{copies} clips of {} bytes ({seconds:.0} s, {samples} samples, {} fragments, a joined file of {} bytes)",
        bytes.len(),
        joined.fragment_count(),
        joined.length()
    );
    println!(
        "  SHA-256 of the same bytes (reading them once): {:.1} ms",
        ms(read)
    );
    println!(
        "  tables parsed: {:.1} ms; laid out: {:.1} ms; walked whole: {:.1} ms ({pieces} pieces, {boxes} bytes of boxes)",
        ms(parse),
        ms(layout),
        ms(walk)
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "joined", "clip_bytes": bytes.len(), "copies": copies,
            "seconds": seconds, "samples": samples, "fragments": joined.fragment_count(),
            "joined_bytes": joined.length(), "sha256_ms": ms(read), "parse_ms": ms(parse),
            "layout_ms": ms(layout), "walk_ms": ms(walk), "pieces": pieces, "box_bytes": boxes,
        })
    );
    Ok(ExitCode::SUCCESS)
}
