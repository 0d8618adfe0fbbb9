//! Figures: summary statistics, one JSON line each as they are measured, and the final
//! Markdown table.

use std::fmt::Write as _;

use serde_json::{Value, json};

/// The `q`-quantile (0..=1) of `samples` by nearest rank; NaN when there are none.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[f64]) -> f64 {
    quantile(samples, 0.5)
}

pub fn max(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::NAN, f64::max)
}

/// How a measured value compares with its target.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// The value must be at most this.
    AtMost(f64),
    /// No target: reported for context.
    None,
}

/// One measured figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Stable identifier, e.g. `cold_start.median`.
    pub id: String,
    /// What it is, for the table.
    pub label: String,
    pub value: f64,
    pub unit: &'static str,
    pub target: Target,
    /// Anything that helps read it (samples, breakdown, settings).
    pub detail: Value,
}

impl Figure {
    pub fn new(id: &str, label: &str, value: f64, unit: &'static str) -> Figure {
        Figure {
            id: id.to_owned(),
            label: label.to_owned(),
            value,
            unit,
            target: Target::None,
            detail: Value::Null,
        }
    }

    pub fn at_most(mut self, limit: f64) -> Figure {
        self.target = Target::AtMost(limit);
        self
    }

    pub fn detail(mut self, detail: Value) -> Figure {
        self.detail = detail;
        self
    }

    /// `Some(true)` when a target is met, `None` without a target.
    pub fn met(&self) -> Option<bool> {
        match self.target {
            Target::AtMost(limit) => Some(self.value.is_finite() && self.value <= limit),
            Target::None => None,
        }
    }

    pub fn json(&self) -> Value {
        let target = match self.target {
            Target::AtMost(limit) => json!({"at_most": limit}),
            Target::None => Value::Null,
        };
        json!({
            "figure": self.id,
            "label": self.label,
            "value": round(self.value),
            "unit": self.unit,
            "target": target,
            "met": self.met(),
            "detail": self.detail,
        })
    }
}

/// Three significant decimals are plenty for milliseconds and MiB.
pub fn round(v: f64) -> f64 {
    if v.is_finite() {
        (v * 1000.0).round() / 1000.0
    } else {
        v
    }
}

fn show(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    if unit.is_empty() {
        format!("{v:.digits$}")
    } else {
        format!("{v:.digits$} {unit}")
    }
}

/// The Markdown table of all figures, in measurement order.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from("| figure | measured | target | met |\n|---|---:|---:|:---:|\n");
    for f in figures {
        let (target, met) = match (f.target, f.met()) {
            (Target::AtMost(limit), Some(met)) => (
                format!("≤ {}", show(limit, f.unit)),
                if met { "yes" } else { "**no**" },
            ),
            _ => ("–".to_owned(), ""),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            f.label,
            show(f.value, f.unit),
            target,
            met
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median(&s), 5.0);
        assert_eq!(quantile(&s, 0.9), 9.0);
        assert_eq!(quantile(&s, 0.99), 10.0);
        assert_eq!(quantile(&s, 0.0), 1.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert!(median(&[]).is_nan());
        assert_eq!(max(&[1.0, 7.0, 3.0]), 7.0);
    }

    #[test]
    fn targets_and_table() {
        let ok = Figure::new("a", "cold start", 9.5, "ms").at_most(15.0);
        let bad = Figure::new("b", "overhead", 420.0, "ms").at_most(300.0);
        let info = Figure::new("c", "polls", 5.0, "");
        assert_eq!(ok.met(), Some(true));
        assert_eq!(bad.met(), Some(false));
        assert_eq!(info.met(), None);
        let t = table(&[ok, bad, info]);
        assert!(
            t.contains("| cold start | 9.50 ms | ≤ 15.0 ms | yes |"),
            "{t}"
        );
        assert!(
            t.contains("| overhead | 420 ms | ≤ 300 ms | **no** |"),
            "{t}"
        );
        assert!(t.contains("| polls | 5.00 | – |  |"), "{t}");
        assert_eq!(
            Figure::new("x", "x", f64::NAN, "ms").at_most(1.0).met(),
            Some(false)
        );
    }
}
