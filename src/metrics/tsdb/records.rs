//! The head's WAL record payloads: series definitions and samples. Layout in
//! `docs/format/wal.md` ("Head records").

use super::chunk::histogram::{put_histogram, read_histogram};
use super::index::SeriesRef;
use super::wal::record::{put_uvarint, put_varint, RecordDecodeError, RecordType, VarintReader};
use crate::metrics::histogram::FloatHistogram;

/// A series definition as logged: its stable reference and its sorted labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord {
    pub series_ref: SeriesRef,
    pub labels: Vec<(String, String)>,
}

/// The samples of one series within a samples record.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamplesRecord {
    pub series_ref: SeriesRef,
    pub samples: Vec<(i64, f64)>,
}

/// The native histogram samples of one series within a histogram samples record.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesHistogramsRecord {
    pub series_ref: SeriesRef,
    pub samples: Vec<(i64, FloatHistogram)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeadRecord {
    Series(Vec<SeriesRecord>),
    Samples(Vec<SeriesSamplesRecord>),
    Histograms(Vec<SeriesHistogramsRecord>),
}

/// `[1][count]{[ref][label count]{[len][name][len][value]}}`
pub fn encode_series<'a, L>(out: &mut Vec<u8>, series: &[(SeriesRef, L)])
where
    L: AsRef<[(&'a str, &'a str)]>,
{
    out.push(RecordType::Series.as_u8());
    put_uvarint(out, series.len() as u64);
    for (series_ref, labels) in series {
        put_uvarint(out, u64::from(*series_ref));
        let labels = labels.as_ref();
        put_uvarint(out, labels.len() as u64);
        for (name, value) in labels {
            put_uvarint(out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
            put_uvarint(out, value.len() as u64);
            out.extend_from_slice(value.as_bytes());
        }
    }
}

/// `[5][series count][base t varint]{[ref delta varint][n << 1 | integers][t0 - base
/// varint][v0]{[dt varint][v]}}`. Series usually come in the order they were created, so
/// reference deltas take a byte; timestamps of one request lie close to the first one.
/// When every value of a series is an integer that an f64 holds exactly (counters,
/// byte gauges), values are zigzag varints, else their 8 raw bits, so NaN payloads
/// (staleness) and `-0.0` survive.
pub fn encode_samples(out: &mut Vec<u8>, series: &[(SeriesRef, &[(i64, f64)])]) {
    out.push(RecordType::CompactSamples.as_u8());
    put_uvarint(out, series.len() as u64);
    let base = series
        .iter()
        .find_map(|(_, samples)| samples.first())
        .map_or(0, |(timestamp, _)| *timestamp);
    put_varint(out, base);
    let mut previous_ref = 0i64;
    for (series_ref, samples) in series {
        let series_ref = i64::from(*series_ref);
        put_varint(out, series_ref.wrapping_sub(previous_ref));
        previous_ref = series_ref;
        let integers = samples
            .iter()
            .all(|(_, value)| exact_integer(*value).is_some());
        put_uvarint(out, (samples.len() as u64) << 1 | u64::from(integers));
        let mut previous = base;
        for (timestamp, value) in samples.iter() {
            put_varint(out, timestamp.wrapping_sub(previous));
            previous = *timestamp;
            if integers {
                // Checked above: the conversion is exact.
                put_varint(out, *value as i64);
            } else {
                out.extend_from_slice(&value.to_bits().to_le_bytes());
            }
        }
    }
}

/// `value` as an integer if converting back gives the same bits (so not `-0.0`, NaN or a
/// fraction) and its magnitude is at most 2^53.
#[inline]
fn exact_integer(value: f64) -> Option<i64> {
    const LIMIT: f64 = (1u64 << 53) as f64;
    if !(-LIMIT..=LIMIT).contains(&value) {
        return None;
    }
    let integer = value as i64;
    ((integer as f64).to_bits() == value.to_bits()).then_some(integer)
}

/// The type `2` samples record, which the head wrote before type `5`; kept so that tests
/// can check that such WALs still replay.
#[cfg(test)]
fn encode_plain_samples(out: &mut Vec<u8>, series: &[(SeriesRef, &[(i64, f64)])]) {
    encode_series_samples(out, RecordType::Samples, series, |out, value| {
        out.extend_from_slice(&value.to_bits().to_le_bytes())
    });
}

/// `[4][series count]{[ref][n][t0 varint][histogram]{[dt varint][histogram]}}`, each
/// histogram as in a histogram chunk with its layout (`docs/format/chunks.md`).
pub fn encode_histograms(out: &mut Vec<u8>, series: &[(SeriesRef, &[(i64, FloatHistogram)])]) {
    encode_series_samples(
        out,
        RecordType::HistogramSamples,
        series,
        |out, histogram| put_histogram(out, histogram, None),
    );
}

/// The layout both sample records share: per series its reference, its sample count and
/// each sample's timestamp (the first absolute, later ones as differences) and value.
fn encode_series_samples<V>(
    out: &mut Vec<u8>,
    record_type: RecordType,
    series: &[(SeriesRef, &[(i64, V)])],
    put_value: impl Fn(&mut Vec<u8>, &V),
) {
    out.push(record_type.as_u8());
    put_uvarint(out, series.len() as u64);
    for (series_ref, samples) in series {
        put_uvarint(out, u64::from(*series_ref));
        put_uvarint(out, samples.len() as u64);
        let mut previous = 0i64;
        for (index, (timestamp, value)) in samples.iter().enumerate() {
            let delta = if index == 0 {
                *timestamp
            } else {
                timestamp.wrapping_sub(previous)
            };
            put_varint(out, delta);
            put_value(out, value);
            previous = *timestamp;
        }
    }
}

fn read_count(
    reader: &mut VarintReader<'_>,
    remaining_floor: usize,
) -> Result<usize, RecordDecodeError> {
    let offset = reader.offset();
    let count = reader.uvarint()?;
    // Each element takes at least `remaining_floor` bytes: a count larger than the rest of
    // the record could hold is corruption, not a reason to allocate.
    let fits = usize::try_from(count)
        .ok()
        .filter(|count| count.saturating_mul(remaining_floor.max(1)) <= reader.remaining().len());
    fits.ok_or(RecordDecodeError::Invalid {
        offset,
        message: format!("count {count} exceeds the record size"),
    })
}

fn read_ref(reader: &mut VarintReader<'_>) -> Result<SeriesRef, RecordDecodeError> {
    let offset = reader.offset();
    let value = reader.uvarint()?;
    SeriesRef::try_from(value).map_err(|_| RecordDecodeError::Invalid {
        offset,
        message: format!("series ref {value} out of range"),
    })
}

fn read_string(reader: &mut VarintReader<'_>) -> Result<String, RecordDecodeError> {
    let len = read_count(reader, 1)?;
    let offset = reader.offset();
    let bytes = reader.bytes(len)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| RecordDecodeError::Invalid {
        offset,
        message: "label is not utf-8".to_string(),
    })
}

