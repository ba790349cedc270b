//! Integer helpers shared by the chunk encodings: zigzag mapping of signed integers to
//! unsigned ones (small magnitudes to small numbers) and LEB128 varints.

pub(super) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub(super) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

pub(super) fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes [`put_uvarint`] writes for `value`.
pub(super) fn uvarint_len(value: u64) -> usize {
    let significant_bits = 64 - (value | 1).leading_zeros() as usize;
    significant_bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_and_keeps_small_magnitudes_small() {
        for value in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
        let mut out = Vec::new();
        put_uvarint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        for value in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            out.clear();
            put_uvarint(&mut out, value);
            assert_eq!(uvarint_len(value), out.len(), "{value}");
        }
    }
}
