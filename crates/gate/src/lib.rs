//! `pzbench gate` (`docs/gate.md`): compare a candidate's predictions with a baseline and find
//! regressions that are both larger than the policy's tolerance and statistically significant —
//! the criterion.rs idea of "change beyond noise", applied to photo-z metrics.
//!
//! With the baseline's predictions on the same galaxies the comparison is a **paired bootstrap**:
//! each resample draws the same galaxies for both, so the interval of the change reflects only
//! the difference between the two predictors. With only a saved score (no per-galaxy
//! predictions), the baseline's values are taken as fixed and only the candidate is resampled.
//!
//! PDF files (`docs/PDF_METRICS.md`) are compared the same way: their pzbench-dialect per-galaxy
//! values are paired by galaxy and resampled together ([`paired_pdf_replicates`]), and the point
//! metrics of their point estimate are gated alongside the PDF metrics.
//!
//! [`run_gate`] is the whole of `pzbench gate`, [`save_baseline`] that of `pzbench baseline save`.

pub mod baseline;
pub mod policy;

use std::path::{Path, PathBuf};

use serde::Serialize;

use baseline::{
    align, align_order, baseline_json, check_score_matches, load_gate_baseline, pdf_baseline_json, Baseline,
    GateBaseline, PdfBaseline,
};
use policy::{Correction, GateMetric, Policy, Tolerance};
use pzbench_io::pdf::{detect_pdf_file, PdfReadOptions};
use pzbench_io::sample::{load_sample, SampleOptions};
use pzbench_io::update::{write_locked, LockOptions};
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::{
    evaluate_pdf_values, paired_pdf_replicates, Dialect, GalaxyValues, PdfEvaluation, PdfMetric, PdfOptions,
    PdfReplicate, PdfValues, PointEstimate, SetReport,
};
use pzbench_metrics::{
    paired_replicates, percentile_interval, Bins, BootstrapConfig, Evaluation, Grouped, Interval, Metric, Metrics,
};
use pzbench_report::{load_pdf_values, score_pdf_file, score_sample, PdfScoreOptions, ScoreReport};

/// Where a comparison applies.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    Overall,
    Bin { index: usize, lo: f64, hi: f64 },
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Overall => write!(f, "overall"),
            Scope::Bin { lo, hi, .. } => write!(f, "bin {}", pzbench_report::format::bin_label(*lo, *hi)),
        }
    }
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse by more than the tolerance, and significantly so: fails the gate.
    Regressed,
    /// Better by more than the tolerance, and significantly so.
    Improved,
    /// Within the tolerance or not significant.
    Unchanged,
    /// Reported only (too few galaxies, or no interval could be formed).
    NotGated,
}

/// One metric in one scope, baseline against candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub metric: GateMetric,
    #[serde(flatten)]
    pub scope: Scope,
    /// Galaxies in the scope.
    pub count: usize,
    pub baseline: f64,
    pub candidate: f64,
    /// Change in badness: `candidate - baseline`, `|candidate| - |baseline|` for biases,
    /// `|candidate - nominal| - |baseline - nominal|` for PIT coverages. Positive is worse.
    pub change: f64,
    /// Interval of `change` at the (corrected) confidence.
    pub interval: Option<Interval>,
    /// The change must exceed this to count (from the policy's tolerance).
    pub threshold: f64,
    pub verdict: Verdict,
}

/// The gate's full result.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// Paired bootstrap (per-galaxy baseline) or fixed baseline values.
    pub paired: bool,
    pub galaxies: usize,
    /// For PDF files: the point estimate whose point metrics are gated (the candidate's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_estimate: Option<PointEstimate>,
    pub policy: Policy,
    /// Confidence of each comparison after the multiple-comparison correction.
    pub comparison_confidence: f64,
    pub comparisons: Vec<Comparison>,
    pub regressions: usize,
    pub improvements: usize,
}

impl GateReport {
    /// Exit code of the gate: 1 when anything regressed, 0 otherwise.
    pub fn failed(&self) -> bool {
        self.regressions > 0
    }
}

