//! `${VAR}` expansion in the config text, so secrets can live in the environment.

/// Replaces every `${NAME}` with the variable's value; `$${` stays a literal `${`.
/// Lines that are only a comment are left untouched, so documentation may mention `${X}`.
/// An unset variable is an error naming it and its 1-based line.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') || !line.contains('$') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar..];
            if let Some(literal) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = literal;
            } else if let Some(open) = after.strip_prefix("${") {
                let close = open.find('}').ok_or(EnvError {
                    line: index + 1,
                    message: "unterminated ${ in config".to_string(),
                })?;
                let name = &open[..close];
                let valid_name = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if !valid_name {
                    return Err(EnvError {
                        line: index + 1,
                        message: format!("invalid environment variable name {name:?}"),
                    });
                }
                let value = lookup(name).ok_or_else(|| EnvError {
                    line: index + 1,
                    message: format!("environment variable {name} is not set"),
                })?;
                out.push_str(&value);
                rest = &open[close + 1..];
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub line: usize,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn expands_and_escapes() {
        let text = "a: ${TOKEN}\nb: $${TOKEN}\n# c: ${UNSET}\nd: cost $5\n";
        assert_eq!(
            expand_env(text, lookup).unwrap(),
            "a: s3cr3t\nb: ${TOKEN}\n# c: ${UNSET}\nd: cost $5\n"
        );
    }

    #[test]
    fn unset_variable_names_line() {
        let err = expand_env("a: 1\nb: ${NOPE}\n", lookup).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("NOPE"), "{}", err.message);
        assert!(expand_env("a: ${1X}", lookup).is_err());
        assert!(expand_env("a: ${OPEN", lookup).is_err());
    }
}
