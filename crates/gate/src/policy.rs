//! The gate's policy (`docs/gate.md`): which metrics and bins are gated, how much change is
//! tolerated, and how sure the bootstrap must be. Read from TOML; every field has a documented
//! default.

use std::collections::BTreeMap;
use std::path::Path;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::PdfMetric;
use pzbench_metrics::Metric;

/// The most bootstrap resamples a policy may ask for.
pub const MAX_RESAMPLES: usize = 100_000;

/// How large a change must be before it can count (`max(absolute, relative × |baseline|)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Absolute change in the metric's units.
    #[serde(default)]
    pub absolute: f64,
    /// Fraction of the baseline's value (e.g. 0.05 = 5 %).
    #[serde(default)]
    pub relative: f64,
}

impl Tolerance {
    /// The change a metric must exceed, given the baseline's (badness) value.
    pub fn threshold(&self, baseline: f64) -> f64 {
        f64::max(self.absolute, self.relative * baseline.abs())
    }
}

/// A metric the gate can guard: a point metric (of the point predictions, or of the PDFs' point
/// estimate) or a PDF metric. Serialises (and displays) as its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateMetric {
    Point(Metric),
    Pdf(PdfMetric),
}

impl GateMetric {
    /// The key in a policy's `[metrics]` table.
    pub const fn key(self) -> &'static str {
        match self {
            GateMetric::Point(metric) => metric.key(),
            GateMetric::Pdf(metric) => metric.key(),
        }
    }

    /// The metric whose key is `key` (`count` included; [`Policy::validate`] refuses it).
    pub fn from_key(key: &str) -> Option<GateMetric> {
        Metric::from_key(key).map(GateMetric::Point).or_else(|| PdfMetric::from_key(key).map(GateMetric::Pdf))
    }

    /// Badness of a value (smaller is better): the magnitude of a bias, the distance of a PIT
    /// coverage from its nominal value, the (signed) value otherwise.
    pub fn badness(self, value: f64) -> f64 {
        match self {
            GateMetric::Point(metric) if metric.judged_by_magnitude() => value.abs(),
            GateMetric::Point(_) => value,
            GateMetric::Pdf(metric) => metric.badness(value),
        }
    }
}

impl std::fmt::Display for GateMetric {
    /// The key, padded as the format asks.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.key())
    }
}

impl Serialize for GateMetric {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

/// Every key a policy's `[metrics]` table accepts, comma-separated.
fn known_keys() -> String {
    Metric::VALUES.map(Metric::key).into_iter().chain(PdfMetric::ALL.map(PdfMetric::key)).collect::<Vec<_>>().join(", ")
}

/// Correction of the confidence level for gating many comparisons at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// Each comparison at the policy's confidence.
    None,
    /// Bonferroni: each of `m` comparisons at `1 - (1 - confidence) / m`, so that the chance of
    /// any false alarm across all of them stays below `1 - confidence`.
    Bonferroni,
}

/// What the gate checks (TOML keys in parentheses; see `Policy::default` for the values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// Coverage of the intervals (`confidence`).
    pub confidence: f64,
    /// Multiple-comparison correction (`correction = "bonferroni" | "none"`).
    pub correction: Correction,
    /// Bootstrap resamples (`resamples`).
    pub resamples: usize,
    /// Bootstrap seed (`seed`).
    pub seed: u64,
    /// Gate per-bin values as well as overall ones (`bins`).
    pub bins: bool,
    /// Bins with fewer baseline galaxies are reported but not gated (`min_galaxies_per_bin`).
    pub min_galaxies_per_bin: usize,
    /// Gated metrics and their tolerances (`[metrics]` table: `loss = { relative = 0.05 }`), in
    /// the order of their keys; serialised as that table. Bias-like metrics (`bias`, `mean_bias`,
    /// `bias_bw`) are gated on their absolute value ([`Metric::judged_by_magnitude`]), PIT
    /// coverages on their distance from the nominal value ([`GateMetric::badness`]).
    #[serde(serialize_with = "serialize_tolerances")]
    pub metrics: Vec<(GateMetric, Tolerance)>,
    /// Whether `metrics` are the defaults (no `[metrics]` table): PDF files then also gate
    /// `crps` and `pit_ks` ([`Policy::for_pdfs`]).
    #[serde(skip)]
    pub default_metrics: bool,
}

