//! Numbers of both formats: the text format's values (anything Go's `strconv.ParseFloat`
//! reads) and integer millisecond timestamps, OpenMetrics' stricter numbers and float
//! second timestamps, and the canonical rendering of `le` / `quantile` bounds.

/// Why a number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberError {
    Invalid,
    /// Well-formed but beyond `f64::MAX`.
    OutOfRange,
}

/// A text-format value: what Go's `strconv.ParseFloat(s, 64)` accepts. That is a
/// decimal float (`1`, `-1.5`, `.5`, `5.`, `1e3`, `1E-3`), a hexadecimal float with a
/// binary exponent (`0x1.8p1`), either with `_` between digits, and case-insensitive
/// `NaN`, `Inf` and `Infinity` (the last two with an optional sign).
pub(crate) fn parse_go_float(s: &str) -> Result<f64, NumberError> {
    if let Some(special) = parse_special(s) {
        return Ok(special);
    }
    let bytes = s.as_bytes();
    let unsigned = match bytes.first() {
        Some(b'+') | Some(b'-') => &bytes[1..],
        _ => bytes,
    };
    if unsigned.len() > 2 && unsigned[0] == b'0' && (unsigned[1] | 0x20) == b'x' {
        return parse_go_hex_float(s);
    }
    if let Some(value) = parse_plain_decimal(bytes) {
        return Ok(value);
    }
    if !is_decimal_float(bytes, true) {
        return Err(NumberError::Invalid);
    }
    let value = if bytes.contains(&b'_') {
        if !go_underscores_ok(bytes) {
            return Err(NumberError::Invalid);
        }
        let digits: String = s.chars().filter(|&c| c != '_').collect();
        digits.parse::<f64>().map_err(|_| NumberError::Invalid)?
    } else {
        s.parse::<f64>().map_err(|_| NumberError::Invalid)?
    };
    finite_or_range_error(value)
}

