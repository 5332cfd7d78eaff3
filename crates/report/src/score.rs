//! The report of `pzbench score`: metrics overall and per bin, bins, provenance, intervals.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::format::{significant, TextTable};
use pzbench_io::sample::{InputInfo, Sample};
use pzbench_metrics::{
    bootstrap, evaluate, Bins, BootstrapConfig, Evaluation, Grouped, Intervals, MetricIntervals, Metrics, METRIC_KEYS,
};

/// Everything `pzbench score` reports; serialises to the documented JSON layout
/// (`overall` and `per_bin` keys exactly as in the reference files).
#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    #[serde(serialize_with = "serialize_metrics")]
    pub overall: Option<Metrics>,
    pub per_bin: Vec<BinMetrics>,
    pub bins: Bins,
    pub n_outside_bins: usize,
    pub input: InputInfo,
    pub pzbench_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Intervals>,
}

/// One bin's metrics; serialises as the 13 metric keys followed by `lo` and `hi`.
#[derive(Debug, Clone)]
pub struct BinMetrics {
    pub lo: f64,
    pub hi: f64,
    pub metrics: Option<Metrics>,
}

impl Serialize for BinMetrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(METRIC_KEYS.len() + 2))?;
        write_metric_entries(&mut map, self.metrics.as_ref())?;
        map.serialize_entry("lo", &self.lo)?;
        map.serialize_entry("hi", &self.hi)?;
        map.end()
    }
}

fn serialize_metrics<S: Serializer>(metrics: &Option<Metrics>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(METRIC_KEYS.len()))?;
    write_metric_entries(&mut map, metrics.as_ref())?;
    map.end()
}

/// `count` then the 12 values; an empty set gives `count: 0` and `null` for the rest.
fn write_metric_entries<M: SerializeMap>(map: &mut M, metrics: Option<&Metrics>) -> Result<(), M::Error> {
    map.serialize_entry("count", &metrics.map_or(0, |m| m.count))?;
    for key in &METRIC_KEYS[1..] {
        map.serialize_entry(key, &metrics.and_then(|m| m.get(key)))?;
    }
    Ok(())
}

/// Columns of the terminal table: the paper's Table 2 metrics plus RMS and σ_IQR.
const TERMINAL_KEYS: [&str; 8] = ["count", "loss", "bias", "scatter", "outlier_frac", "mse", "rms", "sigma_iqr"];

/// Score a sample: group by `bins`, evaluate every metric overall and per bin, and bootstrap
/// intervals when asked. Consumes the sample so its columns are freed as early as possible.
pub fn score_sample(sample: Sample, bins: Bins, bootstrap_config: Option<BootstrapConfig>) -> ScoreReport {
    let Sample { z_spec, z_phot, input, ids } = sample;
    drop(ids);
    let grouped = Grouped::new(z_spec, z_phot, &bins);
    let evaluation = evaluate(&grouped);
    let intervals = bootstrap_config.map(|config| bootstrap(&grouped, &config));
    ScoreReport::new(evaluation, bins, grouped.n_outside(), input, intervals)
}

