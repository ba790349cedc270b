#![no_main]
//! Scraped bodies: the text format and OpenMetrics, lenient and strict.

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    sightline::metrics::scrape::parse::fuzz_one(body);
});
