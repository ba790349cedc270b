//! Byte sizes written the Prometheus way: `512MB`, `1GiB`, `0` (binary units, as Prometheus does).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A size in bytes, parsed from `10MB`-style text (KB/MB/GB/TB/PB and KiB… are all powers of
/// 1024, as in Prometheus's `--storage.tsdb.retention.size`) or a plain integer of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 6] = [
    ("B", 1),
    ("KB", 1 << 10),
    ("MB", 1 << 20),
    ("GB", 1 << 30),
    ("TB", 1 << 40),
    ("PB", 1 << 50),
];

impl ByteSize {
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        if digits_end == 0 {
            return Err(format!("not a valid size: {text:?}"));
        }
        let number: u64 = text[..digits_end]
            .parse()
            .map_err(|_| format!("size out of range: {text:?}"))?;
        let unit = text[digits_end..]
            .trim()
            .to_ascii_uppercase()
            .replace("IB", "B");
        if unit.is_empty() {
            return Ok(ByteSize(number));
        }
        let multiplier = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, multiplier)| *multiplier)
            .ok_or_else(|| {
                format!("not a valid size: {text:?} (units are B, KB, MB, GB, TB, PB)")
            })?;
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| format!("size out of range: {text:?}"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, multiplier) = UNITS
            .iter()
            .rev()
            .find(|(_, multiplier)| self.0 >= *multiplier && self.0.is_multiple_of(*multiplier))
            .copied()
            .unwrap_or(("B", 1));
        write!(f, "{}{}", self.0 / multiplier, name)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(bytes) => Ok(ByteSize(bytes)),
            Raw::Text(text) => ByteSize::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_prints_back() {
        for (text, bytes) in [
            ("0", 0),
            ("512", 512),
            ("1KB", 1024),
            ("10MB", 10 << 20),
            ("10MiB", 10 << 20),
            ("2GB", 2 << 30),
            ("1 TB", 1 << 40),
        ] {
            let size = ByteSize::parse(text).unwrap();
            assert_eq!(size.bytes(), bytes, "{text}");
            assert_eq!(ByteSize::parse(&size.to_string()).unwrap(), size);
        }
        for bad in ["", "MB", "10XB", "1.5GB", "-1"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad:?}");
        }
    }
}
