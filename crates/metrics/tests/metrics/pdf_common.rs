//! The reference cases of `fixtures/reference/pdf/` read with a tiny CSV parser (the metrics
//! core has no CSV reader), shared by the PDF test files.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pzbench_metrics::pdf::Pdfs;
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

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/pdf")
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdf")
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
