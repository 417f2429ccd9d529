//! `cargo +nightly fuzz run export_tar fuzz/seeds/export_tar`
//! An export package's archive is read and verified, or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_export::read::fuzz_tar(data);
});
