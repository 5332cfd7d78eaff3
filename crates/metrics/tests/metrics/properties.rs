//! Property tests of the metrics engine (proptest): symmetries and ranges that must hold for any
//! sample, whatever the values.

use proptest::prelude::*;
use pzbench_metrics::{evaluate, point_metrics, Bins, Grouped, Metric, Metrics};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) + 1e-15
}

fn metrics_of(z_spec: &[f64], z_phot: &[f64]) -> Metrics {
    let grouped = Grouped::new(z_spec.to_vec(), z_phot.to_vec(), &Bins::galaxiesml_default());
    evaluate(&grouped).overall.unwrap()
}

/// Galaxies with z_spec in (0, 4.2) and z_phot near it, with some catastrophic outliers.
fn sample() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec(
        (0.001f64..4.2, -0.3f64..0.3, prop::bool::weighted(0.1), 0.0f64..4.0).prop_map(|(zs, err, outlier, wild)| {
            let zp = if outlier { wild } else { zs + err * (1.0 + zs) * 0.2 };
            (zs, zp)
        }),
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn row_order_does_not_matter(rows in sample(), seed in any::<u64>()) {
        let (zs, zp): (Vec<f64>, Vec<f64>) = rows.iter().copied().unzip();
        let mut shuffled = rows.clone();
        // Deterministic Fisher-Yates from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (zs2, zp2): (Vec<f64>, Vec<f64>) = shuffled.into_iter().unzip();
        let a = metrics_of(&zs, &zp);
        let b = metrics_of(&zs2, &zp2);
        for metric in Metric::ALL {
            prop_assert!(close(a.get(metric), b.get(metric)), "{metric}: {:?} vs {:?}", a.get(metric), b.get(metric));
        }
    }

    #[test]
    fn mirrored_predictions_flip_the_bias(rows in sample()) {
        let dz: Vec<f64> = rows.iter().map(|&(zs, zp)| (zp - zs) / (1.0 + zs)).collect();
        let delta: Vec<f64> = rows.iter().map(|&(zs, zp)| zp - zs).collect();
        let neg_dz: Vec<f64> = dz.iter().map(|x| -x).collect();
        let neg_delta: Vec<f64> = delta.iter().map(|x| -x).collect();
        let a = point_metrics(&dz, &delta, &mut Vec::new()).unwrap();
        let b = point_metrics(&neg_dz, &neg_delta, &mut Vec::new()).unwrap();
        prop_assert!(close(a.bias, -b.bias));
        prop_assert!(close(a.mean_bias, -b.mean_bias));
        prop_assert!(close(a.bias_bw, -b.bias_bw));
        for metric in [
            Metric::Scatter,
            Metric::SigmaIqr,
            Metric::Rms,
            Metric::OutlierFrac,
            Metric::Mse,
            Metric::Loss,
            Metric::ScatterBw,
        ] {
            prop_assert!(close(a.get(metric), b.get(metric)), "{metric}");
        }
    }

    #[test]
    fn values_stay_in_their_ranges(rows in sample()) {
        let (zs, zp): (Vec<f64>, Vec<f64>) = rows.iter().copied().unzip();
        let m = metrics_of(&zs, &zp);
        for f in [m.outlier_frac, m.outlier_frac_rail, m.outlier_frac_bw] {
            prop_assert!((0.0..=1.0).contains(&f));
        }
        prop_assert!((0.0..1.0).contains(&m.loss));
        prop_assert!(m.scatter >= 0.0 && m.sigma_iqr >= 0.0 && m.scatter_bw >= 0.0 && m.mse >= 0.0);
        prop_assert!(m.rms + 1e-12 >= m.mean_bias.abs());
        prop_assert_eq!(m.count, rows.len());
    }

    #[test]
    fn bins_partition_the_sample(rows in sample()) {
        let (zs, zp): (Vec<f64>, Vec<f64>) = rows.iter().copied().unzip();
        let grouped = Grouped::new(zs, zp, &Bins::galaxiesml_default());
        let evaluation = evaluate(&grouped);
        let in_bins: usize = evaluation.per_bin.iter().map(|m| m.map_or(0, |m| m.count)).sum();
        prop_assert_eq!(in_bins + grouped.n_outside(), rows.len());
    }
}
