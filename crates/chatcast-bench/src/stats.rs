//! HDR histograms of latencies (recorded in microseconds) and the figure
//! format shared with the browser benchmarks (`web/bench`).

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// A latency histogram: 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// Records a duration in microseconds (saturating at the histogram's top).
pub fn record(h: &mut Histogram<u64>, d: std::time::Duration) {
    let us = (d.as_micros() as u64).clamp(1, 60_000_000);
    h.record(us).expect("clamped into range");
}

/// Milliseconds with 3 decimals, from microseconds.
fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// The percentiles of a latency histogram, in milliseconds.
pub fn summary(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({ "count": 0 });
    }
    json!({
        "count": h.len(),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p90_ms": ms(h.value_at_quantile(0.90)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
        "mean_ms": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    })
}

/// p99 in milliseconds (infinite when empty: nothing arrived).
pub fn p99_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() { f64::INFINITY } else { h.value_at_quantile(0.99) as f64 / 1000.0 }
}

/// Rounds to `d` decimals.
pub fn round(x: f64, d: i32) -> f64 {
    let f = 10f64.powi(d);
    (x * f).round() / f
}

/// A figure: `{value, unit, target, holds, comparison: {name, value}, ratio}`,
/// the shape `web/bench/run.mjs` prints; `ratio` is value ÷ comparison.
pub fn figure(value: f64, unit: &str, target: &str, holds: Option<bool>, comparison: Option<(&str, f64)>) -> Value {
    let mut f = json!({ "value": round(value, 3), "unit": unit, "target": target, "holds": holds });
    if let Some((name, c)) = comparison {
        f["comparison"] = json!({ "name": name, "value": round(c, 3) });
        f["ratio"] = if c != 0.0 { json!(round(value / c, 3)) } else { Value::Null };
    }
    f
}
