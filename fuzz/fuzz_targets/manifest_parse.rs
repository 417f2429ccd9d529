//! `cargo +nightly fuzz run manifest_parse fuzz/seeds/manifest_parse`
//! Parsing must never panic, and whatever parses must be canonical.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_format::verify::fuzz_manifest_parse(data);
});
