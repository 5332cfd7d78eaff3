//! Baselines for the gate: a predictions file, a saved score (`pzbench score --format json`, or
//! any JSON with `overall`/`per_bin`, e.g. a leaderboard entry), or a baseline file written by
//! `pzbench baseline save` — the score plus the per-galaxy predictions, so a later gate can run a
//! paired bootstrap without the original files. For PDF files the baseline is a PDF file, or a
//! baseline file of one (`"kind": "pdf"`): the score with its `pdf` block and every galaxy's
//! pzbench-dialect values ([`GalaxyValues`]).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use pzbench_io::pdf::{detect_pdf_file, PdfReadOptions};
use pzbench_io::sample::{load_sample, Sample, SampleOptions};
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::{Dialect, GalaxyValues, PdfValues, Representation};
use pzbench_metrics::{Bins, Evaluation, Metric, Metrics};
use pzbench_report::{load_pdf_values, ScoreReport};

/// Format version of baseline files.
pub const BASELINE_FORMAT: u32 = 1;

/// The `kind` of a baseline file of PDFs (point baselines have no `kind`).
pub const PDF_BASELINE_KIND: &str = "pdf";

/// The per-galaxy PDF values of a baseline: of the same galaxies as the candidate's, paired by id.
#[derive(Debug, Clone)]
pub struct PdfBaseline {
    /// The galaxies' ids, in the order of `values`, when the file had them.
    pub ids: Option<Vec<i64>>,
    /// pzbench-dialect values.
    pub values: PdfValues,
}

/// What a `--baseline` argument turned out to be, PDFs included.
pub enum GateBaseline {
    /// Point predictions or a saved score ([`load_baseline`]).
    Point(Baseline),
    /// A PDF file or a PDF baseline file.
    Pdf(Box<PdfBaseline>),
}

/// What a `--baseline` argument turned out to be.
pub enum Baseline {
    /// Per-galaxy predictions (from a predictions file or a baseline file).
    Predictions(Box<Sample>),
    /// Only metric values, with the bins they were computed on.
    Score { evaluation: Evaluation, edges: Vec<f64>, count: usize },
}

/// The per-galaxy part of a baseline file.
#[derive(Debug, Serialize)]
struct Galaxies<'a> {
    object_id: Option<&'a [i64]>,
    z_spec: &'a [f64],
    z_phot: &'a [f64],
}

/// The JSON text of a baseline file for `sample` scored as `report`.
pub fn baseline_json(sample: &Sample, report: &ScoreReport) -> String {
    #[derive(Serialize)]
    struct File<'a> {
        pzbench_baseline: u32,
        score: &'a ScoreReport,
        galaxies: Galaxies<'a>,
    }
    let file = File {
        pzbench_baseline: BASELINE_FORMAT,
        score: report,
        galaxies: Galaxies { object_id: sample.ids.as_deref(), z_spec: &sample.z_spec, z_phot: &sample.z_phot },
    };
    serde_json::to_string(&file).unwrap_or_default() + "\n"
}

/// The JSON text of a baseline file for the PDFs with `values` (pzbench dialect) and `ids`,
/// scored as `report`: `{"pzbench_baseline": 1, "kind": "pdf", "score": …, "galaxies":
/// {"object_id": [...] | null, "representation": "mixture", "values": [{"z_spec", "pit", "crps",
/// "pdf_at_truth", "int_f2", "z_mode", "z_mean", "z_median", "variance"}, …]}}`.
pub fn pdf_baseline_json(ids: Option<&[i64]>, values: &PdfValues, report: &ScoreReport) -> Result<String> {
    #[derive(Serialize)]
    struct PdfGalaxies<'a> {
        object_id: Option<&'a [i64]>,
        representation: Representation,
        values: &'a [GalaxyValues],
    }
    #[derive(Serialize)]
    struct File<'a> {
        pzbench_baseline: u32,
        kind: &'static str,
        score: &'a ScoreReport,
        galaxies: PdfGalaxies<'a>,
    }
    let PdfValues::Pzbench { representation, galaxies } = values else {
        return Err(Error::usage("a PDF baseline keeps pzbench-dialect values; save it without --dialect rail"));
    };
    let file = File {
        pzbench_baseline: BASELINE_FORMAT,
        kind: PDF_BASELINE_KIND,
        score: report,
        galaxies: PdfGalaxies { object_id: ids, representation: *representation, values: galaxies },
    };
    serde_json::to_string(&file)
        .map(|text| text + "\n")
        .map_err(|e| Error::usage(format!("cannot write the baseline: {e}")).caused_by(e))
}

