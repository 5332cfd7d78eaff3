//! The reference cases of `fixtures/reference/pdf/` read with a tiny CSV parser (the metrics
//! core has no CSV reader), shared by the PDF test files.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pzbench_metrics::pdf::{Pdfs, RailGrid};
use serde_json::Value;

/// Every reference case; those in [`SHARED_ONLY`] are read from the project's shared reference
/// folder when it is there (too large to copy into `fixtures/`).
pub const CASES: [&str; 10] = [
    "mix_k3_even",
    "mix_narrow_odd",
    "mix_single",
    "grid_edges_even",
    "grid_nonuniform_odd",
    "hist_empty_bins_odd",
    "samples_ties_even",
    "knn_dc2",
    "knn_dc2_zsorted_split",
    "flexzboost_dc2",
];

/// Cases not copied into `fixtures/reference/pdf/` (4.7 MB of CSV).
pub const SHARED_ONLY: [&str; 1] = ["flexzboost_dc2"];

/// One reference case: its expected JSON, its CSV table and the PDFs built from it.
pub struct Case {
    pub expected: Value,
    /// `mixture`, `grid`, `hist` or `samples` (the JSON's `representation`).
    pub representation: String,
    pub pdfs: Pdfs,
    pub z_spec: Vec<f64>,
    dir: PathBuf,
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<f64>>,
    /// Grid nodes or histogram edges.
    axis: Option<Vec<f64>>,
}

/// The repository's root: the manifest folder of whichever package includes this module (the
/// metrics crate, or the binary's CLI tests).
fn repository() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().find(|d| d.join("fixtures/reference/pdf").is_dir()).unwrap_or(manifest).to_path_buf()
}

/// `fixtures/reference/pdf/`.
pub fn fixtures() -> PathBuf {
    repository().join("fixtures/reference/pdf")
}

/// The project's shared reference folder beside the repository.
pub fn shared() -> PathBuf {
    repository().join("../shared/reference/pdf")
}

/// `(header, rows)` of a CSV file of numbers.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let header = lines.next().unwrap().split(',').map(str::to_string).collect();
    let rows = lines
        .map(|line| {
            line.split(',')
                .map(|v| v.parse::<f64>().unwrap_or_else(|e| panic!("{}: {v}: {e}", path.display())))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The case `name`, or `None` (with a note) for a shared-only case whose files are absent.
pub fn load_case(name: &str) -> Option<Case> {
    let dir = [fixtures(), shared()].into_iter().find(|d| d.join(format!("{name}.csv")).exists());
    let Some(dir) = dir else {
        assert!(SHARED_ONLY.contains(&name), "{name}: missing from {}", fixtures().display());
        eprintln!("{name}: skipped, not in {} or {}", fixtures().display(), shared().display());
        return None;
    };
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap()).unwrap();
    let representation = expected["representation"].as_str().unwrap().to_string();
    let (header, rows) = read_csv(&dir.join(format!("{name}.csv")));
    let axis = (representation == "grid" || representation == "hist").then(|| {
        let (_, axis) = read_csv(&dir.join(format!("{name}.grid.csv")));
        axis.into_iter().map(|r| r[0]).collect()
    });
    let z_spec = column(&header, &rows, "z_spec");
    let mut case = Case {
        expected,
        representation,
        pdfs: Pdfs::samples(1, Vec::new()).unwrap(),
        z_spec,
        dir,
        name: name.to_string(),
        header,
        rows,
        axis,
    };
    case.pdfs = case.build(&(0..case.rows.len()).collect::<Vec<_>>());
    Some(case)
}

fn column(header: &[String], rows: &[Vec<f64>], name: &str) -> Vec<f64> {
    let c = header.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[c]).collect()
}

impl Case {
    /// The columns whose names start with `prefix` (`w_`, `pdf_`, …), row-major, for `rows`.
    fn block(&self, prefix: &str, rows: &[usize]) -> (usize, Vec<f64>) {
        let columns: Vec<usize> = (0..self.header.len()).filter(|&c| self.header[c].starts_with(prefix)).collect();
        (columns.len(), rows.iter().flat_map(|&i| columns.iter().map(move |&c| self.rows[i][c])).collect())
    }

