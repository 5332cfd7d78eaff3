//! The report of `pzbench score`: metrics overall and per bin, bins, provenance, intervals; and
//! the one scoring pipeline ([`score_sample`], [`score_file`]) that `score`, `table2`, `figure6`,
//! `leaderboard add` and `baseline save` share.

use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::format::{bin_label, significant, TextTable};
use super::pdf_score::PdfBlock;
use pzbench_io::sample::{load_sample, InputInfo, Sample, SampleOptions};
use pzbench_io::Result;
use pzbench_metrics::{
    bootstrap, evaluate, Bins, BootstrapConfig, Evaluation, Grouped, Interval, Intervals, Metric, MetricIntervals,
    Metrics,
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
    /// The PDF metrics, when the file held PDFs (`docs/PDF_METRICS.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf: Option<PdfBlock>,
}

/// One bin's metrics; serialises as the 13 metric keys followed by `lo` and `hi`.
#[derive(Debug, Clone)]
pub struct BinMetrics {
    pub lo: f64,
    pub hi: f64,
    pub metrics: Option<Metrics>,
}

impl Serialize for BinMetrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Metric::ALL.len() + 2))?;
        MetricValues::of(self.metrics.as_ref()).write_entries(&mut map)?;
        map.serialize_entry("lo", &self.lo)?;
        map.serialize_entry("hi", &self.hi)?;
        map.end()
    }
}

fn serialize_metrics<S: Serializer>(metrics: &Option<Metrics>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    MetricValues::of(metrics.as_ref()).serialize(serializer)
}

/// The 13 metrics of a set of galaxies as reports write them (`docs/METRICS.md` keys, in report
/// order): `count`, then every other metric's value, `null` for an empty set. Leaderboards store
/// this layout, and read it back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricValues {
    /// Number of galaxies.
    pub count: usize,
    /// The value of every [`Metric::VALUES`] entry, in that order.
    values: [Option<f64>; 12],
}

impl MetricValues {
    /// The values of `metrics` (`None` for an empty set). A value that is not finite is stored as
    /// `None`, as JSON writes it: `null`.
    pub fn of(metrics: Option<&Metrics>) -> Self {
        let mut values = [None; 12];
        if let Some(m) = metrics {
            for (slot, metric) in values.iter_mut().zip(Metric::VALUES) {
                *slot = Some(m.get(metric)).filter(|v| v.is_finite());
            }
        }
        MetricValues { count: metrics.map_or(0, |m| m.count), values }
    }

    /// The value of `metric` (`count` as a float); `None` for an empty set.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Count => Some(self.count as f64),
            other => self.values[other.index() - 1],
        }
    }

    /// Write `count` and the 12 values as entries of `map`.
    fn write_entries<M: SerializeMap>(&self, map: &mut M) -> std::result::Result<(), M::Error> {
        map.serialize_entry(Metric::Count.key(), &self.count)?;
        for (metric, value) in Metric::VALUES.iter().zip(&self.values) {
            map.serialize_entry(metric.key(), value)?;
        }
        Ok(())
    }
}

impl Serialize for MetricValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Metric::ALL.len()))?;
        self.write_entries(&mut map)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricValues {
    /// Every one of the 13 keys must be present, and no other.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct ValuesVisitor;

        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = MetricValues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the 13 metrics of docs/METRICS.md")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<MetricValues, A::Error> {
                let mut seen = [false; 13];
                let mut found = MetricValues { count: 0, values: [None; 12] };
                while let Some(key) = map.next_key::<String>()? {
                    let metric =
                        Metric::from_key(&key).ok_or_else(|| de::Error::custom(format!("unknown metric '{key}'")))?;
                    if std::mem::replace(&mut seen[metric.index()], true) {
                        return Err(de::Error::duplicate_field(metric.key()));
                    }
                    match metric {
                        Metric::Count => found.count = map.next_value()?,
                        other => found.values[other.index() - 1] = map.next_value()?,
                    }
                }
                match Metric::ALL.into_iter().find(|m| !seen[m.index()]) {
                    Some(missing) => Err(de::Error::missing_field(missing.key())),
                    None => Ok(found),
                }
            }
        }

        deserializer.deserialize_map(ValuesVisitor)
    }
}