/// The baseline side of a comparison.
pub enum BaselineSide<'a> {
    /// Per-galaxy errors on the same galaxies, in the same grouped order as the candidate.
    Paired(&'a Grouped),
    /// Fixed metric values (a saved score), overall and per bin.
    Fixed(&'a Evaluation),
}

/// The PDF side of a comparison: pzbench-dialect values of the same galaxies in the same order
/// as the point side's, and their paired replicates (baseline first).
struct PdfSide {
    baseline: PdfEvaluation,
    candidate: PdfEvaluation,
    replicates: Vec<Vec<PdfReplicate>>,
}

/// Compare `candidate` with `baseline` under `policy` (its point metrics; PDF metrics need
/// [`compare_pdfs`]).
pub fn compare(
    baseline: BaselineSide<'_>,
    candidate: &Grouped,
    bins: &pzbench_metrics::Bins,
    policy: &Policy,
) -> GateReport {
    compare_with(baseline, candidate, bins, policy, None)
}

/// Compare PDFs: the point metrics of their point estimates (`baseline`, `candidate`, grouped on
/// `bins`) and the PDF metrics of their values (the same galaxies in the same order), all on
/// paired resamples. Values must be of the pzbench dialect.
pub fn compare_pdfs(
    baseline: &Grouped,
    candidate: &Grouped,
    baseline_values: &PdfValues,
    candidate_values: &PdfValues,
    bins: &Bins,
    policy: &Policy,
) -> Result<GateReport> {
    if [baseline_values, candidate_values].iter().any(|v| v.dialect() != Dialect::Pzbench) {
        return Err(Error::usage("the gate compares pzbench-dialect PDF values"));
    }
    let config = BootstrapConfig { resamples: policy.resamples, confidence: policy.confidence, seed: policy.seed };
    let options = PdfOptions::default();
    let in_metrics = |e: pzbench_metrics::Error| Error::usage(e.to_string()).caused_by(e);
    let replicates =
        paired_pdf_replicates(&[baseline_values, candidate_values], bins, &options, &config).map_err(in_metrics)?;
    let side = PdfSide {
        baseline: evaluate_pdf_values(baseline_values, bins, &options).map_err(in_metrics)?,
        candidate: evaluate_pdf_values(candidate_values, bins, &options).map_err(in_metrics)?,
        replicates,
    };
    Ok(compare_with(BaselineSide::Paired(baseline), candidate, bins, policy, Some(&side)))
}

fn compare_with(
    baseline: BaselineSide<'_>,
    candidate: &Grouped,
    bins: &pzbench_metrics::Bins,
    policy: &Policy,
    pdf: Option<&PdfSide>,
) -> GateReport {
    let config = BootstrapConfig { resamples: policy.resamples, confidence: policy.confidence, seed: policy.seed };
    let candidate_full = pzbench_metrics::evaluate(candidate);
    let (baseline_full, paired, replicates) = match baseline {
        BaselineSide::Paired(base) => {
            let replicates = paired_replicates(&[base, candidate], &config);
            (pzbench_metrics::evaluate(base), true, replicates)
        }
        BaselineSide::Fixed(evaluation) => {
            let replicates = paired_replicates(&[candidate], &config);
            (evaluation.clone(), false, replicates)
        }
    };

    // The scopes and metrics to compare: overall, then every bin.
    let mut scopes: Vec<(Scope, Option<Metrics>, Option<Metrics>)> =
        vec![(Scope::Overall, baseline_full.overall, candidate_full.overall)];
    for (index, (base, cand)) in baseline_full.per_bin.iter().zip(&candidate_full.per_bin).enumerate() {
        let (lo, hi) = bins.interval(index);
        scopes.push((Scope::Bin { index, lo, hi }, *base, *cand));
    }
    let gated = |scope: &Scope, base: &Option<Metrics>| match scope {
        Scope::Overall => base.is_some(),
        Scope::Bin { .. } => policy.bins && base.is_some_and(|m| m.count >= policy.min_galaxies_per_bin),
    };
    let point_metrics: Vec<(Metric, Tolerance)> = policy
        .metrics
        .iter()
        .filter_map(|(metric, tolerance)| match metric {
            GateMetric::Point(metric) => Some((*metric, *tolerance)),
            GateMetric::Pdf(_) => None,
        })
        .collect();
    let pdf_metrics: Vec<(PdfMetric, Tolerance)> = match pdf {
        None => Vec::new(),
        Some(_) => policy
            .metrics
            .iter()
            .filter_map(|(metric, tolerance)| match metric {
                GateMetric::Pdf(metric) => Some((*metric, *tolerance)),
                GateMetric::Point(_) => None,
            })
            .collect(),
    };
    let n_gated = scopes.iter().filter(|(s, b, _)| gated(s, b)).count() * (point_metrics.len() + pdf_metrics.len());
    let comparison_confidence = match policy.correction {
        Correction::None => policy.confidence,
        Correction::Bonferroni => 1.0 - (1.0 - policy.confidence) / n_gated.max(1) as f64,
    };
    let judge = |metric: GateMetric,
                 scope: &Scope,
                 count: usize,
                 is_gated: bool,
                 (b, c): (f64, f64),
                 mut changes: Vec<f64>,
                 tolerance: &Tolerance| {
        let change = metric.badness(c) - metric.badness(b);
        let interval = percentile_interval(&mut changes, comparison_confidence);
        let threshold = tolerance.threshold(metric.badness(b));
        let verdict = match interval {
            _ if !is_gated => Verdict::NotGated,
            None => Verdict::NotGated,
            Some(i) if change > threshold && i.lo > 0.0 => Verdict::Regressed,
            Some(i) if change < -threshold && i.hi < 0.0 => Verdict::Improved,
            Some(_) => Verdict::Unchanged,
        };
        Comparison {
            metric,
            scope: scope.clone(),
            count,
            baseline: b,
            candidate: c,
            change,
            interval,
            threshold,
            verdict,
        }
    };
    let pick = |evaluation: &Evaluation, scope: &Scope| match scope {
        Scope::Overall => evaluation.overall,
        Scope::Bin { index, .. } => evaluation.per_bin[*index],
    };
    fn pick_pdf<'r>(
        overall: &'r Option<SetReport>,
        per_bin: &'r [Option<SetReport>],
        scope: &Scope,
    ) -> Option<&'r SetReport> {
        match scope {
            Scope::Overall => overall.as_ref(),
            Scope::Bin { index, .. } => per_bin.get(*index).and_then(Option::as_ref),
        }
    }
    let mut comparisons = Vec::new();
    for (scope, base, cand) in &scopes {
        let (Some(base), Some(cand)) = (base, cand) else {
            continue;
        };
        let is_gated = gated(scope, &Some(*base));
        for &(metric, tolerance) in &point_metrics {
            let (b, c) = (base.get(metric), cand.get(metric));
            let point = GateMetric::Point(metric);
            let changes: Vec<f64> = replicates
                .iter()
                .filter_map(|r| {
                    let c_r = pick(r.last()?, scope)?.get(metric);
                    let b_r = if paired { pick(&r[0], scope)?.get(metric) } else { b };
                    Some(point.badness(c_r) - point.badness(b_r))
                })
                .collect();
            comparisons.push(judge(point, scope, base.count, is_gated, (b, c), changes, &tolerance));
        }
        let Some(pdf) = pdf else {
            continue;
        };
        let value = |evaluation: &PdfEvaluation, metric: PdfMetric| {
            pick_pdf(&evaluation.overall, &evaluation.per_bin, scope).and_then(|r| metric.of(r))
        };
        for &(metric, tolerance) in &pdf_metrics {
            let values = value(&pdf.baseline, metric).zip(value(&pdf.candidate, metric));
            let Some((b, c)) = values else {
                continue;
            };
            let gate_metric = GateMetric::Pdf(metric);
            let changes: Vec<f64> = pdf
                .replicates
                .iter()
                .filter_map(|r| {
                    let (first, last) = (r.first()?, r.last()?);
                    let b_r = metric.of(pick_pdf(&first.overall, &first.per_bin, scope)?)?;
                    let c_r = metric.of(pick_pdf(&last.overall, &last.per_bin, scope)?)?;
                    Some(gate_metric.badness(c_r) - gate_metric.badness(b_r))
                })
                .collect();
            comparisons.push(judge(gate_metric, scope, base.count, is_gated, (b, c), changes, &tolerance));
        }
    }
    let count = |v: Verdict| comparisons.iter().filter(|c| c.verdict == v).count();
    GateReport {
        paired,
        galaxies: candidate.dz.len(),
        point_estimate: None,
        policy: policy.clone(),
        comparison_confidence,
        regressions: count(Verdict::Regressed),
        improvements: count(Verdict::Improved),
        comparisons,
    }
}

