//! The headline PDF metrics, by the keys that leaderboards store and rank by, Table 2 adds,
//! gate policies guard and the score tables show first (`docs/PDF_METRICS.md` §2.1–2.3).

use super::dialect::{Dialect, RailGrid};
use super::pit::{COVERAGE_68, COVERAGE_95};
use super::report::SetReport;

/// A headline PDF metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PdfMetric {
    /// `pit_ks`: the PIT's KS distance from U(0, 1).
    PitKs,
    /// `pit_cvm`: its Cramér–von Mises statistic.
    PitCvm,
    /// `pit_ad`: its Anderson–Darling statistic.
    PitAd,
    /// `pit_outlier_rate`: PITs in the extreme tails.
    PitOutlierRate,
    /// `coverage_68`: truths inside the central 68.27 % intervals.
    Coverage68,
    /// `coverage_95`: truths inside the central 95.45 % intervals.
    Coverage95,
    /// `crps`: the mean CRPS.
    Crps,
    /// `cde_loss`: the CDE loss, signed; not defined for samples.
    CdeLoss,
}

impl PdfMetric {
    /// Every headline metric, in the order of boards' `pdf.overall` objects.
    pub const ALL: [PdfMetric; 8] = [
        PdfMetric::PitKs,
        PdfMetric::PitCvm,
        PdfMetric::PitAd,
        PdfMetric::PitOutlierRate,
        PdfMetric::Coverage68,
        PdfMetric::Coverage95,
        PdfMetric::Crps,
        PdfMetric::CdeLoss,
    ];

    /// The key (boards, `--by`, policies, table columns).
    pub const fn key(self) -> &'static str {
        match self {
            PdfMetric::PitKs => "pit_ks",
            PdfMetric::PitCvm => "pit_cvm",
            PdfMetric::PitAd => "pit_ad",
            PdfMetric::PitOutlierRate => "pit_outlier_rate",
            PdfMetric::Coverage68 => "coverage_68",
            PdfMetric::Coverage95 => "coverage_95",
            PdfMetric::Crps => "crps",
            PdfMetric::CdeLoss => "cde_loss",
        }
    }

    /// The metric of a key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }

    /// The column header in rendered tables.
    pub const fn header(self) -> &'static str {
        match self {
            PdfMetric::PitKs => "PIT KS",
            PdfMetric::PitCvm => "PIT CvM",
            PdfMetric::PitAd => "PIT AD",
            PdfMetric::PitOutlierRate => "PIT outlier rate",
            PdfMetric::Coverage68 => "Coverage 68 %",
            PdfMetric::Coverage95 => "Coverage 95 %",
            PdfMetric::Crps => "CRPS",
            PdfMetric::CdeLoss => "CDE loss",
        }
    }

    /// The nominal value of a coverage; `None` for the others, which are better the smaller.
    pub const fn nominal(self) -> Option<f64> {
        match self {
            PdfMetric::Coverage68 => Some(COVERAGE_68),
            PdfMetric::Coverage95 => Some(COVERAGE_95),
            _ => None,
        }
    }

    /// How bad a value is (smaller is better): a coverage's distance from its nominal value, the
    /// value itself otherwise (the CDE loss signed).
    pub fn badness(self, value: f64) -> f64 {
        match self.nominal() {
            Some(nominal) => (value - nominal).abs(),
            None => value,
        }
    }

    /// The path of the metric's value among [`SetReport::scalars`] (and bootstrap intervals) in
    /// `dialect`; `None` where the dialect has none (coverage and CRPS in the rail dialect, whose
    /// CDE loss is the one on RAIL's estimator grid `linspace(0, 3, 301)`).
    pub fn scalar_key(self, dialect: Dialect) -> Option<String> {
        let key = match (self, dialect) {
            (PdfMetric::PitKs, _) => "pit.ks",
            (PdfMetric::PitCvm, _) => "pit.cvm",
            (PdfMetric::PitAd, _) => "pit.ad",
            (PdfMetric::PitOutlierRate, _) => "pit.outlier_rate",
            (PdfMetric::Coverage68, Dialect::Pzbench) => "pit.coverage_68",
            (PdfMetric::Coverage95, Dialect::Pzbench) => "pit.coverage_95",
            (PdfMetric::Crps, Dialect::Pzbench) => "crps",
            (PdfMetric::CdeLoss, Dialect::Pzbench) => "cde_loss",
            (PdfMetric::CdeLoss, Dialect::Rail) => {
                return Some(format!("grids[{}].cde_loss", RailGrid::Estimators.label()));
            }
            (PdfMetric::Coverage68 | PdfMetric::Coverage95 | PdfMetric::Crps, Dialect::Rail) => return None,
        };
        Some(key.to_string())
    }

    /// The metric's value in `report` (the value [`PdfMetric::scalar_key`] names); `None` where
    /// its dialect has none.
    pub fn of(self, report: &SetReport) -> Option<f64> {
        match report {
            SetReport::Pzbench(r) => match self {
                PdfMetric::PitKs => Some(r.pit.ks),
                PdfMetric::PitCvm => Some(r.pit.cvm),
                PdfMetric::PitAd => Some(r.pit.ad),
                PdfMetric::PitOutlierRate => Some(r.pit.outlier_rate),
                PdfMetric::Coverage68 => Some(r.pit.coverage_68),
                PdfMetric::Coverage95 => Some(r.pit.coverage_95),
                PdfMetric::Crps => Some(r.crps),
                PdfMetric::CdeLoss => r.cde_loss,
            },
            SetReport::Rail(r) => match self {
                PdfMetric::PitKs => Some(r.pit.ks),
                PdfMetric::PitCvm => r.pit.cvm,
                PdfMetric::PitAd => r.pit.ad,
                PdfMetric::PitOutlierRate => r.pit.outlier_rate,
                PdfMetric::CdeLoss => {
                    r.grids.iter().find(|g| g.zgrid == RailGrid::Estimators.label()).map(|g| g.cde_loss)
                }
                PdfMetric::Coverage68 | PdfMetric::Coverage95 | PdfMetric::Crps => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_coverage_is_judged_by_its_distance_from_nominal() {
        for metric in PdfMetric::ALL {
            assert_eq!(PdfMetric::from_key(metric.key()), Some(metric));
        }
        assert_eq!(PdfMetric::from_key("crsp"), None);
        assert_eq!(PdfMetric::CdeLoss.badness(-1.5), -1.5);
        assert!((PdfMetric::Coverage95.badness(COVERAGE_95 - 0.1) - 0.1).abs() < 1e-12);
        assert!((PdfMetric::Coverage68.badness(COVERAGE_68 + 0.05) - 0.05).abs() < 1e-12);
        assert_eq!(PdfMetric::Crps.scalar_key(Dialect::Rail), None);
    }
}
