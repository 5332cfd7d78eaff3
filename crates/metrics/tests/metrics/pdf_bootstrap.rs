//! The PDF metrics' bootstrap follows the point metrics' conventions: replicate r resamples with
//! a ChaCha8 stream seeded by (seed, r), each replicate is the metrics of exactly those drawn
//! galaxies (binned again), and the intervals are identical on any number of threads.

use super::pdf_common::load_case;
use pzbench_metrics::pdf::{bootstrap_pdfs, evaluate_pdfs, paired_pdf_replicates, Dialect, PdfOptions, PdfValues};
use pzbench_metrics::{BinOn, Bins, BootstrapConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn bins() -> Bins {
    Bins::new(BinOn::ZSpec, vec![0.0, 0.5, 1.0, 1.5, 2.0, 3.0]).unwrap()
}

/// A report as JSON with the n(z) KS distances nulled (replicates leave them out).
fn without_nz_ks(mut report: Value) -> Value {
    if let Some(bins) = report.pointer_mut("/nz/bins").and_then(Value::as_array_mut) {
        bins.iter_mut().for_each(|b| b["nz_ks"] = Value::Null);
    }
    report
}

#[test]
fn replicates_are_the_metrics_of_the_drawn_galaxies() {
    for (name, dialect) in
        [("mix_k3_even", Dialect::Pzbench), ("samples_ties_even", Dialect::Pzbench), ("grid_edges_even", Dialect::Rail)]
    {
        let case = load_case(name).unwrap();
        let values = PdfValues::compute(&case.pdfs, &case.z_spec, dialect).unwrap();
        let options = PdfOptions { nz_edges: case.nz_edges(), ..PdfOptions::default() };
        let config = BootstrapConfig { resamples: 3, confidence: 0.9, seed: 11 };
        let replicates = paired_pdf_replicates(&[&values], &bins(), &options, &config).unwrap();
        let n = case.z_spec.len();
        for (r, replicate) in replicates.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(r as u64);
            let draws: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let drawn = case.subset(&draws);
            let direct = PdfValues::compute(&drawn.pdfs, &drawn.z_spec, dialect).unwrap();
            let direct = evaluate_pdfs(&drawn.pdfs, &direct, &bins(), &options).unwrap();
            let json = |report: &Option<pzbench_metrics::pdf::SetReport>| {
                report.as_ref().map(|r| without_nz_ks(serde_json::to_value(r).unwrap()))
            };
            // The rail Brier grid is the whole set's; the drawn galaxies' truths span the same
            // [0, 3] in these cases.
            assert_eq!(json(&replicate[0].overall), json(&direct.overall), "{name} replicate {r}");
            for (b, (got, expected)) in replicate[0].per_bin.iter().zip(&direct.per_bin).enumerate() {
                assert_eq!(json(got), json(expected), "{name} replicate {r} bin {b}");
            }
        }
    }
}

#[test]
fn intervals_are_identical_on_any_number_of_threads() {
    let case = load_case("knn_dc2").unwrap();
    let values = PdfValues::compute(&case.pdfs, &case.z_spec, Dialect::Pzbench).unwrap();
    let options = PdfOptions { nz_edges: case.nz_edges(), ..PdfOptions::default() };
    let config = BootstrapConfig { resamples: 24, confidence: 0.95, seed: 5 };
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| bootstrap_pdfs(&values, &bins(), &options, &config).unwrap())
    };
    let one = on(1);
    assert_eq!(one, on(3));
    let overall = one.overall.as_ref().unwrap();
    let crps = overall.get("crps").unwrap();
    assert!(crps.lo < crps.hi, "{crps:?}");
    assert!(overall.get("point.mode.bias").is_some() && overall.get("nz.bins.2.mean_stacked").is_some());
    assert!(overall.get("nz.bins.2.nz_ks").is_none(), "replicates leave out the n(z) KS distance");
    let json = serde_json::to_value(&one).unwrap();
    assert_eq!(json["overall"]["pit.ks"].as_array().unwrap().len(), 2);
    assert_eq!(json["per_bin"].as_array().unwrap().len(), bins().len());
}

#[test]
fn paired_samples_share_their_draws() {
    let case = load_case("mix_k3_even").unwrap();
    let values = PdfValues::compute(&case.pdfs, &case.z_spec, Dialect::Pzbench).unwrap();
    let config = BootstrapConfig { resamples: 4, confidence: 0.95, seed: 3 };
    let options = PdfOptions { nz_edges: case.nz_edges(), ..PdfOptions::default() };
    for replicate in paired_pdf_replicates(&[&values, &values], &bins(), &options, &config).unwrap() {
        assert_eq!(replicate[0], replicate[1]);
    }
}