/// What `pzbench gate` compares.
#[derive(Debug, Clone)]
pub struct GateRequest {
    /// A predictions or PDF file, a `pzbench baseline save` file or a score JSON
    /// ([`load_gate_baseline`]).
    pub baseline: PathBuf,
    /// The candidate's predictions or PDF file.
    pub candidate: PathBuf,
    /// How to read both (`--truth`, column names, delimiter).
    pub sample_options: SampleOptions,
    /// How to read PDF files (the same flags, and `--grid`, `--align`).
    pub pdf_read: PdfReadOptions,
    pub policy: Policy,
}

/// `pzbench gate`: load the baseline and the candidate, group both on the paper's bins
/// (`docs/METRICS.md`), and [`compare`] them under the policy — paired when the baseline has
/// per-galaxy predictions of the same galaxies ([`align`]), against fixed values when it is a
/// saved score of the same bins and galaxy count. PDF files are compared with [`compare_pdfs`]
/// (the policy's [`Policy::for_pdfs`]); a PDF file gated against point predictions, or the
/// reverse, is an error.
pub fn run_gate(request: &GateRequest) -> Result<GateReport> {
    let policy = &request.policy;
    policy.validate().map_err(|e| Error::usage(format!("invalid gate policy: {e}")))?;
    let bins = Bins::galaxiesml_default();
    let baseline = load_gate_baseline(&request.baseline, &request.sample_options, &request.pdf_read)?;
    let candidate_is_pdf = detect_pdf_file(&request.candidate, &request.pdf_read)?.is_some();
    let baseline = match (baseline, candidate_is_pdf) {
        (GateBaseline::Pdf(base), true) => return gate_pdfs(request, &base, &bins),
        (GateBaseline::Pdf(_), false) => {
            return Err(Error::file(
                &request.candidate,
                format!(
                    "holds point predictions, and the baseline {} holds PDFs; gate PDFs against PDFs, point predictions against point predictions",
                    request.baseline.display()
                ),
            ))
        }
        (GateBaseline::Point(Baseline::Score { .. }), true) => {
            return Err(Error::file(
                &request.baseline,
                "a saved score has no per-galaxy values to pair with the candidate's PDFs; use the baseline's PDF file, or a `pzbench baseline save` file of it",
            ))
        }
        (GateBaseline::Point(_), true) => {
            return Err(Error::file(
                &request.candidate,
                format!(
                    "holds PDFs, and the baseline {} holds point predictions; gate PDFs against PDFs, point predictions against point predictions",
                    request.baseline.display()
                ),
            ))
        }
        (GateBaseline::Point(baseline), false) => baseline,
    };
    if let Some(metric) = policy.first_pdf_metric() {
        return Err(Error::usage(format!(
            "the policy gates '{}', a PDF metric, and these files hold point predictions; remove it from [metrics]",
            metric.key()
        )));
    }
    check_no_pdf_flags(&request.pdf_read)?;
    let candidate = load_sample(&request.candidate, &request.sample_options)?;
    Ok(match baseline {
        Baseline::Predictions(base) => {
            let aligned = align(&base, &candidate, &request.candidate)?;
            let base_grouped = Grouped::new(aligned.z_spec.clone(), aligned.baseline, &bins);
            let cand_grouped = Grouped::new(aligned.z_spec, aligned.candidate, &bins);
            compare(BaselineSide::Paired(&base_grouped), &cand_grouped, &bins, policy)
        }
        Baseline::Score { evaluation, edges, count } => {
            check_score_matches(&request.baseline, &edges, count, &bins, candidate.z_spec.len())?;
            let cand_grouped = Grouped::new(candidate.z_spec, candidate.z_phot, &bins);
            compare(BaselineSide::Fixed(&evaluation), &cand_grouped, &bins, policy)
        }
    })
}

