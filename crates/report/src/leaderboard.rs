//! Leaderboards: JSON files (`leaderboards/*.json`) of models scored by pzbench on one dataset,
//! ranked by any `docs/METRICS.md` metric, or by a headline PDF metric of `docs/PDF_METRICS.md`
//! for entries scored from a PDF file ([`PdfRecord`]), and rendered for the terminal, as Markdown
//! or as HTML (`docs/reports.md`).
//!
//! The layout is documented as a JSON Schema (draft 2020-12) in `leaderboards/schema.json`; that
//! file is embedded at build time and every board is checked against it by [`validate`], with the
//! `jsonschema` crate, on every load and before every write. Entry names must also be unique,
//! which JSON Schema cannot express.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::format::{significant, TextTable};
use super::pdf_score::PdfBlock;
use super::score::{MetricValues, ScoreReport};
use super::scoring::{score_model, ModelInput};
use super::table2::{Dataset, TABLE2_COLUMNS, TABLE2_PDF_COLUMNS};
use pzbench_io::update::{update_locked, LockOptions};
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::{Dialect, PdfMetric, PointEstimate, Representation};
use pzbench_metrics::{Bins, BootstrapConfig, Metric};

/// The documented schema of a board, embedded.
pub const SCHEMA: &str = include_str!("../../../leaderboards/schema.json");

/// The `format` value of boards this version writes and reads.
pub const FORMAT: &str = "pzbench-leaderboard/1";

/// A leaderboard file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// Always [`FORMAT`].
    pub format: String,
    /// Optional heading for rendered boards (edit the file to set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub entries: Vec<Entry>,
}

/// The predictions behind an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionsRef {
    /// File name (no folders).
    pub file: String,
    pub sha256: String,
}

/// One bin's metrics and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinValues {
    #[serde(flatten)]
    pub metrics: MetricValues,
    pub lo: f64,
    pub hi: f64,
}

/// `[lo, hi]` per metric key.
pub type IntervalMap = BTreeMap<String, [Option<f64>; 2]>;

/// Bootstrap intervals of an entry (the `intervals` object of `pzbench score --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalsRecord {
    pub method: String,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    pub overall: Option<IntervalMap>,
    pub per_bin: Vec<Option<IntervalMap>>,
}

/// One scored model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    /// UTC, ISO 8601 / RFC 3339, seconds: `2026-11-27T07:19:00Z`.
    pub date: String,
    pub pzbench_version: String,
    pub predictions: PredictionsRef,
    pub dataset: Dataset,
    pub bins: Bins,
    pub overall: MetricValues,
    pub per_bin: Vec<BinValues>,
    pub n_outside_bins: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<IntervalsRecord>,
    /// The headline PDF metrics, when the model's file held PDFs (absent otherwise, and in
    /// boards written before pzbench scored PDFs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<PdfRecord>,
}

/// The headline PDF metrics of the whole set, `null` where not defined (the CDE loss of samples,
/// CRPS and coverage in the rail dialect, an empty set).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PdfMetricValues {
    pub pit_ks: Option<f64>,
    pub pit_cvm: Option<f64>,
    pub pit_ad: Option<f64>,
    pub pit_outlier_rate: Option<f64>,
    pub coverage_68: Option<f64>,
    pub coverage_95: Option<f64>,
    pub crps: Option<f64>,
    pub cde_loss: Option<f64>,
}

impl PdfMetricValues {
    /// The value of `metric`.
    pub fn get(&self, metric: PdfMetric) -> Option<f64> {
        match metric {
            PdfMetric::PitKs => self.pit_ks,
            PdfMetric::PitCvm => self.pit_cvm,
            PdfMetric::PitAd => self.pit_ad,
            PdfMetric::PitOutlierRate => self.pit_outlier_rate,
            PdfMetric::Coverage68 => self.coverage_68,
            PdfMetric::Coverage95 => self.coverage_95,
            PdfMetric::Crps => self.crps,
            PdfMetric::CdeLoss => self.cde_loss,
        }
    }

    fn set(&mut self, metric: PdfMetric, value: Option<f64>) {
        let slot = match metric {
            PdfMetric::PitKs => &mut self.pit_ks,
            PdfMetric::PitCvm => &mut self.pit_cvm,
            PdfMetric::PitAd => &mut self.pit_ad,
            PdfMetric::PitOutlierRate => &mut self.pit_outlier_rate,
            PdfMetric::Coverage68 => &mut self.coverage_68,
            PdfMetric::Coverage95 => &mut self.coverage_95,
            PdfMetric::Crps => &mut self.crps,
            PdfMetric::CdeLoss => &mut self.cde_loss,
        };
        *slot = value;
    }
}

/// The `pdf` object of an entry scored from a PDF file: how it was scored and its headline PDF
/// metrics, with their bootstrap intervals (same resamples and seed as the entry's `intervals`)
/// when bootstrapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfRecord {
    /// `pzbench` or `rail`.
    pub dialect: Dialect,
    /// `mixture`, `grid`, `histogram` or `samples`.
    pub representation: Representation,
    /// The estimate whose point metrics are the entry's `overall` and `per_bin`.
    pub point_estimate: PointEstimate,
    pub overall: PdfMetricValues,
    /// `[lo, hi]` per key of `overall` that has an interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<IntervalMap>,
}

