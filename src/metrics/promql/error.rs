//! Query errors, classified the way the Prometheus HTTP API reports them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// The query text or its parameters are invalid (HTTP 400 `bad_data`).
    BadData,
    /// Evaluation failed (HTTP 422 `execution`), e.g. many-to-many matching.
    Execution,
    /// The query ran past its timeout (HTTP 503 `timeout`).
    Timeout,
    /// The caller went away (HTTP 503 `canceled`).
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub kind: QueryErrorKind,
    pub message: String,
}

impl QueryError {
    pub fn bad_data(message: impl Into<String>) -> QueryError {
        QueryError {
            kind: QueryErrorKind::BadData,
            message: message.into(),
        }
    }

    pub fn execution(message: impl Into<String>) -> QueryError {
        QueryError {
            kind: QueryErrorKind::Execution,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}
