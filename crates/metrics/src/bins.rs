//! Redshift bins for per-bin metrics (GalaxiesML Figure 6; `docs/METRICS.md` "Redshift bins").
//!
//! Intervals are right-closed, `(lo, hi]`, like pandas `cut`; edges are made like numpy
//! `linspace`. A galaxy outside every bin still counts in the overall metrics.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which redshift decides a galaxy's bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinOn {
    /// Spectroscopic redshift (the paper's Figure 6).
    #[serde(rename = "z_spec")]
    ZSpec,
    /// Photometric redshift (tomographic bins, as used in cosmology).
    #[serde(rename = "z_phot")]
    ZPhot,
}

/// Bin edges and the redshift they apply to; serialises as the `bins` object of the reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    /// Which redshift is binned.
    pub on: BinOn,
    /// Always `"right"`: bins are `(lo, hi]`.
    pub closed: String,
    /// Strictly increasing edges; `edges.len() - 1` bins.
    pub edges: Vec<f64>,
}

impl Bins {
    /// The paper's default: 20 bins of 0.2 from 0 to 4 on z_spec.
    pub fn galaxiesml_default() -> Self {
        Bins { on: BinOn::ZSpec, closed: "right".to_string(), edges: linspace(0.0, 4.0, 20) }
    }

    /// Bins with explicit edges (at least two, finite, strictly increasing).
    pub fn new(on: BinOn, edges: Vec<f64>) -> Result<Self> {
        if edges.len() < 2 {
            return Err(Error::invalid_bins("bin edges: need at least two edges, e.g. --edges 0,0.5,1"));
        }
        if let Some(bad) = edges.iter().find(|e| !e.is_finite()) {
            return Err(Error::invalid_bins(format!("bin edges: {bad} is not a finite number")));
        }
        if let Some(w) = edges.windows(2).find(|w| w[0] >= w[1]) {
            return Err(Error::invalid_bins(format!(
                "bin edges must increase strictly, but {} is followed by {}",
                w[0], w[1]
            )));
        }
        Ok(Bins { on, closed: "right".to_string(), edges })
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.edges.len() - 1
    }

    /// Whether there are no bins (never true for a constructed `Bins`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(lo, hi)` of bin `i`.
    pub fn interval(&self, i: usize) -> (f64, f64) {
        (self.edges[i], self.edges[i + 1])
    }

    /// The bin holding `z` under `(lo, hi]` (pandas `cut`, `right=True`), or `None` outside.
    pub fn locate(&self, z: f64) -> Option<usize> {
        let above = self.edges.partition_point(|&e| e < z);
        (1..=self.len()).contains(&above).then(|| above - 1)
    }
}

/// Edges like `np.linspace(lo, hi, n_bins + 1)`: `lo + i * ((hi - lo) / n_bins)`, last exactly `hi`.
pub fn linspace(lo: f64, hi: f64, n_bins: usize) -> Vec<f64> {
    let step = (hi - lo) / n_bins as f64;
    (0..n_bins).map(|i| lo + i as f64 * step).chain(std::iter::once(hi)).collect()
}

/// Parse `--bins LO:HI:WIDTH` (e.g. `0:4:0.2`); the width must divide the range evenly.
pub fn parse_range(spec: &str) -> Result<Vec<f64>> {
    let bad = |why: &str| Error::invalid_bins(format!("--bins {spec}: {why}; expected LO:HI:WIDTH, e.g. 0:4:0.2"));
    let parts: Vec<&str> = spec.split(':').collect();
    let [lo, hi, width] = parts.as_slice() else {
        return Err(bad("need three numbers separated by ':'"));
    };
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|x| x.is_finite());
    let (Some(lo), Some(hi), Some(width)) = (number(lo), number(hi), number(width)) else {
        return Err(bad("not a number"));
    };
    if width <= 0.0 || hi <= lo {
        return Err(bad("need LO < HI and WIDTH > 0"));
    }
    let n = ((hi - lo) / width).round();
    if n < 1.0 || ((hi - lo) / width - n).abs() > 1e-9 * n.max(1.0) {
        return Err(bad("WIDTH does not divide HI - LO into whole bins"));
    }
    if n > 100_000.0 {
        return Err(bad("more than 100000 bins"));
    }
    Ok(linspace(lo, hi, n as usize))
}

/// Parse `--edges a,b,c,…`.
pub fn parse_edges(spec: &str) -> Result<Vec<f64>> {
    spec.split(',')
        .map(|s| {
            s.trim().parse::<f64>().map_err(|_| {
                Error::invalid_bins(format!("--edges {spec}: '{}' is not a number; expected e.g. 0,0.5,1,2", s.trim()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_edges_are_numpy_linspace() {
        let bins = Bins::galaxiesml_default();
        assert_eq!(bins.len(), 20);
        assert_eq!(bins.edges[3], 0.6000000000000001);
        assert_eq!(bins.edges[20], 4.0);
    }

    #[test]
    fn right_closed_intervals() {
        let bins = Bins::galaxiesml_default();
        assert_eq!(bins.locate(0.0), None);
        assert_eq!(bins.locate(0.2), Some(0));
        assert_eq!(bins.locate(0.2000001), Some(1));
        assert_eq!(bins.locate(4.0), Some(19));
        assert_eq!(bins.locate(4.0000001), None);
        assert_eq!(bins.locate(-0.1), None);
    }

    #[test]
    fn parses_ranges_and_edges() {
        assert_eq!(parse_range("0:4:0.2").unwrap(), Bins::galaxiesml_default().edges);
        assert_eq!(parse_range("0:1:0.5").unwrap(), vec![0.0, 0.5, 1.0]);
        assert!(parse_range("0:1:0.3").is_err());
        assert!(parse_range("1:0:0.1").is_err());
        assert!(parse_range("0:1").is_err());
        assert!(parse_range("a:1:0.1").is_err());
        assert_eq!(parse_edges("0, 0.5,2").unwrap(), vec![0.0, 0.5, 2.0]);
        assert!(parse_edges("0,x").is_err());
        assert!(Bins::new(BinOn::ZSpec, vec![0.0, 0.0]).is_err());
        assert!(Bins::new(BinOn::ZSpec, vec![0.0]).is_err());
    }
}