impl PdfRecord {
    /// The record of a score report's `pdf` block.
    pub fn from_block(block: &PdfBlock) -> Self {
        let scalars = block.overall.as_ref().map(|o| o.scalars()).unwrap_or_default();
        let intervals = block.intervals.as_ref().and_then(|i| i.overall.as_ref());
        let mut overall = PdfMetricValues::default();
        let mut interval_map = IntervalMap::new();
        for metric in PdfMetric::ALL {
            let Some(key) = metric.scalar_key(block.dialect) else { continue };
            overall.set(metric, scalars.iter().find(|(k, _)| *k == key).and_then(|(_, v)| *v));
            if let Some(interval) = intervals.and_then(|i| i.get(&key)) {
                interval_map.insert(metric.key().to_string(), [Some(interval.lo), Some(interval.hi)]);
            }
        }
        PdfRecord {
            dialect: block.dialect,
            representation: block.representation,
            point_estimate: block.point_estimate,
            overall,
            intervals: intervals.map(|_| interval_map),
        }
    }

    /// The interval of `metric`, if bootstrapped.
    fn interval(&self, metric: PdfMetric) -> Option<(f64, f64)> {
        let [lo, hi] = *self.intervals.as_ref()?.get(metric.key())?;
        Some((lo?, hi?))
    }
}

/// What a board is ranked by: a point metric of `docs/METRICS.md` or a headline PDF metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    Point(Metric),
    Pdf(PdfMetric),
}

impl From<Metric> for RankBy {
    fn from(metric: Metric) -> Self {
        RankBy::Point(metric)
    }
}

impl From<PdfMetric> for RankBy {
    fn from(metric: PdfMetric) -> Self {
        RankBy::Pdf(metric)
    }
}

impl RankBy {
    /// The key (`loss`, `crps`, …).
    pub fn key(self) -> &'static str {
        match self {
            RankBy::Point(metric) => metric.key(),
            RankBy::Pdf(metric) => metric.key(),
        }
    }

    /// What is compared, for the summary line: `loss`, `|bias|`, `|coverage_68 − 0.6827|`.
    fn compared(self) -> String {
        match self {
            RankBy::Point(metric) if metric.judged_by_magnitude() => format!("|{}|", metric.key()),
            RankBy::Pdf(metric) => match metric.nominal() {
                Some(nominal) => format!("|{} − {}|", metric.key(), significant(nominal, 4)),
                None => metric.key().to_string(),
            },
            RankBy::Point(metric) => metric.key().to_string(),
        }
    }
}

impl Entry {
    /// An entry from a score report (its JSON, reused key for key).
    pub fn from_report(name: &str, report: &ScoreReport, dataset: Dataset, date: String) -> Result<Self> {
        let broken =
            |e: serde_json::Error| Error::other(format!("cannot record the score of '{name}': {e}")).caused_by(e);
        let value = serde_json::to_value(report).map_err(broken)?;
        let field = |key: &str| value.get(key).cloned().unwrap_or(Value::Null);
        let file = Path::new(&report.input.predictions.path)
            .file_name()
            .map_or(report.input.predictions.path.clone(), |n| n.to_string_lossy().into_owned());
        Ok(Entry {
            name: name.to_string(),
            date,
            pzbench_version: pzbench_io::VERSION.to_string(),
            predictions: PredictionsRef { file, sha256: report.input.predictions.sha256.clone() },
            dataset,
            bins: report.bins.clone(),
            overall: serde_json::from_value(field("overall")).map_err(broken)?,
            per_bin: serde_json::from_value(field("per_bin")).map_err(broken)?,
            n_outside_bins: report.n_outside_bins,
            intervals: match field("intervals") {
                Value::Null => None,
                intervals => Some(serde_json::from_value(intervals).map_err(broken)?),
            },
            pdf: report.pdf.as_ref().map(PdfRecord::from_block),
        })
    }

    /// The overall interval of `metric`, if bootstrapped.
    fn interval(&self, metric: Metric) -> Option<(f64, f64)> {
        let [lo, hi] = *self.intervals.as_ref()?.overall.as_ref()?.get(metric.key())?;
        Some((lo?, hi?))
    }
}

impl Board {
    /// A board with no entries.
    pub fn new() -> Self {
        Board { format: FORMAT.to_string(), title: None, entries: Vec::new() }
    }