/// A baseline file or score, read as JSON; `None` for anything that is not JSON (a predictions
/// or PDF file).
fn read_json(path: &Path) -> Result<Option<Value>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")).caused_by(e))?;
    // A UTF-8 byte-order mark before the `{` of a hand-edited JSON file is not part of it.
    let looks_like_json =
        pzbench_io::encoding::strip_bom(&bytes).iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{');
    if !looks_like_json {
        return Ok(None);
    }
    let text = pzbench_io::encoding::decode_utf8(path, bytes)?;
    serde_json::from_str(&text).map(Some).map_err(|e| Error::file(path, format!("invalid JSON: {e}")).caused_by(e))
}

/// Whether a parsed baseline file is one of PDFs.
fn is_pdf_baseline(value: &Value) -> bool {
    value.get("pzbench_baseline").is_some() && value.get("kind").and_then(Value::as_str) == Some(PDF_BASELINE_KIND)
}

/// Load `--baseline`: JSON baselines by content, anything else as a predictions file. A baseline
/// file of PDFs is refused here ([`load_gate_baseline`] reads it).
pub fn load_baseline(path: &Path, options: &SampleOptions) -> Result<Baseline> {
    let Some(value) = read_json(path)? else {
        return Ok(Baseline::Predictions(Box::new(load_sample(path, options)?)));
    };
    point_baseline_of(path, &value)
}

fn point_baseline_of(path: &Path, value: &Value) -> Result<Baseline> {
    if is_pdf_baseline(value) {
        return Err(Error::file(path, "a baseline of PDFs; gate it against a PDF file"));
    }
    if value.get("pzbench_baseline").is_some() {
        return galaxies_of(path, value).map(|sample| Baseline::Predictions(Box::new(sample)));
    }
    score_of(path, value)
}

/// Load `--baseline` for a gate that may compare PDFs: a PDF file (recognised by content, as
/// `pzbench score` does) or a baseline file of one gives its pzbench-dialect values; anything
/// else is [`load_baseline`]'s.
pub fn load_gate_baseline(path: &Path, options: &SampleOptions, pdf: &PdfReadOptions) -> Result<GateBaseline> {
    match read_json(path)? {
        Some(value) if is_pdf_baseline(&value) => pdf_galaxies_of(path, &value).map(|b| GateBaseline::Pdf(Box::new(b))),
        Some(value) => point_baseline_of(path, &value).map(GateBaseline::Point),
        None if detect_pdf_file(path, pdf)?.is_some() => {
            let (file, values) = load_pdf_values(path, pdf, Dialect::Pzbench)?;
            Ok(GateBaseline::Pdf(Box::new(PdfBaseline { ids: file.ids, values })))
        }
        None => Ok(GateBaseline::Point(Baseline::Predictions(Box::new(load_sample(path, options)?)))),
    }
}

/// The per-galaxy values of a PDF baseline file, checked as a PDF file's would be.
fn pdf_galaxies_of(path: &Path, value: &Value) -> Result<PdfBaseline> {
    let bad = |what: &str| {
        Error::file(
            path,
            format!("not a valid pzbench PDF baseline file: {what}; re-create it with `pzbench baseline save`"),
        )
    };
    let galaxies = value.get("galaxies").ok_or_else(|| bad("no 'galaxies'"))?;
    let representation: Representation = serde_json::from_value(
        galaxies.get("representation").cloned().ok_or_else(|| bad("no galaxies.representation"))?,
    )
    .map_err(|e| bad(&format!("galaxies.representation: {e}")))?;
    let values: Vec<GalaxyValues> =
        serde_json::from_value(galaxies.get("values").cloned().ok_or_else(|| bad("no galaxies.values"))?)
            .map_err(|e| bad(&format!("galaxies.values: {e}")))?;
    let ids = ids_of(galaxies, &bad)?;
    if ids.as_ref().is_some_and(|i| i.len() != values.len()) {
        return Err(bad("galaxies.object_id and galaxies.values have different lengths"));
    }
    if let Some((row, g)) = values.iter().enumerate().find(|(_, g)| !(g.z_spec.is_finite() && g.z_spec > -1.0)) {
        return Err(bad(&format!("galaxies.values[{row}].z_spec = {} is not a finite number above -1", g.z_spec)));
    }
    if let Some((row, g)) = values.iter().enumerate().find(|(_, g)| !(0.0..=1.0).contains(&g.pit)) {
        return Err(bad(&format!("galaxies.values[{row}].pit = {} is not in [0, 1]", g.pit)));
    }
    if let Some(ids) = &ids {
        check_unique(ids, &bad)?;
    }
    Ok(PdfBaseline { ids, values: PdfValues::Pzbench { representation, galaxies: values } })
}

