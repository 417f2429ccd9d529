//! `cargo +nightly fuzz run join_clips fuzz/seeds/join_clips`
//! A clip's plaintext, laid out as joined clips and read, never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_join::fuzz_join(data);
});
