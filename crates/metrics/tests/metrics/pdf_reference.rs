//! The PDF metrics against the third-party reference vectors of `fixtures/reference/pdf/`
//! (numpy/scipy exact values and qp 1.1.4 / pz-rail-base 2.0.11 values; see its README):
//! every key of each case's `pzbench` block to the tolerances of `docs/PDF_METRICS.md` §2.6, the
//! `rail` block's PIT statistics, CDE losses, Brier score and point-on-mode values to 1e−9
//! relative with `Dialect::Rail`, and every per-galaxy value of the small cases.

use super::pdf_common::{
    close, compare, load_case, pzbench_tolerance, rail_counterpart, rail_leaves, Case, CASES, EXACT, RAIL, ROOT_FINDING,
};
use pzbench_metrics::pdf::{
    evaluate_pdfs, rail_pit_stats, Dialect, PdfOptions, PdfValues, RailGrid, RailReport, SetReport,
};
use pzbench_metrics::{BinOn, Bins};
use serde_json::{json, Value};

/// Run `check` on every case and fail with every difference of every case.
fn check_every_case(check: fn(&str) -> Vec<String>) {
    let failures: Vec<String> =
        CASES.iter().flat_map(|name| check(name).into_iter().map(move |f| format!("{name}: {f}"))).collect();
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

fn overall(case: &Case, dialect: Dialect) -> (PdfValues, SetReport) {
    let values = PdfValues::compute(&case.pdfs, &case.z_spec, dialect).unwrap();
    let options = PdfOptions { nz_edges: case.nz_edges(), ..PdfOptions::default() };
    let bins = Bins::galaxiesml_default();
    let evaluation = evaluate_pdfs(&case.pdfs, &values, &bins, &options).unwrap();
    (values, evaluation.overall.unwrap())
}

fn check_pzbench_block(name: &str) -> Vec<String> {
    let Some(case) = load_case(name) else { return Vec::new() };
    let (_, report) = overall(&case, Dialect::Pzbench);
    let actual = serde_json::to_value(&report).unwrap();
    let mut failures = Vec::new();
    compare("pzbench", &case.expected["pzbench"], &actual, &pzbench_tolerance(&case.representation), &mut failures);
    failures
}

fn check_rail_block(name: &str) -> Vec<String> {
    let Some(case) = load_case(name) else { return Vec::new() };
    let block = &case.expected["rail"];
    if block.get("available") == Some(&json!(false)) {
        // Samples: qp has no representation for them, and neither has the rail dialect.
        return match PdfValues::compute(&case.pdfs, &case.z_spec, Dialect::Rail) {
            Ok(_) => vec!["the rail dialect accepted sample PDFs".into()],
            Err(_) => Vec::new(),
        };
    }
    let (_, report) = overall(&case, Dialect::Rail);
    let SetReport::Rail(rail) = &report else { panic!("{name}: not a rail report") };
    let report = serde_json::to_value(rail).unwrap();
    // qp's statistics of the exact PITs, fed the reference's own exact PITs where its per-galaxy
    // file is at hand (its grid PITs reach 1 + 2⁻⁵² by rounding, which pzbench clamps to 1 and
    // qp's AD drops), else pzbench's.
    let exact_pits: Vec<f64> = match case.per_galaxy() {
        Some(rows) => rows.iter().map(|r| r["pit"]).collect(),
        None => {
            let (exact, _) = overall(&case, Dialect::Pzbench);
            let PdfValues::Pzbench { galaxies, .. } = &exact else { unreachable!() };
            galaxies.iter().map(|g| g.pit).collect()
        }
    };
    let on_exact_pit = serde_json::to_value(rail_pit_stats(&exact_pits)).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, expected) in rail_leaves(block) {
        let actual = if let Some(label) = path.strip_prefix("cde_loss[").and_then(|p| p.strip_suffix(']')) {
            Some(Some(cde_of(rail, label)))
        } else {
            rail_counterpart(&path, &report, &on_exact_pit)
        };
        match actual {
            None => failures.push(format!("rail.{path}: no counterpart in the rail report (expected {expected})")),
            Some(None) => {}
            Some(Some(actual)) => {
                checked += 1;
                compare(&format!("rail.{path}"), &expected, &actual, &|_| RAIL, &mut failures);
            }
        }
    }
    if checked == 0 {
        failures.push("no rail value checked".into());
    }
    failures
}

fn cde_of(report: &RailReport, label: &str) -> Value {
    json!(report.grids.iter().find(|g| g.zgrid == label).unwrap().cde_loss)
}

