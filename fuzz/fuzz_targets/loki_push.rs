#![no_main]
//! Uncompressed Loki push bodies, read as protobuf and as JSON, then validated.

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    sightline::logs::push::fuzz_one(body);
});
