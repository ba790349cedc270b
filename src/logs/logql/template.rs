//! The Go text/template subset used by `line_format` and `label_format`.
//!
//! Supported: text with `{{ }}` actions and `{{- -}}` trimming, comments, pipelines
//! (`{{ .a | lower | trunc 3 }}`), parenthesised calls, string/number/bool literals,
//! `.label` fields (missing labels are empty, as with Loki's `missingkey=zero`), `.` (all
//! labels), `if`/`else if`/`else`/`end`, Go's `and or not eq ne lt le gt ge len print
//! printf println urlquery html`, and Loki's function library (see [`FUNCTIONS`]).
//! Not supported, and refused when the template is parsed: variables (`$x`), `range`,
//! `with`, `define`/`template`/`block`, `break`/`continue`, and `fromJson`.
//! Named time zones other than UTC are not known to `toDateInZone`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::gotime;
use super::units::{format_go_float, parse_bytes, parse_go_duration};

/// Every function a template may call.
pub const FUNCTIONS: &[&str] = &[
    // Go built-ins.
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "print",
    "printf",
    "println",
    "urlquery",
    "html",
    // Loki's own (the Go `strings` ones first).
    "ToLower",
    "ToUpper",
    "Replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "count",
    "urldecode",
    "urlencode",
    "bytes",
    "duration",
    "duration_seconds",
    "unixEpochMillis",
    "unixEpochNanos",
    "toDateInZone",
    "unixToTime",
    "alignLeft",
    "alignRight",
    "b64dec",
    "__line__",
    "__timestamp__",
    // Sprig's, as Loki exposes them.
    "b64enc",
    "lower",
    "upper",
    "title",
    "trunc",
    "substr",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "nindent",
    "replace",
    "repeat",
    "trim",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "int",
    "float64",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "date",
    "toDate",
    "now",
    "unixEpoch",
    "default",
];

/// Longest padding or repetition a template may ask for, so a query cannot make a
/// formatter allocate without bound.
const MAX_PAD: usize = 1 << 16;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipeline),
    If {
        branches: Vec<(Pipeline, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Pipeline {
    cmds: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
struct Command {
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Field(String),
    Dot,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Pipeline),
}

/// A template value, with Go's printing rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Unix nanoseconds, UTC.
    Time(i64),
    Nil,
}

impl Value {
    fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::Time(_) => true,
            Value::Nil => false,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time.Time",
            Value::Nil => "nil",
        }
    }

    /// Go's `%v`.
    pub fn render(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_go_float(*f),
            Value::Bool(b) => b.to_string(),
            Value::Time(t) => gotime::display(*t),
            Value::Nil => "<no value>".to_string(),
        }
    }

    /// What a `string` parameter receives (Go would refuse non-strings; printing them is the
    /// only sensible reading).
    fn as_str(&self) -> String {
        match self {
            Value::Nil => String::new(),
            v => v.render(),
        }
    }

    /// spf13/cast `ToInt64`, as sprig's math uses: unparsable strings are 0.
    fn to_i64(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Float(f) => *f as i64,
            Value::Bool(b) => i64::from(*b),
            Value::Str(s) => {
                let s = s.trim();
                let s = s.strip_suffix(".0").filter(|p| !p.is_empty()).unwrap_or(s);
                s.parse().unwrap_or(0)
            }
            Value::Time(t) => *t,
            Value::Nil => 0,
        }
    }

    /// spf13/cast `ToFloat64`.
    fn to_f64(&self) -> f64 {
        match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Str(s) => s.trim().parse().unwrap_or(0.0),
            Value::Time(t) => *t as f64,
            Value::Nil => 0.0,
        }
    }

    /// An `int` parameter (counts, widths): ints, or strings holding one.
    fn to_int_param(&self, func: &str) -> Result<i64, String> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
            Value::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("wrong type for value in {func}; expected int; got string")),
            v => Err(format!(
                "wrong type for value in {func}; expected int; got {}",
                v.type_name()
            )),
        }
    }

    fn to_time(&self, func: &str) -> Result<i64, String> {
        match self {
            Value::Time(t) => Ok(*t),
            // sprig's `date` also takes Unix seconds.
            Value::Int(i) => Ok(i.saturating_mul(1_000_000_000)),
            v => Err(format!(
                "wrong type for value in {func}; expected time.Time; got {}",
                v.type_name()
            )),
        }
    }
}

/// What a template sees while it runs.
pub struct Context<'a> {
    /// Labels by name (error labels included when set).
    pub labels: &'a BTreeMap<String, String>,
    /// The current log line, for `__line__`.
    pub line: &'a str,
    /// The entry's timestamp in Unix nanoseconds, for `__timestamp__`.
    pub timestamp: i64,
}

