//! `cargo +nightly fuzz run signed_video fuzz/seeds/signed_video`
//! A clip's plaintext read for Axis signed video — Annex B of either codec
//! or MP4, chosen by the first byte — never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_signed_video::fuzz_signed_video(data);
});
