//! Sends encoded rounds to a system's remote-write endpoint with one thread per shard,
//! each sending its shard's requests in order (so every series stays in time order), as
//! fast as the system acknowledges them.

use std::time::{Duration, Instant};

use crate::generator::EncodedRound;

/// What one sending phase did.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    pub samples: u64,
    pub requests: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Requests answered 429/503 (or failing to connect) and sent again.
    pub retries: u64,
    /// Requests that failed for good.
    pub failures: u64,
    pub first_errors: Vec<String>,
}

impl Sent {
    pub fn add(&mut self, other: &Sent) {
        self.samples += other.samples;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.elapsed += other.elapsed;
        self.retries += other.retries;
        self.failures += other.failures;
        for error in &other.first_errors {
            if self.first_errors.len() < 5 {
                self.first_errors.push(error.clone());
            }
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("http client")
}

/// Sends `rounds` (every shard's requests, round after round) to `url`; shard `k` is sent
/// by thread `k`. Returns when every request got a final answer.
pub fn send(url: &str, rounds: &[EncodedRound]) -> Sent {
    let shards = rounds.first().map_or(0, |round| round.shards.len());
    let started = Instant::now();
    let per_shard: Vec<Sent> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..shards)
            .map(|shard| {
                scope.spawn(move || {
                    let client = client();
                    let mut sent = Sent::default();
                    for round in rounds {
                        for request in &round.shards[shard] {
                            post(&client, url, request.body.clone(), &mut sent);
                            sent.samples += request.samples as u64;
                            sent.requests += 1;
                            sent.bytes += request.body.len() as u64;
                        }
                    }
                    sent
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("sender thread"))
            .collect()
    });
    let mut total = Sent::default();
    for sent in &per_shard {
        total.add(sent);
    }
    total.elapsed = started.elapsed();
    total
}

/// One request, retried while the system asks to (429/503 with `Retry-After`) or the
/// connection fails, up to a limit.
fn post(client: &reqwest::blocking::Client, url: &str, body: bytes::Bytes, sent: &mut Sent) {
    const MAX_ATTEMPTS: u32 = 50;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = client
            .post(url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("User-Agent", "sightline-load-bench")
            .body(reqwest::blocking::Body::from(body.clone()))
            .send();
        let (retry_after, error) = match outcome {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get("Retry-After")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|text| text.trim().parse::<f64>().ok())
                    .map(|seconds| Duration::from_secs_f64(seconds.clamp(0.05, 5.0)));
                let text = response.text().unwrap_or_default();
                let error = format!(
                    "{status}: {}",
                    text.trim().chars().take(300).collect::<String>()
                );
                if status.as_u16() == 429 || status.as_u16() == 503 || status.is_server_error() {
                    (
                        Some(retry_after.unwrap_or(Duration::from_millis(200))),
                        error,
                    )
                } else {
                    (None, error)
                }
            }
            Err(error) => (Some(Duration::from_millis(500)), error.to_string()),
        };
        match retry_after {
            Some(pause) if attempt < MAX_ATTEMPTS => {
                sent.retries += 1;
                std::thread::sleep(pause);
            }
            _ => {
                sent.failures += 1;
                if sent.first_errors.len() < 5 {
                    sent.first_errors.push(error);
                }
                return;
            }
        }
    }
}