pub fn decode(payload: &[u8]) -> Result<HeadRecord, RecordDecodeError> {
    let (record_type, body) = RecordType::split(payload)?;
    let mut reader = VarintReader::new(body);
    match record_type {
        RecordType::Series => {
            let count = read_count(&mut reader, 2)?;
            let mut series = Vec::with_capacity(count);
            for _ in 0..count {
                let series_ref = read_ref(&mut reader)?;
                let label_count = read_count(&mut reader, 2)?;
                let mut labels = Vec::with_capacity(label_count);
                for _ in 0..label_count {
                    let name = read_string(&mut reader)?;
                    let value = read_string(&mut reader)?;
                    labels.push((name, value));
                }
                series.push(SeriesRecord { series_ref, labels });
            }
            Ok(HeadRecord::Series(series))
        }
        RecordType::Samples => {
            let count = read_count(&mut reader, 2)?;
            let mut series = Vec::with_capacity(count);
            for _ in 0..count {
                let series_ref = read_ref(&mut reader)?;
                let sample_count = read_count(&mut reader, 9)?;
                let mut samples = Vec::with_capacity(sample_count);
                let mut previous = 0i64;
                for index in 0..sample_count {
                    let delta = reader.varint()?;
                    let timestamp = if index == 0 {
                        delta
                    } else {
                        previous.wrapping_add(delta)
                    };
                    let value = f64::from_bits(reader.u64_le()?);
                    samples.push((timestamp, value));
                    previous = timestamp;
                }
                series.push(SeriesSamplesRecord {
                    series_ref,
                    samples,
                });
            }
            Ok(HeadRecord::Samples(series))
        }
        RecordType::CompactSamples => decode_compact_samples(&mut reader),
        RecordType::HistogramSamples => {
            let count = read_count(&mut reader, 2)?;
            let mut series = Vec::with_capacity(count);
            for _ in 0..count {
                let series_ref = read_ref(&mut reader)?;
                let sample_count = read_count(&mut reader, 30)?;
                let mut samples = Vec::with_capacity(sample_count);
                let mut previous = 0i64;
                for index in 0..sample_count {
                    let delta = reader.varint()?;
                    let timestamp = if index == 0 {
                        delta
                    } else {
                        previous.wrapping_add(delta)
                    };
                    let offset = reader.offset();
                    let rest = reader.remaining();
                    let mut position = 0usize;
                    let histogram = read_histogram(rest, &mut position).map_err(|error| {
                        RecordDecodeError::Invalid {
                            offset,
                            message: error.to_string(),
                        }
                    })?;
                    reader.bytes(position)?;
                    samples.push((timestamp, histogram));
                    previous = timestamp;
                }
                series.push(SeriesHistogramsRecord {
                    series_ref,
                    samples,
                });
            }
            Ok(HeadRecord::Histograms(series))
        }
        RecordType::Tombstones => Err(RecordDecodeError::UnknownRecordType(
            RecordType::Tombstones.as_u8(),
        )),
    }
}