// ---------------------------------------------------------------------------------------
// Parsing.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(String),
    Dot,
    Str(String),
    Num(String),
    Pipe,
    Open,
    Close,
    Var(String),
    Other(char),
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let actions = split_actions(text)?;
        let mut pos = 0;
        let (nodes, end) = parse_list(&actions, &mut pos)?;
        match end {
            None => Ok(Template { nodes }),
            Some(kw) => Err(format!("unexpected {{{{{kw}}}}}")),
        }
    }

    /// Names of the labels the template reads (`.name` fields).
    pub fn fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_fields(&self.nodes, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// If the template is just `{{.name}}`, the label name (a fast path).
    pub fn simple_field(&self) -> Option<&str> {
        match self.nodes.as_slice() {
            [Node::Action(Pipeline { cmds })] => match cmds.as_slice() {
                [Command { args }] => match args.as_slice() {
                    [Arg::Field(name)] => Some(name),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    pub fn execute(&self, ctx: &Context<'_>) -> Result<String, String> {
        let mut out = String::new();
        exec_nodes(&self.nodes, ctx, &mut out)?;
        Ok(out)
    }
}

/// A piece of the template source: literal text or the tokens of one `{{ }}` action.
enum Piece {
    Text(String),
    Action(Vec<Tok>),
}

fn split_actions(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut trim_next_text = false;
    while !rest.is_empty() {
        let (literal, after) = match rest.find("{{") {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        let mut literal = if trim_next_text {
            literal.trim_start()
        } else {
            literal
        };
        let Some(after) = after else {
            if !literal.is_empty() {
                pieces.push(Piece::Text(literal.to_string()));
            }
            break;
        };
        // `{{- ` trims the whitespace before the action.
        let mut body = after;
        if let Some(b) = after.strip_prefix("- ") {
            literal = literal.trim_end();
            body = b;
        } else if after.starts_with("-\t") || after.starts_with("-\n") {
            literal = literal.trim_end();
            body = &after[1..];
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal.to_string()));
        }
        let (toks, consumed, trim_after) = lex_action(body)?;
        if let Some(toks) = toks {
            pieces.push(Piece::Action(toks));
        }
        trim_next_text = trim_after;
        rest = &body[consumed..];
    }
    Ok(pieces)
}

/// Lexes an action body up to `}}`. Returns the tokens (`None` for a comment), the bytes
/// consumed including `}}`, and whether `-}}` asked to trim the following text.
fn lex_action(body: &str) -> Result<(Option<Vec<Tok>>, usize, bool), String> {
    let trimmed = body.trim_start();
    if let Some(comment) = trimmed.strip_prefix("/*") {
        let end = comment.find("*/").ok_or("unclosed comment")?;
        let after = &comment[end + 2..];
        let after_trim = after.trim_start();
        let (close_len, trim) = if let Some(r) = after_trim.strip_prefix("-}}") {
            (after.len() - r.len(), true)
        } else if let Some(r) = after_trim.strip_prefix("}}") {
            (after.len() - r.len(), false)
        } else {
            return Err("comment ends before closing delimiter".to_string());
        };
        let consumed = body.len() - after.len() + close_len;
        return Ok((None, consumed, trim));
    }
    let b = body.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Err("unclosed action".to_string());
        }
        if body[i..].starts_with("}}") {
            return Ok((Some(toks), i + 2, false));
        }
        if body[i..].starts_with("-}}") && i > 0 && b[i - 1].is_ascii_whitespace() {
            return Ok((Some(toks), i + 3, true));
        }
        let c = b[i];
        match c {
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                if j >= b.len() {
                    return Err("unterminated quoted string".to_string());
                }
                let s = super::gostr::unquote_double(&body[i + 1..j])?;
                toks.push(Tok::Str(s));
                i = j + 1;
            }
            b'`' => {
                let end = body[i + 1..]
                    .find('`')
                    .ok_or("unterminated raw quoted string")?;
                toks.push(Tok::Str(body[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            b')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            b'.' | b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.')
                {
                    j += 1;
                }
                let name = &body[start..j];
                if c == b'$' {
                    toks.push(Tok::Var(name.to_string()));
                } else if name.is_empty() {
                    toks.push(Tok::Dot);
                } else if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    // `.5` is a number.
                    let k = j;
                    toks.push(Tok::Num(body[i..k].to_string()));
                } else {
                    toks.push(Tok::Field(name.to_string()));
                }
                i = j;
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_')
                {
                    j += 1;
                }
                toks.push(Tok::Num(body[i..j].to_string()));
                i = j;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                toks.push(Tok::Ident(body[i..j].to_string()));
                i = j;
            }
            _ => {
                let ch = body[i..].chars().next().unwrap_or('?');
                toks.push(Tok::Other(ch));
                i += ch.len_utf8();
            }
        }
    }
}

/// Parses nodes until `end`/`else` (returned) or the end of input (`None`).
fn parse_list(pieces: &[Piece], pos: &mut usize) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while *pos < pieces.len() {
        let piece = &pieces[*pos];
        *pos += 1;
        let toks = match piece {
            Piece::Text(t) => {
                nodes.push(Node::Text(t.clone()));
                continue;
            }
            Piece::Action(toks) => toks,
        };
        match toks.first() {
            None => return Err("missing value for command".to_string()),
            Some(Tok::Ident(kw)) if kw == "end" => return Ok((nodes, Some("end".into()))),
            Some(Tok::Ident(kw)) if kw == "else" => {
                return Ok((nodes, Some(format!("else{}", toks.len()))))
            }
            Some(Tok::Ident(kw)) if kw == "if" => nodes.push(parse_if(&toks[1..], pieces, pos)?),
            Some(Tok::Ident(kw))
                if matches!(
                    kw.as_str(),
                    "range" | "with" | "define" | "template" | "block" | "break" | "continue"
                ) =>
            {
                return Err(format!(
                    "{{{{{kw}}}}} is not supported in LogQL templates here"
                ))
            }
            Some(_) => nodes.push(Node::Action(parse_pipeline(toks)?)),
        }
    }
    Ok((nodes, None))
}

