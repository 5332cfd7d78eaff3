//! Percentile bootstrap over galaxies (`docs/METRICS.md` "Uncertainties"; criterion.rs style).
//!
//! Replicate `r` draws `n` galaxies with replacement from the whole set, using a ChaCha8 stream
//! seeded by `(seed, r)`: results are bit-for-bit reproducible for a seed whatever the number of
//! threads. Each replicate is binned again, so per-bin counts vary as they would in a new sample.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::ser::{SerializeMap, SerializeTuple};
use serde::{Serialize, Serializer};

use super::stats::percentile;
use super::{evaluate_serial, Evaluation, Grouped, Metric, Metrics};

/// How to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapConfig {
    /// Number of resamples, B.
    pub resamples: usize,
    /// Central coverage of the interval, e.g. 0.95.
    pub confidence: f64,
    /// Seed of the random streams.
    pub seed: u64,
}

/// A two-sided interval; serialises as `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.lo)?;
        tuple.serialize_element(&self.hi)?;
        tuple.end()
    }
}

/// An interval per metric (every metric but `count`), in report order; serialises as a map from
/// the metrics' keys to `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricIntervals(pub Vec<(Metric, Interval)>);

impl MetricIntervals {
    /// The interval of `metric`, if any.
    pub fn get(&self, metric: Metric) -> Option<Interval> {
        self.0.iter().find(|(m, _)| *m == metric).map(|(_, i)| *i)
    }
}

impl Serialize for MetricIntervals {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (metric, interval) in &self.0 {
            map.serialize_entry(metric.key(), interval)?;
        }
        map.end()
    }
}

/// Bootstrap intervals overall and per bin; serialises as the `intervals` object of reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervals {
    pub method: &'static str,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    /// `None` only for an empty input.
    pub overall: Option<MetricIntervals>,
    /// `None` for a bin that was empty in every replicate.
    pub per_bin: Vec<Option<MetricIntervals>>,
}

/// The `lo`–`hi` percentile interval of `values` with central coverage `confidence`
/// (numpy-linear percentiles); `None` when there are no values.
pub fn percentile_interval(values: &mut [f64], confidence: f64) -> Option<Interval> {
    let tail = (1.0 - confidence) / 2.0;
    Some(Interval { lo: percentile(values, tail)?, hi: percentile(values, 1.0 - tail)? })
}

/// Evaluate several samples of the **same galaxies in the same grouped order** (e.g. a baseline's
/// and a candidate's predictions, binned on z_spec) on the same bootstrap resamples: replicate `r`
/// holds one [`Evaluation`] per sample, all drawn from identical galaxy indices (a paired
/// bootstrap).
pub fn paired_replicates(samples: &[&Grouped], config: &BootstrapConfig) -> Vec<Vec<Evaluation>> {
    let Some(first) = samples.first() else {
        return Vec::new();
    };
    let n = first.dz.len();
    let n_bins = first.n_bins();
    let bin_of = first.bin_of_rows();
    (0..config.resamples)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(n), Vec::new()),
            |(draws, scratch): &mut (Vec<usize>, Vec<f64>), r| {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(r as u64);
                draws.clear();
                draws.extend((0..n).map(|_| rng.random_range(0..n)));
                samples
                    .iter()
                    .map(|grouped| {
                        let sample = Grouped::from_rows(
                            n_bins,
                            n,
                            |k| draws[k],
                            |i| bin_of[i] as usize,
                            |i| (grouped.dz[i], grouped.delta[i]),
                        );
                        evaluate_serial(&sample, scratch)
                    })
                    .collect()
            },
        )
        .collect()
}

/// Percentile bootstrap intervals of every metric, overall and per bin.
pub fn bootstrap(grouped: &Grouped, config: &BootstrapConfig) -> Intervals {
    let replicates: Vec<Evaluation> =
        paired_replicates(&[grouped], config).into_iter().filter_map(|mut r| r.pop()).collect();
    let interval_of = |pick: &dyn Fn(&Evaluation) -> Option<Metrics>| {
        let samples: Vec<Metrics> = replicates.iter().filter_map(pick).collect();
        (!samples.is_empty()).then(|| {
            MetricIntervals(
                Metric::VALUES
                    .into_iter()
                    .filter_map(|metric| {
                        let mut values: Vec<f64> = samples.iter().map(|m| m.get(metric)).collect();
                        Some((metric, percentile_interval(&mut values, config.confidence)?))
                    })
                    .collect(),
            )
        })
    };
    Intervals {
        method: "percentile bootstrap over galaxies",
        confidence: config.confidence,
        resamples: config.resamples,
        seed: config.seed,
        overall: interval_of(&|e| e.overall),
        per_bin: (0..grouped.n_bins()).map(|b| interval_of(&|e| e.per_bin[b])).collect(),
    }
}
