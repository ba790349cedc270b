#![no_main]
//! Uncompressed remote-write bodies, read as 1.0 and as 2.0 messages.

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    sightline::metrics::remote::fuzz_one(body);
});