/// Columns of the terminal table: the paper's Table 2 metrics plus RMS and σ_IQR.
const TERMINAL_METRICS: [Metric; 8] = [
    Metric::Count,
    Metric::Loss,
    Metric::Bias,
    Metric::Scatter,
    Metric::OutlierFrac,
    Metric::Mse,
    Metric::Rms,
    Metric::SigmaIqr,
];

/// Score a sample as `pzbench score` does (`docs/METRICS.md`): group by `bins`, evaluate every
/// metric overall and per bin, and bootstrap intervals when asked. Consumes the sample so its
/// columns are freed as early as possible.
pub fn score_sample(sample: Sample, bins: Bins, bootstrap_config: Option<BootstrapConfig>) -> ScoreReport {
    let Sample { z_spec, z_phot, input, ids } = sample;
    drop(ids);
    let grouped = Grouped::new(z_spec, z_phot, &bins);
    let evaluation = evaluate(&grouped);
    let intervals = bootstrap_config.map(|config| bootstrap(&grouped, &config));
    ScoreReport::new(evaluation, bins, grouped.n_outside(), input, intervals)
}

/// Read a predictions file (joined with `options.truth` if set) and [`score_sample`] it: the whole
/// of `pzbench score`.
pub fn score_file(
    path: &Path,
    options: &SampleOptions,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<ScoreReport> {
    Ok(score_sample(load_sample(path, options)?, bins.clone(), bootstrap_config))
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
            pdf: None,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Every bin's label ([`bin_label`]), in order.
    fn bin_labels(&self) -> Vec<String> {
        self.per_bin.iter().map(|bin| bin_label(bin.lo, bin.hi)).collect()
    }

    fn rows_of(&self, metrics: &[Metric]) -> TextTable {
        let cell = |m: Option<&Metrics>, metric: Metric| match (m, metric) {
            (None, Metric::Count) => "0".to_string(),
            (None, _) => "-".to_string(),
            (Some(m), Metric::Count) => m.count.to_string(),
            (Some(m), metric) => significant(m.get(metric), 4),
        };
        let on = match self.bins.on {
            pzbench_metrics::BinOn::ZSpec => "z_spec bin",
            pzbench_metrics::BinOn::ZPhot => "z_phot bin",
        };
        let mut header = vec![on.to_string()];
        header.extend(metrics.iter().map(|m| m.key().to_string()));
        let mut rows = vec![std::iter::once("overall".to_string())
            .chain(metrics.iter().map(|&m| cell(self.overall.as_ref(), m)))
            .collect()];
        for bin in &self.per_bin {
            rows.push(
                std::iter::once(bin_label(bin.lo, bin.hi))
                    .chain(metrics.iter().map(|&m| cell(bin.metrics.as_ref(), m)))
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
        out.push_str(&self.rows_of(&TERMINAL_METRICS).to_terminal());
        if let (Some(intervals), Some(overall)) = (&self.intervals, &self.overall) {
            if let Some(ci) = &intervals.overall {
                out.push_str(&format!("\noverall, {}:\n", bootstrap_label(intervals)));
                let rows = Metric::VALUES
                    .into_iter()
                    .filter_map(|metric| {
                        let i = ci.get(metric)?;
                        Some(vec![metric.key().to_string(), significant(overall.get(metric), 4), interval_text(i)])
                    })
                    .collect();
                let table = TextTable { header: vec!["metric".into(), "value".into(), "interval".into()], rows };
                out.push_str(&table.to_terminal());
            }
        }
        if let Some(pdf) = &self.pdf {
            out.push_str(&pdf.to_terminal(&self.bin_labels()));
        }
        out
    }

    /// A Markdown table of all 13 metrics (intervals, when present, as `[lo, hi]` rows below).
    pub fn to_markdown(&self) -> String {
        let mut out = self.rows_of(&Metric::ALL).to_markdown();
        if let Some(intervals) = &self.intervals {
            out.push_str(&format!("\n{}:\n\n", bootstrap_label(intervals)));
            let mut table = TextTable { header: vec!["bin".into()], rows: Vec::new() };
            table.header.extend(Metric::VALUES.iter().map(|m| m.key().to_string()));
            let row = |label: String, ci: Option<&MetricIntervals>| {
                std::iter::once(label)
                    .chain(
                        Metric::VALUES
                            .into_iter()
                            .map(|m| ci.and_then(|c| c.get(m)).map_or("-".to_string(), interval_text)),
                    )
                    .collect()
            };
            table.rows.push(row("overall".into(), intervals.overall.as_ref()));
            for (bin, ci) in self.per_bin.iter().zip(&intervals.per_bin) {
                table.rows.push(row(bin_label(bin.lo, bin.hi), ci.as_ref()));
            }
            out.push_str(&table.to_markdown());
        }
        if let Some(pdf) = &self.pdf {
            out.push_str(&pdf.to_markdown(&self.bin_labels()));
        }
        out
    }

    /// CSV, one row for `overall` and one per bin, values at full precision; with intervals,
    /// `<key>_lo` / `<key>_hi` columns follow.
    pub fn to_csv(&self) -> String {
        let mut header = vec!["bin".to_string(), "lo".into(), "hi".into()];
        header.extend(Metric::ALL.iter().map(|m| m.key().to_string()));
        if self.intervals.is_some() {
            for metric in Metric::VALUES {
                header.push(format!("{metric}_lo"));
                header.push(format!("{metric}_hi"));
            }
        }
        if let Some(pdf) = &self.pdf {
            header.extend(pdf.csv_header());
        }
        let mut out = header.join(",");
        out.push('\n');
        let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let mut line = |label: String, bin: Option<usize>, m: Option<&Metrics>, ci: Option<&MetricIntervals>| {
            let (lo, hi) = bin.map_or((None, None), |b| (Some(self.per_bin[b].lo), Some(self.per_bin[b].hi)));
            let mut cells = vec![label, number(lo), number(hi), m.map_or(0, |m| m.count).to_string()];
            cells.extend(Metric::VALUES.into_iter().map(|metric| number(m.map(|m| m.get(metric)))));
            if self.intervals.is_some() {
                for metric in Metric::VALUES {
                    let i = ci.and_then(|c| c.get(metric));
                    cells.push(number(i.map(|i| i.lo)));
                    cells.push(number(i.map(|i| i.hi)));
                }
            }
            if let Some(pdf) = &self.pdf {
                cells.extend(pdf.csv_cells(bin));
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        };
        let overall_ci = self.intervals.as_ref().and_then(|i| i.overall.as_ref());
        line("overall".into(), None, self.overall.as_ref(), overall_ci);
        for (b, bin) in self.per_bin.iter().enumerate() {
            let ci = self.intervals.as_ref().and_then(|i| i.per_bin[b].as_ref());
            line(format!("{b}"), Some(b), bin.metrics.as_ref(), ci);
        }
        out
    }
}

/// `95% percentile bootstrap over galaxies (1000 resamples, seed 42)`: what the intervals are.
fn bootstrap_label(intervals: &Intervals) -> String {
    format!(
        "{:.0}% {} ({} resamples, seed {})",
        intervals.confidence * 100.0,
        intervals.method,
        intervals.resamples,
        intervals.seed
    )
}

/// An interval as `[lo, hi]`, four significant digits each.
fn interval_text(interval: Interval) -> String {
    format!("[{}, {}]", significant(interval.lo, 4), significant(interval.hi, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_values_round_trip_in_report_order() {
        let metrics = pzbench_metrics::point_metrics(&[0.01, -0.02, 0.3], &[0.01, -0.02, 0.3], &mut Vec::new());
        let values = MetricValues::of(metrics.as_ref());
        let json = serde_json::to_value(values).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = Metric::ALL.map(Metric::key).to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(serde_json::from_value::<MetricValues>(json).unwrap(), values);
        assert_eq!(values.get(Metric::Count), Some(3.0));
        assert_eq!(values.get(Metric::Loss), metrics.map(|m| m.loss));

        let empty = MetricValues::of(None);
        assert_eq!((empty.count, empty.get(Metric::Bias)), (0, None));
        let text = serde_json::to_string(&empty).unwrap();
        assert!(text.starts_with(r#"{"count":0,"bias":null,"mean_bias":null,"#), "{text}");
    }

    #[test]
    fn metric_values_need_every_key_and_no_other() {
        let mut json = serde_json::to_value(MetricValues::of(None)).unwrap();
        json.as_object_mut().unwrap().remove("loss");
        let error = serde_json::from_value::<MetricValues>(json.clone()).unwrap_err().to_string();
        assert!(error.contains("missing field `loss`"), "{error}");
        json["loss"] = serde_json::Value::Null;
        json["los"] = serde_json::Value::Null;
        let error = serde_json::from_value::<MetricValues>(json).unwrap_err().to_string();
        assert!(error.contains("unknown metric 'los'"), "{error}");
    }
}
