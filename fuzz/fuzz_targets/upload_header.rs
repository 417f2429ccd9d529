//! `cargo +nightly fuzz run upload_header fuzz/seeds/upload_header`
//! The first bytes of an upload, as ingest reads its age header, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_server::ingest::fuzz_upload_header(data);
});
