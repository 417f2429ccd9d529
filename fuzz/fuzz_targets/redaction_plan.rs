//! `cargo +nightly fuzz run redaction_plan fuzz/seeds/redaction_plan`
//! A redaction plan as posted is refused, or checked and asked for its boxes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_server::redaction::fuzz_plan(data);
});
