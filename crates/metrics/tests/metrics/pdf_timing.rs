//! Timing of every PDF metric on 100,000 galaxies, as issue 15's speed target measures it:
//! Gaussian mixtures with K = 7 (RAIL KNN on DC2, tiled) and 301-node grids (RAIL FlexZBoost on
//! DC2 tiled where the shared reference folder has it, else the KNN mixtures tabulated on
//! linspace(0, 3, 301)). Prints the times; asserts nothing about them. Run with
//! `cargo test --release -p pzbench-metrics --test metrics pdf_timing -- --ignored --nocapture`.

use std::time::Instant;

use super::pdf_common::load_case;
use pzbench_metrics::pdf::{bootstrap_pdfs, evaluate_pdfs, Dialect, PdfOptions, PdfValues, Pdfs};
use pzbench_metrics::{linspace, Bins, BootstrapConfig};

const N: usize = 100_000;

/// Rows 0..N of a case tiled: row r is the case's row r mod n.
fn tiled(n: usize) -> Vec<usize> {
    (0..N).map(|r| r % n).collect()
}

fn time(label: &str, pdfs: &Pdfs, z_spec: &[f64]) {
    let bins = Bins::galaxiesml_default();
    let options = PdfOptions::default();
    let start = Instant::now();
    let values = PdfValues::compute(pdfs, z_spec, Dialect::Pzbench).unwrap();
    let per_galaxy = start.elapsed();
    let evaluation = evaluate_pdfs(pdfs, &values, &bins, &options).unwrap();
    let all = start.elapsed();
    assert!(evaluation.overall.is_some());
    let config = BootstrapConfig { resamples: 100, confidence: 0.95, seed: 1 };
    let start_bootstrap = Instant::now();
    bootstrap_pdfs(&values, &bins, &options, &config).unwrap();
    let bootstrap = start_bootstrap.elapsed();
    let start_rail = Instant::now();
    let rail = PdfValues::compute(pdfs, z_spec, Dialect::Rail).unwrap();
    evaluate_pdfs(pdfs, &rail, &bins, &options).unwrap();
    let rail = start_rail.elapsed();
    println!(
        "{label}, {} galaxies, {} threads: pzbench all metrics overall + 20 bins {:.3} s (per-galaxy values {:.3} s); \
         100 bootstrap resamples {:.3} s; rail dialect {:.3} s",
        z_spec.len(),
        rayon::current_num_threads(),
        all.as_secs_f64(),
        per_galaxy.as_secs_f64(),
        bootstrap.as_secs_f64(),
        rail.as_secs_f64()
    );
}

#[test]
#[ignore = "timing: run in release with --ignored --nocapture"]
fn time_100k_mixtures_and_grids() {
    let knn = load_case("knn_dc2").unwrap();
    let rows = tiled(knn.z_spec.len());
    let mixtures = knn.subset(&rows);
    time("Gaussian mixtures K = 7", &mixtures.pdfs, &mixtures.z_spec);

    let (label, grids) = match load_case("flexzboost_dc2") {
        Some(flex) => ("FlexZBoost grids, 301 nodes", flex.subset(&tiled(flex.z_spec.len()))),
        None => ("KNN mixtures tabulated on 301 nodes", mixtures),
    };
    let pdfs = if label.starts_with("KNN") {
        let nodes = linspace(0.0, 3.0, 300);
        let densities = (0..N)
            .flat_map(|i| {
                let g = grids.pdfs.galaxy(i);
                nodes.iter().map(move |&z| g.density(z).unwrap()).collect::<Vec<_>>()
            })
            .collect();
        Pdfs::grid(nodes, densities).unwrap()
    } else {
        grids.pdfs
    };
    time(label, &pdfs, &grids.z_spec);
}
