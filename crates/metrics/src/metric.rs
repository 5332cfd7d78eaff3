//! The names of the 13 point metrics of `docs/METRICS.md`, as a type: reports, rankings, figures
//! and the gate name metrics with [`Metric`] and write them with [`Metric::key`].

use serde::{Serialize, Serializer};

/// One of the 13 point metrics of `docs/METRICS.md`. Serialises (and displays) as its key, the
/// name used in every JSON report: `count`, `bias`, `mean_bias`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `count`: number of galaxies.
    Count,
    /// `bias`: `median(dz)`.
    Bias,
    /// `mean_bias`: `mean(dz)`.
    MeanBias,
    /// `scatter`: `median(|dz - median(dz)|) / Φ⁻¹(0.75)`.
    Scatter,
    /// `sigma_iqr`: `(P75(dz) - P25(dz)) / 1.349`.
    SigmaIqr,
    /// `rms`: `sqrt(mean(dz²))`.
    Rms,
    /// `outlier_frac`: fraction with `|dz| > 0.15`.
    OutlierFrac,
    /// `outlier_frac_rail`: fraction with `|dz| > max(0.06, 3 sigma_iqr)`.
    OutlierFracRail,
    /// `mse`: `mean(Δz²)`.
    Mse,
    /// `loss`: the Tanaka et al. (2018) loss, γ = 0.15.
    Loss,
    /// `bias_bw`: biweight location of dz.
    BiasBw,
    /// `scatter_bw`: square root of the biweight midvariance of dz.
    ScatterBw,
    /// `outlier_frac_bw`: fraction with `|dz - bias_bw| > 2 scatter_bw`.
    OutlierFracBw,
}

impl Metric {
    /// Every metric in report order, exactly as the keys appear in the reference JSON files
    /// (`docs/METRICS.md`).
    pub const ALL: [Metric; 13] = [
        Metric::Count,
        Metric::Bias,
        Metric::MeanBias,
        Metric::Scatter,
        Metric::SigmaIqr,
        Metric::Rms,
        Metric::OutlierFrac,
        Metric::OutlierFracRail,
        Metric::Mse,
        Metric::Loss,
        Metric::BiasBw,
        Metric::ScatterBw,
        Metric::OutlierFracBw,
    ];

    /// Every metric but `count`, in report order: the values of a set of galaxies, each of which
    /// gets a bootstrap interval.
    pub const VALUES: [Metric; 12] = {
        let mut values = [Metric::Bias; 12];
        let mut i = 0;
        while i < values.len() {
            values[i] = Metric::ALL[i + 1];
            i += 1;
        }
        values
    };

    /// The metric's key in reports (`docs/METRICS.md`), e.g. `outlier_frac`.
    pub const fn key(self) -> &'static str {
        match self {
            Metric::Count => "count",
            Metric::Bias => "bias",
            Metric::MeanBias => "mean_bias",
            Metric::Scatter => "scatter",
            Metric::SigmaIqr => "sigma_iqr",
            Metric::Rms => "rms",
            Metric::OutlierFrac => "outlier_frac",
            Metric::OutlierFracRail => "outlier_frac_rail",
            Metric::Mse => "mse",
            Metric::Loss => "loss",
            Metric::BiasBw => "bias_bw",
            Metric::ScatterBw => "scatter_bw",
            Metric::OutlierFracBw => "outlier_frac_bw",
        }
    }

    /// The metric whose [`key`](Metric::key) is `key`, if any.
    pub fn from_key(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.key() == key)
    }

    /// The metric's position in [`Metric::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether the metric is judged by its distance from zero rather than its value: the biases
    /// (`bias`, `mean_bias`, `bias_bw`) are as bad below zero as above. Every other metric is
    /// non-negative, and smaller is better.
    pub const fn judged_by_magnitude(self) -> bool {
        matches!(self, Metric::Bias | Metric::MeanBias | Metric::BiasBw)
    }
}

impl std::fmt::Display for Metric {
    /// The key, padded as the format asks (`{:<13}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.key())
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_report_keys_in_order() {
        let keys: Vec<&str> = Metric::ALL.iter().map(|m| m.key()).collect();
        assert_eq!(
            keys,
            [
                "count",
                "bias",
                "mean_bias",
                "scatter",
                "sigma_iqr",
                "rms",
                "outlier_frac",
                "outlier_frac_rail",
                "mse",
                "loss",
                "bias_bw",
                "scatter_bw",
                "outlier_frac_bw"
            ]
        );
        assert_eq!(Metric::VALUES.as_slice(), &Metric::ALL[1..]);
        for (i, metric) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(metric.index(), i);
            assert_eq!(Metric::from_key(metric.key()), Some(metric));
        }
        assert_eq!(Metric::from_key("wobble"), None);
    }

    #[test]
    fn displays_as_the_padded_key() {
        assert_eq!(format!("{:<13}|", Metric::Loss), "loss         |");
        assert_eq!(Metric::OutlierFracBw.to_string(), "outlier_frac_bw");
    }
}
