//! The gate's policy: which metrics and bins are gated, how much change is tolerated, and how
//! sure the bootstrap must be. Read from TOML; every field has a documented default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use pzbench_io::{Error, Result};
use pzbench_metrics::METRIC_KEYS;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// Gated metrics and their tolerances (`[metrics]` table: `loss = { relative = 0.05 }`).
    /// Bias-like metrics (`bias`, `mean_bias`, `bias_bw`) are gated on their absolute value.
    pub metrics: std::collections::BTreeMap<String, Tolerance>,
}

impl Default for Policy {
    /// Defaults: 95 % confidence with a Bonferroni correction, 1000 resamples, seed 42, bins
    /// gated from 100 galaxies; `loss`, `scatter` and `mse` may worsen by 5 %, 5 % and 10 %,
    /// `|bias|` by 0.002 and `outlier_frac` by 0.005 (absolute) before they can count.
    fn default() -> Self {
        let metrics = [
            ("loss", Tolerance { absolute: 0.0, relative: 0.05 }),
            ("bias", Tolerance { absolute: 0.002, relative: 0.0 }),
            ("scatter", Tolerance { absolute: 0.0, relative: 0.05 }),
            ("outlier_frac", Tolerance { absolute: 0.005, relative: 0.0 }),
            ("mse", Tolerance { absolute: 0.0, relative: 0.10 }),
        ];
        Policy {
            confidence: 0.95,
            correction: Correction::Bonferroni,
            resamples: 1000,
            seed: 42,
            bins: true,
            min_galaxies_per_bin: 100,
            metrics: metrics.into_iter().map(|(k, t)| (k.to_string(), t)).collect(),
        }
    }
}

impl Policy {
    /// Read and check a policy file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read policy: {e}")))?;
        let policy: Policy = toml::from_str(&text)
            .map_err(|e| Error::file(path, format!("invalid policy: {}", e.to_string().replace('\n', " "))))?;
        policy.check().map_err(|message| Error::file(path, message))?;
        Ok(policy)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(format!("confidence = {} must lie strictly between 0 and 1", self.confidence));
        }
        if self.resamples < 100 {
            return Err(format!("resamples = {} is too few for an interval; use at least 100", self.resamples));
        }
        if self.metrics.is_empty() {
            return Err("no metrics to gate: add e.g. `[metrics]` `loss = { relative = 0.05 }`".into());
        }
        for (key, tolerance) in &self.metrics {
            if key == "count" || !METRIC_KEYS.contains(&key.as_str()) {
                return Err(format!("unknown metric '{key}' in [metrics]; known: {}", METRIC_KEYS[1..].join(", ")));
            }
            if !(tolerance.absolute >= 0.0 && tolerance.relative >= 0.0) {
                return Err(format!("metric '{key}': tolerances must be non-negative numbers"));
            }
        }
        Ok(())
    }
}

/// Whether a metric is judged by its distance from zero (a bias) rather than its value.
pub fn judged_by_magnitude(key: &str) -> bool {
    matches!(key, "bias" | "mean_bias" | "bias_bw")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_toml_overrides_them() {
        assert!(Policy::default().check().is_ok());
        let policy: Policy = toml::from_str("resamples = 500\n[metrics]\nloss = { relative = 0.1 }\n").unwrap();
        assert_eq!(policy.resamples, 500);
        assert_eq!(policy.metrics.len(), 1);
        assert_eq!(policy.confidence, 0.95);
        assert!(toml::from_str::<Policy>("unknown_key = 1").is_err());
    }

    #[test]
    fn rejects_bad_values() {
        let bad: Policy = toml::from_str("[metrics]\nnot_a_metric = { absolute = 1.0 }\n").unwrap();
        assert!(bad.check().unwrap_err().contains("unknown metric"));
        let bad: Policy = toml::from_str("confidence = 1.5").unwrap();
        assert!(bad.check().is_err());
    }

    #[test]
    fn threshold_takes_the_larger_tolerance() {
        let t = Tolerance { absolute: 0.01, relative: 0.1 };
        assert_eq!(t.threshold(0.05), 0.01);
        assert_eq!(t.threshold(0.5), 0.05);
    }
}