/// `--grid` and `--align rows` are for PDF files.
fn check_no_pdf_flags(pdf: &PdfReadOptions) -> Result<()> {
    let flag = if pdf.grid.is_some() {
        "--grid"
    } else if pdf.align_rows {
        "--align"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!("{flag} applies to PDF files, and these files hold point predictions; drop {flag}")))
}

/// The pzbench-dialect galaxies of `values`, read from `path`.
fn pzbench_galaxies<'v>(values: &'v PdfValues, path: &Path) -> Result<&'v [GalaxyValues]> {
    match values {
        PdfValues::Pzbench { galaxies, .. } => Ok(galaxies),
        PdfValues::Rail { .. } => Err(Error::file(path, "the gate compares pzbench-dialect PDF values")),
    }
}

/// The gate of a PDF candidate against a PDF baseline: align the galaxies as point predictions
/// are aligned, then [`compare_pdfs`].
fn gate_pdfs(request: &GateRequest, base: &PdfBaseline, bins: &Bins) -> Result<GateReport> {
    let (file, cand_values) = load_pdf_values(&request.candidate, &request.pdf_read, Dialect::Pzbench)?;
    let base_galaxies = pzbench_galaxies(&base.values, &request.baseline)?;
    let cand_galaxies = pzbench_galaxies(&cand_values, &request.candidate)?;
    let z_spec = |galaxies: &[GalaxyValues]| galaxies.iter().map(|g| g.z_spec).collect::<Vec<f64>>();
    let base_z = z_spec(base_galaxies);
    let order =
        align_order((base.ids.as_deref(), &base_z), (file.ids.as_deref(), &z_spec(cand_galaxies)), &request.candidate)?;
    let aligned = PdfValues::Pzbench {
        representation: cand_values.representation(),
        galaxies: order.iter().map(|&i| cand_galaxies[i]).collect(),
    };
    let point = |values: &PdfValues, path: &Path| -> Result<(PointEstimate, Vec<f64>)> {
        let estimate = PdfScoreOptions::default().point_for(values.representation());
        let z_phot = values.point_estimates(estimate).map_err(|e| Error::file(path, e.to_string()).caused_by(e))?;
        Ok((estimate, z_phot))
    };
    let (_, base_phot) = point(&base.values, &request.baseline)?;
    let (estimate, cand_phot) = point(&aligned, &request.candidate)?;
    let base_grouped = Grouped::new(base_z.clone(), base_phot, bins);
    let cand_grouped = Grouped::new(base_z, cand_phot, bins);
    let mut report =
        compare_pdfs(&base_grouped, &cand_grouped, &base.values, &aligned, bins, &request.policy.for_pdfs())?;
    report.point_estimate = Some(estimate);
    Ok(report)
}