/// `galaxies.object_id`: a list of integers, or absent/null.
fn ids_of(galaxies: &Value, bad: &dyn Fn(&str) -> Error) -> Result<Option<Vec<i64>>> {
    match galaxies.get("object_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(ids)) => Ok(Some(
            ids.iter()
                .map(|v| v.as_i64().ok_or_else(|| bad("galaxies.object_id holds a non-integer")))
                .collect::<Result<Vec<i64>>>()?,
        )),
        Some(_) => Err(bad("galaxies.object_id is not a list")),
    }
}

/// What the table reader refuses in a predictions file, refused here too (found by
/// pzbench-fuzz: a duplicate id let the gate pair one candidate galaxy twice).
fn check_unique(ids: &[i64], bad: &dyn Fn(&str) -> Error) -> Result<()> {
    let mut seen = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(*id, row) {
            return Err(bad(&format!("object_id {id} appears twice (galaxies {first} and {row})")));
        }
    }
    Ok(())
}

fn galaxies_of(path: &Path, value: &Value) -> Result<Sample> {
    let bad = |what: &str| {
        Error::file(
            path,
            format!("not a valid pzbench baseline file: {what}; re-create it with `pzbench baseline save`"),
        )
    };
    let galaxies = value.get("galaxies").ok_or_else(|| bad("no 'galaxies'"))?;
    let floats = |key: &str| -> Result<Vec<f64>> {
        galaxies
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&format!("no galaxies.{key}")))?
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| bad(&format!("galaxies.{key} holds a non-number"))))
            .collect()
    };
    let z_spec = floats("z_spec")?;
    let z_phot = floats("z_phot")?;
    let ids = ids_of(galaxies, &bad)?;
    if z_spec.len() != z_phot.len() || ids.as_ref().is_some_and(|i| i.len() != z_spec.len()) {
        return Err(bad("galaxies.* lists have different lengths"));
    }
    // What the table reader refuses in a predictions file, refused here too.
    if let Some((row, z)) = z_spec.iter().enumerate().find(|(_, z)| **z <= -1.0) {
        return Err(bad(&format!("galaxies.z_spec[{row}] = {z} is <= -1, so 1 + z_spec <= 0")));
    }
    if let Some(ids) = &ids {
        check_unique(ids, &bad)?;
    }
    let input: pzbench_io::sample::InputInfo = serde_json::from_value(value["score"]["input"].clone())
        .map_err(|e| bad(&format!("score.input: {e}")).caused_by(e))?;
    Ok(Sample { ids, z_spec, z_phot, input })
}

fn score_of(path: &Path, value: &Value) -> Result<Baseline> {
    let bad = |what: &str| {
        Error::file(
            path,
            format!(
                "not a score, baseline or predictions file: {what}; expected the JSON of `pzbench score --format json`"
            ),
        )
    };
    let metrics_of = |entry: &Value| -> Result<Option<Metrics>> {
        let count = entry.get("count").and_then(Value::as_u64).ok_or_else(|| bad("an entry lacks 'count'"))?;
        if count == 0 {
            return Ok(None);
        }
        let mut map = serde_json::Map::new();
        for key in Metric::ALL.map(Metric::key) {
            map.insert(
                key.to_string(),
                entry.get(key).cloned().ok_or_else(|| bad(&format!("an entry lacks '{key}'")))?,
            );
        }
        serde_json::from_value(Value::Object(map)).map(Some).map_err(|e| bad(&e.to_string()).caused_by(e))
    };
    let overall = metrics_of(value.get("overall").ok_or_else(|| bad("no 'overall'"))?)?;
    let per_bin = value
        .get("per_bin")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no 'per_bin' list"))?
        .iter()
        .map(metrics_of)
        .collect::<Result<Vec<_>>>()?;
    let edges: Vec<f64> = value
        .pointer("/bins/edges")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no bins.edges"))?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    if edges.len() != per_bin.len() + 1 {
        return Err(bad("bins.edges does not match per_bin"));
    }
    let count = overall.map_or(0, |m| m.count);
    Ok(Baseline::Score { evaluation: Evaluation { overall, per_bin }, edges, count })
}

/// The three aligned columns of a paired comparison.
pub struct Aligned {
    pub z_spec: Vec<f64>,
    pub baseline: Vec<f64>,
    pub candidate: Vec<f64>,
}

