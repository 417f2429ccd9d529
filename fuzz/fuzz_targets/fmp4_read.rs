//! `cargo +nightly fuzz run fmp4_read fuzz/seeds/fmp4_read`
//! A recording's plaintext, read as fragmented MP4, never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_video::fuzz_fmp4(data);
});
