//! `cargo +nightly fuzz run audit_entry fuzz/seeds/audit_entry`
//! Audit entries parse canonically or not at all; checkpoints open or are refused.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_audit::fuzz_entry_and_checkpoint(data);
});