/// Put the candidate's predictions in the baseline's galaxy order. Both must describe the same
/// galaxies (by id when both have ids, else row by row) with the same z_spec: anything else is a
/// different test set and an error.
pub fn align(baseline: &Sample, candidate: &Sample, candidate_path: &Path) -> Result<Aligned> {
    let order = align_order(
        (baseline.ids.as_deref(), &baseline.z_spec),
        (candidate.ids.as_deref(), &candidate.z_spec),
        candidate_path,
    )?;
    Ok(Aligned {
        z_spec: baseline.z_spec.clone(),
        baseline: baseline.z_phot.clone(),
        candidate: order.iter().map(|&i| candidate.z_phot[i]).collect(),
    })
}

/// The candidate's row of every baseline galaxy ([`align`]): each side is its ids (if any) and
/// its z_spec.
pub fn align_order(
    baseline: (Option<&[i64]>, &[f64]),
    candidate: (Option<&[i64]>, &[f64]),
    candidate_path: &Path,
) -> Result<Vec<usize>> {
    let ((base_ids, base_z), (cand_ids, cand_z)) = (baseline, candidate);
    let different = |what: String| {
        Error::file(candidate_path, format!("{what}; the gate compares predictions on the same test set"))
    };
    let order: Vec<usize> = match (base_ids, cand_ids) {
        (Some(base_ids), Some(cand_ids)) => {
            let position: HashMap<i64, usize> = cand_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            let missing: Vec<i64> = base_ids.iter().filter(|id| !position.contains_key(id)).copied().collect();
            if let Some(first) = missing.first() {
                return Err(different(format!(
                    "{} galaxies of the baseline are missing from the candidate (first: object_id {first})",
                    missing.len()
                )));
            }
            if cand_ids.len() != base_ids.len() {
                return Err(different(format!(
                    "the candidate has {} galaxies that the baseline lacks",
                    cand_ids.len() - base_ids.len()
                )));
            }
            base_ids.iter().map(|id| position[id]).collect()
        }
        _ => {
            if base_z.len() != cand_z.len() {
                return Err(different(format!(
                    "the candidate has {} galaxies, the baseline {} (and no ids to match them)",
                    cand_z.len(),
                    base_z.len()
                )));
            }
            (0..base_z.len()).collect()
        }
    };
    if let Some(row) = order.iter().enumerate().position(|(b, &c)| base_z[b] != cand_z[c]) {
        return Err(different(format!(
            "z_spec differs from the baseline's (baseline row {}: {} vs {})",
            row + 1,
            base_z[row],
            cand_z[order[row]]
        )));
    }
    Ok(order)
}

/// Check that a saved score used the same bins and galaxy count as the candidate.
pub fn check_score_matches(
    path: &Path,
    edges: &[f64],
    count: usize,
    bins: &Bins,
    candidate_count: usize,
) -> Result<()> {
    if edges != bins.edges.as_slice() {
        return Err(Error::file(path, "the baseline score used other bins; score both with the same --bins/--edges"));
    }
    if count != candidate_count {
        return Err(Error::file(
            path,
            format!("the baseline scored {count} galaxies, the candidate has {candidate_count}; the gate compares the same test set"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NN: &str = include_str!("../../../baselines/fixture_nn.baseline.json");

    fn load_text(text: &str) -> Result<Baseline> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, text).unwrap();
        load_baseline(&path, &SampleOptions::default())
    }

    #[test]
    fn baseline_galaxies_are_checked_as_predictions_files_are() {
        // A byte-order mark (a file edited in Notepad) is not part of the JSON.
        assert!(matches!(load_text(&format!("\u{feff}{NN}")), Ok(Baseline::Predictions(_))));
        let value: Value = serde_json::from_str(NN).unwrap();
        let mut duplicate = value.clone();
        let ids = duplicate["galaxies"]["object_id"].as_array_mut().unwrap();
        ids[3] = ids[1].clone();
        let id = ids[1].clone();
        let Err(e) = load_text(&duplicate.to_string()) else { panic!("a duplicate id was accepted") };
        assert!(e.to_string().contains(&format!("object_id {id} appears twice (galaxies 1 and 3)")), "{e}");
        let mut negative = value.clone();
        negative["galaxies"]["z_spec"][2] = Value::from(-1.5);
        let Err(e) = load_text(&negative.to_string()) else { panic!("z_spec <= -1 was accepted") };
        assert!(e.to_string().contains("galaxies.z_spec[2] = -1.5 is <= -1"), "{e}");
    }
}
