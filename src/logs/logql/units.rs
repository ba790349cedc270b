//! Numbers, durations and byte sizes in the formats LogQL borrows from Go and Prometheus:
//! Go's `time.ParseDuration`/`Duration.String`, Prometheus' `model.Duration`, go-humanize's
//! byte sizes and Go's float printing. Errors use Go's wording because Loki copies them into
//! `__error_details__`.

use super::gostr::quote;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, result in nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(s));
    let mut rest = s;
    let mut negative = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", quote(s)));
        }
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit),
                    quote(s)
                ))
            }
        };
        let value: f64 = num.parse().map_err(|_| invalid())?;
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let nanos = total.round() as i64;
    Ok(if negative { -nanos } else { nanos })
}

/// Prometheus' `model.ParseDuration`: integer units `y w d h m s ms`, each at most once and in
/// that order (the form range selectors like `[5m]` use).
pub fn parse_prom_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("not a valid duration string: {}", quote(s));
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".to_string());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3600 * NANOS_PER_SECOND),
        ("w", 7 * 24 * 3600 * NANOS_PER_SECOND),
        ("d", 24 * 3600 * NANOS_PER_SECOND),
        ("h", 3600 * NANOS_PER_SECOND),
        ("m", 60 * NANOS_PER_SECOND),
        ("s", NANOS_PER_SECOND),
        ("ms", 1_000_000),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(invalid());
        }
        let value: i64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let idx = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(invalid)?
            + next_unit;
        next_unit = idx + 1;
        total = value
            .checked_mul(UNITS[idx].1)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(invalid)?;
    }
    Ok(total)
}

/// A duration literal in a query: Prometheus syntax first, then Go's (as Loki's lexer does).
pub fn parse_duration_literal(s: &str) -> Result<i64, String> {
    parse_prom_duration(s).or_else(|_| parse_go_duration(s))
}

/// Go's `time.Duration.String()`, e.g. `1h0m0s`, `1.5s`, `250ms`.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let negative = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second values use the largest unit that keeps an integer part.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&format_fraction(u, div));
        out.push_str(unit);
    } else {
        let hours = u / 3_600_000_000_000;
        let minutes = (u / 60_000_000_000) % 60;
        let secs = u % 60_000_000_000;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if hours > 0 || minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&format_fraction(secs, 1_000_000_000));
        out.push('s');
    }
    if negative {
        format!("-{out}")
    } else {
        out
    }
}

/// `value / div` printed without trailing zeros in the fraction.
fn format_fraction(value: u64, div: u64) -> String {
    let int = value / div;
    let frac = value % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Prometheus' `model.Duration.String()`, e.g. `5m`, `1h30m`, `1d`, `2w`, `0s`.
pub fn format_prom_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let mut ms = nanos.unsigned_abs() / 1_000_000;
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ];
    for (unit, size) in UNITS {
        let n = ms / size;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            ms -= n * size;
        }
    }
    if out.is_empty() || out == "-" {
        // Sub-millisecond ranges cannot be written in Prometheus syntax; fall back to Go's.
        return format_go_duration(nanos);
    }
    out
}

/// go-humanize's `ParseBytes`: `42MB`, `1.5KiB`, `5 MiB`, `3k`, `20B`, case-insensitive units.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let num: String = s[..num_len].chars().filter(|c| *c != ',').collect();
    let value: f64 = num.parse().map_err(|_| {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            quote(&num)
        )
    })?;
    let unit = s[num_len..].trim().to_ascii_lowercase();
    let multiplier: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024f64.powi(2),
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return Err(format!("unhandled size name: {unit}")),
    };
    let total = value * multiplier;
    if total >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    Ok(total as u64)
}

/// Prints a byte count so that [`parse_bytes`] reads back the same value: the largest
/// binary or decimal unit that divides it exactly, else plain bytes.
pub fn format_bytes(b: u64) -> String {
    if b == 0 {
        return "0B".to_string();
    }
    const UNITS: [(&str, u64); 10] = [
        ("PiB", 1 << 50),
        ("PB", 1_000_000_000_000_000),
        ("TiB", 1 << 40),
        ("TB", 1_000_000_000_000),
        ("GiB", 1 << 30),
        ("GB", 1_000_000_000),
        ("MiB", 1 << 20),
        ("MB", 1_000_000),
        ("KiB", 1 << 10),
        ("kB", 1_000),
    ];
    for (unit, size) in UNITS {
        if b.is_multiple_of(size) {
            return format!("{}{unit}", b / size);
        }
    }
    format!("{b}B")
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms that matter in logs: decimal, exponent,
/// `Inf`/`NaN`. Errors are worded as Go words them.
pub fn parse_go_float(s: &str) -> Result<f64, String> {
    let syntax = || format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(s));
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let is_special = matches!(
        body.to_ascii_lowercase().as_str(),
        "inf" | "infinity" | "nan"
    );
    if !is_special
        && !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(syntax());
    }
    let v: f64 = s.parse().map_err(|_| syntax())?;
    if v.is_infinite() && !is_special {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            quote(s)
        ));
    }
    Ok(v)
}

/// Go's `fmt.Sprint(float64)` (`%v`, i.e. `%g` with shortest digits): exponent form below 1e-4
/// or from 1e6 on.
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{v}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn format_plain_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_go_duration("-2us"), Ok(-2_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(
            parse_go_duration("301"),
            Err("time: missing unit in duration \"301\"".to_string())
        );
        assert_eq!(
            parse_go_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".to_string())
        );
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".to_string())
        );
        assert_eq!(format_go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(250_000_000), "250ms");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(1_500), "1.5µs");
    }

    #[test]
    fn prom_durations() {
        assert_eq!(parse_prom_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_prom_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_prom_duration("1d"), Ok(86_400_000_000_000));
        assert!(parse_prom_duration("30m1h").is_err());
        assert!(parse_prom_duration("1.5h").is_err());
        assert_eq!(format_prom_duration(5_400_000_000_000), "1h30m");
        assert_eq!(format_prom_duration(7 * 86_400_000_000_000), "1w");
        assert_eq!(parse_duration_literal("1.5h"), Ok(5_400_000_000_000));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("42MB"), Ok(42_000_000));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert_eq!(parse_bytes("5 MiB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_bytes("3k"), Ok(3000));
        assert_eq!(parse_bytes("20B"), Ok(20));
        assert_eq!(parse_bytes("1,024"), Ok(1024));
        assert_eq!(
            parse_bytes("12XB"),
            Err("unhandled size name: xb".to_string())
        );
        assert!(parse_bytes("abc").is_err());
        for b in [0, 20, 1000, 1024, 2560, 1536, 42_000_000, 123_457] {
            assert_eq!(parse_bytes(&format_bytes(b)), Ok(b), "{b}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_go_float("1.5"), Ok(1.5));
        assert_eq!(parse_go_float("-2e3"), Ok(-2000.0));
        assert!(parse_go_float("+Inf").unwrap().is_infinite());
        assert_eq!(
            parse_go_float("12ms"),
            Err("strconv.ParseFloat: parsing \"12ms\": invalid syntax".to_string())
        );
        assert!(parse_go_float("").is_err());
        assert!(parse_go_float(" 1").is_err());
        assert_eq!(format_go_float(2.0), "2");
        assert_eq!(format_go_float(0.99), "0.99");
        assert_eq!(format_go_float(1e21), "1e+21");
        assert_eq!(format_go_float(1e6), "1e+06");
        assert_eq!(format_go_float(123456.0), "123456");
        assert_eq!(format_go_float(0.00001), "1e-05");
        assert_eq!(format_plain_float(0.5), "0.5");
    }
}
