//! `pzbench gate` (`docs/gate.md`): compare a candidate's predictions with a baseline and find
//! regressions that are both larger than the policy's tolerance and statistically significant —
//! the criterion.rs idea of "change beyond noise", applied to photo-z metrics.
//!
//! With the baseline's predictions on the same galaxies the comparison is a **paired bootstrap**:
//! each resample draws the same galaxies for both, so the interval of the change reflects only
//! the difference between the two predictors. With only a saved score (no per-galaxy
//! predictions), the baseline's values are taken as fixed and only the candidate is resampled.
//!
//! [`run_gate`] is the whole of `pzbench gate`, [`save_baseline`] that of `pzbench baseline save`.

pub mod baseline;
pub mod policy;

use std::path::{Path, PathBuf};

use serde::Serialize;

use baseline::{align, baseline_json, check_score_matches, load_baseline, Baseline};
use policy::{Correction, Policy};
use pzbench_io::sample::{load_sample, SampleOptions};
use pzbench_io::update::{write_locked, LockOptions};
use pzbench_io::{Error, Result};
use pzbench_metrics::{
    paired_replicates, percentile_interval, Bins, BootstrapConfig, Evaluation, Grouped, Interval, Metric, Metrics,
};
use pzbench_report::{score_sample, ScoreReport};

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
            Scope::Bin { lo, hi, .. } => write!(f, "bin ({lo:.4}, {hi:.4}]"),
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
    pub metric: Metric,
    #[serde(flatten)]
    pub scope: Scope,
    /// Galaxies in the scope.
    pub count: usize,
    pub baseline: f64,
    pub candidate: f64,
    /// Change in badness: `candidate - baseline`, or `|candidate| - |baseline|` for biases.
    /// Positive is worse.
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

/// Badness of a metric value: its magnitude for biases, the value otherwise (smaller is better).
fn badness(metric: Metric, value: f64) -> f64 {
    if metric.judged_by_magnitude() {
        value.abs()
    } else {
        value
    }
}

/// Compare `candidate` with `baseline` under `policy`.
pub fn compare(
    baseline: BaselineSide<'_>,
    candidate: &Grouped,
    bins: &pzbench_metrics::Bins,
    policy: &Policy,
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
    let n_gated = scopes.iter().filter(|(s, b, _)| gated(s, b)).count() * policy.metrics.len();
    let comparison_confidence = match policy.correction {
        Correction::None => policy.confidence,
        Correction::Bonferroni => 1.0 - (1.0 - policy.confidence) / n_gated.max(1) as f64,
    };

    let pick = |evaluation: &Evaluation, scope: &Scope| match scope {
        Scope::Overall => evaluation.overall,
        Scope::Bin { index, .. } => evaluation.per_bin[*index],
    };
    let mut comparisons = Vec::new();
    for (scope, base, cand) in &scopes {
        let (Some(base), Some(cand)) = (base, cand) else {
            continue;
        };
        for &(metric, tolerance) in &policy.metrics {
            let (b, c) = (base.get(metric), cand.get(metric));
            let change = badness(metric, c) - badness(metric, b);
            let mut changes: Vec<f64> = replicates
                .iter()
                .filter_map(|r| {
                    let c_r = pick(r.last()?, scope)?.get(metric);
                    let b_r = if paired { pick(&r[0], scope)?.get(metric) } else { b };
                    Some(badness(metric, c_r) - badness(metric, b_r))
                })
                .collect();
            let interval = percentile_interval(&mut changes, comparison_confidence);
            let threshold = tolerance.threshold(badness(metric, b));
            let verdict = match interval {
                _ if !gated(scope, &Some(*base)) => Verdict::NotGated,
                None => Verdict::NotGated,
                Some(i) if change > threshold && i.lo > 0.0 => Verdict::Regressed,
                Some(i) if change < -threshold && i.hi < 0.0 => Verdict::Improved,
                Some(_) => Verdict::Unchanged,
            };
            comparisons.push(Comparison {
                metric,
                scope: scope.clone(),
                count: base.count,
                baseline: b,
                candidate: c,
                change,
                interval,
                threshold,
                verdict,
            });
        }
    }
    let count = |v: Verdict| comparisons.iter().filter(|c| c.verdict == v).count();
    GateReport {
        paired,
        galaxies: candidate.dz.len(),
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
    /// A predictions file, a `pzbench baseline save` file or a score JSON ([`load_baseline`]).
    pub baseline: PathBuf,
    /// The candidate's predictions file.
    pub candidate: PathBuf,
    /// How to read both (`--truth`, column names, delimiter).
    pub sample_options: SampleOptions,
    pub policy: Policy,
}

/// `pzbench gate`: load the baseline and the candidate, group both on the paper's bins
/// (`docs/METRICS.md`), and [`compare`] them under the policy — paired when the baseline has
/// per-galaxy predictions of the same galaxies ([`align`]), against fixed values when it is a
/// saved score of the same bins and galaxy count.
pub fn run_gate(request: &GateRequest) -> Result<GateReport> {
    let policy = &request.policy;
    policy.validate().map_err(|e| Error::usage(format!("invalid gate policy: {e}")))?;
    let bins = Bins::galaxiesml_default();
    let baseline = load_baseline(&request.baseline, &request.sample_options)?;
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

/// `pzbench baseline save`: score the predictions at `predictions` on the paper's bins, with
/// bootstrap intervals if asked, and write them with the per-galaxy predictions to `output`
/// ([`baseline_json`], atomically, under the file's lock: [`write_locked`], waiting as `lock`
/// says), so that a later gate runs a paired bootstrap. Returns the score.
pub fn save_baseline(
    predictions: &Path,
    options: &SampleOptions,
    bootstrap_config: Option<BootstrapConfig>,
    output: &Path,
    lock: &LockOptions<'_>,
) -> Result<ScoreReport> {
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
            "{} bootstrap, {} resamples, {:.0}% confidence{}",
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
