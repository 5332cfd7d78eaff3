//! The scale path against the in-memory path: the same [`Evaluation`] bit for bit, however the
//! rows are split, fed and merged, and through bytes.

use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::{evaluate, BinOn, Bins, BootstrapConfig, Grouped, Metric, Metrics};

/// Metrics as bit patterns (so `-0.0 != 0.0` and NaN equals itself).
fn bits(metrics: &Option<Metrics>) -> Option<Vec<u64>> {
    metrics.map(|m| Metric::ALL.iter().map(|&metric| m.get(metric).to_bits()).collect())
}

fn assert_same(got: &Evaluation, want: &Evaluation) {
    assert_eq!(bits(&got.overall), bits(&want.overall), "overall: {:?} vs {:?}", got.overall, want.overall);
    assert_eq!(got.per_bin.len(), want.per_bin.len());
    for (b, (g, w)) in got.per_bin.iter().zip(&want.per_bin).enumerate() {
        assert_eq!(bits(g), bits(w), "bin {b}: {g:?} vs {w:?}");
    }
}

/// Split `0..n` into `parts` uneven ranges at random cut points.
fn random_ranges(n: usize, parts: usize, rng: &mut ChaCha8Rng) -> Vec<std::ops::Range<usize>> {
    let mut cuts: Vec<usize> = (1..parts).map(|_| rng.random_range(0..=n)).collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Merge `partials` in a random tree.
fn merge_randomly(mut partials: Vec<PassPartial>, rng: &mut ChaCha8Rng) -> PassPartial {
    while partials.len() > 1 {
        let part = partials.swap_remove(rng.random_range(0..partials.len()));
        let j = rng.random_range(0..partials.len());
        partials[j].merge(&part).unwrap();
    }
    partials.pop().unwrap()
}

/// Every pass with the rows split into `parts` partitions fed in random order (each partition in
/// a few batches), every request and partial through bytes, partials merged in a random tree.
fn score_split(
    config: &ScaleConfig,
    z_spec: &[f64],
    z_phot: &[f64],
    ids: Option<&[i64]>,
    parts: usize,
    seed: u64,
) -> ExactResult {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scorer = ExactScorer::new(config.clone());
    while let Some(request) = scorer.next_pass() {
        let request = PassRequest::from_bytes(&request.to_bytes()).unwrap();
        let mut ranges = random_ranges(z_spec.len(), parts, &mut rng);
        ranges.shuffle(&mut rng);
        let partials = ranges
            .into_iter()
            .map(|range| {
                let mut partial = request.new_partial();
                for batch in random_ranges(range.len(), 3, &mut rng) {
                    let rows = range.start + batch.start..range.start + batch.end;
                    let ids = ids.map(|ids| &ids[rows.clone()]);
                    partial.add(&request, &z_spec[rows.clone()], &z_phot[rows], ids).unwrap();
                }
                PassPartial::from_bytes(&partial.to_bytes()).unwrap()
            })
            .collect();
        scorer.finish_pass(merge_randomly(partials, &mut rng)).unwrap();
    }
    scorer.finish().unwrap()
}

fn in_memory(z_spec: &[f64], z_phot: &[f64], bins: &Bins) -> (Evaluation, usize) {
    let grouped = Grouped::new(z_spec.to_vec(), z_phot.to_vec(), bins);
    (evaluate(&grouped), grouped.n_outside())
}

fn check_all_splits(bins: &Bins, z_spec: &[f64], z_phot: &[f64], seed: u64) {
    let config = ScaleConfig { bins: bins.clone(), bootstrap: None };
    let (want, n_outside) = in_memory(z_spec, z_phot, bins);
    for parts in [1, 7, 64] {
        let got = score_split(&config, z_spec, z_phot, None, parts, seed + parts as u64);
        assert_same(&got.evaluation, &want);
        assert_eq!(got.n_outside, n_outside);
        assert!(got.intervals.is_none());
    }
}

/// Redshifts with many ties, signed zeros (z_spec 0 with z_phot -0 gives dz = -0), rows outside
/// the bins on both sides, and catastrophic outliers.
fn rows() -> impl Strategy<Value = Vec<(f64, f64)>> {
    let z = prop_oneof![
        3 => (0u32..40).prop_map(|k| f64::from(k) * 0.125),
        1 => -0.5f64..5.0,
        1 => Just(0.0),
    ];
    let err = prop_oneof![
        3 => (-4i32..=4).prop_map(|k| f64::from(k) * 0.01),
        2 => -0.3f64..0.3,
        1 => Just(0.0),
    ];
    prop::collection::vec((z, err, prop::bool::weighted(0.1), 0.0f64..4.0), 0..400).prop_map(|rows| {
        rows.into_iter()
            .map(|(zs, err, wild, zw)| {
                let zp = if wild {
                    zw
                } else if err == 0.0 && zs == 0.0 {
                    -0.0
                } else {
                    zs + err
                };
                (zs, zp)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_split_gives_the_in_memory_bits(rows in rows(), on_phot in any::<bool>(), seed in any::<u64>()) {
        let (z_spec, z_phot): (Vec<f64>, Vec<f64>) = rows.into_iter().unzip();
        let on = if on_phot { BinOn::ZPhot } else { BinOn::ZSpec };
        let bins = Bins::new(on, vec![0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]).unwrap();
        check_all_splits(&bins, &z_spec, &z_phot, seed);
    }
}

#[test]
fn tiny_bins_and_rows_outside() {
    // Bins holding 0, 1, 2 and 3 rows; rows below, on and above the edges.
    let bins = Bins::new(BinOn::ZSpec, vec![0.0, 1.0, 2.0, 3.0, 4.0]).unwrap();
    let z_spec = [1.5, 2.5, 2.5, 3.5, 3.5, 3.5, 0.0, -1.0, 4.5, 4.0];
    let z_phot = [1.4, 2.5, 2.7, 3.1, 3.5, 3.5, -0.0, -1.2, 4.0, 3.0];
    check_all_splits(&bins, &z_spec, &z_phot, 1);
    check_all_splits(&bins, &[], &[], 2);
    check_all_splits(&bins, &[0.5], &[0.6], 3);
    // One tie everywhere: every order statistic is found from a single-key bucket.
    check_all_splits(&bins, &[0.5; 50], &[0.7; 50], 4);
}

#[test]
fn millions_of_tied_rows_take_several_refining_passes() {
    // 3 million rows: z_spec on a 0.001 grid and errors on a grid too, so values repeat often,
    // plus a spread of distinct values; one bin takes most rows.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 3_000_000;
    let z_spec: Vec<f64> = (0..n).map(|_| f64::from(rng.random_range(1u32..1500)) * 0.001).collect();
    let z_phot: Vec<f64> = z_spec
        .iter()
        .map(|&z| {
            if rng.random_bool(0.5) {
                z + f64::from(rng.random_range(-50i32..50)) * 0.0007
            } else {
                z * rng.random_range(0.8..1.2)
            }
        })
        .collect();
    let bins = Bins::new(BinOn::ZSpec, vec![0.0, 1.0, 1.2, 2.0]).unwrap();
    let config = ScaleConfig { bins: bins.clone(), bootstrap: None };
    let (want, n_outside) = in_memory(&z_spec, &z_phot, &bins);
    for parts in [1, 7] {
        let got = score_split(&config, &z_spec, &z_phot, None, parts, 9);
        assert_same(&got.evaluation, &want);
        assert_eq!(got.n_outside, n_outside);
        // First pass, refine, collect for dz; the same for the MAD; biweight; outliers.
        assert!(got.passes >= 7, "{} passes", got.passes);
    }
}

#[test]
fn garbage_and_foreign_state_are_clear_errors() {
    let bins = Bins::galaxiesml_default();
    let config = ScaleConfig { bins: bins.clone(), bootstrap: None };
    let mut scorer = ExactScorer::new(config.clone());
    let request = scorer.next_pass().unwrap();
    let error = |r: Result<PassPartial>| r.unwrap_err().to_string();
    assert!(error(PassPartial::from_bytes(b"hello world")).contains("magic"));
    assert!(error(PassPartial::from_bytes(&request.to_bytes())).contains("got a pass request"));
    let mut bytes = request.new_partial().to_bytes();
    bytes[4] = 9;
    assert!(error(PassPartial::from_bytes(&bytes)).contains("format version"));
    let mut bytes = request.new_partial().to_bytes();
    bytes.truncate(bytes.len() - 3);
    assert!(error(PassPartial::from_bytes(&bytes)).contains("corrupt"));
    assert!(PassRequest::from_bytes(&[]).unwrap_err().to_string().contains("magic"));

    // Mismatched columns and missing ids.
    let mut partial = request.new_partial();
    assert!(partial.add(&request, &[0.5, 0.6], &[0.5], None).unwrap_err().to_string().contains("z_phot has 1"));

    // A partial of another run, then of another pass.
    let other = ScaleConfig { bins: Bins::new(BinOn::ZPhot, bins.edges.clone()).unwrap(), bootstrap: None };
    let foreign = ExactScorer::new(other).next_pass().unwrap().new_partial();
    assert!(scorer.finish_pass(foreign.clone()).unwrap_err().to_string().contains("another run"));
    assert!(partial.merge(&foreign).is_err());
    assert!(foreign.clone().add(&request, &[], &[], None).unwrap_err().to_string().contains("another run"));
    let mut partial = request.new_partial();
    partial.add(&request, &[0.5, 0.7, 1.1], &[0.52, 0.69, 1.0], None).unwrap();
    let first = partial.clone();
    scorer.finish_pass(partial).unwrap();
    assert!(scorer.finish_pass(first).unwrap_err().to_string().contains("pass 1, but the request is of pass 2"));
    assert!(scorer.clone().finish().unwrap_err().to_string().contains("pass 2 has not run"));

    // Rows that change between passes; the failed pass leaves the scorer as it was.
    let request = scorer.next_pass().unwrap();
    let mut partial = request.new_partial();
    partial.add(&request, &[0.5, 0.7], &[0.52, 0.69], None).unwrap();
    assert!(scorer.finish_pass(partial).unwrap_err().to_string().contains("rows differ"));
    let (z_spec, z_phot) = ([0.5, 0.7, 1.1], [0.52, 0.69, 1.0]);
    while let Some(request) = scorer.next_pass() {
        let mut partial = request.new_partial();
        partial.add(&request, &z_spec, &z_phot, None).unwrap();
        scorer.finish_pass(partial).unwrap();
    }
    assert_same(&scorer.finish().unwrap().evaluation, &in_memory(&z_spec, &z_phot, &bins).0);
}

/// A sample around a normal error distribution with 3 % outliers, and ids 0..n.
fn normal_sample(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<i64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z_spec: Vec<f64> = (0..n).map(|_| rng.random_range(0.05..2.5)).collect();
    let z_phot = z_spec
        .iter()
        .map(|&z| {
            // Box-Muller: a standard normal error of 0.03 (1 + z).
            let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
            let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            if rng.random_bool(0.03) {
                rng.random_range(0.0..3.0)
            } else {
                z + 0.03 * (1.0 + z) * normal
            }
        })
        .collect();
    (z_spec, z_phot, (0..n as i64).collect())
}

fn bootstrap_config(replicates: usize, seed: u64) -> ScaleConfig {
    ScaleConfig {
        bins: Bins::new(BinOn::ZSpec, vec![0.0, 0.5, 1.0, 2.0, 2.2]).unwrap(),
        bootstrap: Some(PoissonBootstrap { replicates, confidence: 0.9, seed }),
    }
}

fn json(intervals: &Option<Intervals>) -> String {
    serde_json::to_string(intervals).unwrap()
}

#[test]
fn poisson_intervals_equal_a_direct_expansion_of_every_replicate() {
    let (z_spec, z_phot, ids) = normal_sample(300, 5);
    let config = bootstrap_config(12, 77);
    let got = score_split(&config, &z_spec, &z_phot, Some(&ids), 7, 1);
    let Some(bootstrap) = config.bootstrap else { unreachable!() };
    // Replicate r: galaxy i repeated weight(seed, id_i, r) times, scored in memory.
    let replicates: Vec<Evaluation> = (0..bootstrap.replicates as u32)
        .map(|r| {
            let (mut zs, mut zp) = (Vec::new(), Vec::new());
            for i in 0..z_spec.len() {
                for _ in 0..poisson::weight(bootstrap.seed, ids[i], r) {
                    zs.push(z_spec[i]);
                    zp.push(z_phot[i]);
                }
            }
            in_memory(&zs, &zp, &config.bins).0
        })
        .collect();
    let bootstrap_config =
        BootstrapConfig { resamples: bootstrap.replicates, confidence: bootstrap.confidence, seed: bootstrap.seed };
    let want = percentile_intervals(POISSON_METHOD, &replicates, config.bins.len(), &bootstrap_config);
    assert_eq!(json(&got.intervals), json(&Some(want)));
    assert_same(&got.evaluation, &in_memory(&z_spec, &z_phot, &config.bins).0);
}

#[test]
fn poisson_intervals_do_not_depend_on_the_split() {
    let (z_spec, z_phot, ids) = normal_sample(3000, 6);
    let config = bootstrap_config(20, 3);
    let whole = score_split(&config, &z_spec, &z_phot, Some(&ids), 1, 1);
    for parts in [7, 64] {
        let split = score_split(&config, &z_spec, &z_phot, Some(&ids), parts, parts as u64);
        assert_eq!(json(&split.intervals), json(&whole.intervals), "{parts} partitions");
        assert_same(&split.evaluation, &whole.evaluation);
    }
    // The bootstrap needs ids.
    let request = ExactScorer::new(config).next_pass().unwrap();
    assert!(request.needs_ids());
    let error = request.new_partial().add(&request, &z_spec, &z_phot, None).unwrap_err();
    assert!(error.to_string().contains("needs the galaxies' ids"), "{error}");
}

#[test]
fn poisson_intervals_cover_the_point_values() {
    let (z_spec, z_phot, ids) = normal_sample(20_000, 8);
    let config = bootstrap_config(100, 42);
    let result = score_split(&config, &z_spec, &z_phot, Some(&ids), 3, 2);
    let intervals = result.intervals.unwrap();
    assert_eq!((intervals.method, intervals.resamples, intervals.seed), (POISSON_METHOD, 100, 42));
    let overall = result.evaluation.overall.unwrap();
    for metric in Metric::VALUES {
        let interval = intervals.overall.as_ref().unwrap().get(metric).unwrap();
        let value = overall.get(metric);
        assert!(interval.lo <= value && value <= interval.hi, "{metric}: {value} outside {interval:?}");
        assert!(interval.lo < interval.hi, "{metric}: an empty interval {interval:?}");
    }
    // Every bin has galaxies, so every bin has intervals.
    assert!(intervals.per_bin.iter().all(Option::is_some));
}