fn parse_if(cond: &[Tok], pieces: &[Piece], pos: &mut usize) -> Result<Node, String> {
    let mut branches = vec![];
    let mut cond = parse_pipeline(cond)?;
    loop {
        let (body, end) = parse_list(pieces, pos)?;
        branches.push((cond, body));
        match end.as_deref() {
            Some("end") => {
                return Ok(Node::If {
                    branches,
                    otherwise: Vec::new(),
                })
            }
            Some(e) if e.starts_with("else") => {
                // The `else` action's tokens: plain `else`, or `else if <cond>`.
                let Some(Piece::Action(toks)) = pieces.get(*pos - 1) else {
                    return Err("bad else".to_string());
                };
                match toks.get(1) {
                    None => {
                        let (otherwise, end) = parse_list(pieces, pos)?;
                        if end.as_deref() != Some("end") {
                            return Err("expected {{end}}".to_string());
                        }
                        return Ok(Node::If {
                            branches,
                            otherwise,
                        });
                    }
                    Some(Tok::Ident(kw)) if kw == "if" => cond = parse_pipeline(&toks[2..])?,
                    Some(_) => return Err("unexpected token after else".to_string()),
                }
            }
            _ => return Err("unexpected EOF: missing {{end}}".to_string()),
        }
    }
}

fn parse_pipeline(toks: &[Tok]) -> Result<Pipeline, String> {
    let mut pos = 0;
    let p = parse_pipeline_at(toks, &mut pos)?;
    if pos < toks.len() {
        return Err(format!("unexpected {:?} in command", toks[pos]));
    }
    Ok(p)
}

fn parse_pipeline_at(toks: &[Tok], pos: &mut usize) -> Result<Pipeline, String> {
    let mut cmds = Vec::new();
    loop {
        let mut args = Vec::new();
        while *pos < toks.len() && !matches!(toks[*pos], Tok::Pipe | Tok::Close) {
            args.push(parse_operand(toks, pos)?);
        }
        if args.is_empty() {
            return Err("missing value for command".to_string());
        }
        if args.len() > 1 && !matches!(args[0], Arg::Func(_)) {
            return Err("can't give argument to non-function".to_string());
        }
        cmds.push(Command { args });
        if *pos < toks.len() && toks[*pos] == Tok::Pipe {
            *pos += 1;
            continue;
        }
        return Ok(Pipeline { cmds });
    }
}

fn parse_operand(toks: &[Tok], pos: &mut usize) -> Result<Arg, String> {
    let tok = &toks[*pos];
    *pos += 1;
    Ok(match tok {
        Tok::Field(name) => {
            if name.contains('.') {
                return Err(format!("nested field .{name} is not supported"));
            }
            Arg::Field(name.clone())
        }
        Tok::Dot => Arg::Dot,
        Tok::Str(s) => Arg::Str(s.clone()),
        Tok::Num(n) => parse_number(n)?,
        Tok::Ident(id) => match id.as_str() {
            "true" => Arg::Bool(true),
            "false" => Arg::Bool(false),
            "nil" => Arg::Nil,
            "fromJson" => return Err("function \"fromJson\" is not supported".to_string()),
            f if FUNCTIONS.contains(&f) => Arg::Func(f.to_string()),
            f => return Err(format!("function \"{f}\" not defined")),
        },
        Tok::Open => {
            let p = parse_pipeline_at(toks, pos)?;
            if toks.get(*pos) != Some(&Tok::Close) {
                return Err("unclosed left paren".to_string());
            }
            *pos += 1;
            Arg::Sub(p)
        }
        Tok::Var(_) => return Err("template variables are not supported".to_string()),
        Tok::Pipe | Tok::Close => return Err("unexpected token in operand".to_string()),
        Tok::Other(c) => return Err(format!("unexpected {c:?} in command")),
    })
}

fn parse_number(n: &str) -> Result<Arg, String> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Arg::Int(i));
    }
    let body = n.strip_prefix(['+', '-']).unwrap_or(n);
    if let Some(hex) = body.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Ok(Arg::Int(if n.starts_with('-') { -i } else { i }));
        }
    }
    n.parse::<f64>()
        .map(Arg::Float)
        .map_err(|_| format!("bad number syntax: {n:?}"))
}

