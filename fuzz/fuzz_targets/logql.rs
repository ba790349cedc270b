#![no_main]
//! LogQL query text.

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    sightline::logs::logql::fuzz_one(body);
});