fn decode_compact_samples(reader: &mut VarintReader<'_>) -> Result<HeadRecord, RecordDecodeError> {
    let count = read_count(reader, 2)?;
    let base = reader.varint()?;
    let mut series = Vec::with_capacity(count);
    let mut previous_ref = 0i64;
    for _ in 0..count {
        let offset = reader.offset();
        let series_ref = previous_ref.wrapping_add(reader.varint()?);
        previous_ref = series_ref;
        let series_ref =
            SeriesRef::try_from(series_ref).map_err(|_| RecordDecodeError::Invalid {
                offset,
                message: format!("series ref {series_ref} out of range"),
            })?;
        let offset = reader.offset();
        let packed = reader.uvarint()?;
        let integers = packed & 1 == 1;
        let sample_count = usize::try_from(packed >> 1)
            .ok()
            .filter(|count| count.saturating_mul(2) <= reader.remaining().len())
            .ok_or_else(|| RecordDecodeError::Invalid {
                offset,
                message: format!("count {} exceeds the record size", packed >> 1),
            })?;
        let mut samples = Vec::with_capacity(sample_count);
        let mut previous = base;
        for _ in 0..sample_count {
            let timestamp = previous.wrapping_add(reader.varint()?);
            previous = timestamp;
            let value = if integers {
                reader.varint()? as f64
            } else {
                f64::from_bits(reader.u64_le()?)
            };
            samples.push((timestamp, value));
        }
        series.push(SeriesSamplesRecord {
            series_ref,
            samples,
        });
    }
    Ok(HeadRecord::Samples(series))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn series_and_samples_round_trip() {
        let labels = [("__name__", "up"), ("job", "node")];
        let mut out = Vec::new();
        encode_series(&mut out, &[(7, &labels[..])]);
        assert_eq!(
            decode(&out).unwrap(),
            HeadRecord::Series(vec![SeriesRecord {
                series_ref: 7,
                labels: vec![
                    ("__name__".into(), "up".into()),
                    ("job".into(), "node".into())
                ],
            }])
        );
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let samples = [(1000, 1.5), (16_000, stale), (31_000, f64::NEG_INFINITY)];
        let mut out = Vec::new();
        encode_samples(&mut out, &[(7, &samples[..])]);
        let HeadRecord::Samples(decoded) = decode(&out).unwrap() else {
            panic!()
        };
        assert_eq!(decoded[0].series_ref, 7);
        let bits: Vec<(i64, u64)> = decoded[0]
            .samples
            .iter()
            .map(|(t, v)| (*t, v.to_bits()))
            .collect();
        let expected: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(bits, expected);
    }

    fn as_bits(records: &[SeriesSamplesRecord]) -> Vec<(SeriesRef, Vec<(i64, u64)>)> {
        records
            .iter()
            .map(|record| {
                let bits = record
                    .samples
                    .iter()
                    .map(|(t, v)| (*t, v.to_bits()))
                    .collect();
                (record.series_ref, bits)
            })
            .collect()
    }

    fn round_trip(series: &[(SeriesRef, Vec<(i64, f64)>)]) -> Vec<SeriesSamplesRecord> {
        let borrowed: Vec<(SeriesRef, &[(i64, f64)])> = series
            .iter()
            .map(|(series_ref, samples)| (*series_ref, samples.as_slice()))
            .collect();
        let mut out = Vec::new();
        encode_samples(&mut out, &borrowed);
        let HeadRecord::Samples(decoded) = decode(&out).unwrap() else {
            panic!("not a samples record")
        };
        decoded
    }

    fn expected_bits(series: &[(SeriesRef, Vec<(i64, f64)>)]) -> Vec<(SeriesRef, Vec<(i64, u64)>)> {
        series
            .iter()
            .map(|(series_ref, samples)| {
                (
                    *series_ref,
                    samples.iter().map(|(t, v)| (*t, v.to_bits())).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn compact_samples_keep_every_bit_pattern_and_integer() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let limit = (1u64 << 53) as f64;
        let series = vec![
            (9, vec![(1_000, 3.0), (16_000, 4.0), (31_000, -7.0)]),
            (2, vec![(i64::MIN, limit), (i64::MAX, -limit)]),
            (u32::MAX, vec![(5, limit * 2.0), (6, 0.0)]),
            (0, vec![(1, -0.0), (2, 1.0)]),
            (
                4,
                vec![
                    (1, stale),
                    (2, f64::INFINITY),
                    (3, 0.5),
                    (4, f64::MIN_POSITIVE),
                ],
            ),
            (5, vec![]),
        ];
        assert_eq!(as_bits(&round_trip(&series)), expected_bits(&series));
    }

    #[test]
    fn compact_samples_take_a_few_bytes_for_a_request_of_counters() {
        // One sample per series, series in creation order, one scrape's timestamps: the
        // shape of a remote-write request.
        let series: Vec<(SeriesRef, Vec<(i64, f64)>)> = (1000..3000u32)
            .map(|series_ref| {
                let timestamp = 1_700_000_000_000 + i64::from(series_ref % 7);
                (
                    series_ref,
                    vec![(timestamp, f64::from(series_ref) * 1000.0)],
                )
            })
            .collect();
        let borrowed: Vec<(SeriesRef, &[(i64, f64)])> =
            series.iter().map(|(r, s)| (*r, s.as_slice())).collect();
        let mut compact = Vec::new();
        encode_samples(&mut compact, &borrowed);
        let mut plain = Vec::new();
        encode_plain_samples(&mut plain, &borrowed);
        assert!(compact.len() <= 2000 * 7, "{} bytes", compact.len());
        assert!(plain.len() >= 2000 * 17, "{} bytes", plain.len());
        assert_eq!(as_bits(&round_trip(&series)), expected_bits(&series));
    }

    #[test]
    fn plain_samples_records_still_decode() {
        let samples = [(1000, 1.5), (16_000, f64::NAN)];
        let mut out = Vec::new();
        encode_plain_samples(&mut out, &[(7, &samples[..])]);
        let HeadRecord::Samples(decoded) = decode(&out).unwrap() else {
            panic!()
        };
        let series = vec![(7, samples.to_vec())];
        assert_eq!(as_bits(&decoded), expected_bits(&series));
    }

    proptest! {
        #[test]
        fn compact_samples_round_trip(
            series in proptest::collection::vec(
                (any::<u32>(), proptest::collection::vec(
                    (any::<i64>(), prop_oneof![
                        any::<u64>().prop_map(f64::from_bits),
                        (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
                    ]),
                    0..6,
                )),
                0..8,
            )
        ) {
            prop_assert_eq!(as_bits(&round_trip(&series)), expected_bits(&series));
        }

        #[test]
        fn compact_samples_truncations_are_errors(n in 1usize..60) {
            let samples = [(1_700_000_000_000, 12.0), (1_700_000_015_000, 0.25)];
            let mut out = Vec::new();
            encode_samples(&mut out, &[(3, &samples[..]), (4, &samples[..1])]);
            let cut = n.min(out.len() - 1);
            prop_assert!(decode(&out[..cut]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn truncations_are_errors(n in 1usize..40) {
            let labels = [("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "idle")];
            let mut out = Vec::new();
            encode_series(&mut out, &[(3, &labels[..])]);
            let cut = n.min(out.len() - 1);
            prop_assert!(decode(&out[..cut]).is_err());
        }
    }
}