/// The `[metrics]` table: each metric's key and its tolerance.
fn serialize_tolerances<S: Serializer>(
    metrics: &[(GateMetric, Tolerance)],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(metrics.len()))?;
    for (metric, tolerance) in metrics {
        map.serialize_entry(metric.key(), tolerance)?;
    }
    map.end()
}

/// A policy that cannot be used. `Display` gives the one-line message (without the file name).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The text is not TOML of the policy's layout: where, and what the TOML parser says (one
    /// line, without its drawing of the line at fault).
    #[error("invalid policy: line {line}, column {column}: {message}")]
    Toml {
        line: usize,
        column: usize,
        message: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// `confidence` outside (0, 1).
    #[error("confidence = {0} must lie strictly between 0 and 1")]
    Confidence(f64),
    /// Fewer than 100 resamples.
    #[error("resamples = {0} is too few for an interval; use at least 100")]
    TooFewResamples(usize),
    /// More than [`MAX_RESAMPLES`]: the replicates are kept in memory (about 2 kB each), so a
    /// policy file must not be able to ask for gigabytes and hours.
    #[error("resamples = {0} is more than the {MAX_RESAMPLES} pzbench runs; percentile intervals are stable from a few thousand")]
    TooManyResamples(usize),
    /// An empty `[metrics]` table.
    #[error("no metrics to gate: add e.g. `[metrics]` `loss = {{ relative = 0.05 }}`")]
    NoMetrics,
    /// A `[metrics]` key that is not a gateable metric (`count` is not one).
    #[error("unknown metric '{0}' in [metrics]; known: {known}", known = known_keys())]
    UnknownMetric(String),
    /// A negative (or NaN) tolerance.
    #[error("metric '{0}': tolerances must be non-negative numbers")]
    NegativeTolerance(GateMetric),
}

/// A policy file as written: every key optional (absent keys take [`Policy::default`]'s values),
/// metrics by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    confidence: Option<f64>,
    correction: Option<Correction>,
    resamples: Option<usize>,
    seed: Option<u64>,
    bins: Option<bool>,
    min_galaxies_per_bin: Option<usize>,
    metrics: Option<BTreeMap<String, Tolerance>>,
}

impl Default for Policy {
    /// Defaults: 95 % confidence with a Bonferroni correction, 1000 resamples, seed 42, bins
    /// gated from 100 galaxies; `loss`, `scatter` and `mse` may worsen by 5 %, 5 % and 10 %,
    /// `|bias|` by 0.002 and `outlier_frac` by 0.005 (absolute) before they can count.
    fn default() -> Self {
        let mut metrics = vec![
            (GateMetric::Point(Metric::Loss), Tolerance { absolute: 0.0, relative: 0.05 }),
            (GateMetric::Point(Metric::Bias), Tolerance { absolute: 0.002, relative: 0.0 }),
            (GateMetric::Point(Metric::Scatter), Tolerance { absolute: 0.0, relative: 0.05 }),
            (GateMetric::Point(Metric::OutlierFrac), Tolerance { absolute: 0.005, relative: 0.0 }),
            (GateMetric::Point(Metric::Mse), Tolerance { absolute: 0.0, relative: 0.10 }),
        ];
        metrics.sort_by_key(|(metric, _)| metric.key());
        Policy {
            confidence: 0.95,
            correction: Correction::Bonferroni,
            resamples: 1000,
            seed: 42,
            bins: true,
            min_galaxies_per_bin: 100,
            metrics,
            default_metrics: true,
        }
    }
}

impl Policy {
    /// Read and check a policy file (TOML).
    pub fn load(path: &Path) -> Result<Self> {
        // A byte-order mark is dropped and UTF-16 named with the fix (policies are hand-edited).
        let text = pzbench_io::encoding::read_utf8(path, "the policy")?;
        Self::from_toml(&text).map_err(|e| {
            let error = Error::file(path, e.to_string());
            match e {
                PolicyError::Toml { source, .. } => error.caused_by(*source),
                _ => error,
            }
        })
    }

