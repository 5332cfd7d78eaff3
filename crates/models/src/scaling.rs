//! Per-band min-max scaling of magnitudes, as the NN's inputs are prepared in train_nn.py
//! (scikit-learn `MinMaxScaler` fitted on the training magnitudes; `docs/MODELS.md`, "NN").

use serde::{Deserialize, Serialize};

use pzbench_io::{Error, Result};

/// `x' = (x - min) / (max - min)` per band, with the band's min and max from the training set.
/// A band with `max == min` is only shifted (scikit-learn's handling of a zero range).
/// Serialised into the checkpoint's `model.json` so predictions scale exactly like training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    /// Per-band minimum over the training set.
    pub min: Vec<f64>,
    /// Per-band maximum over the training set.
    pub max: Vec<f64>,
}

impl MinMaxScaler {
    /// Fits the per-band range of `values`, a row-major `n × n_bands` matrix with `n ≥ 1`.
    pub fn fit(values: &[f32], n_bands: usize) -> Result<Self> {
        if n_bands == 0 || values.is_empty() || !values.len().is_multiple_of(n_bands) {
            return Err(Error::other(format!(
                "cannot fit the magnitude scaler on {} values in {n_bands} bands",
                values.len()
            )));
        }
        let mut min = vec![f64::INFINITY; n_bands];
        let mut max = vec![f64::NEG_INFINITY; n_bands];
        for row in values.chunks_exact(n_bands) {
            for (b, &v) in row.iter().enumerate() {
                min[b] = min[b].min(f64::from(v));
                max[b] = max[b].max(f64::from(v));
            }
        }
        Ok(MinMaxScaler { min, max })
    }

    /// Number of bands the scaler was fitted on.
    pub fn n_bands(&self) -> usize {
        self.min.len()
    }

    /// Scales a row-major `n × n_bands` matrix in place.
    pub fn transform(&self, values: &mut [f32]) {
        for row in values.chunks_exact_mut(self.n_bands()) {
            for ((v, &lo), &hi) in row.iter_mut().zip(&self.min).zip(&self.max) {
                let range = if hi > lo { hi - lo } else { 1.0 };
                *v = ((f64::from(*v) - lo) / range) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_and_scales_per_band() {
        let train = [20.0f32, 1.0, 22.0, 1.0, 24.0, 1.0];
        let s = MinMaxScaler::fit(&train, 2).unwrap();
        assert_eq!(s.min, vec![20.0, 1.0]);
        assert_eq!(s.max, vec![24.0, 1.0]);
        let mut x = [22.0f32, 3.0, 26.0, 1.0];
        s.transform(&mut x);
        assert_eq!(x, [0.5, 2.0, 1.5, 0.0]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<MinMaxScaler>(&json).unwrap(), s);
        assert!(MinMaxScaler::fit(&[], 5).is_err());
        assert!(MinMaxScaler::fit(&[1.0, 2.0, 3.0], 2).is_err());
    }
}
