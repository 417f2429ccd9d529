//! `cargo +nightly fuzz run axis_request fuzz/seeds/axis_request`
//! An Axis system controller's container and object names, metadata headers
//! and GNSS trail give a value or a 400, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_axis::fuzz_request(data);
});