    /// Parse and check a policy's TOML text. The checks run in the order [`Policy::validate`]
    /// runs them, each metric's name before its tolerance.
    pub fn from_toml(text: &str) -> std::result::Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|source| {
            // 1-based line and column (in characters) of where the parser stopped.
            let at = source.span().map_or(0, |span| span.start).min(text.len());
            let before = text.get(..at).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let message = source.message().split_whitespace().collect::<Vec<_>>().join(" ");
            PolicyError::Toml { line, column, message, source: Box::new(source) }
        })?;
        let default = Policy::default();
        let mut policy = Policy {
            confidence: file.confidence.unwrap_or(default.confidence),
            correction: file.correction.unwrap_or(default.correction),
            resamples: file.resamples.unwrap_or(default.resamples),
            seed: file.seed.unwrap_or(default.seed),
            bins: file.bins.unwrap_or(default.bins),
            min_galaxies_per_bin: file.min_galaxies_per_bin.unwrap_or(default.min_galaxies_per_bin),
            metrics: Vec::new(),
            default_metrics: file.metrics.is_none(),
        };
        policy.check_settings()?;
        policy.metrics = match file.metrics {
            None => default.metrics,
            Some(named) if named.is_empty() => return Err(PolicyError::NoMetrics),
            Some(named) => named
                .into_iter()
                .map(|(name, tolerance)| {
                    let metric = GateMetric::from_key(&name).ok_or(PolicyError::UnknownMetric(name))?;
                    check_metric(metric, &tolerance)?;
                    Ok((metric, tolerance))
                })
                .collect::<std::result::Result<_, PolicyError>>()?,
        };
        Ok(policy)
    }

    /// Check a policy: confidence in (0, 1), at least 100 resamples, at least one metric, no
    /// `count`, non-negative tolerances.
    pub fn validate(&self) -> std::result::Result<(), PolicyError> {
        self.check_settings()?;
        if self.metrics.is_empty() {
            return Err(PolicyError::NoMetrics);
        }
        self.metrics.iter().try_for_each(|(metric, tolerance)| check_metric(*metric, tolerance))
    }

    /// The policy for PDF files: with the default metrics, `crps` (5 %) and `pit_ks` (0.01
    /// absolute) are gated as well as the point metrics of the PDFs' point estimate; an explicit
    /// `[metrics]` table is kept as written.
    pub fn for_pdfs(&self) -> Policy {
        let mut policy = self.clone();
        if policy.default_metrics {
            policy.metrics.push((GateMetric::Pdf(PdfMetric::Crps), Tolerance { absolute: 0.0, relative: 0.05 }));
            policy.metrics.push((GateMetric::Pdf(PdfMetric::PitKs), Tolerance { absolute: 0.01, relative: 0.0 }));
            policy.metrics.sort_by_key(|(metric, _)| metric.key());
        }
        policy
    }

    /// The first PDF metric of the policy, if any (an error for files of point predictions).
    pub fn first_pdf_metric(&self) -> Option<PdfMetric> {
        self.metrics.iter().find_map(|(metric, _)| match metric {
            GateMetric::Pdf(metric) => Some(*metric),
            GateMetric::Point(_) => None,
        })
    }

    /// The checks of the bootstrap settings.
    fn check_settings(&self) -> std::result::Result<(), PolicyError> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(PolicyError::Confidence(self.confidence));
        }
        if self.resamples < 100 {
            return Err(PolicyError::TooFewResamples(self.resamples));
        }
        if self.resamples > MAX_RESAMPLES {
            return Err(PolicyError::TooManyResamples(self.resamples));
        }
        Ok(())
    }
}