/// Every per-galaxy value of `NAME.per_galaxy.csv`: the exact ones at 1e−12 (mixture modes and
/// medians at 1e−10), qp's PIT and grid mode at 1e−9.
fn check_per_galaxy(name: &str) -> Vec<String> {
    let Some(case) = load_case(name) else { return Vec::new() };
    let Some(rows) = case.per_galaxy() else { return Vec::new() };
    let exact = PdfValues::compute(&case.pdfs, &case.z_spec, Dialect::Pzbench).unwrap();
    let PdfValues::Pzbench { galaxies, .. } = &exact else { unreachable!() };
    let rail = (case.representation != "samples")
        .then(|| PdfValues::compute(&case.pdfs, &case.z_spec, Dialect::Rail).unwrap());
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let g = galaxies[i];
        let root = if case.representation == "mixture" { ROOT_FINDING } else { EXACT };
        let mut check = |column: &str, actual: Option<f64>, tolerance: f64| {
            let Some(&expected) = row.get(column) else { return };
            match actual {
                Some(a) if close(a, expected, tolerance) => {}
                _ => failures.push(format!("row {i} {column}: expected {expected:e}, got {actual:?}")),
            }
        };
        check("pit", Some(g.pit), EXACT);
        check("pdf_at_truth", g.pdf_at_truth(), EXACT);
        check("int_f2", g.int_f2(), EXACT);
        check("crps", Some(g.crps), EXACT);
        check("z_mode", g.z_mode(), root);
        check("z_mean", Some(g.z_mean), EXACT);
        check("z_median", Some(g.z_median), root);
        if let Some(PdfValues::Rail { galaxies, .. }) = &rail {
            check("rail_pit", Some(galaxies[i].pit), RAIL);
            check("rail_mode_grid301", Some(galaxies[i].mode[RailGrid::Estimators.index()]), RAIL);
        }
    }
    failures
}

#[test]
fn pzbench_blocks_match_every_key() {
    check_every_case(check_pzbench_block);
}

#[test]
fn rail_blocks_match_with_the_rail_dialect() {
    check_every_case(check_rail_block);
}

#[test]
fn per_galaxy_values_match() {
    check_every_case(check_per_galaxy);
}

#[test]
fn per_bin_reports_equal_the_reports_of_each_bins_subset() {
    for name in ["mix_k3_even", "grid_edges_even", "hist_empty_bins_odd", "samples_ties_even", "knn_dc2"] {
        let Some(case) = load_case(name) else { continue };
        for dialect in [Dialect::Pzbench, Dialect::Rail] {
            let Ok(values) = PdfValues::compute(&case.pdfs, &case.z_spec, dialect) else { continue };
            let options = PdfOptions { nz_edges: case.nz_edges(), ..PdfOptions::default() };
            let bins = Bins::new(BinOn::ZSpec, vec![0.0, 0.5, 1.0, 1.5, 2.0, 3.0]).unwrap();
            let evaluation = evaluate_pdfs(&case.pdfs, &values, &bins, &options).unwrap();
            for (b, report) in evaluation.per_bin.iter().enumerate() {
                let rows: Vec<usize> =
                    (0..case.z_spec.len()).filter(|&i| bins.locate(case.z_spec[i]) == Some(b)).collect();
                let subset = case.subset(&rows);
                // The rail Brier grid spans the truths of the set it was computed for: the whole
                // set's, for per-bin reports.
                let expected = if rows.is_empty() {
                    None
                } else if dialect == Dialect::Rail {
                    let values = PdfValues::compute(&subset.pdfs, &subset.z_spec, dialect).unwrap();
                    let whole = evaluate_pdfs(&subset.pdfs, &values, &Bins::galaxiesml_default(), &options).unwrap();
                    whole.overall.map(|r| without_brier(serde_json::to_value(r).unwrap()))
                } else {
                    let values = PdfValues::compute(&subset.pdfs, &subset.z_spec, dialect).unwrap();
                    let whole = evaluate_pdfs(&subset.pdfs, &values, &Bins::galaxiesml_default(), &options).unwrap();
                    whole.overall.map(|r| serde_json::to_value(r).unwrap())
                };
                let actual = report.as_ref().map(|r| serde_json::to_value(r).unwrap());
                let actual = if dialect == Dialect::Rail { actual.map(without_brier) } else { actual };
                assert_eq!(actual, expected, "{name} {dialect:?} bin {b}");
            }
        }
    }
}

fn without_brier(mut report: Value) -> Value {
    report.as_object_mut().unwrap().remove("brier");
    report
}