    fn build(&self, rows: &[usize]) -> Pdfs {
        match self.representation.as_str() {
            "mixture" => {
                let (k, w) = self.block("w_", rows);
                Pdfs::mixture(k, w, self.block("mu_", rows).1, self.block("sigma_", rows).1).unwrap()
            }
            "grid" => Pdfs::grid(self.axis.clone().unwrap(), self.block("pdf_", rows).1).unwrap(),
            "hist" => Pdfs::histogram(self.axis.clone().unwrap(), self.block("pdf_", rows).1).unwrap(),
            "samples" => {
                let (s, draws) = self.block("s_", rows);
                Pdfs::samples(s, draws).unwrap()
            }
            other => panic!("unknown representation {other}"),
        }
    }

    /// The case restricted to `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Case {
        Case {
            expected: self.expected.clone(),
            representation: self.representation.clone(),
            pdfs: self.build(rows),
            z_spec: rows.iter().map(|&i| self.z_spec[i]).collect(),
            dir: self.dir.clone(),
            name: self.name.clone(),
            header: self.header.clone(),
            rows: rows.iter().map(|&i| self.rows[i].clone()).collect(),
            axis: self.axis.clone(),
        }
    }

    /// The case's file `NAME<suffix>` (`.csv`, `.qp.hdf5`, …), if it is there.
    pub fn file(&self, suffix: &str) -> Option<PathBuf> {
        Some(self.dir.join(format!("{}{suffix}", self.name))).filter(|p| p.exists())
    }

    /// The tomographic edges of the case (`pzbench.nz.edges`).
    pub fn nz_edges(&self) -> Vec<f64> {
        self.expected["pzbench"]["nz"]["edges"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    }

    /// The rows of `NAME.per_galaxy.csv` as column → value, if the file is there.
    pub fn per_galaxy(&self) -> Option<Vec<HashMap<String, f64>>> {
        let path = self.dir.join(format!("{}.per_galaxy.csv", self.name));
        if !path.exists() {
            return None;
        }
        let (header, rows) = read_csv(&path);
        Some(rows.into_iter().map(|r| header.iter().cloned().zip(r).collect()).collect())
    }
}

/// Relative tolerance of the pzbench block (§2.6).
pub const EXACT: f64 = 1e-12;
/// Relative tolerance of root-finding results: mixture modes and medians and what derives from
/// them (§2.6).
pub const ROOT_FINDING: f64 = 1e-10;
/// Relative tolerance of the rail block (issue 15).
pub const RAIL: f64 = 1e-9;
/// Absolute tolerance near 0 (§2.6).
pub const NEAR_ZERO: f64 = 1e-15;

pub fn close(actual: f64, expected: f64, relative: f64) -> bool {
    (actual - expected).abs() <= relative * actual.abs().max(expected.abs()) + NEAR_ZERO
}

/// Compare `actual` with `expected` key by key: same keys, same array lengths, nulls where
/// null, numbers within `tolerance(path)`. Appends one line per difference to `failures`.
pub fn compare(
    path: &str,
    expected: &Value,
    actual: &Value,
    tolerance: &dyn Fn(&str) -> f64,
    failures: &mut Vec<String>,
) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().filter(|k| !a.contains_key(*k) && *k != "provenance") {
                failures.push(format!("{path}.{key}: missing (expected {})", e[key]));
            }
            for key in a.keys().filter(|k| !e.contains_key(*k)) {
                failures.push(format!("{path}.{key}: not in the reference (got {})", a[key]));
            }
            for (key, value) in e.iter().filter(|(k, _)| a.contains_key(*k)) {
                compare(&format!("{path}.{key}"), value, &a[key], tolerance, failures);
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                compare(&format!("{path}[{i}]"), e, a, tolerance, failures);
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (e.as_f64().unwrap(), a.as_f64().unwrap());
            if !close(a, e, tolerance(path)) {
                failures.push(format!("{path}: expected {e:e}, got {a:e} (rel. diff {:.2e})", (a - e).abs() / e.abs()));
            }
        }
        (e, a) if e == a => {}
        (e, a) => failures.push(format!("{path}: expected {e}, got {a}")),
    }
}

