//! Quantiles of durations, and the table they are printed in.

/// p50, p99 and max of some durations (µs), nearest-rank.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// How many.
    pub n: usize,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// The largest.
    pub max: u64,
}

impl Summary {
    /// The summary of `values`.
    pub fn of(values: &[u64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = |q: f64| {
            let i = (q * sorted.len() as f64).ceil() as usize;
            sorted.get(i.saturating_sub(1)).copied().unwrap_or(0)
        };
        Self {
            n: sorted.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: sorted.last().copied().unwrap_or(0),
        }
    }
}

/// Microseconds as milliseconds.
pub fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// Prints the header of a table of summaries.
pub fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<46} {:>6} {:>9} {:>9} {:>9}",
        "", "n", "p50 ms", "p99 ms", "max ms"
    );
}

/// Prints one row.
pub fn row(label: &str, s: &Summary) {
    println!(
        "{label:<46} {:>6} {:>9.1} {:>9.1} {:>9.1}",
        s.n,
        ms(s.p50 as f64),
        ms(s.p99 as f64),
        ms(s.max as f64)
    );
}

/// The differences of quantiles `plus` − each of `minus`: (p50, p99) in ms.
pub fn quantile_difference(plus: &Summary, minus: &[&Summary]) -> (f64, f64) {
    let diff = |q: fn(&Summary) -> u64| {
        minus
            .iter()
            .fold(q(plus) as f64, |acc, m| acc - q(m) as f64)
    };
    (ms(diff(|s| s.p50)), ms(diff(|s| s.p99)))
}

/// Prints a row of differences of quantiles (`a` − `b` − `c`…), in ms.
pub fn difference(label: &str, plus: &Summary, minus: &[&Summary]) -> (f64, f64) {
    let (p50, p99) = quantile_difference(plus, minus);
    println!("{label:<46} {:>6} {p50:>9.1} {p99:>9.1}", "");
    (p50, p99)
}