fn collect_fields(nodes: &[Node], out: &mut Vec<String>) {
    fn from_pipe(p: &Pipeline, out: &mut Vec<String>) {
        for c in &p.cmds {
            for a in &c.args {
                match a {
                    Arg::Field(f) => out.push(f.clone()),
                    Arg::Sub(p) => from_pipe(p, out),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Text(_) => {}
            Node::Action(p) => from_pipe(p, out),
            Node::If {
                branches,
                otherwise,
            } => {
                for (c, body) in branches {
                    from_pipe(c, out);
                    collect_fields(body, out);
                }
                collect_fields(otherwise, out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Execution.

fn exec_nodes(nodes: &[Node], ctx: &Context<'_>, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => out.push_str(&eval_pipeline(p, ctx)?.render()),
            Node::If {
                branches,
                otherwise,
            } => {
                let mut taken = false;
                for (cond, body) in branches {
                    if eval_pipeline(cond, ctx)?.truthy() {
                        exec_nodes(body, ctx, out)?;
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    exec_nodes(otherwise, ctx, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(p: &Pipeline, ctx: &Context<'_>) -> Result<Value, String> {
    let mut prev: Option<Value> = None;
    for cmd in &p.cmds {
        prev = Some(eval_command(cmd, ctx, prev)?);
    }
    Ok(prev.unwrap_or(Value::Nil))
}

fn eval_command(cmd: &Command, ctx: &Context<'_>, piped: Option<Value>) -> Result<Value, String> {
    let Some(Arg::Func(name)) = cmd.args.first() else {
        if piped.is_some() {
            return Err("can't give argument to non-function".to_string());
        }
        return eval_arg(&cmd.args[0], ctx);
    };
    // `and`/`or` short-circuit, so evaluate their arguments lazily.
    if name == "and" || name == "or" {
        let mut last = Value::Nil;
        let n = cmd.args.len() - 1 + usize::from(piped.is_some());
        if n == 0 {
            return Err(format!(
                "wrong number of args for {name}: want at least 1 got 0"
            ));
        }
        for a in &cmd.args[1..] {
            last = eval_arg(a, ctx)?;
            if last.truthy() != (name == "and") {
                return Ok(last);
            }
        }
        if let Some(v) = piped {
            last = v;
        }
        return Ok(last);
    }
    let mut args = Vec::with_capacity(cmd.args.len());
    for a in &cmd.args[1..] {
        args.push(eval_arg(a, ctx)?);
    }
    if let Some(v) = piped {
        args.push(v);
    }
    call(name, &args, ctx).map_err(|e| format!("template: executing at <{name}>: {e}"))
}

fn eval_arg(arg: &Arg, ctx: &Context<'_>) -> Result<Value, String> {
    Ok(match arg {
        Arg::Field(name) => Value::Str(ctx.labels.get(name).cloned().unwrap_or_default()),
        Arg::Dot => {
            let body: Vec<String> = ctx.labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            Value::Str(format!("map[{}]", body.join(" ")))
        }
        Arg::Str(s) => Value::Str(s.clone()),
        Arg::Int(i) => Value::Int(*i),
        Arg::Float(f) => Value::Float(*f),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Nil => Value::Nil,
        Arg::Func(name) => call(name, &[], ctx)?,
        Arg::Sub(p) => eval_pipeline(p, ctx)?,
    })
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn want_at_least(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() >= n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            args.len()
        ))
    }
}

fn s(v: &Value) -> String {
    v.as_str()
}

fn call(name: &str, a: &[Value], ctx: &Context<'_>) -> Result<Value, String> {
    use Value::{Bool, Float, Int, Str};
    let str1 = |f: fn(&str) -> String| -> Result<Value, String> {
        want(name, a, 1)?;
        Ok(Str(f(&s(&a[0]))))
    };
    Ok(match name {
        "not" => {
            want(name, a, 1)?;
            Bool(!a[0].truthy())
        }
        "eq" | "ne" => {
            want_at_least(name, a, 2)?;
            let mut any = false;
            for other in &a[1..] {
                any |= compare(&a[0], other)? == std::cmp::Ordering::Equal;
            }
            if name == "eq" {
                Bool(any)
            } else {
                want(name, a, 2)?;
                Bool(!any)
            }
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, a, 2)?;
            let ord = compare(&a[0], &a[1])?;
            Bool(match name {
                "lt" => ord.is_lt(),
                "le" => ord.is_le(),
                "gt" => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        "len" => {
            want(name, a, 1)?;
            match &a[0] {
                Str(v) => Int(v.len() as i64),
                v => return Err(format!("len of type {}", v.type_name())),
            }
        }
        "print" => Str(go_sprint(a)),
        "println" => Str(format!(
            "{}\n",
            a.iter().map(Value::render).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            want_at_least(name, a, 1)?;
            Str(sprintf(&s(&a[0]), &a[1..]))
        }
        "urlquery" | "urlencode" => {
            want(name, a, 1)?;
            Str(query_escape(&s(&a[0])))
        }
        "urldecode" => {
            want(name, a, 1)?;
            Str(query_unescape(&s(&a[0]))?)
        }
        "html" => str1(|v| {
            v.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
        })?,
        "ToLower" | "lower" => str1(|v| v.to_lowercase())?,
        "ToUpper" | "upper" => str1(|v| v.to_uppercase())?,
        "TrimSpace" | "trim" => str1(|v| v.trim().to_string())?,
        "title" => str1(title)?,
        "Replace" => {
            want(name, a, 4)?;
            let n = a[3].to_int_param(name)?;
            let (src, old, new) = (s(&a[0]), s(&a[1]), s(&a[2]));
            Str(if n < 0 {
                src.replace(&old, &new)
            } else {
                src.replacen(&old, &new, usize::try_from(n).unwrap_or(0))
            })
        }
        "Trim" | "TrimLeft" | "TrimRight" => {
            want(name, a, 2)?;
            let cut: Vec<char> = s(&a[1]).chars().collect();
            let src = s(&a[0]);
            Str(match name {
                "Trim" => src.trim_matches(cut.as_slice()),
                "TrimLeft" => src.trim_start_matches(cut.as_slice()),
                _ => src.trim_end_matches(cut.as_slice()),
            }
            .to_string())
        }
        "TrimPrefix" | "TrimSuffix" => {
            want(name, a, 2)?;
            let (src, fix) = (s(&a[0]), s(&a[1]));
            Str(if name == "TrimPrefix" {
                src.strip_prefix(&fix).unwrap_or(&src).to_string()
            } else {
                src.strip_suffix(&fix).unwrap_or(&src).to_string()
            })
        }
        "trimPrefix" | "trimSuffix" => {
            want(name, a, 2)?;
            let (fix, src) = (s(&a[0]), s(&a[1]));
            Str(if name == "trimPrefix" {
                src.strip_prefix(&fix).unwrap_or(&src).to_string()
            } else {
                src.strip_suffix(&fix).unwrap_or(&src).to_string()
            })
        }
        "trimAll" => {
            want(name, a, 2)?;
            let cut: Vec<char> = s(&a[0]).chars().collect();
            Str(s(&a[1]).trim_matches(cut.as_slice()).to_string())
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            want(name, a, 3)?;
            let re = regex::Regex::new(&s(&a[0])).map_err(|e| e.to_string())?;
            let (src, repl) = (s(&a[1]), s(&a[2]));
            Str(if name == "regexReplaceAll" {
                re.replace_all(&src, repl.as_str()).into_owned()
            } else {
                re.replace_all(&src, regex::NoExpand(&repl)).into_owned()
            })
        }
        "count" => {
            want(name, a, 2)?;
            let re = regex::Regex::new(&s(&a[0])).map_err(|e| e.to_string())?;
            Int(re.find_iter(&s(&a[1])).count() as i64)
        }
        "bytes" => {
            want(name, a, 1)?;
            Float(parse_bytes(&s(&a[0]))? as f64)
        }
        "duration" | "duration_seconds" => {
            want(name, a, 1)?;
            Float(parse_go_duration(&s(&a[0]))? as f64 / 1e9)
        }
        "unixEpoch" | "unixEpochMillis" | "unixEpochNanos" => {
            want(name, a, 1)?;
            let t = a[0].to_time(name)?;
            Str(match name {
                "unixEpoch" => t.div_euclid(1_000_000_000),
                "unixEpochMillis" => t.div_euclid(1_000_000),
                _ => t,
            }
            .to_string())
        }
        "unixToTime" => {
            want(name, a, 1)?;
            Value::Time(unix_to_time(&s(&a[0]))?)
        }
        "toDate" => {
            want(name, a, 2)?;
            Value::Time(gotime::parse(&s(&a[0]), &s(&a[1]))?)
        }
        "toDateInZone" => {
            want(name, a, 3)?;
            let zone = s(&a[1]);
            if !matches!(zone.as_str(), "UTC" | "Local" | "" | "Etc/UTC" | "GMT") {
                return Err(format!("time zone {zone:?} is not supported (only UTC)"));
            }
            Value::Time(gotime::parse(&s(&a[0]), &s(&a[2]))?)
        }
        "date" => {
            want(name, a, 2)?;
            Str(gotime::format(a[1].to_time(name)?, &s(&a[0])))
        }
        "now" => {
            want(name, a, 0)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            Value::Time(now)
        }
        "__line__" => {
            want(name, a, 0)?;
            Str(ctx.line.to_string())
        }
        "__timestamp__" => {
            want(name, a, 0)?;
            Value::Time(ctx.timestamp)
        }
        "alignLeft" | "alignRight" => {
            want(name, a, 2)?;
            let count = a[0].to_int_param(name)?.min(MAX_PAD as i64);
            Str(align(&s(&a[1]), count, name == "alignLeft"))
        }
        "b64enc" => str1(base64_encode)?,
        "b64dec" => {
            want(name, a, 1)?;
            Str(base64_decode(&s(&a[0]))?)
        }
        "trunc" => {
            want(name, a, 2)?;
            Str(trunc(a[0].to_int_param(name)?, &s(&a[1])))
        }
        "substr" => {
            want(name, a, 3)?;
            Str(substr(
                a[0].to_int_param(name)?,
                a[1].to_int_param(name)?,
                &s(&a[2]),
            ))
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            want(name, a, 2)?;
            let (needle, hay) = (s(&a[0]), s(&a[1]));
            Bool(match name {
                "contains" => hay.contains(&needle),
                "hasPrefix" => hay.starts_with(&needle),
                _ => hay.ends_with(&needle),
            })
        }
        "indent" | "nindent" => {
            want(name, a, 2)?;
            let width = usize::try_from(a[0].to_int_param(name)?).unwrap_or(0);
            let pad = " ".repeat(width.min(MAX_PAD));
            let body = s(&a[1]);
            let indented = format!("{pad}{}", body.replace('\n', &format!("\n{pad}")));
            Str(if name == "nindent" {
                format!("\n{indented}")
            } else {
                indented
            })
        }
        "replace" => {
            want(name, a, 3)?;
            Str(s(&a[2]).replace(&s(&a[0]), &s(&a[1])))
        }
        "repeat" => {
            want(name, a, 2)?;
            let n = usize::try_from(a[0].to_int_param(name)?).unwrap_or(0);
            Str(s(&a[1]).repeat(n.min(MAX_PAD)))
        }
        "int" => {
            want(name, a, 1)?;
            Int(a[0].to_i64())
        }
        "float64" => {
            want(name, a, 1)?;
            Float(a[0].to_f64())
        }
        "add" | "mul" => {
            let mut acc: i64 = if name == "add" { 0 } else { 1 };
            for v in a {
                acc = if name == "add" {
                    acc.wrapping_add(v.to_i64())
                } else {
                    acc.wrapping_mul(v.to_i64())
                };
            }
            Int(acc)
        }
        "sub" | "div" | "mod" => {
            want(name, a, 2)?;
            let (x, y) = (a[0].to_i64(), a[1].to_i64());
            if name != "sub" && y == 0 {
                return Err("integer divide by zero".to_string());
            }
            Int(match name {
                "sub" => x.wrapping_sub(y),
                "div" => x.wrapping_div(y),
                _ => x.wrapping_rem(y),
            })
        }
        "addf" | "mulf" => {
            let mut acc: f64 = if name == "addf" { 0.0 } else { 1.0 };
            for v in a {
                acc = if name == "addf" {
                    acc + v.to_f64()
                } else {
                    acc * v.to_f64()
                };
            }
            Float(acc)
        }
        "subf" | "divf" => {
            want_at_least(name, a, 1)?;
            let mut acc = a[0].to_f64();
            for v in &a[1..] {
                if name == "subf" {
                    acc -= v.to_f64();
                } else {
                    acc /= v.to_f64();
                }
            }
            Float(acc)
        }
        "max" | "min" => {
            want_at_least(name, a, 1)?;
            let it = a.iter().map(Value::to_i64);
            Int(if name == "max" { it.max() } else { it.min() }.unwrap_or(0))
        }
        "maxf" | "minf" => {
            want_at_least(name, a, 1)?;
            let mut acc = a[0].to_f64();
            for v in &a[1..] {
                acc = if name == "maxf" {
                    acc.max(v.to_f64())
                } else {
                    acc.min(v.to_f64())
                };
            }
            Float(acc)
        }
        "ceil" | "floor" => {
            want(name, a, 1)?;
            let v = a[0].to_f64();
            Float(if name == "ceil" { v.ceil() } else { v.floor() })
        }
        "round" => {
            want_at_least(name, a, 2)?;
            let places = a[1].to_i64();
            let round_on = a.get(2).map_or(0.5, Value::to_f64);
            Float(round(a[0].to_f64(), places, round_on))
        }
        "default" => {
            want_at_least(name, a, 1)?;
            let given = a.get(1).filter(|v| v.truthy());
            given.cloned().unwrap_or_else(|| a[0].clone())
        }
        other => return Err(format!("function {other:?} not defined")),
    })
}

/// Go's comparison for `eq`/`lt`..: same basic kind required.
fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use Value::*;
    let ord = match (a, b) {
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Time(x), Time(y)) => Some(x.cmp(y)),
        _ => return Err("incompatible types for comparison".to_string()),
    };
    ord.ok_or_else(|| "incomparable values".to_string())
}

/// Go's `fmt.Sprint`: spaces only between operands when neither is a string.
fn go_sprint(a: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 && !matches!(v, Value::Str(_)) && !matches!(a[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&v.render());
    }
    out
}

/// Go's `fmt.Sprintf` for the common verbs: `%s %v %d %f %e %g %x %X %o %b %q %t %c %%`,
/// with flags `-+ 0#`, width and precision.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space, mut sharp) =
            (false, false, false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some((width.unwrap_or(0) * 10 + d as usize).min(MAX_PAD));
            chars.next();
        }
        let mut prec = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = (p * 10 + d as usize).min(MAX_PAD);
                chars.next();
            }
            prec = Some(p);
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next_arg += 1;
        let bad = || format!("%!{verb}({}={})", arg.type_name(), arg.render());
        let sign = |neg: bool| {
            if neg {
                "-"
            } else if plus {
                "+"
            } else if space {
                " "
            } else {
                ""
            }
        };
        let (body, numeric) = match (verb, arg) {
            ('s' | 'v', Value::Str(v)) => (truncate(v, prec), false),
            ('v', v) => (v.render(), matches!(v, Value::Int(_) | Value::Float(_))),
            ('s', Value::Time(_) | Value::Bool(_)) => (truncate(&arg.render(), prec), false),
            ('q', Value::Str(v)) => (super::gostr::quote(v), false),
            ('t', Value::Bool(b)) => (b.to_string(), false),
            ('d', Value::Int(i)) => (format!("{}{}", sign(*i < 0), i.unsigned_abs()), true),
            ('x' | 'X' | 'o' | 'b', Value::Int(i)) => {
                let u = i.unsigned_abs();
                let digits = match verb {
                    'x' => format!("{u:x}"),
                    'X' => format!("{u:X}"),
                    'o' => format!("{u:o}"),
                    _ => format!("{u:b}"),
                };
                let prefix = match (sharp, verb) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') => "0",
                    _ => "",
                };
                (format!("{}{prefix}{digits}", sign(*i < 0)), true)
            }
            ('x' | 'X', Value::Str(v)) => {
                let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
                (if verb == 'X' { hex.to_uppercase() } else { hex }, false)
            }
            ('c', Value::Int(i)) => (
                char::from_u32(u32::try_from(*i).unwrap_or(0xFFFD))
                    .unwrap_or('\u{FFFD}')
                    .to_string(),
                false,
            ),
            ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Float(_) | Value::Int(_)) => {
                if matches!(arg, Value::Int(_)) {
                    (bad(), false)
                } else {
                    let f = arg.to_f64();
                    let p = prec.unwrap_or(6);
                    let abs = f.abs();
                    let body = match verb {
                        'f' | 'F' => format!("{abs:.p$}"),
                        'e' | 'E' => {
                            let e = go_exp(&format!("{abs:.p$e}"));
                            if verb == 'E' {
                                e.to_uppercase()
                            } else {
                                e
                            }
                        }
                        _ => match prec {
                            None => format_go_float(abs),
                            Some(p) => format!("{:.*}", p.saturating_sub(1).min(17), abs)
                                .trim_end_matches('0')
                                .trim_end_matches('.')
                                .to_string(),
                        },
                    };
                    (
                        format!("{}{body}", sign(f.is_sign_negative() && f != 0.0)),
                        true,
                    )
                }
            }
            _ => (bad(), false),
        };
        let len = body.chars().count();
        let w = width.unwrap_or(0);
        if len >= w {
            out.push_str(&body);
        } else if minus {
            out.push_str(&body);
            out.push_str(&" ".repeat(w - len));
        } else if zero && numeric {
            let (sgn, digits) = match body.strip_prefix(['-', '+', ' ']) {
                Some(rest) => (&body[..1], rest),
                None => ("", body.as_str()),
            };
            out.push_str(sgn);
            out.push_str(&"0".repeat(w - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(w - len));
            out.push_str(&body);
        }
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|v| format!("{}={}", v.type_name(), v.render()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

/// Rust's `1.5e3` to Go's `1.5e+03`.
fn go_exp(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s.to_string(),
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric();
    }
    out
}

fn trunc(c: i64, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let l = chars.len() as i64;
    if c < 0 && l + c > 0 {
        return chars[(l + c) as usize..].iter().collect();
    }
    if c >= 0 && l > c {
        return chars[..c as usize].iter().collect();
    }
    s.to_string()
}

fn substr(start: i64, end: i64, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let l = chars.len() as i64;
    let end = end.min(l);
    let start = start.min(l);
    if start < 0 {
        if end < 0 {
            return String::new();
        }
        return chars[..end as usize].iter().collect();
    }
    if end < 0 {
        return chars[start as usize..].iter().collect();
    }
    if start > end {
        return String::new();
    }
    chars[start as usize..end as usize].iter().collect()
}

fn align(s: &str, count: i64, left: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let l = chars.len() as i64;
    if count < 0 || count == l {
        return s.to_string();
    }
    if count > l {
        let pad = " ".repeat((count - l) as usize);
        return if left {
            format!("{s}{pad}")
        } else {
            format!("{pad}{s}")
        };
    }
    if left {
        chars[..count as usize].iter().collect()
    } else {
        chars[(l - count) as usize..].iter().collect()
    }
}

/// sprig's `round`: up when the fraction reaches `round_on`, else down.
fn round(v: f64, places: i64, round_on: f64) -> f64 {
    let pow = 10f64.powi(i32::try_from(places).unwrap_or(0));
    let digit = pow * v;
    let r = if digit.fract() >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

/// Loki's `unixToTime`: days (5 digits), seconds (10), ms (13), µs (16) or ns (19).
fn unix_to_time(epoch: &str) -> Result<i64, String> {
    let bad = || format!("unable to parse time '{epoch}'");
    let n: i64 = epoch.parse().map_err(|_| bad())?;
    let scale: i64 = match epoch.len() {
        5 => 86_400 * 1_000_000_000,
        10 => 1_000_000_000,
        13 => 1_000_000,
        16 => 1_000,
        19 => 1,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = B64
            .iter()
            .position(|&x| x == c)
            .ok_or_else(|| "illegal base64 data".to_string())? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "invalid URL escape {:?}",
                            s.get(i..(i + 3).min(s.len())).unwrap_or("%")
                        )
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &str, labels: &[(&str, &str)]) -> Result<String, String> {
        let map: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let tpl = Template::parse(t)?;
        tpl.execute(&Context {
            labels: &map,
            line: "the line",
            timestamp: 1_431_857_103_000_000_000,
        })
    }

    #[test]
    fn fields_pipes_and_functions() {
        let l = [("a", "Hello"), ("b", "World"), ("n", "3")];
        assert_eq!(run("{{.a}} {{ .b | ToUpper }}", &l).unwrap(), "Hello WORLD");
        assert_eq!(run("{{ .missing }}|", &l).unwrap(), "|");
        assert_eq!(
            run(r#"{{ .a | replace "l" "L" | lower }}"#, &l).unwrap(),
            "hello"
        );
        assert_eq!(run(r#"{{ Replace .a "l" "_" -1 }}"#, &l).unwrap(), "He__o");
        assert_eq!(run(r#"{{ .x | default "-" }}"#, &l).unwrap(), "-");
        assert_eq!(run("{{ __line__ | upper }}", &l).unwrap(), "THE LINE");
        assert_eq!(
            run("{{ add 3 2 5 }} {{ div 10 2 }} {{ divf 10 2 4 }}", &l).unwrap(),
            "10 5 1.25"
        );
        assert_eq!(
            run(
                "{{ mul .n 2 }} {{ ceil 123.001 }} {{ round 123.555555 3 }}",
                &l
            )
            .unwrap(),
            "6 124 123.556"
        );
        assert_eq!(
            run(
                r#"{{ trunc 5 "hello world" }} {{ substr 6 11 "hello world" }}"#,
                &l
            )
            .unwrap(),
            "hello world"
        );
        assert_eq!(
            run(r#"{{ alignLeft 5 "hi" }}|{{ alignRight 5 "hi" }}"#, &l).unwrap(),
            "hi   |   hi"
        );
        assert_eq!(
            run(r#"{{ regexReplaceAll "(a*)bc" "aabcx" "${1}Z" }}"#, &l).unwrap(),
            "aaZx"
        );
        assert_eq!(run(r#"{{ count "a|b" "abab" }}"#, &l).unwrap(), "4");
        assert_eq!(
            run(r#"{{ "aGk=" | b64dec }}{{ b64enc "hi" }}"#, &l).unwrap(),
            "hiaGk="
        );
        assert_eq!(
            run(r#"{{ urlencode "a b&c" }} {{ urldecode "a+b%26c" }}"#, &l).unwrap(),
            "a+b%26c a b&c"
        );
        assert_eq!(
            run(
                r#"{{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }}"#,
                &l
            )
            .unwrap(),
            "2015-05-17T10:05:03Z"
        );
        assert_eq!(
            run("{{ __timestamp__ | unixEpoch }}", &l).unwrap(),
            "1431857103"
        );
        assert_eq!(
            run(r#"{{ toDate "2006-01-02" "2021-11-02" | unixEpoch }}"#, &l).unwrap(),
            "1635811200"
        );
        assert_eq!(run(r#"{{ "1.5s" | duration }}"#, &l).unwrap(), "1.5");
    }

    #[test]
    fn printf_verbs() {
        let v = |s: &str| Value::Str(s.to_string());
        assert_eq!(
            sprintf("%-6.3s|%5s|%q", &[v("abcdef"), v("ab"), v("x\"")]),
            "abc   |   ab|\"x\\\"\""
        );
        assert_eq!(
            sprintf(
                "%d %05d %x %+d",
                &[
                    Value::Int(42),
                    Value::Int(-42),
                    Value::Int(255),
                    Value::Int(3)
                ]
            ),
            "42 -0042 ff +3"
        );
        assert_eq!(
            sprintf(
                "%.2f %e %v %g",
                &[
                    Value::Float(1.23456),
                    Value::Float(1234.5),
                    Value::Float(2.5),
                    Value::Float(0.000001)
                ]
            ),
            "1.23 1.234500e+03 2.5 1e-06"
        );
        assert_eq!(sprintf("%d", &[v("abc")]), "%!d(string=abc)");
        assert_eq!(sprintf("%s %s", &[v("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%%", &[]), "%");
    }

    #[test]
    fn conditionals_and_trimming() {
        let l = [("err", "ErrTimeout here"), ("level", "warn")];
        assert_eq!(
            run(r#"{{ if contains "ErrTimeout" .err }}timeout{{else if eq .level "warn"}}w{{else}}no{{end}}"#, &l).unwrap(),
            "timeout"
        );
        assert_eq!(
            run(
                r#"{{ if and (eq .level "warn") (not .x) }}yes{{ end }}"#,
                &l
            )
            .unwrap(),
            "yes"
        );
        assert_eq!(
            run(r#"{{ if .x }}a{{ else if .y }}b{{ else }}c{{ end }}"#, &l).unwrap(),
            "c"
        );
        assert_eq!(run("a  {{- .level -}}  b", &l).unwrap(), "awarnb");
        assert_eq!(run("a{{/* note */}}b", &l).unwrap(), "ab");
        assert!(run(r#"{{ if eq .level 200 }}x{{ end }}"#, &l).is_err());
    }

    #[test]
    fn unsupported_constructs_are_parse_errors() {
        for t in [
            "{{ range .x }}{{ end }}",
            "{{ $x := 1 }}",
            "{{ with .a }}{{ end }}",
            "{{ fromJson .a }}",
            "{{ nosuchfunc .a }}",
            "{{ if .a }}",
            "{{ .a ",
            "{{ .a.b }}",
            "{{ end }}",
        ] {
            assert!(Template::parse(t).is_err(), "{t}");
        }
        assert_eq!(Template::parse("{{.a}}").unwrap().simple_field(), Some("a"));
        assert_eq!(
            Template::parse("{{.b}} {{ if .a }}{{.c}}{{end}}")
                .unwrap()
                .fields(),
            vec!["a", "b", "c"]
        );
    }
}
