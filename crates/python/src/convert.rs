//! The result of [`crate::score::score`] as Python dicts, keyed as `pzbench score --format json` keys its
//! report (`docs/METRICS.md`): an empty set of galaxies has `count = 0` and `None` values.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pzbench_metrics::{Bins, Intervals, Metric, MetricIntervals, Metrics};

use crate::score::Scored;

/// The 13 metrics of a set of galaxies (`None`: an empty set).
fn metrics_dict<'py>(py: Python<'py>, metrics: Option<&Metrics>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item(Metric::Count.key(), metrics.map_or(0, |m| m.count))?;
    for metric in Metric::VALUES {
        dict.set_item(metric.key(), metrics.map(|m| m.get(metric)))?;
    }
    Ok(dict)
}

/// Every metric's `(lo, hi)` interval (`None`: a set that was empty in every replicate).
fn intervals_dict<'py>(py: Python<'py>, intervals: Option<&MetricIntervals>) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(MetricIntervals(intervals)) = intervals else {
        return Ok(None);
    };
    let dict = PyDict::new(py);
    for (metric, interval) in intervals {
        dict.set_item(metric.key(), (interval.lo, interval.hi))?;
    }
    Ok(Some(dict))
}

/// The bootstrap's settings and intervals, overall and per bin.
fn bootstrap_dict<'py>(py: Python<'py>, intervals: &Intervals) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("method", intervals.method)?;
    dict.set_item("confidence", intervals.confidence)?;
    dict.set_item("resamples", intervals.resamples)?;
    dict.set_item("seed", intervals.seed)?;
    dict.set_item("overall", intervals_dict(py, intervals.overall.as_ref())?)?;
    let per_bin = intervals.per_bin.iter().map(|bin| intervals_dict(py, bin.as_ref())).collect::<PyResult<Vec<_>>>()?;
    dict.set_item("per_bin", per_bin)?;
    Ok(dict)
}

/// `overall`, `per_bin` (each bin's metrics with its `lo` and `hi`), `edges`, `n_outside_bins`
/// and `intervals` (`None` without a bootstrap).
pub fn result_dict<'py>(py: Python<'py>, scored: &Scored, bins: &Bins) -> PyResult<Bound<'py, PyDict>> {
    let per_bin = PyList::empty(py);
    for (b, metrics) in scored.evaluation.per_bin.iter().enumerate() {
        let entry = metrics_dict(py, metrics.as_ref())?;
        let (lo, hi) = bins.interval(b);
        entry.set_item("lo", lo)?;
        entry.set_item("hi", hi)?;
        per_bin.append(entry)?;
    }
    let dict = PyDict::new(py);
    dict.set_item("overall", metrics_dict(py, scored.evaluation.overall.as_ref())?)?;
    dict.set_item("per_bin", per_bin)?;
    dict.set_item("edges", &bins.edges)?;
    dict.set_item("n_outside_bins", scored.n_outside_bins)?;
    dict.set_item("intervals", scored.intervals.as_ref().map(|i| bootstrap_dict(py, i)).transpose()?)?;
    Ok(dict)
}
