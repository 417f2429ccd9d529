//! `cargo +nightly fuzz run payload_open fuzz/seeds/payload_open`
//! Opening an age header and decrypting its chunks must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_format::payload::fuzz_payload_open(data);
});
