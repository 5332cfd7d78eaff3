//! The `pdf` block of a score report as tables: the headline PDF metrics overall and per
//! redshift bin, their bootstrap intervals, and the n(z) per tomographic bin (terminal and
//! Markdown), and its values as CSV columns.

use serde::Serialize;

use super::format::{significant, TextTable};
use super::pdf_score::PdfBlock;
use pzbench_metrics::pdf::{Dialect, PdfMetric, RailGrid, SetReport};

/// The value of `key` (a [`SetReport::scalars`] path) in `report`.
fn scalar(report: &SetReport, key: &str) -> Option<f64> {
    report.scalars().into_iter().find(|(k, _)| k == key).and_then(|(_, v)| v)
}

/// The number of galaxies of a set.
fn count(report: &SetReport) -> usize {
    match report {
        SetReport::Pzbench(r) => r.pit.count,
        SetReport::Rail(r) => r.pit.count,
    }
}

impl PdfBlock {
    /// The headline columns of the dialect: (header, scalar key): the headline metrics it has,
    /// and for the rail dialect its Brier score and its point statistics of the grid mode.
    fn headline(&self) -> Vec<(String, String)> {
        let mut columns: Vec<(String, String)> = PdfMetric::ALL
            .into_iter()
            .filter_map(|m| Some((m.key().to_string(), m.scalar_key(self.dialect)?)))
            .collect();
        if self.dialect == Dialect::Rail {
            let grid = RailGrid::Estimators.label();
            columns.insert(4, ("brier".to_string(), "brier".to_string()));
            for (header, key) in [
                ("mode_bias", "point_on_mode.bias"),
                ("mode_sigma_mad", "point_on_mode.sigma_mad"),
                ("mode_outliers", "point_on_mode.outlier_rate"),
            ] {
                columns.push((header.to_string(), format!("grids[{grid}].{key}")));
            }
        }
        columns
    }

    /// How the PDFs were scored, e.g. `mixture PDFs scored in the pzbench dialect, point metrics
    /// on the mode`.
    pub fn summary(&self) -> String {
        format!(
            "{} PDFs scored in the {} dialect, point metrics on the {}",
            json_name(&self.representation),
            json_name(&self.dialect),
            json_name(&self.point_estimate)
        )
    }

    /// What the tables describe.
    fn caption(&self) -> String {
        format!("PDF metrics ({})", self.summary())
    }

    /// The headline metrics overall and per redshift bin (`labels` names the bins).
    fn headline_table(&self, labels: &[String]) -> TextTable {
        let columns = self.headline();
        let mut header = vec!["bin".to_string(), "count".to_string()];
        header.extend(columns.iter().map(|(h, _)| h.clone()));
        let row =
            |label: &str, report: Option<&SetReport>| {
                let mut cells = vec![label.to_string(), report.map_or(0, count).to_string()];
                cells.extend(columns.iter().map(|(_, key)| {
                    report.and_then(|r| scalar(r, key)).map_or("-".to_string(), |v| significant(v, 4))
                }));
                cells
            };
        let mut rows = vec![row("overall", self.overall.as_ref())];
        rows.extend(self.per_bin.iter().zip(labels).map(|(bin, label)| row(label, bin.report.as_ref())));
        TextTable { header, rows }
    }

    /// The overall headline metrics with their bootstrap intervals, if any.
    fn interval_table(&self) -> Option<(String, TextTable)> {
        let intervals = self.intervals.as_ref()?;
        let keyed = intervals.overall.as_ref()?;
        let overall = self.overall.as_ref()?;
        let rows = self
            .headline()
            .into_iter()
            .filter_map(|(header, key)| {
                let interval = keyed.get(&key)?;
                Some(vec![
                    header,
                    scalar(overall, &key).map_or("-".to_string(), |v| significant(v, 4)),
                    format!("[{}, {}]", significant(interval.lo, 4), significant(interval.hi, 4)),
                ])
            })
            .collect();
        let label = format!(
            "overall PDF metrics, {:.0}% {} ({} resamples, seed {})",
            intervals.confidence * 100.0,
            intervals.method,
            intervals.resamples,
            intervals.seed
        );
        Some((label, TextTable { header: vec!["metric".into(), "value".into(), "interval".into()], rows }))
    }

