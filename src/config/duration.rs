//! Durations written the Prometheus way: `15s`, `1h30m`, `500ms`, `2d`, `1w`, `1y`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration parsed from and printed as Prometheus duration syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub Duration);

/// Units in the order Prometheus requires them to appear, largest first.
const UNITS: [(&str, u64); 8] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
    ("", 0),
];

impl PromDuration {
    pub const fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Self {
        PromDuration(Duration::from_millis(ms))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }

    pub fn as_millis(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Parses `1h30m`-style text. Units must appear largest first, each at most once;
    /// a bare `0` is accepted as zero.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "0" {
            return Ok(PromDuration(Duration::ZERO));
        }
        if text.is_empty() {
            return Err("empty duration string".into());
        }
        let bytes = text.as_bytes();
        let mut total_ms: u64 = 0;
        let mut pos = 0;
        let mut last_unit_rank = None::<usize>;
        while pos < bytes.len() {
            let digits_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            if pos == digits_start {
                return Err(format!("not a valid duration string: {text:?}"));
            }
            let number: u64 = text[digits_start..pos]
                .parse()
                .map_err(|_| format!("duration out of range: {text:?}"))?;
            let unit_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
                pos += 1;
            }
            let unit = &text[unit_start..pos];
            let rank = UNITS[..7]
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(|| {
                    format!("not a valid duration string: {text:?} (unknown unit {unit:?})")
                })?;
            if last_unit_rank.is_some_and(|last| rank <= last) {
                return Err(format!(
                    "not a valid duration string: {text:?} (units must go from largest to smallest)"
                ));
            }
            last_unit_rank = Some(rank);
            total_ms = number
                .checked_mul(UNITS[rank].1)
                .and_then(|ms| total_ms.checked_add(ms))
                .ok_or_else(|| format!("duration out of range: {text:?}"))?;
        }
        Ok(PromDuration(Duration::from_millis(total_ms)))
    }
}

impl fmt::Display for PromDuration {
    /// Prints the shortest Prometheus form, e.g. `1h30m`, `15s`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        for (name, unit_ms) in UNITS[..7].iter() {
            if ms >= *unit_ms {
                write!(f, "{}{}", ms / unit_ms, name)?;
                ms %= unit_ms;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for PromDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromDuration::parse(s)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_and_prints_back() {
        for (text, ms) in [
            ("15s", 15_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            ("0", 0),
            ("1m30s500ms", 90_500),
        ] {
            let parsed = PromDuration::parse(text).unwrap();
            assert_eq!(parsed.as_millis(), ms, "{text}");
            let printed = parsed.to_string();
            assert_eq!(
                PromDuration::parse(&printed).unwrap(),
                parsed,
                "{text} -> {printed}"
            );
        }
        assert_eq!(PromDuration::from_secs(5400).to_string(), "1h30m");
        assert_eq!(PromDuration::from_secs(0).to_string(), "0s");
    }

    #[test]
    fn rejects_bad_syntax() {
        for text in ["", "s", "10", "1.5s", "10x", "1s1m", "1m1m", "-1s", "1 s"] {
            assert!(PromDuration::parse(text).is_err(), "{text:?} should fail");
        }
    }
}
