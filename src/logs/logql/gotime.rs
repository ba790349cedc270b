//! Times for the template functions (`date`, `toDate`, `__timestamp__`, ...): Go's layout
//! strings (`2006-01-02T15:04:05Z07:00`) for formatting and parsing. Times are kept as Unix
//! nanoseconds in UTC; parsed zone offsets are applied, named zones other than UTC are not
//! known (documented as unsupported).

const NANOS: i64 = 1_000_000_000;
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    weekday: usize,
    yday: u32,
}

fn civil(nanos: i64) -> Civil {
    let secs = nanos.div_euclid(NANOS);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        minute: (sod / 60 % 60) as u32,
        second: (sod % 60) as u32,
        nanos: nanos.rem_euclid(NANOS) as u32,
        weekday: (days + 4).rem_euclid(7) as usize,
        yday: (days - days_from_civil(year, 1, 1) + 1) as u32,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    Year4,
    Year2,
    MonthName,
    MonthAbbr,
    Month2,
    Month1,
    DayName,
    DayAbbr,
    Day2,
    Day1,
    DaySpace,
    YearDay,
    Hour24,
    Hour12_2,
    Hour12,
    Minute2,
    Minute1,
    Second2,
    Second1,
    PmUpper,
    PmLower,
    ZoneName,
    /// Numeric offset; `z` = prints `Z` for UTC, `colon`, `secs` = hh only when false.
    Offset {
        z: bool,
        colon: bool,
        minutes: bool,
    },
    /// Fractional seconds: digits, `trim` for the `9` form, separator.
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

/// Builds the token for a layout chunk.
type TokCtor = fn() -> Tok;

fn layout_tokens(layout: &str) -> Vec<Tok> {
    // The longest match wins (`2006` over `2`, `15` over `1`, `002` over `02`).
    let named: &[(&str, TokCtor)] = &[
        ("January", || Tok::MonthName),
        ("Jan", || Tok::MonthAbbr),
        ("Monday", || Tok::DayName),
        ("Mon", || Tok::DayAbbr),
        ("MST", || Tok::ZoneName),
        ("2006", || Tok::Year4),
        ("2", || Tok::Day1),
        ("_2", || Tok::DaySpace),
        ("002", || Tok::YearDay),
        ("01", || Tok::Month2),
        ("02", || Tok::Day2),
        ("03", || Tok::Hour12_2),
        ("04", || Tok::Minute2),
        ("05", || Tok::Second2),
        ("06", || Tok::Year2),
        ("15", || Tok::Hour24),
        ("1", || Tok::Month1),
        ("3", || Tok::Hour12),
        ("4", || Tok::Minute1),
        ("5", || Tok::Second1),
        ("PM", || Tok::PmUpper),
        ("pm", || Tok::PmLower),
        ("Z07:00", || Tok::Offset {
            z: true,
            colon: true,
            minutes: true,
        }),
        ("Z0700", || Tok::Offset {
            z: true,
            colon: false,
            minutes: true,
        }),
        ("Z07", || Tok::Offset {
            z: true,
            colon: false,
            minutes: false,
        }),
        ("-07:00", || Tok::Offset {
            z: false,
            colon: true,
            minutes: true,
        }),
        ("-0700", || Tok::Offset {
            z: false,
            colon: false,
            minutes: true,
        }),
        ("-07", || Tok::Offset {
            z: false,
            colon: false,
            minutes: false,
        }),
    ];
    let mut out: Vec<Tok> = Vec::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        // Fractional seconds: `.000`, `.999`, `,000` followed by a non-digit.
        if let Some(sep) = rest.chars().next().filter(|c| *c == '.' || *c == ',') {
            let digits = &rest[1..];
            let n = digits.bytes().take_while(|b| *b == b'0').count();
            let m = digits.bytes().take_while(|b| *b == b'9').count();
            let (len, trim) = if n > 0 { (n, false) } else { (m, true) };
            let next_is_digit = digits[len..].starts_with(|c: char| c.is_ascii_digit());
            if len > 0 && !next_is_digit {
                out.push(Tok::Frac {
                    digits: len,
                    trim,
                    sep,
                });
                rest = &digits[len..];
                continue;
            }
        }
        let mut best: Option<(usize, Tok)> = None;
        for (text, make) in named {
            if rest.starts_with(text) && best.as_ref().is_none_or(|(l, _)| text.len() > *l) {
                best = Some((text.len(), make()));
            }
        }
        if let Some((len, tok)) = best {
            out.push(tok);
            rest = &rest[len..];
            continue 'outer;
        }
        let c = rest.chars().next().unwrap_or(' ');
        match out.last_mut() {
            Some(Tok::Lit(s)) => s.push(c),
            _ => out.push(Tok::Lit(c.to_string())),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Go's `Time.Format(layout)` for a UTC time.
pub fn format(nanos: i64, layout: &str) -> String {
    let t = civil(nanos);
    let mut out = String::new();
    let hour12 = if t.hour.is_multiple_of(12) {
        12
    } else {
        t.hour % 12
    };
    for tok in layout_tokens(layout) {
        match tok {
            Tok::Lit(s) => out.push_str(&s),
            Tok::Year4 => out.push_str(&format!("{:04}", t.year)),
            Tok::Year2 => out.push_str(&format!("{:02}", t.year.rem_euclid(100))),
            Tok::MonthName => out.push_str(MONTHS[t.month as usize - 1]),
            Tok::MonthAbbr => out.push_str(&MONTHS[t.month as usize - 1][..3]),
            Tok::Month2 => out.push_str(&format!("{:02}", t.month)),
            Tok::Month1 => out.push_str(&t.month.to_string()),
            Tok::DayName => out.push_str(DAYS[t.weekday]),
            Tok::DayAbbr => out.push_str(&DAYS[t.weekday][..3]),
            Tok::Day2 => out.push_str(&format!("{:02}", t.day)),
            Tok::Day1 => out.push_str(&t.day.to_string()),
            Tok::DaySpace => out.push_str(&format!("{:>2}", t.day)),
            Tok::YearDay => out.push_str(&format!("{:03}", t.yday)),
            Tok::Hour24 => out.push_str(&format!("{:02}", t.hour)),
            Tok::Hour12_2 => out.push_str(&format!("{hour12:02}")),
            Tok::Hour12 => out.push_str(&hour12.to_string()),
            Tok::Minute2 => out.push_str(&format!("{:02}", t.minute)),
            Tok::Minute1 => out.push_str(&t.minute.to_string()),
            Tok::Second2 => out.push_str(&format!("{:02}", t.second)),
            Tok::Second1 => out.push_str(&t.second.to_string()),
            Tok::PmUpper => out.push_str(if t.hour >= 12 { "PM" } else { "AM" }),
            Tok::PmLower => out.push_str(if t.hour >= 12 { "pm" } else { "am" }),
            Tok::ZoneName => out.push_str("UTC"),
            Tok::Offset { z, colon, minutes } => out.push_str(if z {
                "Z"
            } else if !minutes {
                "+00"
            } else if colon {
                "+00:00"
            } else {
                "+0000"
            }),
            Tok::Frac { digits, trim, sep } => {
                let full = format!("{:09}", t.nanos);
                let mut frac = full[..digits.min(9)].to_string();
                if trim {
                    frac = frac.trim_end_matches('0').to_string();
                }
                if !frac.is_empty() {
                    out.push(sep);
                    out.push_str(&frac);
                }
            }
        }
    }
    out
}

/// Go's default `Time.String()` in UTC.
pub fn display(nanos: i64) -> String {
    format(nanos, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `time.Parse(layout, value)`, zone offsets applied; result in Unix nanoseconds.
pub fn parse(layout: &str, value: &str) -> Result<i64, String> {
    let err = || format!("parsing time {value:?} as {layout:?}: cannot parse");
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) =
        (1i64, 1u32, 1u32, 0u32, 0u32, 0u32);
    let mut nanos = 0u32;
    let mut pm: Option<bool> = None;
    let mut offset_secs: i64 = 0;
    let mut rest = value;
    let take_num = |rest: &mut &str, min: usize, max: usize| -> Option<u32> {
        let n = rest
            .bytes()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min {
            return None;
        }
        let v = rest[..n].parse().ok()?;
        *rest = &rest[n..];
        Some(v)
    };
    for tok in layout_tokens(layout) {
        match tok {
            Tok::Lit(s) => rest = rest.strip_prefix(s.as_str()).ok_or_else(err)?,
            Tok::Year4 => year = i64::from(take_num(&mut rest, 4, 4).ok_or_else(err)?),
            Tok::Year2 => {
                let y = i64::from(take_num(&mut rest, 2, 2).ok_or_else(err)?);
                year = if y >= 69 { 1900 + y } else { 2000 + y };
            }
            Tok::MonthName | Tok::MonthAbbr => {
                let full = tok == Tok::MonthName;
                let idx = MONTHS
                    .iter()
                    .position(|m| {
                        let name = if full { m } else { &m[..3] };
                        rest.get(..name.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(name))
                    })
                    .ok_or_else(err)?;
                rest = &rest[if full { MONTHS[idx].len() } else { 3 }..];
                month = idx as u32 + 1;
            }
            Tok::DayName | Tok::DayAbbr => {
                let full = tok == Tok::DayName;
                let idx = DAYS
                    .iter()
                    .position(|d| {
                        let name = if full { d } else { &d[..3] };
                        rest.get(..name.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(name))
                    })
                    .ok_or_else(err)?;
                rest = &rest[if full { DAYS[idx].len() } else { 3 }..];
            }
            Tok::Month2 => month = take_num(&mut rest, 2, 2).ok_or_else(err)?,
            Tok::Month1 => month = take_num(&mut rest, 1, 2).ok_or_else(err)?,
            Tok::Day2 => day = take_num(&mut rest, 2, 2).ok_or_else(err)?,
            Tok::Day1 => day = take_num(&mut rest, 1, 2).ok_or_else(err)?,
            Tok::DaySpace => {
                rest = rest.strip_prefix(' ').unwrap_or(rest);
                day = take_num(&mut rest, 1, 2).ok_or_else(err)?;
            }
            Tok::YearDay => {
                take_num(&mut rest, 3, 3).ok_or_else(err)?;
            }
            Tok::Hour24 => hour = take_num(&mut rest, 2, 2).ok_or_else(err)?,
            Tok::Hour12_2 => hour = take_num(&mut rest, 2, 2).ok_or_else(err)?,
            Tok::Hour12 => hour = take_num(&mut rest, 1, 2).ok_or_else(err)?,
            Tok::Minute2 => minute = take_num(&mut rest, 2, 2).ok_or_else(err)?,
            Tok::Minute1 => minute = take_num(&mut rest, 1, 2).ok_or_else(err)?,
            Tok::Second2 | Tok::Second1 => {
                let min = if tok == Tok::Second2 { 2 } else { 1 };
                second = take_num(&mut rest, min, 2).ok_or_else(err)?;
                // Go accepts a fraction after seconds even when the layout has none.
                if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    let n = rest[1..].bytes().take_while(|b| b.is_ascii_digit()).count();
                    nanos = frac_nanos(&rest[1..1 + n]);
                    rest = &rest[1 + n..];
                }
            }
            Tok::PmUpper | Tok::PmLower => {
                let p = rest.get(..2).ok_or_else(err)?.to_ascii_uppercase();
                pm = Some(match p.as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return Err(err()),
                });
                rest = &rest[2..];
            }
            Tok::ZoneName => {
                let n = rest.bytes().take_while(|b| b.is_ascii_uppercase()).count();
                if n < 3 {
                    return Err(err());
                }
                rest = &rest[n..];
            }
            Tok::Offset { z, colon, minutes } => {
                if z && rest.starts_with('Z') {
                    rest = &rest[1..];
                    continue;
                }
                let sign = match rest.chars().next() {
                    Some('+') => 1,
                    Some('-') => -1,
                    _ => return Err(err()),
                };
                rest = &rest[1..];
                let h = take_num(&mut rest, 2, 2).ok_or_else(err)?;
                let mut m = 0;
                if minutes {
                    if colon {
                        rest = rest.strip_prefix(':').ok_or_else(err)?;
                    }
                    m = take_num(&mut rest, 2, 2).ok_or_else(err)?;
                }
                offset_secs = sign * (i64::from(h) * 3600 + i64::from(m) * 60);
            }
            Tok::Frac { .. } => {
                let Some(digits) = rest.strip_prefix(['.', ',']) else {
                    continue;
                };
                let n = digits.bytes().take_while(|b| b.is_ascii_digit()).count();
                nanos = frac_nanos(&digits[..n]);
                rest = &digits[n..];
            }
        }
    }
    if !rest.is_empty() {
        return Err(format!("parsing time {value:?}: extra text: {rest:?}"));
    }
    if let Some(pm) = pm {
        if hour > 12 {
            return Err(err());
        }
        hour = match (pm, hour) {
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, 12) => 0,
            (false, h) => h,
        };
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(format!("parsing time {value:?}: value out of range"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset_secs;
    Ok(secs * NANOS + i64::from(nanos))
}

fn frac_nanos(digits: &str) -> u32 {
    let mut s: String = digits.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = parse(
            "2006-01-02T15:04:05.999999999Z07:00",
            "2021-11-02T13:04:05.25+01:00",
        )
        .unwrap();
        assert_eq!(
            format(t, "2006-01-02T15:04:05.000Z07:00"),
            "2021-11-02T12:04:05.250Z"
        );
        assert_eq!(display(t), "2021-11-02 12:04:05.25 +0000 UTC");
        assert_eq!(
            format(t, "Mon Jan _2 3:04PM 06 002"),
            "Tue Nov  2 12:04PM 21 306"
        );
        assert_eq!(parse("2006-01-02", "1970-01-02").unwrap(), 86_400 * NANOS);
        assert_eq!(
            parse("02/Jan/2006:15:04:05 -0700", "17/May/2015:10:05:03 +0000").unwrap(),
            1_431_857_103 * NANOS
        );
        assert!(parse("2006-01-02", "2021-13-01").is_err());
        assert!(parse("2006-01-02", "nope").is_err());
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
    }
}
