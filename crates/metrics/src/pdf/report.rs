//! The metrics of one set of galaxies (the whole set, a redshift bin, a bootstrap replicate):
//! [`PdfReport`] serialises exactly as the reference files' `pzbench` block
//! (`docs/PDF_METRICS.md` §2, §5), [`RailReport`] as the rail dialect's values (§3).

use serde::Serialize;

use super::cde::CdeTerms;
use super::nz::Nz;
use super::pit::PitStats;
use super::rail::RailReport;
use super::representation::Representation;
use super::values::{GalaxyValues, PdfValues};
use crate::stats::mean_by;
use crate::{normalised_error, point_metrics, Bins, Metric, Metrics};

/// The 13 point metrics of `docs/METRICS.md` on each point estimate (§2.4); samples have no
/// mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PointReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Metrics>,
    pub mean: Metrics,
    pub median: Metrics,
}

/// The pzbench dialect's metrics of a set of galaxies: the JSON `pzbench` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PdfReport {
    pub pit: PitStats,
    /// mean_i CRPS_i (§2.3).
    pub crps: f64,
    /// mean ∫ f² − 2 mean f(z_true) (§2.2); null for samples.
    pub cde_loss: Option<f64>,
    /// The CDE loss's two means; absent for samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cde_terms: Option<CdeTerms>,
    pub point: PointReport,
    pub nz: Nz,
}

/// The metrics of a set in either dialect; serialises as the dialect's report alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SetReport {
    Pzbench(Box<PdfReport>),
    Rail(RailReport),
}

impl PdfReport {
    /// The report of the galaxies `rows` (indices into `galaxies`, repeats allowed), with the
    /// n(z) in the tomographic bins `nz_edges` (without KS distances: they need the PDFs); `None`
    /// when `rows` is empty.
    pub(crate) fn of(
        galaxies: &[GalaxyValues],
        rows: &[usize],
        representation: Representation,
        nz_edges: &Bins,
    ) -> Option<Self> {
        let n = rows.len();
        let at = |j: usize| &galaxies[rows[j]];
        let mut pits: Vec<f64> = rows.iter().map(|&i| galaxies[i].pit).collect();
        let cde_terms = (representation != Representation::Samples).then(|| CdeTerms {
            mean_int_f2: mean_by(n, &|j| at(j).int_f2().unwrap_or(f64::NAN)),
            mean_pdf_at_truth: mean_by(n, &|j| at(j).pdf_at_truth().unwrap_or(f64::NAN)),
        });
        let mut scratch = Vec::with_capacity(n);
        let mut on = |estimate: &dyn Fn(&GalaxyValues) -> f64| {
            let (dz, delta): (Vec<f64>, Vec<f64>) = rows
                .iter()
                .map(|&i| {
                    let (z, e) = (galaxies[i].z_spec, estimate(&galaxies[i]));
                    (normalised_error(z, e), e - z)
                })
                .unzip();
            point_metrics(&dz, &delta, &mut scratch)
        };
        let point = PointReport {
            mode: if representation == Representation::Samples {
                None
            } else {
                Some(on(&|g| g.z_mode().unwrap_or(f64::NAN))?)
            },
            mean: on(&|g| g.z_mean)?,
            median: on(&|g| g.z_median)?,
        };
        Some(PdfReport {
            pit: PitStats::of(&mut pits)?,
            crps: mean_by(n, &|j| at(j).crps),
            cde_loss: cde_terms.map(|t| t.loss()),
            cde_terms,
            point,
            nz: Nz::of(galaxies, rows, representation, nz_edges),
        })
    }

    /// Every value that gets a bootstrap interval, keyed by its path in the JSON (`pit.ks`,
    /// `point.mode.bias`, `nz.bins.2.mean_stacked`, …), `None` where it is null. The keys depend
    /// only on the representation and the number of tomographic bins.
    pub fn scalars(&self) -> Vec<(String, Option<f64>)> {
        let p = &self.pit;
        let mut out: Vec<(String, Option<f64>)> = [
            ("pit.ks", p.ks),
            ("pit.cvm", p.cvm),
            ("pit.ad", p.ad),
            ("pit.outlier_rate", p.outlier_rate),
            ("pit.coverage_68", p.coverage_68),
            ("pit.coverage_95", p.coverage_95),
            ("crps", self.crps),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Some(v)))
        .collect();
        if let Some(terms) = self.cde_terms {
            out.push(("cde_loss".into(), Some(terms.loss())));
            out.push(("cde_terms.mean_int_f2".into(), Some(terms.mean_int_f2)));
            out.push(("cde_terms.mean_pdf_at_truth".into(), Some(terms.mean_pdf_at_truth)));
        }
        let estimates =
            [("mode", self.point.mode), ("mean", Some(self.point.mean)), ("median", Some(self.point.median))];
        for (name, metrics) in estimates {
            if let Some(metrics) = metrics {
                out.extend(Metric::VALUES.iter().map(|&m| (format!("point.{name}.{}", m.key()), Some(metrics.get(m)))));
            }
        }
        for (b, bin) in self.nz.bins.iter().enumerate() {
            let values = [
                ("mean_stacked", bin.mean_stacked),
                ("std_stacked", bin.std_stacked),
                ("mean_true", bin.mean_true),
                ("std_true", bin.std_true),
                ("delta_mean", bin.delta_mean),
                ("width_ratio", bin.width_ratio),
                ("nz_ks", bin.nz_ks),
            ];
            out.extend(values.into_iter().map(|(k, v)| (format!("nz.bins.{b}.{k}"), v)));
        }
        out
    }
}

impl RailReport {
    /// Every value that gets a bootstrap interval, keyed by its path (`pit.ks`, `brier`,
    /// `grids[numpy.linspace(0, 3, 301)].cde_loss`, …), `None` where it is null.
    pub fn scalars(&self) -> Vec<(String, Option<f64>)> {
        let p = &self.pit;
        let mut out = vec![
            ("pit.ks".to_string(), Some(p.ks)),
            ("pit.cvm".to_string(), p.cvm),
            ("pit.ad".to_string(), p.ad),
            ("pit.outlier_rate".to_string(), p.outlier_rate),
            ("brier".to_string(), Some(self.brier)),
        ];
        for grid in &self.grids {
            let q = &grid.point_on_mode;
            let values = [
                ("cde_loss", grid.cde_loss),
                ("point_on_mode.bias", q.bias),
                ("point_on_mode.sigma_iqr", q.sigma_iqr),
                ("point_on_mode.outlier_rate", q.outlier_rate),
                ("point_on_mode.sigma_mad", q.sigma_mad),
            ];
            out.extend(values.into_iter().map(|(k, v)| (format!("grids[{}].{k}", grid.zgrid), Some(v))));
        }
        out
    }
}

impl SetReport {
    /// The report of the galaxies `rows` of `values`; `None` when `rows` is empty.
    pub(crate) fn of(values: &PdfValues, rows: &[usize], nz_edges: &Bins) -> Option<Self> {
        match values {
            PdfValues::Pzbench { representation, galaxies } => {
                PdfReport::of(galaxies, rows, *representation, nz_edges).map(|r| SetReport::Pzbench(Box::new(r)))
            }
            PdfValues::Rail { galaxies, .. } => RailReport::of(galaxies, rows).map(SetReport::Rail),
        }
    }

    /// [`PdfReport::scalars`] or [`RailReport::scalars`].
    pub fn scalars(&self) -> Vec<(String, Option<f64>)> {
        match self {
            SetReport::Pzbench(r) => r.scalars(),
            SetReport::Rail(r) => r.scalars(),
        }
    }
}