    /// The overall n(z) per tomographic bin (pzbench dialect only).
    fn nz_table(&self) -> Option<(String, TextTable)> {
        let Some(SetReport::Pzbench(report)) = &self.overall else {
            return None;
        };
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| significant(v, 4));
        let rows = report
            .nz
            .bins
            .iter()
            .map(|bin| {
                vec![
                    format!("({}, {}]", significant(bin.lo, 6), significant(bin.hi, 6)),
                    bin.count.to_string(),
                    cell(bin.mean_stacked),
                    cell(bin.mean_true),
                    cell(bin.delta_mean),
                    cell(bin.std_stacked),
                    cell(bin.std_true),
                    cell(bin.width_ratio),
                    cell(bin.nz_ks),
                ]
            })
            .collect();
        let header = [
            "tomographic bin",
            "count",
            "mean_stacked",
            "mean_true",
            "delta_mean",
            "std_stacked",
            "std_true",
            "width_ratio",
            "nz_ks",
        ]
        .map(String::from)
        .to_vec();
        Some((format!("n(z) per tomographic bin (galaxies binned on {})", report.nz.on), TextTable { header, rows }))
    }

    /// Terminal tables; `labels` names the redshift bins as the point table does.
    pub fn to_terminal(&self, labels: &[String]) -> String {
        let mut out = format!("\n{}:\n", self.caption());
        out.push_str(&self.headline_table(labels).to_terminal());
        for (label, table) in self.interval_table().into_iter().chain(self.nz_table()) {
            out.push_str(&format!("\n{label}:\n"));
            out.push_str(&table.to_terminal());
        }
        out
    }

    /// Markdown tables; `labels` names the redshift bins as the point table does.
    pub fn to_markdown(&self, labels: &[String]) -> String {
        let mut out = format!("\n{}:\n\n", self.caption());
        out.push_str(&self.headline_table(labels).to_markdown());
        for (label, table) in self.interval_table().into_iter().chain(self.nz_table()) {
            out.push_str(&format!("\n{label}:\n\n"));
            out.push_str(&table.to_markdown());
        }
        out
    }

    /// The CSV columns the block adds: every scalar of the overall set (`pdf.<key>`), then, with
    /// intervals, `pdf.<key>_lo` and `pdf.<key>_hi`.
    pub fn csv_header(&self) -> Vec<String> {
        let keys = self.keys();
        let mut header: Vec<String> = keys.iter().map(|k| format!("pdf.{k}")).collect();
        if self.intervals.is_some() {
            for key in &keys {
                header.push(format!("pdf.{key}_lo"));
                header.push(format!("pdf.{key}_hi"));
            }
        }
        header
    }

    /// The CSV cells of the overall row (`bin` = `None`) or of redshift bin `bin`, in
    /// [`PdfBlock::csv_header`] order.
    pub fn csv_cells(&self, bin: Option<usize>) -> Vec<String> {
        let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let report = match bin {
            None => self.overall.as_ref(),
            Some(b) => self.per_bin.get(b).and_then(|bin| bin.report.as_ref()),
        };
        let keys = self.keys();
        let mut cells: Vec<String> = keys.iter().map(|key| number(report.and_then(|r| scalar(r, key)))).collect();
        if let Some(intervals) = &self.intervals {
            let keyed = match bin {
                None => intervals.overall.as_ref(),
                Some(b) => intervals.per_bin.get(b).and_then(Option::as_ref),
            };
            for key in &keys {
                let interval = keyed.and_then(|k| k.get(key));
                cells.push(number(interval.map(|i| i.lo)));
                cells.push(number(interval.map(|i| i.hi)));
            }
        }
        cells
    }

    /// Every scalar key of the block (they depend only on the representation, the dialect and
    /// the tomographic bins, so the overall set's keys are every bin's).
    fn keys(&self) -> Vec<String> {
        self.overall.as_ref().map_or_else(Vec::new, |r| r.scalars().into_iter().map(|(k, _)| k).collect())
    }
}

/// An enum's name as its JSON writes it (`pzbench`, `mixture`, `mode`).
fn json_name(value: &impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}
