//! Percentile bootstrap over galaxies (`docs/METRICS.md` "Uncertainties"; criterion.rs style).
//!
//! Replicate `r` draws `n` galaxies with replacement from the whole set, using a ChaCha8 stream
//! seeded by `(seed, r)`: results are bit-for-bit reproducible for a seed whatever the number of
//! threads. Each replicate is binned again, so per-bin counts vary as they would in a new sample.

use std::sync::atomic::{AtomicBool, Ordering};

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
    paired_replicates_until(samples, config, &AtomicBool::new(false)).unwrap_or_default()
}

/// [`paired_replicates`] that gives up when `stop` is set (e.g. by a Ctrl-C handler on another
/// thread): `stop` is read before each resample, so the call returns `None` once the resamples
/// already running have finished. Replicates are those of [`paired_replicates`] otherwise.
pub fn paired_replicates_until(
    samples: &[&Grouped],
    config: &BootstrapConfig,
    stop: &AtomicBool,
) -> Option<Vec<Vec<Evaluation>>> {
    let Some(first) = samples.first() else {
        return Some(Vec::new());
    };
    let n = first.dz.len();
    let n_bins = first.n_bins();
    let bin_of = first.bin_of_rows();
    (0..config.resamples)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(n), Vec::new()),
            |(draws, scratch): &mut (Vec<usize>, Vec<f64>), r| {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(r as u64);
                draws.clear();
                draws.extend((0..n).map(|_| rng.random_range(0..n)));
                let evaluations = samples
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
                    .collect();
                Some(evaluations)
            },
        )
        .collect()
}

/// Percentile bootstrap intervals of every metric, overall and per bin.
pub fn bootstrap(grouped: &Grouped, config: &BootstrapConfig) -> Intervals {
    intervals_of(grouped, config, paired_replicates(&[grouped], config))
}

/// [`bootstrap`] that gives up when `stop` is set ([`paired_replicates_until`]): `None` when it
/// did, the intervals of [`bootstrap`] otherwise.
pub fn bootstrap_until(grouped: &Grouped, config: &BootstrapConfig, stop: &AtomicBool) -> Option<Intervals> {
    paired_replicates_until(&[grouped], config, stop).map(|replicates| intervals_of(grouped, config, replicates))
}

/// The percentile intervals of `replicates` (one single-sample replicate of `grouped` each).
fn intervals_of(grouped: &Grouped, config: &BootstrapConfig, replicates: Vec<Vec<Evaluation>>) -> Intervals {
    let replicates: Vec<Evaluation> = replicates.into_iter().filter_map(|mut r| r.pop()).collect();
    percentile_intervals("percentile bootstrap over galaxies", &replicates, grouped.n_bins(), config)
}

/// The percentile intervals of every metric over `replicates` (each an [`Evaluation`] with
/// `n_bins` bins), overall and per bin: the `intervals` object of the reports, for the in-memory
/// bootstrap and the Poisson bootstrap alike (`method` says which).
pub(crate) fn percentile_intervals(
    method: &'static str,
    replicates: &[Evaluation],
    n_bins: usize,
    config: &BootstrapConfig,
) -> Intervals {
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
        method,
        confidence: config.confidence,
        resamples: config.resamples,
        seed: config.seed,
        overall: interval_of(&|e| e.overall),
        per_bin: (0..n_bins).map(|b| interval_of(&|e| e.per_bin[b])).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Bins;

    /// 2,000 galaxies spread over the default bins, with errors that vary from galaxy to galaxy.
    fn grouped() -> Grouped {
        let z_spec: Vec<f64> = (0..2000).map(|i| 0.002 * i as f64).collect();
        let z_phot: Vec<f64> = z_spec.iter().enumerate().map(|(i, z)| z + 0.01 * ((i * 7919) % 13) as f64).collect();
        Grouped::new(z_spec, z_phot, &Bins::galaxiesml_default())
    }

    #[test]
    fn bootstrap_until_equals_bootstrap_while_not_stopped() {
        let (grouped, config) = (grouped(), BootstrapConfig { resamples: 20, confidence: 0.9, seed: 3 });
        assert_eq!(bootstrap_until(&grouped, &config, &AtomicBool::new(false)), Some(bootstrap(&grouped, &config)));
    }

    #[test]
    fn a_set_flag_stops_the_bootstrap() {
        let grouped = grouped();
        // Hours of resamples: only a stop ends this test in time.
        let config = BootstrapConfig { resamples: usize::MAX / 2, confidence: 0.95, seed: 42 };
        assert_eq!(bootstrap_until(&grouped, &config, &AtomicBool::new(true)), None);
        let stop = AtomicBool::new(false);
        let stopped = std::thread::scope(|scope| {
            let running = scope.spawn(|| bootstrap_until(&grouped, &config, &stop));
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert!(!running.is_finished(), "the bootstrap ended before it was stopped");
            stop.store(true, Ordering::Relaxed);
            running.join()
        });
        assert_eq!(stopped.ok(), Some(None));
    }
}
