//! The result table (one row per figure, one column per system, then the ratio of
//! Sightline to the peer its target in DESIGN.md is set against) and its JSON form.

use crate::systems::Kind;

#[derive(Clone, Debug)]
pub enum Cell {
    /// A measured number and how to show it.
    Value { value: f64, text: String },
    /// Not measured, with the reason (`not installed`, `n/a (not implemented)`, …).
    Text(String),
}

impl Cell {
    pub fn value(value: f64, text: impl Into<String>) -> Cell {
        Cell::Value {
            value,
            text: text.into(),
        }
    }

    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    fn shown(&self) -> &str {
        match self {
            Cell::Value { text, .. } | Cell::Text(text) => text,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Cell::Value { value, .. } => Some(*value),
            Cell::Text(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// How Sightline is judged on a row: against which peer, which direction is better, and
/// whether DESIGN.md sets a target on it (then the ratio shows ✓ or ✗).
#[derive(Clone, Copy, Debug)]
pub struct Judge {
    pub peer: Kind,
    pub better: Better,
    pub target: bool,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub unit: &'static str,
    /// One cell per system, in `Kind::ALL` order.
    pub cells: Vec<Cell>,
    pub judge: Option<Judge>,
}

impl Row {
    pub fn new(key: impl Into<String>, label: impl Into<String>, unit: &'static str) -> Row {
        Row {
            key: key.into(),
            label: label.into(),
            unit,
            cells: Kind::ALL.iter().map(|_| Cell::text("")).collect(),
            judge: None,
        }
    }

    pub fn judged(mut self, peer: Kind, better: Better, target: bool) -> Row {
        self.judge = Some(Judge {
            peer,
            better,
            target,
        });
        self
    }

    pub fn set(&mut self, kind: Kind, cell: Cell) {
        let index = Kind::ALL
            .iter()
            .position(|each| *each == kind)
            .expect("known kind");
        self.cells[index] = cell;
    }

    fn cell(&self, kind: Kind) -> &Cell {
        let index = Kind::ALL
            .iter()
            .position(|each| *each == kind)
            .expect("known kind");
        &self.cells[index]
    }

    /// Sightline ÷ peer, when both were measured.
    pub fn ratio(&self) -> Option<f64> {
        let judge = self.judge?;
        let ours = self.cell(Kind::Sightline).number()?;
        let theirs = self.cell(judge.peer).number()?;
        (theirs != 0.0).then(|| ours / theirs)
    }

    /// Whether the DESIGN.md target is met, when the row has one and both were measured.
    pub fn meets_target(&self) -> Option<bool> {
        let judge = self.judge.filter(|judge| judge.target)?;
        let ratio = self.ratio()?;
        Some(match judge.better {
            Better::Higher => ratio >= 1.0,
            Better::Lower => ratio <= 1.0,
        })
    }

    fn ratio_text(&self) -> String {
        let (Some(judge), Some(ratio)) = (self.judge, self.ratio()) else {
            return "—".to_string();
        };
        let mark = match self.meets_target() {
            Some(true) => " ✓",
            Some(false) => " ✗",
            None => "",
        };
        format!("{} × {}{mark}", significant(ratio, 3), judge.peer.short())
    }
}

/// Renders the rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let mut header = vec!["figure".to_string()];
    header.extend(Kind::ALL.iter().map(|kind| kind.name().to_string()));
    header.push("ratio".to_string());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut line = vec![row.label.clone()];
            line.extend(row.cells.iter().map(|cell| cell.shown().to_string()));
            line.push(row.ratio_text());
            line
        })
        .collect();
    let columns = header.len();
    let width = |column: usize| {
        std::iter::once(&header)
            .chain(&body)
            .map(|line| line[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let render = |line: &Vec<String>| {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(column, text)| {
                let pad = widths[column] - text.chars().count();
                if column == 0 {
                    format!("{text}{}", " ".repeat(pad))
                } else {
                    format!("{}{text}", " ".repeat(pad))
                }
            })
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
    let mut out = vec![render(&header), format!("|-{}-|", rule.join("-|-"))];
    out.extend(body.iter().map(render));
    out.join("\n")
}

/// The rows as JSON: numbers where measured, the shown text always.
pub fn rows_json(rows: &[Row]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut systems = serde_json::Map::new();
            for kind in Kind::ALL {
                let cell = row.cell(kind);
                systems.insert(
                    kind.key().to_string(),
                    serde_json::json!({ "value": cell.number(), "text": cell.shown() }),
                );
            }
            serde_json::json!({
                "key": row.key,
                "label": row.label,
                "unit": row.unit,
                "systems": systems,
                "ratio": row.ratio(),
                "ratio_peer": row.judge.map(|judge| judge.peer.key()),
                "target_met": row.meets_target(),
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

/// `value` with about `digits` significant digits, no exponent.
pub fn significant(value: f64, digits: usize) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i64;
    let decimals = (digits as i64 - 1 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

/// A rate or count with a k/M/G suffix.
pub fn si(value: f64) -> String {
    let (scaled, suffix) = if value.abs() >= 1e9 {
        (value / 1e9, "G")
    } else if value.abs() >= 1e6 {
        (value / 1e6, "M")
    } else if value.abs() >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    format!("{}{suffix}", significant(scaled, 3))
}

/// Bytes as MiB (or KiB, GiB).
pub fn bytes(value: f64) -> String {
    const KIB: f64 = 1024.0;
    if value >= KIB * KIB * KIB {
        format!("{} GiB", significant(value / (KIB * KIB * KIB), 3))
    } else if value >= KIB * KIB {
        format!("{} MiB", significant(value / (KIB * KIB), 3))
    } else if value >= KIB {
        format!("{} KiB", significant(value / KIB, 3))
    } else {
        format!("{value} B")
    }
}