/// A text-format timestamp: what Go's `strconv.ParseInt(s, 10, 64)` accepts.
pub(crate) fn parse_go_int64(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let digits = match bytes.first() {
        Some(b'+') | Some(b'-') => &bytes[1..],
        _ => bytes,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Rust's integer parsing accepts the same sign and digits, and checks the range.
    s.parse::<i64>().ok()
}

/// An OpenMetrics sample or exemplar value: a `realnumber`, or case-insensitive
/// `NaN`, `Inf` or `Infinity` (the last two with an optional sign).
pub(crate) fn parse_om_number(s: &str) -> Result<f64, NumberError> {
    if let Some(special) = parse_special(s) {
        return Ok(special);
    }
    parse_om_real(s)
}

/// An OpenMetrics `realnumber` (timestamps, bounds): `[sign] digits [. digits]
/// [e [sign] digits]` or `[sign] . digits [e ...]`, with no hex, underscores or
/// non-finite spellings.
pub(crate) fn parse_om_real(s: &str) -> Result<f64, NumberError> {
    if let Some(value) = parse_plain_decimal(s.as_bytes()) {
        return Ok(value);
    }
    if !is_decimal_float(s.as_bytes(), false) {
        return Err(NumberError::Invalid);
    }
    finite_or_range_error(s.parse::<f64>().map_err(|_| NumberError::Invalid)?)
}

/// OpenMetrics timestamp seconds to milliseconds, rounded to the nearest, saturating.
pub(crate) fn seconds_to_ms(seconds: f64) -> i64 {
    debug_assert!(seconds.is_finite());
    // `as` saturates at the ends of i64.
    (seconds * 1000.0).round() as i64
}

/// Exact powers of ten of f64 (10^22 is the largest).
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The common case, fast: `[sign] digits [. digits] [(e|E) [sign] digits]` whose
/// significant digits make an integer below 2^53 and whose decimal exponent is within
/// ±22. Then mantissa and power of ten are both exact and one multiplication or division
/// rounds correctly. `None` for anything else (other forms, or numbers needing the full
/// algorithm); the caller then validates and parses the slow way.
#[inline]
fn parse_plain_decimal(bytes: &[u8]) -> Option<f64> {
    const MAX_EXACT: u64 = 1 << 53;
    let mut i = 0;
    let negative = match bytes.first()? {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut exponent: i32 = 0;
    while let Some(&b) = bytes.get(i) {
        if !b.is_ascii_digit() {
            break;
        }
        mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        digits += 1;
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            digits += 1;
            exponent -= 1;
            i += 1;
        }
    }
    if digits == 0 || mantissa > MAX_EXACT {
        return None;
    }
    if let Some(&b) = bytes.get(i) {
        if b | 0x20 != b'e' {
            return None;
        }
        i += 1;
        let exponent_negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut written: i32 = 0;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() || i - start >= 4 {
                return None;
            }
            written = written * 10 + i32::from(b - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        exponent += if exponent_negative { -written } else { written };
    }
    let magnitude = mantissa as f64;
    let value = if mantissa == 0 {
        0.0
    } else if (0..=22).contains(&exponent) {
        magnitude * POWERS_OF_TEN[exponent as usize]
    } else if (-22..0).contains(&exponent) {
        magnitude / POWERS_OF_TEN[(-exponent) as usize]
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

fn finite_or_range_error(value: f64) -> Result<f64, NumberError> {
    if value.is_infinite() {
        return Err(NumberError::OutOfRange);
    }
    Ok(value)
}

/// `NaN` (no sign), `Inf` or `Infinity` with an optional sign, case-insensitively.
fn parse_special(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    // Quick exit for the common case: a value starting with a digit or a dot.
    let first = *bytes.first()?;
    if first.is_ascii_digit() || first == b'.' {
        return None;
    }
    let (negative, rest) = match first {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let signed = rest.len() != s.len();
    if rest.eq_ignore_ascii_case("inf") || rest.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if rest.eq_ignore_ascii_case("nan") && !signed {
        return Some(f64::NAN);
    }
    None
}

/// Whether `bytes` is `[sign] (digits [. digits*] | . digits) [(e|E) [sign] digits]`,
/// with `_` allowed among the characters (their placement is checked separately).
fn is_decimal_float(bytes: &[u8], allow_underscores: bool) -> bool {
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+') | Some(b'-')) {
        i = 1;
    }
    let mut mantissa_digits = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => mantissa_digits += 1,
            b'_' if allow_underscores => {}
            _ => break,
        }
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => mantissa_digits += 1,
                b'_' if allow_underscores => {}
                _ => break,
            }
            i += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < bytes.len() && (bytes[i] | 0x20) == b'e' {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let mut exponent_digits = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => exponent_digits += 1,
                b'_' if allow_underscores => {}
                _ => break,
            }
            i += 1;
        }
        if exponent_digits == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// Go's rule for `_` in numbers: only between two digits, or between a base prefix and
/// a digit.
fn go_underscores_ok(bytes: &[u8]) -> bool {
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+') | Some(b'-')) {
        i = 1;
    }
    // What the previous character was: a digit (or base prefix), an underscore, other.
    #[derive(PartialEq)]
    enum Saw {
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Other;
    let mut hex = false;
    if bytes.len() >= i + 2 && bytes[i] == b'0' && matches!(bytes[i + 1] | 0x20, b'x' | b'b' | b'o')
    {
        hex = (bytes[i + 1] | 0x20) == b'x';
        i += 2;
        saw = Saw::Digit;
    }
    for &b in &bytes[i..] {
        if b.is_ascii_digit() || (hex && b.is_ascii_hexdigit()) {
            saw = Saw::Digit;
            continue;
        }
        if b == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
            continue;
        }
        if saw == Saw::Underscore {
            return false;
        }
        saw = Saw::Other;
    }
    saw != Saw::Underscore
}

/// `[sign] 0x hexdigits [. hexdigits] p [sign] digits`, the exponent being mandatory.
fn parse_go_hex_float(s: &str) -> Result<f64, NumberError> {
    let bytes = s.as_bytes();
    if bytes.contains(&b'_') && !go_underscores_ok(bytes) {
        return Err(NumberError::Invalid);
    }
    let (negative, mut i) = match bytes[0] {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    i += 2; // "0x"
    let mut mantissa: u64 = 0;
    let mut binary_exponent: i64 = 0;
    let mut digits = 0;
    let mut sticky = false;
    let mut seen_point = false;
    while i < bytes.len() {
        let b = bytes[i];
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b'_' => {
                i += 1;
                continue;
            }
            b'.' if !seen_point => {
                seen_point = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        digits += 1;
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | u64::from(nibble);
            if seen_point {
                binary_exponent -= 4;
            }
        } else {
            // No room: the digit only moves the point and may make the value inexact.
            sticky |= nibble != 0;
            if !seen_point {
                binary_exponent += 4;
            }
        }
        i += 1;
    }
    if digits == 0 || i >= bytes.len() || (bytes[i] | 0x20) != b'p' {
        return Err(NumberError::Invalid);
    }
    i += 1;
    let exponent_negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut exponent: i64 = 0;
    let mut exponent_digits = 0;
    for &b in &bytes[i..] {
        match b {
            b'0'..=b'9' => {
                exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 20);
                exponent_digits += 1;
            }
            b'_' => {}
            _ => return Err(NumberError::Invalid),
        }
    }
    if exponent_digits == 0 {
        return Err(NumberError::Invalid);
    }
    binary_exponent += if exponent_negative {
        -exponent
    } else {
        exponent
    };
    if sticky {
        // Round-to-odd: the bits below f64 precision then round correctly.
        mantissa |= 1;
    }
    let mut value = mantissa as f64;
    let mut remaining = binary_exponent.clamp(-4000, 4000) as i32;
    while remaining != 0 {
        let step = remaining.clamp(-1000, 1000);
        value *= 2f64.powi(step);
        remaining -= step;
    }
    if negative {
        value = -value;
    }
    finite_or_range_error(value)
}

/// The canonical rendering of a bucket bound or quantile: Go's shortest `%g` with `.0`
/// appended when it has neither a point nor an exponent (`1.0`, `0.001`, `1e-05`,
/// `100000.0`, `1e+06`), and `+Inf`, `-Inf`, `NaN`.
pub(crate) fn canonical_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    // Rust's `{:e}` gives the shortest digits that read back exactly, like Go's -1
    // precision: "-1.2345e-7".
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("LowerExp output always has an exponent");
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    // Go's shortest %g switches to the exponent form below 1e-4 and from 1e6 (its
    // exponent threshold is 6 whatever the number of digits).
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
        return out;
    }
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
        return out;
    }
    let integer_digits = exponent as usize + 1;
    if digits.len() <= integer_digits {
        out.push_str(&digits);
        for _ in digits.len()..integer_digits {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..integer_digits]);
        out.push('.');
        out.push_str(&digits[integer_digits..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(s: &str) -> Option<f64> {
        parse_go_float(s).ok()
    }

    #[test]
    fn go_float_accepts_go_spellings() {
        assert_eq!(go("1"), Some(1.0));
        assert_eq!(go("-1.5"), Some(-1.5));
        assert_eq!(go("+.5"), Some(0.5));
        assert_eq!(go("5."), Some(5.0));
        assert_eq!(go("1e3"), Some(1000.0));
        assert_eq!(go("1E-3"), Some(0.001));
        assert_eq!(go("1.7560473e+07"), Some(1.7560473e7));
        assert_eq!(go("08"), Some(8.0));
        assert_eq!(go("1_000.5"), Some(1000.5));
        assert_eq!(go("0x1p-3"), Some(0.125));
        assert_eq!(go("0X1.8P1"), Some(3.0));
        assert_eq!(go("-0x_1p4"), Some(-16.0));
        assert_eq!(go("Inf"), Some(f64::INFINITY));
        assert_eq!(go("+inf"), Some(f64::INFINITY));
        assert_eq!(go("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(go("INFINITY"), Some(f64::INFINITY));
        assert!(go("NaN").is_some_and(f64::is_nan));
        assert!(go("nan").is_some_and(f64::is_nan));
        assert_eq!(go("1e-400"), Some(0.0));
    }

    #[test]
    fn go_float_rejects_what_go_rejects() {
        for bad in [
            "", "+", ".", "e3", "1e", "1e+", "1.2.3", "--1", "+NaN", "-nan", "infin", "1_", "_1",
            "1__0", "1_.5", "0x1", "0x", "0x.p1", "0xg", "1 ", " 1", "1f", "0b1", "0o1", "∞",
        ] {
            assert_eq!(go(bad), None, "{bad:?}");
        }
        assert_eq!(parse_go_float("1e400"), Err(NumberError::OutOfRange));
        assert_eq!(parse_go_float("-1e400"), Err(NumberError::OutOfRange));
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_parser() {
        let cases = [
            "0",
            "-0",
            "+0",
            "1",
            "12345",
            "9007199254740992",
            "9007199254740993",
            "0.1",
            "-0.3",
            "123.456",
            "1.7560473e+07",
            "1.458255915e9",
            "2.5e-22",
            "2.5e-23",
            "1e22",
            "1e23",
            "0000000000000000000000000000000000000000001.2e-1",
            "1520879607.789",
            "12345678901234567890.1234567890",
            ".5",
            "5.",
            "1.000000000000000000001",
            "1e0100",
            "4.4046288803e+10",
            "0.013300656000000001",
        ];
        for case in cases {
            let expected: f64 = case.parse().unwrap();
            if let Some(fast) = parse_plain_decimal(case.as_bytes()) {
                assert_eq!(fast.to_bits(), expected.to_bits(), "{case}");
            }
            assert_eq!(
                parse_om_real(case).map(f64::to_bits),
                Ok(expected.to_bits()),
                "{case}"
            );
            assert_eq!(
                parse_go_float(case).map(f64::to_bits),
                Ok(expected.to_bits()),
                "{case}"
            );
        }
        for bad in [
            "", "-", ".", "e1", "1e", "1e+", "1.e", "1x", "1.2.3", " 1", "1 ",
        ] {
            assert_eq!(parse_plain_decimal(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn go_int64_is_parse_int_base_10() {
        assert_eq!(parse_go_int64("1395066363000"), Some(1_395_066_363_000));
        assert_eq!(parse_go_int64("-3982045"), Some(-3_982_045));
        assert_eq!(parse_go_int64("+5"), Some(5));
        assert_eq!(parse_go_int64("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "-",
            "1.0",
            "1e3",
            "9223372036854775808",
            "1_000",
            "0x10",
            " 1",
        ] {
            assert_eq!(parse_go_int64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn openmetrics_numbers_follow_the_abnf() {
        let om = |s: &str| parse_om_number(s).ok();
        assert_eq!(
            om("0000000000000000000000000000000000000000001.2e-1"),
            Some(0.12)
        );
        assert_eq!(om("1."), Some(1.0));
        assert_eq!(om(".5"), Some(0.5));
        assert_eq!(om("1E5"), Some(1e5));
        assert_eq!(om("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(om("+infinity"), Some(f64::INFINITY));
        assert!(om("nan").is_some_and(f64::is_nan));
        assert_eq!(om("9223372036854775808"), Some(9_223_372_036_854_775_808.0));
        for bad in [
            "a", "1_2", "0x1p-3", "0x1", "0X1", "0b1", "0B1", "0o1", "0O1", "1\t", "1 ", "",
            "+NaN", "1e", ".",
        ] {
            assert_eq!(om(bad), None, "{bad:?}");
        }
        let real = |s: &str| parse_om_real(s).ok();
        assert_eq!(real("1.5e3"), Some(1500.0));
        assert_eq!(real("Inf"), None);
        assert_eq!(real("NaN"), None);
    }

    #[test]
    fn seconds_round_to_milliseconds() {
        assert_eq!(seconds_to_ms(1_520_879_607.789), 1_520_879_607_789);
        assert_eq!(seconds_to_ms(0.0000000001), 0);
        assert_eq!(seconds_to_ms(-1.5), -1500);
        assert_eq!(seconds_to_ms(1.2345678901234567e19), i64::MAX);
    }

    #[test]
    fn canonical_floats_match_the_openmetrics_examples() {
        let cases = [
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
            (1.1e23, "1.1e+23"),
            (1.1e-4, "0.00011"),
            (1.55555555555552e6, "1.55555555555552e+06"),
            (172.8, "172.8"),
            (-12.34, "-12.34"),
            (123456.0, "123456.0"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(canonical_float(value), expected, "{value:e}");
        }
    }
}