    /// Parse and validate a board's text (`path` names the file in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::file(path, format!("{why}; fix the file (layout: leaderboards/schema.json) or start a new board"))
        };
        let text = pzbench_io::encoding::strip_bom_str(text);
        let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")).caused_by(e))?;
        validate(&value).map_err(|e| bad(e.to_string()).caused_by(e))?;
        let board: Board = serde_json::from_value(value)
            .map_err(|e| bad(format!("does not match the board layout: {e}")).caused_by(e))?;
        if let Some(name) = board.duplicate_name() {
            return Err(bad(format!("the name '{name}' appears in more than one entry; names must be unique")));
        }
        Ok(board)
    }

    /// Read and validate a board file.
    pub fn load(path: &Path) -> Result<Self> {
        // A byte-order mark is dropped, UTF-16 named with the fix (boards are hand-edited: title).
        let text = pzbench_io::encoding::read_utf8(path, "the board")?;
        Self::parse(path, &text)
    }

    /// The board as pretty JSON (validated first, so pzbench never writes a board it would reject).
    pub fn to_json(&self) -> Result<String> {
        let broken = |why: String| Error::other(format!("refusing to write an invalid board: {why}"));
        let value = serde_json::to_value(self).map_err(|e| broken(e.to_string()).caused_by(e))?;
        validate(&value).map_err(|e| broken(e.to_string()).caused_by(e))?;
        // Serialise the struct itself (not `value`) to keep the documented key order.
        let mut text = serde_json::to_string_pretty(self).map_err(|e| broken(e.to_string()).caused_by(e))?;
        text.push('\n');
        Ok(text)
    }

    fn duplicate_name(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.entries.iter().map(|e| e.name.as_str()).find(|name| !seen.insert(*name))
    }

    /// Fail unless `name` is new on the board or `replace` is set.
    pub fn check_name_free(&self, path: &Path, name: &str, replace: bool) -> Result<()> {
        match self.entries.iter().find(|e| e.name == name) {
            Some(existing) if !replace => Err(Error::file(
                path,
                format!(
                    "an entry named '{name}' exists (added {}); pass --replace to overwrite it, or choose another --name",
                    existing.date
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The dataset the board holds: its first entry's ([`Board::add`] keeps every entry on it).
    pub fn dataset(&self) -> Option<&Dataset> {
        self.entries.first().map(|e| &e.dataset)
    }

    /// Add `entry`; an entry of the same name is replaced (in place) only with `replace`. A board
    /// holds one dataset ([`on_board`]): the entry must be scored on the board's galaxies, and
    /// its label (when given with `--dataset`: `label_given`) and synthetic mark must not
    /// contradict the board's; it is recorded under the board's label and marks.
    pub fn add(&mut self, path: &Path, mut entry: Entry, replace: bool, label_given: bool) -> Result<()> {
        self.check_name_free(path, &entry.name, replace)?;
        if let Some(board) = self.dataset() {
            entry.dataset = on_board(path, board, &entry, label_given)?;
        }
        match self.entries.iter().position(|e| e.name == entry.name) {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
        Ok(())
    }

    /// Entries ordered by `by` ascending (by |value| for biases, by the distance from the nominal
    /// value for coverages); entries without a value (e.g. no PDF metrics) last, ties by name.
    pub fn ranked(&self, by: impl Into<RankBy>) -> Vec<&Entry> {
        let by = by.into();
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|a, b| {
            let (va, vb) = (rank_value(a, by), rank_value(b, by));
            match (va, vb) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.name.cmp(&b.name))
        });
        entries
    }

    /// One line on what the board holds and how it is ranked.
    fn summary(&self, by: RankBy) -> String {
        let how = by.compared();
        let pdf = if self.has_pdf() {
            " PDF metrics as in PDF_METRICS.md, for entries scored from PDF files (- for the others); coverages are better the closer to nominal."
        } else {
            ""
        };
        match self.entries.first() {
            None => "No entries yet: add one with `pzbench leaderboard add`.".to_string(),
            Some(first) => format!(
                "{} entr{} on dataset {}, z_spec from {} (sha256 {}), ranked by {how}, smaller is better. Metrics as in the GalaxiesML paper (METRICS.md); ± is half the width of a bootstrap interval.{pdf}",
                self.entries.len(),
                if self.entries.len() == 1 { "y" } else { "ies" },
                first.dataset.named(),
                first.dataset.source,
                first.dataset.sha256
            ),
        }
    }

    /// Whether any entry has PDF metrics.
    pub fn has_pdf(&self) -> bool {
        self.entries.iter().any(|e| e.pdf.is_some())
    }

    /// Header and cells of the ranked table: rank, model, the Table 2 columns, the ranking
    /// metric if it is not among them, the headline PDF columns ([`TABLE2_PDF_COLUMNS`]) when any
    /// entry has PDF metrics, date.
    fn table(&self, by: RankBy) -> TextTable {
        let mut columns: Vec<(RankBy, &str)> = TABLE2_COLUMNS.iter().map(|&(m, h)| (RankBy::Point(m), h)).collect();
        if let RankBy::Point(metric) = by {
            if !columns.iter().any(|(column, _)| *column == by) {
                columns.push((by, metric.key()));
            }
        }
        if self.has_pdf() || matches!(by, RankBy::Pdf(_)) {
            columns.extend(TABLE2_PDF_COLUMNS.iter().map(|&m| (RankBy::Pdf(m), m.header())));
            if let RankBy::Pdf(metric) = by {
                if !TABLE2_PDF_COLUMNS.contains(&metric) {
                    columns.push((by, metric.header()));
                }
            }
        }
        let mut header = vec!["Rank".to_string(), "Model".to_string()];
        header.extend(columns.iter().map(|(_, h)| h.to_string()));
        header.push("Date (UTC)".to_string());
        let rows = self
            .ranked(by)
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let mut row = vec![(i + 1).to_string(), entry.name.clone()];
                row.extend(columns.iter().map(|&(column, _)| match column {
                    RankBy::Point(metric) => cell(entry, metric),
                    RankBy::Pdf(metric) => pdf_cell(entry, metric),
                }));
                row.push(entry.date.clone());
                row
            })
            .collect();
        TextTable { header, rows }
    }

    /// Terminal output of `leaderboard show`.
    pub fn to_terminal(&self, by: impl Into<RankBy>) -> String {
        let by = by.into();
        format!("{}\n\n{}", self.summary(by), self.table(by).to_terminal())
    }

    /// Markdown of `leaderboard render --format markdown`.
    pub fn to_markdown(&self, by: impl Into<RankBy>) -> String {
        let by = by.into();
        let title = self.title.as_deref().unwrap_or("Photo-z leaderboard");
        // Rank right-aligned, model names left-aligned.
        let table = self.table(by).to_markdown().replacen("|---|---:|", "|---:|---|", 1);
        format!("# {title}\n\n{}\n\n{table}", self.summary(by))
    }

    /// A standalone HTML page of `leaderboard render --format html`.
    pub fn to_html(&self, by: impl Into<RankBy>) -> String {
        let by = by.into();
        let title = html_escape(self.title.as_deref().unwrap_or("Photo-z leaderboard"));
        let table = self.table(by);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; }}\ntable {{ border-collapse: collapse; }}\nth, td {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ccc; }}\ntd:nth-child(n+3) {{ text-align: right; }}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{}</p>\n<table>\n<thead>\n<tr>",
            html_escape(&self.summary(by))
        );
        for h in &table.header {
            out.push_str(&format!("<th>{}</th>", html_escape(h)));
        }
        out.push_str("</tr>\n</thead>\n<tbody>\n");
        for row in &table.rows {
            out.push_str("<tr>");
            for c in row {
                out.push_str(&format!("<td>{}</td>", html_escape(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str(&format!(
            "</tbody>\n</table>\n<p>Generated by pzbench {}.</p>\n</body>\n</html>\n",
            pzbench_io::VERSION
        ));
        out
    }
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

/// The metric `--by NAME` ranks by: any `docs/METRICS.md` key but `count`, or a headline PDF
/// metric ([`PdfMetric::key`]).
pub fn rank_metric(name: &str) -> Result<RankBy> {
    if let Some(metric) = Metric::from_key(name).filter(|metric| *metric != Metric::Count) {
        return Ok(RankBy::Point(metric));
    }
    PdfMetric::from_key(name).map(RankBy::Pdf).ok_or_else(|| {
        Error::usage(format!(
            "--by {name}: not a metric; use one of {} (point metrics) or {} (PDF metrics)",
            Metric::VALUES.map(Metric::key).join(", "),
            PdfMetric::ALL.map(PdfMetric::key).join(", ")
        ))
    })
}

/// `entry`'s dataset as recorded on a board (at `path`) that holds `board`: the same galaxies
/// (z_spec fingerprint), the board's label, synthetic mark and release flag, the entry's own file
/// and SHA-256. A conflict is an error naming the board, both values and the fix: other galaxies;
/// a `--dataset` label (`label_given`) other than the board's; an entry marked synthetic on a
/// board that is not. An entry that is not marked synthetic on a synthetic board is the same
/// data (same galaxies), so it takes the board's mark.
fn on_board(path: &Path, board: &Dataset, entry: &Entry, label_given: bool) -> Result<Dataset> {
    let (name, dataset) = (&entry.name, &entry.dataset);
    let conflict = |what: String, fix: String| {
        Error::file(
            path,
            format!(
                "'{name}' {what}, but the board holds dataset {} (z_spec from {}); a board compares models on one dataset: {fix}",
                board.named(),
                board.source
            ),
        )
    };
    let short = |sha: &str| sha[..sha.len().min(12)].to_string();
    if dataset.zspec_sha256 != board.zspec_sha256 {
        return Err(conflict(
            format!(
                "was scored on different galaxies (z_spec from {}, fingerprint {}… instead of {}…)",
                dataset.source,
                short(&dataset.zspec_sha256),
                short(&board.zspec_sha256)
            ),
            "use another board, or score with the board's --truth".to_string(),
        ));
    }
    if label_given && dataset.id != board.id {
        return Err(conflict(
            format!("was given --dataset '{}'", dataset.id),
            format!("pass --dataset '{}' or leave --dataset out", board.id),
        ));
    }
    if dataset.synthetic && !board.synthetic {
        return Err(conflict(
            format!("is marked synthetic (by --synthetic, its file or its label '{}')", dataset.id),
            "use another board for the synthetic data, or, if the board's data are synthetic too, set \"synthetic\": true in each entry's dataset".to_string(),
        ));
    }
    Ok(Dataset { id: board.id.clone(), synthetic: board.synthetic, release: board.release, ..dataset.clone() })
}

/// The value an entry is ranked by.
fn rank_value(entry: &Entry, by: RankBy) -> Option<f64> {
    match by {
        RankBy::Point(metric) => {
            let value = entry.overall.get(metric)?;
            Some(if metric.judged_by_magnitude() { value.abs() } else { value })
        }
        RankBy::Pdf(metric) => {
            let value = entry.pdf.as_ref()?.overall.get(metric)?;
            Some(metric.nominal().map_or(value, |nominal| (value - nominal).abs()))
        }
    }
}

/// A PDF metric's cell, as [`cell`]; `-` for an entry without PDF metrics or without this one.
fn pdf_cell(entry: &Entry, metric: PdfMetric) -> String {
    let Some(pdf) = &entry.pdf else {
        return "-".to_string();
    };
    match (pdf.overall.get(metric), pdf.interval(metric)) {
        (None, _) => "-".to_string(),
        (Some(v), Some((lo, hi))) => format!("{} ± {}", significant(v, 4), significant((hi - lo) / 2.0, 2)),
        (Some(v), None) => significant(v, 4),
    }
}

/// A table cell: count as an integer, values to four significant digits, `value ± half-width`
/// when bootstrapped, `-` for none.
fn cell(entry: &Entry, metric: Metric) -> String {
    if metric == Metric::Count {
        return entry.overall.count.to_string();
    }
    match (entry.overall.get(metric), entry.interval(metric)) {
        (None, _) => "-".to_string(),
        (Some(v), Some((lo, hi))) => format!("{} ± {}", significant(v, 4), significant((hi - lo) / 2.0, 2)),
        (Some(v), None) => significant(v, 4),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Now (or `SOURCE_DATE_EPOCH`, for reproducible builds and tests) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let seconds =
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
    format_utc(seconds)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp (proleptic Gregorian calendar;
/// Howard Hinnant's `civil_from_days`).
pub fn format_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

// ---------------------------------------------------------------------------------------------
// The library's entry points for `pzbench leaderboard add|show|render`.

/// What [`add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// Whether an entry of the same name was replaced (in place).
    pub replaced: bool,
    /// The entry's rank by loss, 1 being the best.
    pub rank: usize,
    /// Entries on the board now.
    pub entries: usize,
}

/// `pzbench leaderboard add`: score `predictions` as `pzbench score` does (the paper's Figure 6
/// bins, bootstrap intervals if asked; `docs/METRICS.md`) and record it as `name` on the board at
/// `board_path`, which is created if missing and written atomically. The board is loaded and
/// validated before the scoring; a name already on it needs `replace`, and every entry must be
/// on the board's dataset ([`Board::add`]: same galaxies, no other `--dataset` label or synthetic
/// mark; an entry without a label of its own is recorded under the board's).
///
/// The entry is added under the board's lock ([`update_locked`], waiting as `lock` says): the
/// board is loaded again, checked and written while no other pzbench updates it, so concurrent
/// adds to one board all land (and of two adds of one name without `replace`, one fails).
pub fn add(
    board_path: &Path,
    name: &str,
    predictions: &Path,
    input: &ModelInput,
    bootstrap_config: Option<BootstrapConfig>,
    replace: bool,
    lock: &LockOptions<'_>,
) -> Result<Added> {
    // Checked before the scoring (which may take a while) too, to fail early.
    if board_path.exists() {
        Board::load(board_path)?.check_name_free(board_path, name, replace)?;
    }
    let scored = score_model(name, predictions, input, &Bins::galaxiesml_default(), bootstrap_config)?;
    let entry = Entry::from_report(name, &scored.report, scored.dataset, utc_now())?;
    let mut added = None;
    update_locked(board_path, lock, |previous| {
        let mut board = match previous {
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|e| {
                    Error::file(board_path, format!("cannot read the board: not UTF-8 text ({e})")).caused_by(e)
                })?;
                Board::parse(board_path, &text)?
            }
            None => Board::new(),
        };
        let replaced = board.entries.iter().any(|e| e.name == name);
        board.add(board_path, entry, replace, input.dataset.is_some())?;
        let json = board.to_json()?;
        let rank = board.ranked(Metric::Loss).iter().position(|e| e.name == name).map_or(0, |r| r + 1);
        added = Some(Added { replaced, rank, entries: board.entries.len() });
        Ok(json.into_bytes())
    })?;
    added.ok_or_else(|| Error::other("the board was not updated"))
}

/// How [`render`] writes a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardFormat {
    /// Summary line and aligned table ([`Board::to_terminal`], `leaderboard show`).
    Terminal,
    /// Heading, summary and table ([`Board::to_markdown`]).
    Markdown,
    /// A standalone page ([`Board::to_html`]).
    Html,
}

/// `pzbench leaderboard show|render`: load and validate the board at `path` and render its entries
/// ranked by `by`.
pub fn render(path: &Path, by: impl Into<RankBy>, format: BoardFormat) -> Result<String> {
    let by = by.into();
    let board = Board::load(path)?;
    Ok(match format {
        BoardFormat::Terminal => board.to_terminal(by),
        BoardFormat::Markdown => board.to_markdown(by),
        BoardFormat::Html => board.to_html(by),
    })
}

// ---------------------------------------------------------------------------------------------
// Validation against the embedded schema.

/// Why a board does not pass [`validate`].
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The embedded schema is not JSON (a broken build).
    #[error("the embedded leaderboards/schema.json is not JSON: {0}")]
    SchemaNotJson(#[source] serde_json::Error),
    /// The embedded schema is not a usable JSON Schema (a broken build).
    #[error("the embedded leaderboards/schema.json is not a valid JSON Schema: {0}")]
    SchemaInvalid(#[source] ValidationError<'static>),
    /// The board breaks the schema. The message names the first place at fault and what is wrong
    /// there, e.g. `board.entries[1].overall.loss: expected number or null, got string`.
    #[error("{message}")]
    Violation {
        message: String,
        #[source]
        error: ValidationError<'static>,
    },
}

/// The embedded schema and its compiled validator, built once.
fn schema() -> std::result::Result<&'static (Value, Validator), SchemaError> {
    static SCHEMA_AND_VALIDATOR: OnceLock<(Value, Validator)> = OnceLock::new();
    if let Some(compiled) = SCHEMA_AND_VALIDATOR.get() {
        return Ok(compiled);
    }
    let schema: Value = serde_json::from_str(SCHEMA).map_err(SchemaError::SchemaNotJson)?;
    let validator = jsonschema::validator_for(&schema).map_err(SchemaError::SchemaInvalid)?;
    Ok(SCHEMA_AND_VALIDATOR.get_or_init(|| (schema, validator)))
}

/// Validate a board against `leaderboards/schema.json` (JSON Schema draft 2020-12, with the
/// `jsonschema` crate). The error names the first place at fault as a path from `board`, e.g.
/// `board.entries[0].date: missing`, and says what is wrong in the schema's terms.
pub fn validate(board: &Value) -> std::result::Result<(), SchemaError> {
    let (schema, validator) = schema()?;
    validator.validate(board).map_err(|error| SchemaError::Violation {
        message: format!("{}: {}", place(board, &error), problem(schema, &error)),
        error: error.to_owned(),
    })
}

/// Where an error is, from the instance path: `/entries/0/overall/loss` is
/// `board.entries[0].overall.loss` (a number is an index only inside an array).
fn place(board: &Value, error: &ValidationError<'_>) -> String {
    let mut place = String::from("board");
    let mut value = Some(board);
    for segment in error.instance_path().segments() {
        let key = match segment {
            LocationSegment::Index(i) if value.is_some_and(Value::is_array) => {
                place.push_str(&format!("[{i}]"));
                value = value.and_then(|v| v.get(i));
                continue;
            }
            LocationSegment::Index(i) => i.to_string(),
            LocationSegment::Property(name) => name.into_owned(),
        };
        place.push('.');
        place.push_str(&key);
        value = value.and_then(|v| v.get(&key));
    }
    place
}

/// What is wrong, in the words pzbench uses for the keywords the schema has; the validator's own
/// words for any other.
fn problem(schema: &Value, error: &ValidationError<'_>) -> String {
    let instance = error.instance();
    match error.kind() {
        ValidationErrorKind::Type { .. } => {
            // The schema's own `type` value, to list the types in its order.
            let wanted: Vec<&str> = match schema.pointer(error.schema_path().as_str()) {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                _ => return error.to_string(),
            };
            format!("expected {}, got {}", wanted.join(" or "), type_name(instance))
        }
        ValidationErrorKind::Required { property } => {
            format!("missing key '{}'", property.as_str().map_or_else(|| property.to_string(), str::to_string))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let keys: Vec<String> = unexpected.iter().map(|k| format!("'{k}'")).collect();
            format!("unknown key{} {}", if keys.len() == 1 { "" } else { "s" }, keys.join(", "))
        }
        ValidationErrorKind::Enum { options } => {
            let list: Vec<String> =
                options.as_array().map_or_else(Vec::new, |o| o.iter().map(Value::to_string).collect());
            format!("{instance} is not one of {}", list.join(", "))
        }
        ValidationErrorKind::MinLength { limit: 1 } => "must not be empty".to_string(),
        ValidationErrorKind::Pattern { pattern } => {
            // The description of the schema holding the pattern says what the text should be.
            let holder = error.schema_path().as_str().strip_suffix("/pattern").unwrap_or_default();
            let description = schema.pointer(holder).and_then(|s| s.get("description")).and_then(Value::as_str);
            let text = instance.as_str().map_or_else(|| instance.to_string(), str::to_string);
            match description {
                Some(description) => format!("'{text}' does not match {pattern} ({description})"),
                None => format!("'{text}' does not match {pattern}"),
            }
        }
        ValidationErrorKind::Minimum { .. } | ValidationErrorKind::ExclusiveMinimum { .. } => {
            format!("{instance} is too small")
        }
        ValidationErrorKind::Maximum { .. } | ValidationErrorKind::ExclusiveMaximum { .. } => {
            format!("{instance} is too large")
        }
        ValidationErrorKind::MinItems { .. } | ValidationErrorKind::MaxItems { .. } => {
            format!("wrong number of items ({})", instance.as_array().map_or(0, Vec::len))
        }
        _ => error.to_string(),
    }
}

/// The JSON Schema type of a value (`integer` for a number without a fraction part).
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(board: &Value) -> String {
        validate(board).unwrap_err().to_string()
    }

    /// A valid one-entry board as JSON.
    fn one_entry_board() -> Value {
        let sha = "a".repeat(64);
        let entry = Entry {
            name: "A".into(),
            date: "2026-11-27T07:19:00Z".into(),
            pzbench_version: pzbench_io::VERSION.into(),
            predictions: PredictionsRef { file: "a.csv".into(), sha256: sha.clone() },
            dataset: Dataset {
                id: "a".into(),
                synthetic: false,
                release: false,
                source: "a.csv".into(),
                sha256: sha.clone(),
                zspec_sha256: sha,
            },
            bins: Bins::galaxiesml_default(),
            overall: MetricValues::of(None),
            per_bin: Vec::new(),
            n_outside_bins: 0,
            intervals: None,
            pdf: None,
        };
        serde_json::to_value(Board { format: FORMAT.into(), title: None, entries: vec![entry] }).unwrap()
    }

    #[test]
    fn the_embedded_schema_compiles() {
        assert!(schema().is_ok());
        assert!(validate(&one_entry_board()).is_ok());
    }

    #[test]
    fn schema_metric_keys_match_metrics_md() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let required: Vec<&str> =
            schema["$defs"]["metrics"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(required, Metric::ALL.map(Metric::key).to_vec());
        let stored = serde_json::to_value(MetricValues::of(None)).unwrap();
        let mut keys: Vec<&str> = stored.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = Metric::ALL.map(Metric::key).to_vec();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn empty_board_is_valid_and_bad_ones_are_named() {
        assert!(validate(&json!({"format": FORMAT, "entries": []})).is_ok());
        let error = message(&json!({"format": "other", "entries": []}));
        assert!(error.contains("board.format"), "{error}");
        let error = message(&json!({"format": FORMAT}));
        assert!(error.contains("missing key 'entries'"), "{error}");
        let error = message(&json!({"format": FORMAT, "entries": {}}));
        assert!(error.contains("board.entries: expected array, got object"), "{error}");
    }

    #[test]
    fn places_and_problems_in_pzbench_words() {
        let mut board = one_entry_board();
        board["entries"][0]["overall"]["loss"] = json!("small");
        assert_eq!(message(&board), "board.entries[0].overall.loss: expected number or null, got string");
        let mut board = one_entry_board();
        board["entries"][0]["overall"]["count"] = json!(1.5);
        assert_eq!(message(&board), "board.entries[0].overall.count: expected integer, got number");
        let mut board = one_entry_board();
        board["entries"][0].as_object_mut().unwrap().remove("date");
        assert_eq!(message(&board), "board.entries[0]: missing key 'date'");
        let mut board = one_entry_board();
        board["entries"][0]["overall"]["los"] = json!(0.1);
        assert_eq!(message(&board), "board.entries[0].overall: unknown key 'los'");
        let mut board = one_entry_board();
        board["entries"][0]["bins"]["on"] = json!("z");
        assert_eq!(message(&board), r#"board.entries[0].bins.on: "z" is not one of "z_spec", "z_phot""#);
        let mut board = one_entry_board();
        board["entries"][0]["name"] = json!("");
        assert_eq!(message(&board), "board.entries[0].name: must not be empty");
        let mut board = one_entry_board();
        board["entries"][0]["n_outside_bins"] = json!(-1);
        assert_eq!(message(&board), "board.entries[0].n_outside_bins: -1 is too small");
        let mut board = one_entry_board();
        board["entries"][0]["bins"]["edges"] = json!([1.0]);
        assert_eq!(message(&board), "board.entries[0].bins.edges: wrong number of items (1)");
    }

    #[test]
    fn patterns() {
        let mut board = one_entry_board();
        board["entries"][0]["date"] = json!("2026-11-27 07:19:00");
        let error = message(&board);
        assert!(error.starts_with("board.entries[0].date: '2026-11-27 07:19:00' does not match ^[0-9]{4}"), "{error}");
        assert!(error.contains("UTC"), "{error}");
        let mut board = one_entry_board();
        board["entries"][0]["predictions"]["sha256"] = json!("A".repeat(64));
        let error = message(&board);
        assert!(error.starts_with("board.entries[0].predictions.sha256: 'AAAA"), "{error}");
        assert!(error.contains("lowercase hex SHA-256"), "{error}");
    }

    #[test]
    fn the_validator_error_is_the_source() {
        use std::error::Error as _;
        let error = validate(&json!({"format": FORMAT})).unwrap_err();
        assert!(error.source().unwrap().to_string().contains("entries"), "{error}");
    }

    #[test]
    fn rank_metrics_are_metrics_but_count() {
        assert_eq!(rank_metric("scatter").unwrap(), RankBy::Point(Metric::Scatter));
        assert_eq!(rank_metric("crps").unwrap(), RankBy::Pdf(PdfMetric::Crps));
        assert_eq!(rank_metric("coverage_95").unwrap(), RankBy::Pdf(PdfMetric::Coverage95));
        for bad in ["count", "wobble"] {
            let error = rank_metric(bad).unwrap_err().to_string();
            assert!(error.starts_with(&format!("--by {bad}: not a metric; use one of bias, mean_bias,")), "{error}");
            assert!(
                error.contains("(point metrics) or pit_ks, pit_cvm,") && error.ends_with("cde_loss (PDF metrics)"),
                "{error}"
            );
        }
    }

    fn pdf_record(crps: f64, coverage_68: Option<f64>) -> PdfRecord {
        PdfRecord {
            dialect: Dialect::Pzbench,
            representation: Representation::Mixture,
            point_estimate: PointEstimate::Mode,
            overall: PdfMetricValues { crps: Some(crps), coverage_68, ..PdfMetricValues::default() },
            intervals: Some(IntervalMap::from([("crps".to_string(), [Some(crps - 0.01), Some(crps + 0.01)])])),
        }
    }

    #[test]
    fn pdf_records_validate_and_old_boards_still_load() {
        let mut board = one_entry_board();
        board["entries"][0]["pdf"] = serde_json::to_value(pdf_record(0.1, Some(0.7))).unwrap();
        assert!(validate(&board).is_ok(), "{board}");
        let pdf = &board["entries"][0]["pdf"];
        assert_eq!(pdf["dialect"], "pzbench");
        assert_eq!(pdf["overall"]["cde_loss"], Value::Null);
        assert_eq!(pdf["intervals"]["crps"], json!([0.1 - 0.01, 0.1 + 0.01]));
        let mut bad = board.clone();
        bad["entries"][0]["pdf"]["overall"]["crsp"] = json!(0.1);
        assert_eq!(message(&bad), "board.entries[0].pdf.overall: unknown key 'crsp'");
        let mut bad = board.clone();
        bad["entries"][0]["pdf"]["representation"] = json!("kde");
        assert!(message(&bad).starts_with("board.entries[0].pdf.representation: \"kde\" is not one of"));
        let mut bad = board;
        bad["entries"][0]["pdf"]["overall"].as_object_mut().unwrap().remove("crps");
        assert_eq!(message(&bad), "board.entries[0].pdf.overall: missing key 'crps'");
        // A board written before PDFs were scored.
        let old = include_str!("../../../leaderboards/synthetic_64px_seed1.json");
        let board = Board::parse(Path::new("synthetic_64px_seed1.json"), old).unwrap();
        assert!(!board.entries.is_empty() && board.entries.iter().all(|e| e.pdf.is_none()));
        assert!(!board.to_json().unwrap().contains("\"pdf\""));
    }

    #[test]
    fn pdf_metrics_rank_smaller_or_closer_to_nominal_first_and_missing_last() {
        let template: Entry = serde_json::from_value(one_entry_board()["entries"][0].clone()).unwrap();
        let entry = |name: &str, pdf: Option<PdfRecord>| Entry { name: name.into(), pdf, ..template.clone() };
        let board = Board {
            format: FORMAT.into(),
            title: None,
            entries: vec![
                entry("point", None),
                entry("wide", Some(pdf_record(0.3, Some(0.70)))),
                entry("narrow", Some(pdf_record(0.2, Some(0.60)))),
                entry("none", Some(pdf_record(0.4, None))),
            ],
        };
        let names = |by: RankBy| board.ranked(by).iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(RankBy::Pdf(PdfMetric::Crps)), ["narrow", "wide", "none", "point"]);
        assert_eq!(names(RankBy::Pdf(PdfMetric::Coverage68)), ["wide", "narrow", "none", "point"]);
        assert_eq!(names(RankBy::Pdf(PdfMetric::CdeLoss)), ["narrow", "none", "point", "wide"]);
        let markdown = board.to_markdown(RankBy::Pdf(PdfMetric::Coverage68));
        assert!(markdown.contains("ranked by |coverage_68 − 0.6827|"), "{markdown}");
        assert!(markdown.contains("| CRPS | PIT KS | CDE loss | Coverage 68 % |"), "{markdown}");
        assert!(markdown.contains("| 0.2 ± 0.01 | - | - | 0.6 |"), "{markdown}");
        let point_only = Board { entries: vec![entry("point", None)], ..board.clone() };
        assert!(!point_only.to_markdown(Metric::Loss).contains("CRPS"));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_763_940), "2026-11-27T07:19:00Z");
    }
}