/// `pzbench baseline save`: score the predictions at `predictions` on the paper's bins, with
/// bootstrap intervals if asked, and write them with the per-galaxy predictions to `output`
/// ([`baseline_json`], atomically, under the file's lock: [`write_locked`], waiting as `lock`
/// says), so that a later gate runs a paired bootstrap. A PDF file (read as `pdf` says) is saved
/// with its `pdf` block and every galaxy's pzbench-dialect values ([`pdf_baseline_json`]).
/// Returns the score.
pub fn save_baseline(
    predictions: &Path,
    options: &SampleOptions,
    pdf: &PdfReadOptions,
    bootstrap_config: Option<BootstrapConfig>,
    output: &Path,
    lock: &LockOptions<'_>,
) -> Result<ScoreReport> {
    if detect_pdf_file(predictions, pdf)?.is_some() {
        let score_options = PdfScoreOptions { read: pdf.clone(), dialect: Dialect::Pzbench, ..Default::default() };
        let scored = score_pdf_file(predictions, &score_options, &Bins::galaxiesml_default(), bootstrap_config)?;
        let text = pdf_baseline_json(scored.ids.as_deref(), &scored.values, &scored.report)?;
        write_locked(output, lock, text.as_bytes())?;
        return Ok(scored.report);
    }
    check_no_pdf_flags(pdf)?;
    let sample = load_sample(predictions, options)?;
    let report = score_sample(sample.clone(), Bins::galaxiesml_default(), bootstrap_config);
    write_locked(output, lock, baseline_json(&sample, &report).as_bytes())?;
    Ok(report)
}