/// A gated metric must be a value (not `count`) with non-negative tolerances.
fn check_metric(metric: GateMetric, tolerance: &Tolerance) -> std::result::Result<(), PolicyError> {
    if metric == GateMetric::Point(Metric::Count) {
        return Err(PolicyError::UnknownMetric(metric.key().to_string()));
    }
    if !(tolerance.absolute >= 0.0 && tolerance.relative >= 0.0) {
        return Err(PolicyError::NegativeTolerance(metric));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_toml_overrides_them() {
        assert!(Policy::default().validate().is_ok());
        let policy = Policy::from_toml("resamples = 500\n[metrics]\nloss = { relative = 0.1 }\n").unwrap();
        assert_eq!(policy.resamples, 500);
        assert_eq!(policy.metrics.len(), 1);
        assert_eq!(policy.confidence, 0.95);
        assert!(Policy::from_toml("unknown_key = 1").is_err());
    }

    #[test]
    fn rejects_bad_values() {
        let bad = Policy::from_toml("[metrics]\nnot_a_metric = { absolute = 1.0 }\n").unwrap_err();
        assert!(bad.to_string().contains("unknown metric"));
        assert!(Policy::from_toml("confidence = 1.5").is_err());
        // A 17-byte policy may not ask for hours of bootstrap and gigabytes of replicates.
        let many = Policy::from_toml("resamples = 1e10").unwrap_err().to_string();
        assert!(many.starts_with("invalid policy: line 1, column 13: invalid type: floating point"), "{many}");
        let many = Policy::from_toml("resamples = 9999999999").unwrap_err().to_string();
        assert_eq!(many, "resamples = 9999999999 is more than the 100000 pzbench runs; percentile intervals are stable from a few thousand");
        assert!(Policy::from_toml("resamples = 100000").is_ok());
        // TOML errors are one line, with the line and column, whatever the line ends.
        let crlf = Policy::from_toml("seed = 1\r\n[metrics]\r\nloss = { relative = 0.(\r\n").unwrap_err().to_string();
        assert!(crlf.starts_with("invalid policy: line 3, column "), "{crlf}");
        assert!(!crlf.contains(['\n', '\r', '|']), "{crlf}");
        let count = Policy::from_toml("[metrics]\ncount = { absolute = 1.0 }\n").unwrap_err();
        assert!(count.to_string().starts_with("unknown metric 'count' in [metrics]; known: bias, mean_bias,"));
        let negative = Policy {
            metrics: vec![(GateMetric::Point(Metric::Loss), Tolerance { absolute: -1.0, relative: 0.0 })],
            ..Policy::default()
        };
        assert_eq!(
            negative.validate().unwrap_err().to_string(),
            "metric 'loss': tolerances must be non-negative numbers"
        );
    }

    #[test]
    fn metrics_are_listed_by_key() {
        let keys: Vec<&str> = Policy::default().metrics.iter().map(|(m, _)| m.key()).collect();
        assert_eq!(keys, ["bias", "loss", "mse", "outlier_frac", "scatter"]);
    }

    #[test]
    fn pdf_metrics_are_policy_keys_with_their_badness() {
        let policy = Policy::from_toml("[metrics]\ncde_loss = { absolute = 0.01 }\ncoverage_68 = {}\n").unwrap();
        assert_eq!(policy.first_pdf_metric(), Some(PdfMetric::CdeLoss));
        // An explicit table is kept for PDFs; the defaults gain crps and pit_ks.
        assert_eq!(policy.for_pdfs().metrics, policy.metrics);
        let keys: Vec<&str> = Policy::default().for_pdfs().metrics.iter().map(|(m, _)| m.key()).collect();
        assert_eq!(keys, ["bias", "crps", "loss", "mse", "outlier_frac", "pit_ks", "scatter"]);
        assert_eq!(Policy::default().first_pdf_metric(), None);
        assert_eq!(GateMetric::Pdf(PdfMetric::CdeLoss).badness(-1.5), -1.5);
        assert_eq!(GateMetric::Pdf(PdfMetric::Coverage68).badness(0.7), PdfMetric::Coverage68.badness(0.7));
        let unknown = Policy::from_toml("[metrics]\npit_wobble = {}\n").unwrap_err().to_string();
        assert!(
            unknown.ends_with(
                "outlier_frac_bw, pit_ks, pit_cvm, pit_ad, pit_outlier_rate, coverage_68, coverage_95, crps, cde_loss"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn threshold_takes_the_larger_tolerance() {
        let t = Tolerance { absolute: 0.01, relative: 0.1 };
        assert_eq!(t.threshold(0.05), 0.01);
        assert_eq!(t.threshold(0.5), 0.05);
    }
}
