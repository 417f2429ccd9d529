//! `cargo +nightly fuzz run request_target fuzz/seeds/request_target`
//! Request targets and Cookie headers: the edge's checks hold, nothing panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_server::edge::fuzz_request(data);
});