impl ScoreReport {
    /// Assemble a report from an evaluation.
    pub fn new(
        evaluation: Evaluation,
        bins: Bins,
        n_outside_bins: usize,
        input: InputInfo,
        intervals: Option<Intervals>,
    ) -> Self {
        let per_bin = evaluation
            .per_bin
            .into_iter()
            .enumerate()
            .map(|(b, metrics)| {
                let (lo, hi) = bins.interval(b);
                BinMetrics { lo, hi, metrics }
            })
            .collect();
        ScoreReport {
            overall: evaluation.overall,
            per_bin,
            bins,
            n_outside_bins,
            input,
            pzbench_version: pzbench_io::VERSION,
            intervals,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    fn bin_label(&self, bin: &BinMetrics) -> String {
        format!("({}, {}]", significant(bin.lo, 6), significant(bin.hi, 6))
    }

    fn rows_of(&self, keys: &[&str]) -> TextTable {
        let cell = |m: Option<&Metrics>, key: &str| match (m, key) {
            (None, "count") => "0".to_string(),
            (None, _) => "-".to_string(),
            (Some(m), "count") => m.count.to_string(),
            (Some(m), key) => m.get(key).map_or("-".to_string(), |v| significant(v, 4)),
        };
        let on = match self.bins.on {
            pzbench_metrics::BinOn::ZSpec => "z_spec bin",
            pzbench_metrics::BinOn::ZPhot => "z_phot bin",
        };
        let mut header = vec![on.to_string()];
        header.extend(keys.iter().map(|k| k.to_string()));
        let mut rows = vec![std::iter::once("overall".to_string())
            .chain(keys.iter().map(|k| cell(self.overall.as_ref(), k)))
            .collect()];
        for bin in &self.per_bin {
            rows.push(
                std::iter::once(self.bin_label(bin))
                    .chain(keys.iter().map(|k| cell(bin.metrics.as_ref(), k)))
                    .collect(),
            );
        }
        TextTable { header, rows }
    }

    /// Human-readable terminal output: a summary line, the table, and intervals if any.
    pub fn to_terminal(&self) -> String {
        let mut out = String::new();
        let input = &self.input.predictions;
        out.push_str(&format!(
            "{}: {} galaxies scored, {} outside the {} bins\n\n",
            input.path,
            self.overall.map_or(0, |m| m.count),
            self.n_outside_bins,
            self.bins.len()
        ));
        out.push_str(&self.rows_of(&TERMINAL_KEYS).to_terminal());
        if let (Some(intervals), Some(overall)) = (&self.intervals, &self.overall) {
            if let Some(ci) = &intervals.overall {
                out.push_str(&format!(
                    "\noverall, {:.0}% {} ({} resamples, seed {}):\n",
                    intervals.confidence * 100.0,
                    intervals.method,
                    intervals.resamples,
                    intervals.seed
                ));
                let rows = METRIC_KEYS[1..]
                    .iter()
                    .filter_map(|&key| {
                        let i = ci.get(key)?;
                        Some(vec![
                            key.to_string(),
                            significant(overall.get(key)?, 4),
                            format!("[{}, {}]", significant(i.lo, 4), significant(i.hi, 4)),
                        ])
                    })
                    .collect();
                let table = TextTable { header: vec!["metric".into(), "value".into(), "interval".into()], rows };
                out.push_str(&table.to_terminal());
            }
        }
        out
    }

    /// A Markdown table of all 13 metrics (intervals, when present, as `[lo, hi]` rows below).
    pub fn to_markdown(&self) -> String {
        let mut out = self.rows_of(&METRIC_KEYS).to_markdown();
        if let Some(intervals) = &self.intervals {
            out.push_str(&format!(
                "\n{:.0}% {} ({} resamples, seed {}):\n\n",
                intervals.confidence * 100.0,
                intervals.method,
                intervals.resamples,
                intervals.seed
            ));
            let mut table = TextTable { header: vec!["bin".into()], rows: Vec::new() };
            table.header.extend(METRIC_KEYS[1..].iter().map(|k| k.to_string()));
            let row = |label: String, ci: Option<&MetricIntervals>| {
                std::iter::once(label)
                    .chain(METRIC_KEYS[1..].iter().map(|k| {
                        ci.and_then(|c| c.get(k)).map_or("-".to_string(), |i| {
                            format!("[{}, {}]", significant(i.lo, 4), significant(i.hi, 4))
                        })
                    }))
                    .collect()
            };
            table.rows.push(row("overall".into(), intervals.overall.as_ref()));
            for (bin, ci) in self.per_bin.iter().zip(&intervals.per_bin) {
                table.rows.push(row(self.bin_label(bin), ci.as_ref()));
            }
            out.push_str(&table.to_markdown());
        }
        out
    }

    /// CSV, one row for `overall` and one per bin, values at full precision; with intervals,
    /// `<key>_lo` / `<key>_hi` columns follow.
    pub fn to_csv(&self) -> String {
        let mut header = vec!["bin".to_string(), "lo".into(), "hi".into()];
        header.extend(METRIC_KEYS.iter().map(|k| k.to_string()));
        if self.intervals.is_some() {
            for key in &METRIC_KEYS[1..] {
                header.push(format!("{key}_lo"));
                header.push(format!("{key}_hi"));
            }
        }
        let mut out = header.join(",");
        out.push('\n');
        let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let mut line =
            |label: String, lo: Option<f64>, hi: Option<f64>, m: Option<&Metrics>, ci: Option<&MetricIntervals>| {
                let mut cells = vec![label, number(lo), number(hi), m.map_or(0, |m| m.count).to_string()];
                cells.extend(METRIC_KEYS[1..].iter().map(|k| number(m.and_then(|m| m.get(k)))));
                if self.intervals.is_some() {
                    for key in &METRIC_KEYS[1..] {
                        let i = ci.and_then(|c| c.get(key));
                        cells.push(number(i.map(|i| i.lo)));
                        cells.push(number(i.map(|i| i.hi)));
                    }
                }
                out.push_str(&cells.join(","));
                out.push('\n');
            };
        let overall_ci = self.intervals.as_ref().and_then(|i| i.overall.as_ref());
        line("overall".into(), None, None, self.overall.as_ref(), overall_ci);
        for (b, bin) in self.per_bin.iter().enumerate() {
            let ci = self.intervals.as_ref().and_then(|i| i.per_bin[b].as_ref());
            line(format!("{b}"), Some(bin.lo), Some(bin.hi), bin.metrics.as_ref(), ci);
        }
        out
    }
}