/// The tolerance of a key of the `pzbench` block (§2.6).
pub fn pzbench_tolerance(representation: &str) -> impl Fn(&str) -> f64 + '_ {
    move |path: &str| {
        let from_roots = [".point.mode.", ".point.median.", ".nz."].iter().any(|p| path.contains(p));
        if representation == "mixture" && from_roots {
            ROOT_FINDING
        } else {
            EXACT
        }
    }
}

/// Where each numeric value of the reference files' `rail` block is in a [`RailReport`] (or in
/// qp's statistics of the exact PITs), by its path in the block. `None`: a value pzbench does not
/// reproduce (scipy's p-values, which the old evaluator stores as null, and its significance
/// level), listed so that no other value goes unchecked.
pub fn rail_counterpart(path: &str, report: &Value, on_exact_pit: &Value) -> Option<Option<Value>> {
    let grid = |grid: RailGrid| {
        report["grids"].as_array().unwrap().iter().find(|g| g["zgrid"] == grid.label()).unwrap().clone()
    };
    let parts: Vec<&str> = path.split('.').collect();
    let value = match parts.as_slice() {
        ["pit", "n_pit_outside_0_1"] => report["pit"]["n_outside_0_1"].clone(),
        ["pit", stat] => report["pit"][*stat].clone(),
        ["pit_stats_on_exact_pit", stat] => on_exact_pit[*stat].clone(),
        ["brier", "value"] => report["brier"].clone(),
        ["point_on_mode", stat, "value"] => grid(RailGrid::Estimators)["point_on_mode"][*stat].clone(),
        ["old_evaluator", "values", key] if key.ends_with("_pval") || *key == "PIT_AD_significance_level" => {
            return Some(None)
        }
        ["old_evaluator", "values", key] => match *key {
            "PIT_AD_stat" => report["pit"]["ad"].clone(),
            "PIT_CvM_stat" => report["pit"]["cvm"].clone(),
            "PIT_KS_stat" => report["pit"]["ks"].clone(),
            "PIT_OutRate_stat" => report["pit"]["outlier_rate"].clone(),
            "CDE_stat" => grid(RailGrid::OldEvaluator)["cde_loss"].clone(),
            "POINT_SimgaIQR" => grid(RailGrid::OldEvaluator)["point_on_mode"]["sigma_iqr"].clone(),
            "POINT_Bias" => grid(RailGrid::OldEvaluator)["point_on_mode"]["bias"].clone(),
            "POINT_OutlierRate" => grid(RailGrid::OldEvaluator)["point_on_mode"]["outlier_rate"].clone(),
            "POINT_SigmaMAD" => grid(RailGrid::OldEvaluator)["point_on_mode"]["sigma_mad"].clone(),
            _ => return None,
        },
        _ => return None,
    };
    Some(Some(value))
}

/// Every numeric (or null) leaf of the `rail` block with its dotted path; the `cde_loss` list
/// is keyed by each entry's grid.
pub fn rail_leaves(block: &Value) -> Vec<(String, Value)> {
    fn walk(path: String, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) if map.contains_key("error") => {}
            Value::Object(map) => {
                for (k, v) in map {
                    walk(if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, v, out);
                }
            }
            Value::Number(_) | Value::Null => out.push((path, value.clone())),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in block.as_object().unwrap() {
        if key == "cde_loss" {
            for entry in value.as_array().unwrap().iter().filter(|e| e.get("value").is_some()) {
                // `args` holds `zgrid` (RAIL) or `eval_grid` ("numpy.linspace(0, 2.5, 301) (qp default)").
                let args = entry["args"].as_object().unwrap();
                let grid = args.values().next().and_then(Value::as_str).unwrap();
                let grid = grid.split(" (").next().unwrap();
                out.push((format!("cde_loss[{grid}]"), entry["value"].clone()));
            }
        } else {
            walk(key.clone(), value, &mut out);
        }
    }
    out
}
