//! Request parameters of the Prometheus API: times, repeated `match[]` selectors, and
//! GET query strings merged with POST form bodies.

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use promql_parser::label::MatchOp as PromMatchOp;
use promql_parser::parser::Expr;

use crate::api_error::ApiError;
use crate::metrics::tsdb::index::{MatchOp, Matcher};

/// The earliest and latest times Prometheus uses when `start`/`end` are absent.
pub const MIN_TIME_MS: i64 = i64::MIN / 2;
pub const MAX_TIME_MS: i64 = i64::MAX / 2;

/// All parameters of a request: the query string, then a form body if there is one.
pub fn collect_params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(form_urlencoded::parse(body).into_owned());
    }
    params
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

pub fn params_named<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// A time as unix seconds (with decimals) or RFC 3339, in milliseconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    crate::time_format::parse_rfc3339_millis(text)
        .ok_or_else(|| format!("cannot parse {text:?} to a valid timestamp"))
}

/// `start` and `end` with Prometheus's defaults (all of time), named in errors.
pub fn time_range(params: &[(String, String)]) -> Result<(i64, i64), ApiError> {
    let read = |name: &str, default: i64| -> Result<i64, ApiError> {
        match param(params, name) {
            None | Some("") => Ok(default),
            Some(text) => parse_time(text)
                .map_err(|err| ApiError::bad_data(format!("invalid parameter \"{name}\": {err}"))),
        }
    };
    let (start, end) = (read("start", MIN_TIME_MS)?, read("end", MAX_TIME_MS)?);
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

/// The `match[]` selectors of an endpoint that requires at least one.
pub fn required_selectors(params: &[(String, String)]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let selectors = params_named(params, "match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    parse_selectors(&selectors)
}

/// Parses each `match[]` value as a series selector into matchers.
pub fn parse_selectors(selectors: &[&str]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    selectors
        .iter()
        .map(|selector| parse_selector(selector))
        .collect()
}

fn parse_selector(selector: &str) -> Result<Vec<Matcher>, ApiError> {
    let bad =
        |message: String| ApiError::bad_data(format!("invalid parameter \"match[]\": {message}"));
    let expr = promql_parser::parser::parse(selector).map_err(bad)?;
    let Expr::VectorSelector(vector) = expr else {
        return Err(bad(format!("{selector:?} is not a series selector")));
    };
    let mut matchers = Vec::new();
    if let Some(name) = &vector.name {
        matchers.push(
            Matcher::new(MatchOp::Equal, "__name__", name).map_err(|err| bad(err.to_string()))?,
        );
    }
    for matcher in &vector.matchers.matchers {
        let op = match &matcher.op {
            PromMatchOp::Equal => MatchOp::Equal,
            PromMatchOp::NotEqual => MatchOp::NotEqual,
            PromMatchOp::Re(_) => MatchOp::RegexMatch,
            PromMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        matchers.push(
            Matcher::new(op, &matcher.name, &matcher.value).map_err(|err| bad(err.to_string()))?,
        );
    }
    if matchers.iter().all(|matcher| matcher.matches_empty()) {
        return Err(bad(
            "match[] must contain at least one non-empty matcher".to_string()
        ));
    }
    Ok(matchers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time("1435781451.781").unwrap(), 1_435_781_451_781);
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z").unwrap(),
            1_435_781_451_781
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn selectors_become_matchers() {
        let parsed = parse_selectors(&["up{job=\"node\", instance=~\"a.*\"}"]).unwrap();
        assert_eq!(parsed[0].len(), 3);
        assert!(parse_selectors(&["{job=\"\"}"]).is_err());
        assert!(parse_selectors(&["sum(up)"]).is_err());
        assert!(parse_selectors(&["up{"]).is_err());
    }
}
