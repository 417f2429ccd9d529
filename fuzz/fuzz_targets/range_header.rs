//! `cargo +nightly fuzz run range_header fuzz/seeds/range_header`
//! A Range header against a length gives a range inside it or an error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_server::playback::fuzz_range(data);
});