fn signed(x: f64) -> String {
    let text = pzbench_report::format::significant(x, 4);
    if x > 0.0 {
        format!("+{text}")
    } else {
        text
    }
}

fn describe_interval(interval: &Option<Interval>) -> String {
    interval.map_or("-".to_string(), |i| format!("[{}, {}]", signed(i.lo), signed(i.hi)))
}

impl GateReport {
    fn method(&self) -> String {
        format!(
            "{}{} bootstrap, {} resamples, {:.0}% confidence{}",
            self.point_estimate.map_or(String::new(), |p| format!(
                "PDFs (point metrics of the {}), ",
                serde_json::to_value(p).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            )),
            if self.paired { "paired" } else { "candidate-only (baseline values fixed)" },
            self.policy.resamples,
            self.policy.confidence * 100.0,
            match self.policy.correction {
                Correction::Bonferroni =>
                    format!(" (Bonferroni: {:.4}% per comparison)", self.comparison_confidence * 100.0),
                Correction::None => String::new(),
            }
        )
    }

    fn notable(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons.iter().filter(|c| matches!(c.verdict, Verdict::Regressed | Verdict::Improved))
    }

    /// Terminal output: one line per regression or improvement, then the verdict.
    pub fn to_text(&self) -> String {
        let s = |x: f64| pzbench_report::format::significant(x, 4);
        let mut out = format!("pzbench gate: {} galaxies, {}\n", self.galaxies, self.method());
        for c in self.notable() {
            out.push_str(&format!(
                "{:<9} {:<13} {:<22} baseline {:>10}  candidate {:>10}  change {:>10}  interval {}  (tolerance {})\n",
                if c.verdict == Verdict::Regressed { "REGRESSED" } else { "improved" },
                c.metric,
                c.scope.to_string(),
                s(c.baseline),
                s(c.candidate),
                signed(c.change),
                describe_interval(&c.interval),
                s(c.threshold)
            ));
        }
        let gated = self.comparisons.iter().filter(|c| c.verdict != Verdict::NotGated).count();
        out.push_str(&format!(
            "{}: {} regressions, {} improvements, {} of {} comparisons gated\n",
            if self.failed() { "FAIL" } else { "PASS" },
            self.regressions,
            self.improvements,
            gated,
            self.comparisons.len()
        ));
        out
    }

    /// Markdown for a pull-request comment (e.g. appended to `$GITHUB_STEP_SUMMARY`).
    pub fn to_markdown(&self) -> String {
        let s = |x: f64| pzbench_report::format::significant(x, 4);
        let mut out = format!(
            "### {} photo-z gate: {} regressions, {} improvements\n\n{} galaxies; {}.\n\n",
            if self.failed() { "❌" } else { "✅" },
            self.regressions,
            self.improvements,
            self.galaxies,
            self.method()
        );
        if self.notable().next().is_some() {
            out.push_str(
                "| | metric | where | baseline | candidate | change | interval |\n|---|---|---|---:|---:|---:|---|\n",
            );
            for c in self.notable() {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    if c.verdict == Verdict::Regressed { "regressed" } else { "improved" },
                    c.metric,
                    c.scope,
                    s(c.baseline),
                    s(c.candidate),
                    signed(c.change),
                    describe_interval(&c.interval)
                ));
            }
        } else {
            out.push_str("No metric changed beyond its tolerance.\n");
        }
        out
    }

    /// The full result as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
