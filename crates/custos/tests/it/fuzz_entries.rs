//! Every fuzz target's entry point (`fuzz/`), run on stable in the normal
//! suite: over its seeds, the inputs fuzzing once found to crash it
//! (`fuzz/regressions/TARGET/`, each a regression test), and thousands of
//! mutations of them. A panic here is a bug the fuzzer would find; the
//! long runs are in docs/SECURITY.md.

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Entry = fn(&[u8]);

const TARGETS: [(&str, Entry); 12] = [
    ("manifest_parse", custos_format::verify::fuzz_manifest_parse),
    ("payload_open", custos_format::payload::fuzz_payload_open),
    ("upload_header", custos_server::ingest::fuzz_upload_header),
    ("fmp4_read", custos_video::fuzz_fmp4),
    ("range_header", custos_server::playback::fuzz_range),
    ("request_target", custos_server::edge::fuzz_request),
    ("audit_entry", custos_audit::fuzz_entry_and_checkpoint),
    ("export_tar", custos_export::read::fuzz_tar),
    ("redaction_plan", custos_server::redaction::fuzz_plan),
    ("axis_request", custos_axis::fuzz_request),
    ("signed_video", custos_signed_video::fuzz_signed_video),
    ("join_clips", custos_join::fuzz_join),
];

/// Mutations per target: enough to catch the shallow panics in seconds.
const MUTATIONS: usize = 3000;

fn inputs(dir: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// What libFuzzer's simplest mutators do: flip, set, insert, remove,
/// duplicate, truncate, splice two inputs.
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..=out.len());
        match rng.gen_range(0..7) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] = [0, 0xff, b'\n', b'"', b'-', b'/', b'%', 0x80][rng.gen_range(0..8)];
            }
            2 => out.insert(at, rng.gen()),
            3 if at < out.len() => {
                out.remove(at);
            }
            4 if !out.is_empty() => {
                let end = (at + rng.gen_range(1..64)).min(out.len());
                let piece = out[at.min(end)..end].to_vec();
                out.splice(at..at, piece);
            }
            5 => out.truncate(at),
            _ => {
                let from = rng.gen_range(0..=other.len());
                out.splice(at.., other[from..].iter().copied());
            }
        }
    }
    out
}

#[test]
fn every_fuzz_target_survives_its_seeds_regressions_and_mutations() {
    let mut rng = StdRng::seed_from_u64(19);
    for (target, entry) in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(
            !seeds.is_empty(),
            "{target} has seeds in fuzz/seeds/{target}"
        );
        for regression in inputs("regressions", target) {
            entry(&regression);
        }
        for seed in &seeds {
            entry(seed);
        }
        entry(b"");
        // Large seeds are cut for the mutations: they exercise the parser's
        // front, and each run stays fast.
        let small: Vec<Vec<u8>> = seeds
            .iter()
            .map(|s| s[..s.len().min(8192)].to_vec())
            .collect();
        for n in 0..MUTATIONS {
            let input = &small[n % small.len()];
            let other = &small[rng.gen_range(0..small.len())];
            entry(&mutate(&mut rng, input, other));
        }
    }
}
