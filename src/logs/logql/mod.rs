//! LogQL, Loki's query language: the syntax tree and its parser (with Loki-worded errors and
//! Loki's canonical printing), and the execution of log pipelines over single entries
//! (filters, parsers, formatters, label filters) plus sample extraction for metric queries.
//! Knows nothing of storage, time ranges or HTTP: the log store feeds entries in, the
//! evaluator aggregates the samples that come out.

mod ast;
mod error;
mod gostr;
mod gotime;
mod ip;
mod json;
mod labels;
mod lexer;
mod logfmt;
mod parser;
mod parsers;
mod pattern;
mod pipeline;
mod sample;
mod template;
mod units;

#[cfg(test)]
mod tests;

pub use ast::*;
pub use error::{
    pipeline_error_message, pipeline_errors, LogqlError, ERROR_DETAILS_LABEL, ERROR_LABEL,
};
pub use parser::{
    is_valid_label_name, parse_expr, parse_expr_without_validation, parse_labels, parse_log_query,
    parse_matchers,
};
pub use pipeline::{decolorize, Pipeline, StringMatcher};
pub use sample::{convert_unwrap_value, extract_unwrap_value, SampleExtractor, UnwrapOutcome};
pub use template::{Context as TemplateContext, Template, Value as TemplateValue};
pub use units::{
    format_go_duration, format_prom_duration, parse_bytes, parse_duration_literal,
    parse_go_duration, parse_go_float, parse_prom_duration,
};

/// One fuzzing input (`fuzz/`, and the corpus replay in `tests/fuzz_corpus.rs`): query
/// text parsed; a query that parses must print as text that parses to the same print.
#[doc(hidden)]
pub fn fuzz_one(body: &[u8]) {
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    if let Ok(expr) = parse_expr(text) {
        let printed = expr.to_string();
        let reparsed = parse_expr(&printed)
            .unwrap_or_else(|err| panic!("{text:?} printed as {printed:?}, which fails: {err}"));
        assert_eq!(
            reparsed.to_string(),
            printed,
            "print of {text:?} is unstable"
        );
    }
}
