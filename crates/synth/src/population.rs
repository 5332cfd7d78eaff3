//! A galaxy population for the synthetic GalaxiesML catalogue: redshift, spectral type,
//! luminosity, noisy HSC photometry and bulge + disk structure.
//!
//! # Recipe (one galaxy, [`draw_galaxy`])
//! 1. `z` from the catalogue redshift distribution [`NzTable`] (default: a Smail-type law with
//!    mode 1.5, [`NzTable::galaxiesml_default`]). `z` is kept through every rejection below, so
//!    the output n(z) *is* the table's n(z): the table describes the spec-z-selected catalogue.
//! 2. Spectral type `t ∈ [0, 5]` (El … SB2) with an early-type fraction that falls with `z`
//!    ([`early_type_fraction`]).
//! 3. Bulge-to-total ratio (rest-frame g) from the type ([`mean_bulge_to_total`]). The bulge
//!    has the El SED, the disk a bluer SED, type `min(t + 0.5, 5)`, so images carry colour
//!    gradients.
//! 4. Rest-frame g absolute magnitude from a Schechter (1976) luminosity function with
//!    evolving `M*` ([`schechter_mstar`]), truncated at the faint end where the galaxy could not
//!    pass the magnitude limit.
//! 5. True magnitudes `m_b = M_g + DM(z) + K_gb(t, z)` with the K-correction from the SEDs
//!    themselves ([`PhotometryGrid`], Madau IGM on).
//! 6. Noise from the HSC Wide 5σ depths with the Ivezić et al. (2019) error model
//!    ([`flux_error`]); observed magnitudes from the noisy fluxes.
//! 7. Selection: every band must have positive flux and `0 < m < 50` (GalaxiesML drops NaN and
//!    out-of-range magnitudes), and `i_obs < mag_limit_i` (default 25.0). Failed draws are
//!    rejected and steps 2–7 repeated at the same `z`.
//! 8. Sizes from van der Wel et al. (2014), Sérsic indices, axis ratios and position angle.
//!
//! Numbers without a better source are phenomenological and say so.

use rand::Rng;

use super::cosmology::Cosmology;
use super::photometry::{PhotometryGrid, DEFAULT_Z_MAX};
use super::sed::T_MAX;
use pzbench_io::{Error, Result};

use crate::hsc::{HSC_WIDE_DEPTH_M5, N_BANDS, ZEROPOINT};
use crate::random::std_normal;

/// Ivezić et al. (2019, ApJ 873, 111, eq. 5) `γ`, which sets the source-noise term; 0.039 for
/// LSST-like optical bands.
pub const IVEZIC_GAMMA: f64 = 0.039;

/// Default selection `i_cmodel < 25.0`. GalaxiesML is limited by spectroscopy, not imaging: its
/// spec-z galaxies are nearly all brighter than i ≈ 25 (the deep COSMOS/DEEP2/VVDS spec-z
/// samples reach i ≈ 24–25; the DC2 training set beside the project data uses i < 25.3).
pub const DEFAULT_MAG_LIMIT_I: f64 = 25.0;

/// Lowest redshift a table may contain (keeps distance moduli finite).
pub const NZ_Z_MIN: f64 = 0.001;

/// 2.5 / ln 10: magnitude error per unit fractional flux error.
const MAG_PER_FRAC: f64 = 1.085_736_204_758_129_6;

/// Index of the i band.
const I_BAND: usize = 2;

/// Attempts at one redshift before [`draw_galaxy`] gives up.
const MAX_ATTEMPTS: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Redshift distribution
// ---------------------------------------------------------------------------------------------

/// Default n(z) shape `z^α exp(−(z/z0)^β)` (Smail et al. 1994, MNRAS 270, 245): `α = 2`,
/// `β = 3`. The mode is `z0 (α/β)^(1/β)`; `z0 = 1.5 / (2/3)^(1/3) = 1.7171` puts it at 1.5,
/// as the GalaxiesML abstract describes ("peaking near z ≈ 1.5"), and `β = 3` makes the
/// high-z tail fall fast (p(2.5)/p(1.5) = 0.25, p(3)/p(1.5) = 0.04, p(3.5)/p(1.5) = 0.002).
pub const SMAIL_ALPHA: f64 = 2.0;
/// See [`SMAIL_ALPHA`].
pub const SMAIL_BETA: f64 = 3.0;
/// See [`SMAIL_ALPHA`].
pub const SMAIL_MODE: f64 = 1.5;
/// GalaxiesML redshift range 0.01 < z < 4 (GalaxiesML paper, §3.2).
pub const GALAXIESML_Z_RANGE: (f64, f64) = (0.01, 4.0);

/// A piecewise-linear probability density on `[x_0, x_last]` through tabulated `(x, weight)`
/// points, sampled by exact inversion of its (piecewise-quadratic) CDF.
#[derive(Debug, Clone, PartialEq)]
struct PiecewiseLinear {
    x: Vec<f64>,
    w: Vec<f64>,
    /// Unnormalised CDF at each node (trapezoid rule; exact for a piecewise-linear density).
    cdf: Vec<f64>,
}

/// Why nodes and weights make no [`PiecewiseLinear`] density.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum DensityError {
    #[error("needs at least two rows")]
    TooFewRows,
    #[error("values must be finite")]
    NotFinite,
    #[error("z must be strictly increasing")]
    NotIncreasing,
    #[error("weights must be ≥ 0")]
    NegativeWeight,
    #[error("weights must not all be zero")]
    NoMass,
}

impl PiecewiseLinear {
    fn new(x: Vec<f64>, w: Vec<f64>) -> std::result::Result<Self, DensityError> {
        if x.len() != w.len() || x.len() < 2 {
            return Err(DensityError::TooFewRows);
        }
        if x.iter().chain(&w).any(|v| !v.is_finite()) {
            return Err(DensityError::NotFinite);
        }
        if x.windows(2).any(|p| p[1] <= p[0]) {
            return Err(DensityError::NotIncreasing);
        }
        if w.iter().any(|&v| v < 0.0) {
            return Err(DensityError::NegativeWeight);
        }
        let mut cdf = Vec::with_capacity(x.len());
        cdf.push(0.0);
        for k in 1..x.len() {
            let last = cdf[k - 1];
            cdf.push(last + 0.5 * (w[k - 1] + w[k]) * (x[k] - x[k - 1]));
        }
        let total = cdf[cdf.len() - 1];
        if total <= 0.0 || !total.is_finite() {
            return Err(DensityError::NoMass);
        }
        Ok(PiecewiseLinear { x, w, cdf })
    }

    fn total(&self) -> f64 {
        self.cdf[self.cdf.len() - 1]
    }

    fn pdf(&self, at: f64) -> f64 {
        super::filters::interp_linear(&self.x, &self.w, at).unwrap_or(0.0) / self.total()
    }

    /// Inverse-CDF sample from a uniform deviate `u ∈ [0, 1)`.
    fn sample_u(&self, u: f64) -> f64 {
        let target = u * self.total();
        let n = self.x.len();
        // Segment j with cdf[j] ≤ target < cdf[j+1]; zero-mass segments are skipped.
        let j = (self.cdf.partition_point(|&c| c <= target)).clamp(1, n - 1) - 1;
        let (x0, x1, w0, w1) = (self.x[j], self.x[j + 1], self.w[j], self.w[j + 1]);
        let h = x1 - x0;
        let r = target - self.cdf[j];
        // Solve w0 s + (w1 − w0) s² / (2h) = r for s ∈ [0, h] (stable quadratic root).
        let a = (w1 - w0) / (2.0 * h);
        let disc = (w0 * w0 + 4.0 * a * r).max(0.0);
        let denom = w0 + disc.sqrt();
        let s = if denom > 0.0 { 2.0 * r / denom } else { 0.0 };
        (x0 + s).clamp(x0, x1)
    }
}

/// A redshift distribution n(z): a piecewise-linear density through `(z, weight)` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct NzTable {
    dist: PiecewiseLinear,
}

impl NzTable {
    /// A table from redshift nodes and non-negative weights (any normalisation). Nodes must be
    /// strictly increasing within `[0.001, 4]`.
    pub fn new(z: Vec<f64>, mut weight: Vec<f64>) -> Result<Self> {
        // Huge weights (e.g. 1e308) overflow the sampler's arithmetic into NaN redshifts (found
        // by pzbench-fuzz): as any normalisation will do, scale such a table down to a largest
        // weight of 1. (Ordinary tables are left exactly as given.)
        let largest = weight.iter().copied().fold(0.0, f64::max);
        if largest > 1e100 && largest.is_finite() {
            weight.iter_mut().for_each(|w| *w /= largest);
        }
        let dist =
            PiecewiseLinear::new(z, weight).map_err(|e| Error::other(format!("n(z) table: {e}")).caused_by(e))?;
        let (lo, hi) = (dist.x[0], dist.x[dist.x.len() - 1]);
        if lo < NZ_Z_MIN || hi > DEFAULT_Z_MAX {
            return Err(Error::other(format!(
                "n(z) table: redshifts must lie in [{NZ_Z_MIN}, {DEFAULT_Z_MAX}], got {lo}–{hi}"
            )));
        }
        Ok(NzTable { dist })
    }

    /// Parse a two-column CSV `z,weight` (one optional header line, `#` comments, blank lines
    /// ignored). Errors name the line at fault.
    pub fn parse_csv(text: &str) -> Result<Self> {
        let mut z = Vec::new();
        let mut w = Vec::new();
        let mut first = true;
        // A byte-order mark would make the first row look like a header and drop it.
        let text = pzbench_io::encoding::strip_bom_str(text);
        for (k, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            let parsed = match cols.as_slice() {
                [a, b] => a.parse::<f64>().ok().zip(b.parse::<f64>().ok()),
                _ => None,
            };
            match parsed {
                Some((zv, wv)) => {
                    z.push(zv);
                    w.push(wv);
                }
                None if first && cols.len() == 2 => {}
                None => {
                    return Err(Error::other(format!(
                        "n(z) table, line {}: expected two comma-separated numbers `z,weight`, got {line:?}",
                        k + 1
                    )))
                }
            }
            first = false;
        }
        NzTable::new(z, w)
    }

    /// `z^α exp(−(z/z0)^β)` on `[z_min, z_max]`, tabulated every 0.005.
    pub fn smail(alpha: f64, beta: f64, z0: f64, z_min: f64, z_max: f64) -> Result<Self> {
        if !(alpha >= 0.0 && beta > 0.0 && z0 > 0.0 && z_max > z_min) {
            return Err(Error::other(format!("Smail n(z): invalid α = {alpha}, β = {beta}, z0 = {z0}")));
        }
        let n = ((z_max - z_min) / 0.005).ceil().max(1.0) as usize;
        let z: Vec<f64> = (0..=n).map(|k| z_min + (z_max - z_min) * k as f64 / n as f64).collect();
        let w = z.iter().map(|&x| x.powf(alpha) * (-(x / z0).powf(beta)).exp()).collect();
        NzTable::new(z, w)
    }

    /// The default GalaxiesML-like n(z): Smail law with `α = 2`, `β = 3`, mode 1.5 (see
    /// [`SMAIL_ALPHA`]) on 0.01 < z < 4, vanishing at both ends.
    pub fn galaxiesml_default() -> Result<Self> {
        let z0 = SMAIL_MODE / (SMAIL_ALPHA / SMAIL_BETA).powf(1.0 / SMAIL_BETA);
        let (lo, hi) = GALAXIESML_Z_RANGE;
        let mut t = NzTable::smail(SMAIL_ALPHA, SMAIL_BETA, z0, lo, hi)?;
        // Exactly zero at the open ends 0.01 and 4 so no draw lands on them.
        let n = t.dist.w.len();
        t.dist.w[0] = 0.0;
        t.dist.w[n - 1] = 0.0;
        NzTable::new(t.dist.x, t.dist.w)
    }

    /// Normalised density at `z` (0 outside the table).
    pub fn pdf(&self, z: f64) -> f64 {
        self.dist.pdf(z)
    }

    /// `(z_first, z_last)` of the table.
    pub fn range(&self) -> (f64, f64) {
        (self.dist.x[0], self.dist.x[self.dist.x.len() - 1])
    }

    /// The node with the largest weight.
    pub fn mode(&self) -> f64 {
        let mut best = 0;
        for k in 1..self.dist.w.len() {
            if self.dist.w[k] > self.dist.w[best] {
                best = k;
            }
        }
        self.dist.x[best]
    }

    /// Draw one redshift (one uniform deviate).
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        self.dist.sample_u(rng.random::<f64>())
    }
}

// ---------------------------------------------------------------------------------------------
// Population ingredients
// ---------------------------------------------------------------------------------------------

/// Early-type (t < 1) fraction at redshift `z`: `0.45 exp(−z/1.2)`. Phenomenological, tuned to
/// quiescent fractions of about 40 % at z ≈ 0.2, 20 % at z ≈ 1 and < 10 % at z ≳ 2 in
/// magnitude-limited samples (Ilbert et al. 2013, A&A 556, A55; Muzzin et al. 2013, ApJ 777, 18).
pub fn early_type_fraction(z: f64) -> f64 {
    0.45 * (-z / 1.2).exp()
}

/// Mean late-type index `1.5 + 0.8 min(z, 3)`: Sbc–Scd discs locally, Im/SB3-like star-forming
/// galaxies (Lyman-break galaxies) at z ≈ 3. Phenomenological; late types are drawn from a
/// normal of this mean and σ = 1 truncated to `[1, 5]`.
pub fn mean_late_type(z: f64) -> f64 {
    1.5 + 0.8 * z.min(3.0)
}

/// Schechter (1976) parameters in rest-frame HSC g (AB, H0 = 70): `(M*(z), α)`.
///
/// Early types `M*_0 = −20.8`, `α = −0.5`; late types `M*_0 = −20.4`, `α = −1.3` — the red/blue
/// split of Faber et al. (2007, ApJ 665, 265), who fix α = −0.5 (red) and −1.3 (blue), with
/// `M*` converted approximately to g (AB). `M*` brightens by `Q = 1` mag per unit z (Faber et
/// al. find Q ≈ 1.2–1.3 in B to z ≈ 1; Q = 1 as the project brief suggests), frozen beyond
/// z = 2 where rest-optical LFs stop brightening (Marchesini et al. 2012, ApJ 748, 126).
pub fn schechter_mstar(early: bool, z: f64) -> (f64, f64) {
    let (m0, alpha) = if early { (-20.8, -0.5) } else { (-20.4, -1.3) };
    (m0 - 1.0 * z.min(2.0), alpha)
}

/// Bright and faint ends of the sampled luminosity function relative to `M*`: `M* − 3.5`
/// (the Schechter exponential makes brighter galaxies negligible) and `M* + 6` (dwarfs fainter
/// than ≈ −14.5 are not spec-z targets).
const LF_BRIGHT: f64 = -3.5;
/// See [`LF_BRIGHT`].
const LF_FAINT: f64 = 6.0;
/// Galaxies are drawn down to `mag_limit_i + 1` in true i so noise can scatter them across the
/// limit; the observed-magnitude cut then does the selection.
const LIMIT_MARGIN: f64 = 1.0;

/// Mean rest-frame g bulge-to-total ratio for type `t`: `0.9 exp(−t)`, i.e. 0.9 (El), 0.33
/// (Sbc), 0.12 (Scd), 0.05 (Im) and ≈ 0 for starbursts — close to the Hubble-type means of
/// Simien & de Vaucouleurs (1986, ApJ 302, 564). Individual values scatter by 0.15 dex.
pub fn mean_bulge_to_total(t: f64) -> f64 {
    0.9 * (-t).exp()
}

/// van der Wel et al. (2014, ApJ 788, 28, Table 1, z = 0.25 bin) size–mass relation
/// `r_e = A (M_*/5×10¹⁰ M☉)^a` [kpc]: late types `log A = 0.86`, `a = 0.25`, scatter 0.16 dex;
/// early types `log A = 0.60`, `a = 0.75`, scatter 0.10 dex. At fixed mass `r_e ∝ (1+z)^−0.75`
/// (late) and `(1+z)^−1.48` (early) (their §4.2), normalised here at z = 0.25. Stellar mass is
/// taken proportional to rest-g luminosity with an `M*` galaxy at 5×10¹⁰ M☉ (Baldry et al. 2012
/// find M* ≈ 10^10.66 M☉), applied per component: discs use the late-type relation with the
/// disc luminosity, bulges the early-type relation with the bulge luminosity.
pub fn half_light_radius_kpc(bulge: bool, lum_over_lstar: f64, z: f64) -> (f64, f64) {
    let (log_a, slope, beta, scatter) = if bulge { (0.60, 0.75, -1.48, 0.10) } else { (0.86, 0.25, -0.75, 0.16) };
    let r = 10f64.powf(log_a) * lum_over_lstar.max(1e-6).powf(slope) * ((1.0 + z) / 1.25).powf(beta);
    (r, scatter)
}

/// Radii are kept within `[0.1, 30]` kpc (below 0.1 kpc a component is unresolved at every z
/// in HSC's 0.6–0.8″ seeing; above 30 kpc the relations are extrapolated).
const RADIUS_RANGE_KPC: (f64, f64) = (0.1, 30.0);

/// Intrinsic thickness of discs, `q0 = 0.2` (e.g. Padilla & Strauss 2008, MNRAS 388, 1321).
const DISK_Q0: f64 = 0.2;

/// Sérsic index of discs (exponential, Freeman 1970).
pub const N_DISK: f64 = 1.0;
/// Sérsic index of bulges (de Vaucouleurs 1948).
pub const N_BULGE: f64 = 4.0;

/// Fractional flux error `σ_F/F` of a source of magnitude `m` at 5σ depth `m5`:
/// `sqrt((0.04 − γ) x + γ x²)`, `x = 10^(0.4 (m − m5))` (Ivezić et al. 2019, eq. 5, read in
/// flux-fraction terms so that a source at `m5` has S/N = 5 exactly).
pub fn fractional_flux_error(m: f64, m5: f64) -> f64 {
    let x = 10f64.powf(0.4 * (m - m5));
    ((0.04 - IVEZIC_GAMMA) * x + IVEZIC_GAMMA * x * x).sqrt()
}

/// Magnitude error `2.5/ln10 · σ_F/F` for a source of magnitude `m` at depth `m5`
/// (0.2171 mag at `m = m5`).
pub fn magnitude_error(m: f64, m5: f64) -> f64 {
    MAG_PER_FRAC * fractional_flux_error(m, m5)
}

/// Flux error [counts at zeropoint 27] of a source of true flux `flux` [counts] at depth `m5`:
/// `σ_F² = (0.04 − γ) F F5 + γ F5²` with `F5` the flux at `m5` — the same model as
/// [`fractional_flux_error`], written so that it stays finite as `F → 0` (sky-limited
/// `σ_F → sqrt(γ) F5`).
pub fn flux_error(flux: f64, m5: f64) -> f64 {
    let f5 = mag_to_counts(m5);
    ((0.04 - IVEZIC_GAMMA) * flux.max(0.0) * f5 + IVEZIC_GAMMA * f5 * f5).sqrt()
}

/// Flux in counts at zeropoint 27 of an AB magnitude: `10^(−0.4 (m − 27))`.
pub fn mag_to_counts(m: f64) -> f64 {
    10f64.powf(-0.4 * (m - ZEROPOINT))
}

/// AB magnitude of a positive flux in counts at zeropoint 27.
pub fn counts_to_mag(flux: f64) -> f64 {
    ZEROPOINT - 2.5 * flux.log10()
}

// ---------------------------------------------------------------------------------------------
// The model and one galaxy
// ---------------------------------------------------------------------------------------------

/// Everything [`draw_galaxy`] needs: the flux grid, n(z), depths, magnitude limit, cosmology.
#[derive(Debug, Clone)]
pub struct PopulationModel {
    grid: PhotometryGrid,
    nz: NzTable,
    depths: [f64; N_BANDS],
    mag_limit_i: f64,
    cosmology: Cosmology,
}

impl PopulationModel {
    /// A model on `grid` with n(z) `nz`, HSC Wide depths, `i < 25` and H0 = 70, Ω_m = 0.3.
    pub fn new(grid: PhotometryGrid, nz: NzTable) -> Result<Self> {
        let model = PopulationModel {
            grid,
            nz,
            depths: HSC_WIDE_DEPTH_M5,
            mag_limit_i: DEFAULT_MAG_LIMIT_I,
            cosmology: Cosmology::default(),
        };
        model.validate()?;
        Ok(model)
    }

    /// The GalaxiesML-like default: HSC grid with Madau IGM, Δz = 0.001, default n(z).
    pub fn galaxiesml() -> Result<Self> {
        PopulationModel::new(PhotometryGrid::hsc(true)?, NzTable::galaxiesml_default()?)
    }

    /// Replace the redshift distribution.
    pub fn with_nz(mut self, nz: NzTable) -> Result<Self> {
        self.nz = nz;
        self.validate()?;
        Ok(self)
    }

    /// Replace the `i`-band limit applied to observed magnitudes.
    pub fn with_mag_limit_i(mut self, limit: f64) -> Result<Self> {
        self.mag_limit_i = limit;
        self.validate()?;
        Ok(self)
    }

    /// Replace the 5σ depths (g, r, i, z, y).
    pub fn with_depths(mut self, depths: [f64; N_BANDS]) -> Result<Self> {
        self.depths = depths;
        self.validate()?;
        Ok(self)
    }

    /// The redshift distribution.
    pub fn nz(&self) -> &NzTable {
        &self.nz
    }

    /// The 5σ depths (g, r, i, z, y).
    pub fn depths(&self) -> [f64; N_BANDS] {
        self.depths
    }

    /// The observed i-band magnitude limit.
    pub fn mag_limit_i(&self) -> f64 {
        self.mag_limit_i
    }

    /// The cosmology.
    pub fn cosmology(&self) -> &Cosmology {
        &self.cosmology
    }

    /// The type × redshift × band flux grid.
    pub fn grid(&self) -> &PhotometryGrid {
        &self.grid
    }

    /// Checks that n(z) fits the grid, depths and limit are sane, and that at the highest
    /// redshift of n(z) the brightest galaxies of some type pass the limit (otherwise
    /// [`draw_galaxy`] could never finish).
    fn validate(&self) -> Result<()> {
        let (_, zhi) = self.nz.range();
        if zhi > self.grid.z_max() {
            return Err(Error::other(format!(
                "n(z) reaches z = {zhi} but the photometry grid stops at {}",
                self.grid.z_max()
            )));
        }
        if self.depths.iter().any(|d| !(d.is_finite() && *d > 10.0 && *d < 40.0)) {
            return Err(Error::other(format!("5σ depths {:?} must be magnitudes in (10, 40)", self.depths)));
        }
        if !(self.mag_limit_i.is_finite() && self.mag_limit_i > 10.0 && self.mag_limit_i < 40.0) {
            return Err(Error::other(format!("i-band limit {} must be a magnitude in (10, 40)", self.mag_limit_i)));
        }
        let dm = self.cosmology.distance_modulus(zhi);
        let feasible = (0..=10).any(|k| {
            let t = k as f64 * T_MAX / 10.0;
            let (mstar, _) = schechter_mstar(t < 1.0, zhi);
            self.grid
                .flux_ratio(t, zhi)
                .map(|r| mstar + LF_BRIGHT + dm - 2.5 * r[I_BAND].log10() < self.mag_limit_i - 0.5)
                .unwrap_or(false)
        });
        if !feasible {
            return Err(Error::other(format!(
                "no galaxy at z = {zhi} can pass i < {}: lower the n(z) range or raise the limit",
                self.mag_limit_i
            )));
        }
        Ok(())
    }
}

/// The truth and the observables of one synthetic galaxy. Fluxes are in counts at zeropoint 27
/// (`10^(−0.4 (m − 27))`), band order g, r, i, z, y.
#[derive(Debug, Clone, PartialEq)]
pub struct GalaxyTruth {
    /// Redshift.
    pub z: f64,
    /// Global spectral type `t ∈ [0, 5]` (El 0, Sbc 1, Scd 2, Im 3, SB3 4, SB2 5): sets B/T
    /// and the disc SED; the galaxy's SED is the bulge + disc sum.
    pub sed_type: f64,
    /// SED type of the disc, `min(t + 0.5, 5)`.
    pub disk_sed_type: f64,
    /// SED type of the bulge (El, 0).
    pub bulge_sed_type: f64,
    /// Rest-frame HSC g absolute magnitude (AB) of the whole galaxy.
    pub abs_mag_g: f64,
    /// Bulge-to-total flux ratio in rest-frame g.
    pub bulge_to_total: f64,
    /// Noise-free apparent AB magnitudes.
    pub mags_true: [f64; N_BANDS],
    /// Observed (noisy) AB magnitudes, the `{b}_cmodel_mag` columns.
    pub mags_obs: [f64; N_BANDS],
    /// Magnitude errors `2.5/ln10 · σ_F / F_obs`, the `{b}_cmodel_magsigma` columns.
    pub mag_err: [f64; N_BANDS],
    /// Noise-free total fluxes (= bulge + disc).
    pub flux_true: [f64; N_BANDS],
    /// Observed fluxes (true + Gaussian noise of σ [`flux_error`]).
    pub flux_obs: [f64; N_BANDS],
    /// Flux errors σ_F used for the noise.
    pub flux_err: [f64; N_BANDS],
    /// Noise-free bulge fluxes.
    pub bulge_flux: [f64; N_BANDS],
    /// Noise-free disc fluxes.
    pub disk_flux: [f64; N_BANDS],
    /// Bulge half-light radius [kpc].
    pub r_bulge_kpc: f64,
    /// Disc half-light radius [kpc].
    pub r_disk_kpc: f64,
    /// Bulge half-light radius [arcsec] (through the angular-diameter distance).
    pub r_bulge_arcsec: f64,
    /// Disc half-light radius [arcsec].
    pub r_disk_arcsec: f64,
    /// Bulge Sérsic index (4).
    pub n_bulge: f64,
    /// Disc Sérsic index (1).
    pub n_disk: f64,
    /// Projected axis ratio b/a of the disc (randomly inclined disc of thickness 0.2).
    pub axis_ratio: f64,
    /// Projected axis ratio b/a of the bulge.
    pub bulge_axis_ratio: f64,
    /// Position angle of both components [deg], in `[0, 180)`, counter-clockwise from +x.
    pub position_angle_deg: f64,
}

/// Draw the spectral type at redshift `z`: early (`t ~ U(0, 0.8)`) with probability
/// [`early_type_fraction`], else late (normal of mean [`mean_late_type`], σ = 1, truncated to
/// `[1, 5]` by rejection).
fn draw_type(rng: &mut impl Rng, z: f64) -> f64 {
    if rng.random::<f64>() < early_type_fraction(z) {
        return 0.8 * rng.random::<f64>();
    }
    let mu = mean_late_type(z);
    for _ in 0..100 {
        let t = mu + std_normal(rng);
        if (1.0..=T_MAX).contains(&t) {
            return t;
        }
    }
    mu.clamp(1.0, T_MAX)
}

/// Sample `M` from a Schechter luminosity function `φ(M) ∝ 10^(0.4 (α+1)(M*−M))
/// exp(−10^(0.4 (M*−M)))` restricted to `[bright, faint]`, by inverting its CDF tabulated on
/// 129 points.
fn draw_schechter(rng: &mut impl Rng, mstar: f64, alpha: f64, bright: f64, faint: f64) -> f64 {
    const N: usize = 128;
    let x: Vec<f64> = (0..=N).map(|k| bright + (faint - bright) * k as f64 / N as f64).collect();
    let w: Vec<f64> = x
        .iter()
        .map(|&m| {
            let l = 10f64.powf(0.4 * (mstar - m));
            l.powf(alpha + 1.0) * (-l).exp()
        })
        .collect();
    let u = rng.random::<f64>();
    match PiecewiseLinear::new(x, w) {
        Ok(d) => d.sample_u(u),
        // All weights underflowed (range far from M*): uniform in the range.
        Err(_) => bright + u * (faint - bright),
    }
}

/// Draw one galaxy (see the module docs for the recipe). Deterministic for a given RNG state.
///
/// Fails only if [`MAX_ATTEMPTS`] draws at one redshift are all rejected, which the checks of
/// [`PopulationModel`] make practically impossible.
pub fn draw_galaxy(rng: &mut impl Rng, model: &PopulationModel) -> Result<GalaxyTruth> {
    let z = model.nz.sample(rng);
    let (dm, kpc_per_arcsec) = model.cosmology.distance_modulus_and_kpc_per_arcsec(z);
    let bulge_ratio = model.grid.flux_ratio(0.0, z)?;
    for _ in 0..MAX_ATTEMPTS {
        let t = draw_type(rng, z);
        let early = t < 1.0;
        let bt = (mean_bulge_to_total(t) * 10f64.powf(0.15 * std_normal(rng))).min(1.0);
        let t_disk = (t + 0.5).min(T_MAX);
        let disk_ratio = model.grid.flux_ratio(t_disk, z)?;
        let total_i = bt * bulge_ratio[I_BAND] + (1.0 - bt) * disk_ratio[I_BAND];
        let (mstar, alpha) = schechter_mstar(early, z);
        let bright = mstar + LF_BRIGHT;
        // m_i = M + DM − 2.5 log10(total_i): the faintest M that can still reach the limit.
        let m_lim = model.mag_limit_i + LIMIT_MARGIN - dm + 2.5 * total_i.log10();
        let faint = (mstar + LF_FAINT).min(m_lim);
        if faint.is_nan() || faint <= bright {
            continue;
        }
        let abs_mag = draw_schechter(rng, mstar, alpha, bright, faint);
        let scale = mag_to_counts(abs_mag + dm);
        let mut bulge_flux = [0.0; N_BANDS];
        let mut disk_flux = [0.0; N_BANDS];
        let mut flux_true = [0.0; N_BANDS];
        let mut flux_err = [0.0; N_BANDS];
        let mut flux_obs = [0.0; N_BANDS];
        for b in 0..N_BANDS {
            bulge_flux[b] = scale * bt * bulge_ratio[b];
            disk_flux[b] = scale * (1.0 - bt) * disk_ratio[b];
            flux_true[b] = bulge_flux[b] + disk_flux[b];
            flux_err[b] = flux_error(flux_true[b], model.depths[b]);
            flux_obs[b] = flux_true[b] + flux_err[b] * std_normal(rng);
        }
        // GalaxiesML keeps only finite magnitudes in (0, 50) in every band.
        if flux_obs.iter().any(|&f| f.is_nan() || f <= mag_to_counts(50.0)) {
            continue;
        }
        let mags_obs = flux_obs.map(counts_to_mag);
        if mags_obs[I_BAND].is_nan() || mags_obs[I_BAND] >= model.mag_limit_i || mags_obs.iter().any(|&m| m <= 0.0) {
            continue;
        }
        let mags_true = flux_true.map(counts_to_mag);
        let mut mag_err = [0.0; N_BANDS];
        for b in 0..N_BANDS {
            mag_err[b] = MAG_PER_FRAC * flux_err[b] / flux_obs[b];
        }

        // Structure (does not affect selection).
        let lum = 10f64.powf(0.4 * (mstar - abs_mag));
        let (rd, sd) = half_light_radius_kpc(false, (1.0 - bt).max(1e-6) * lum, z);
        let (rb, sb) = half_light_radius_kpc(true, bt.max(1e-6) * lum, z);
        let (lo, hi) = RADIUS_RANGE_KPC;
        let r_disk_kpc = (rd * 10f64.powf(sd * std_normal(rng))).clamp(lo, hi);
        let r_bulge_kpc = (rb * 10f64.powf(sb * std_normal(rng))).clamp(lo, hi);
        // Randomly oriented thick disc: q² = q0² + (1 − q0²) cos² i, cos i ~ U(0, 1) (Hubble 1926).
        let cos_i = rng.random::<f64>();
        let axis_ratio = (DISK_Q0 * DISK_Q0 + (1.0 - DISK_Q0 * DISK_Q0) * cos_i * cos_i).sqrt();
        // Bulges/ellipticals: observed b/a ≈ N(0.75, 0.15) within [0.3, 1] (Lambas, Maddox &
        // Loveday 1992, MNRAS 258, 404: elliptical b/a peaks near 0.75).
        let bulge_axis_ratio = (0.75 + 0.15 * std_normal(rng)).clamp(0.3, 1.0);
        let position_angle_deg = 180.0 * rng.random::<f64>();

        return Ok(GalaxyTruth {
            z,
            sed_type: t,
            disk_sed_type: t_disk,
            bulge_sed_type: 0.0,
            abs_mag_g: abs_mag,
            bulge_to_total: bt,
            mags_true,
            mags_obs,
            mag_err,
            flux_true,
            flux_obs,
            flux_err,
            bulge_flux,
            disk_flux,
            r_bulge_kpc,
            r_disk_kpc,
            r_bulge_arcsec: r_bulge_kpc / kpc_per_arcsec,
            r_disk_arcsec: r_disk_kpc / kpc_per_arcsec,
            n_bulge: N_BULGE,
            n_disk: N_DISK,
            axis_ratio,
            bulge_axis_ratio,
            position_angle_deg,
        });
    }
    Err(Error::other(format!("no galaxy at z = {z:.3} passed i < {} in {MAX_ATTEMPTS} draws", model.mag_limit_i)))
}

#[cfg(test)]
mod tests {
    use super::super::filters::hsc_filters;
    use super::super::photometry::PhotometryGrid;
    use super::super::sed::cwwsb4_templates;
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::sync::OnceLock;

    /// A model on a Δz = 0.01 grid (the Δz = 0.001 default is slow to build in debug builds).
    fn model() -> &'static PopulationModel {
        static MODEL: OnceLock<PopulationModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            let grid =
                PhotometryGrid::new(&cwwsb4_templates().unwrap(), &hsc_filters().unwrap(), 4.0, 0.01, true).unwrap();
            PopulationModel::new(grid, NzTable::galaxiesml_default().unwrap()).unwrap()
        })
    }

    fn sample(seed: u64, n: usize) -> Vec<GalaxyTruth> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| draw_galaxy(&mut rng, model()).unwrap()).collect()
    }

    fn histogram_mode(z: &[f64], width: f64) -> f64 {
        let mut h = vec![0usize; (4.0 / width).ceil() as usize + 1];
        for &v in z {
            h[(v / width) as usize] += 1;
        }
        let (k, _) = h.iter().enumerate().max_by_key(|(_, c)| **c).unwrap();
        (k as f64 + 0.5) * width
    }

    #[test]
    fn default_nz_peaks_near_1p5_within_galaxiesml_range() {
        let nz = NzTable::galaxiesml_default().unwrap();
        assert!((1.2..=1.8).contains(&nz.mode()), "mode {}", nz.mode());
        assert!((nz.mode() - 1.5).abs() < 0.01);
        let (lo, hi) = nz.range();
        assert!(lo >= 0.01 && hi <= 4.0);
        assert_eq!(nz.pdf(0.01), 0.0);
        assert_eq!(nz.pdf(4.0), 0.0);
        // Falls fast beyond 2.5.
        assert!(nz.pdf(3.0) < 0.05 * nz.pdf(1.5));
        assert!(nz.pdf(2.5) < 0.3 * nz.pdf(1.5));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let z: Vec<f64> = (0..40_000).map(|_| nz.sample(&mut rng)).collect();
        assert!(z.iter().all(|&v| v > 0.01 && v < 4.0));
        let mode = histogram_mode(&z, 0.1);
        assert!((1.2..=1.8).contains(&mode), "sample mode {mode}");
        // Sampled mean matches the density's mean.
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        let grid: Vec<f64> = (0..=4000).map(|k| k as f64 * 0.001).collect();
        let m_pdf: f64 = grid.iter().map(|&x| x * nz.pdf(x) * 0.001).sum();
        assert!((mean - m_pdf).abs() < 0.01, "{mean} vs {m_pdf}");
    }

    #[test]
    fn nz_csv_parses_and_samples() {
        let t = NzTable::parse_csv("z,weight\n# comment\n1.0, 1\n\n2.0,1\n").unwrap();
        assert_eq!(t.range(), (1.0, 2.0));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let z: Vec<f64> = (0..20_000).map(|_| t.sample(&mut rng)).collect();
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        assert!((mean - 1.5).abs() < 0.01);
        // A triangle 0→1 on [1, 2]: mean 5/3, the inverse CDF of the linear segment.
        let t = NzTable::parse_csv("1,0\n2,1").unwrap();
        let z: Vec<f64> = (0..20_000).map(|_| t.sample(&mut rng)).collect();
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        assert!((mean - 5.0 / 3.0).abs() < 0.01, "{mean}");
        // A zero-weight gap is never sampled.
        let t = NzTable::parse_csv("0.5,1\n1,0\n2,0\n2.5,1").unwrap();
        assert!((0..5000).map(|_| t.sample(&mut rng)).all(|v| !(v > 1.0 && v < 2.0)));
        for bad in [
            "z,weight\n1,1\n",
            "1,1\n0.5,1\n",
            "1,-1\n2,1\n",
            "1,1\nx,2\n",
            "1,1\n5,1\n",
            "0,1\n1,1\n",
            "1,0\n2,0\n",
            "1,1,1\n2,1\n",
        ] {
            assert!(NzTable::parse_csv(bad).is_err(), "{bad:?}");
        }
        let msg = NzTable::parse_csv("1,1\n2,oops\n").unwrap_err().to_string();
        assert!(msg.contains("line 2"), "{msg}");
        // A byte-order mark (Notepad, Excel) made the first row look like a header, dropped it.
        let plain = NzTable::parse_csv("0.5,1\n1,2\n2,0\n").unwrap();
        assert_eq!(NzTable::parse_csv("\u{feff}0.5,1\r\n1,2\r\n2,0\r\n").unwrap(), plain);
        assert_eq!(plain.range(), (0.5, 2.0));
        // Weights near f64::MAX drew NaN redshifts; any normalisation is the same table.
        let huge = NzTable::parse_csv("0.01,0\n0.8,3\n3.9,1e308\n").unwrap();
        let z: Vec<f64> = (0..2000).map(|_| huge.sample(&mut rng)).collect();
        assert!(z.iter().all(|z| (0.01..=3.9).contains(z)), "{:?}", z.iter().find(|z| !(0.01..=3.9).contains(*z)));
        assert!(huge.pdf(3.9).is_finite() && huge.pdf(3.9) > 0.0);
    }

    #[test]
    fn errors_at_the_5_sigma_depth() {
        for m5 in HSC_WIDE_DEPTH_M5 {
            assert!((magnitude_error(m5, m5) - 0.2171).abs() < 1e-4);
            let f = mag_to_counts(m5);
            assert!((flux_error(f, m5) / f - 0.2).abs() < 1e-12);
        }
        // Bright sources: σ → sqrt(0.001 x) → small; faint: σ_F → sqrt(γ) F5 (sky-limited).
        assert!(magnitude_error(20.0, 26.5) < 0.002);
        let f5 = mag_to_counts(24.4);
        assert!((flux_error(0.0, 24.4) - IVEZIC_GAMMA.sqrt() * f5).abs() < 1e-12);
        assert!((counts_to_mag(mag_to_counts(23.7)) - 23.7).abs() < 1e-12);
        assert!((mag_to_counts(27.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn draws_are_deterministic_for_a_seed() {
        let a = sample(42, 50);
        let b = sample(42, 50);
        assert_eq!(a, b);
        let c = sample(43, 50);
        assert_ne!(a, c);
    }

    #[test]
    fn population_obeys_selection_and_physics() {
        let gals = sample(2024, 3000);
        let m = model();
        let mut pulls = Vec::new();
        for g in &gals {
            assert!(g.z > 0.01 && g.z < 4.0);
            assert!(g.mags_obs[I_BAND] < m.mag_limit_i());
            assert!(g.mags_obs.iter().all(|v| *v > 0.0 && *v < 50.0));
            assert!((0.0..=T_MAX).contains(&g.sed_type));
            assert!((0.0..=1.0).contains(&g.bulge_to_total));
            for b in 0..N_BANDS {
                assert!(((g.bulge_flux[b] + g.disk_flux[b]) / g.flux_true[b] - 1.0).abs() < 1e-12);
                assert!((counts_to_mag(g.flux_true[b]) - g.mags_true[b]).abs() < 1e-9);
                // Reported errors follow the noise model, referred to the observed flux.
                assert!(
                    (g.mag_err[b] - MAG_PER_FRAC * flux_error(g.flux_true[b], m.depths()[b]) / g.flux_obs[b]).abs()
                        < 1e-12
                );
            }
            // m = M + DM + K with the K-correction of the bulge + disc SED.
            let dm = m.cosmology().distance_modulus(g.z);
            let rb = m.grid().flux_ratio(0.0, g.z).unwrap();
            let rd = m.grid().flux_ratio(g.disk_sed_type, g.z).unwrap();
            let k_i = -2.5 * (g.bulge_to_total * rb[I_BAND] + (1.0 - g.bulge_to_total) * rd[I_BAND]).log10();
            assert!((g.mags_true[I_BAND] - (g.abs_mag_g + dm + k_i)).abs() < 1e-9);
            assert!(g.axis_ratio >= DISK_Q0 && g.axis_ratio <= 1.0);
            assert!((0.0..180.0).contains(&g.position_angle_deg));
            pulls.push((g.flux_obs[1] - g.flux_true[1]) / g.flux_err[1]);
        }
        // Noise pulls in r are unit normal (selection on i barely touches r).
        let n = pulls.len() as f64;
        let mean = pulls.iter().sum::<f64>() / n;
        let sd = (pulls.iter().map(|p| (p - mean) * (p - mean)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.1 && (sd - 1.0).abs() < 0.1, "pull mean {mean}, sd {sd}");
        // The selection keeps n(z): mode of the catalogue still near 1.5.
        let z: Vec<f64> = gals.iter().map(|g| g.z).collect();
        let mode = histogram_mode(&z, 0.2);
        assert!((1.2..=1.8).contains(&mode), "catalogue mode {mode}");
        // More early types at low z.
        let early_frac = |lo: f64, hi: f64| {
            let sel: Vec<&GalaxyTruth> = gals.iter().filter(|g| g.z >= lo && g.z < hi).collect();
            sel.iter().filter(|g| g.sed_type < 1.0).count() as f64 / sel.len() as f64
        };
        assert!(early_frac(0.0, 0.8) > 2.0 * early_frac(1.8, 4.0));
        // Fainter, redder, magnitude-limited: faint-end i magnitudes pile up near the limit.
        let median_i = {
            let mut v: Vec<f64> = gals.iter().map(|g| g.mags_obs[I_BAND]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        assert!(median_i > 23.0 && median_i < 25.0, "median i {median_i}");
        // Median disc size in arcsec shrinks from z ≈ 0.5 to z ≈ 1.5 (angular size + evolution).
        let med_size = |lo: f64, hi: f64| {
            let mut v: Vec<f64> = gals.iter().filter(|g| g.z >= lo && g.z < hi).map(|g| g.r_disk_arcsec).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        assert!(med_size(0.3, 0.7) > med_size(1.3, 1.7));
    }

    #[test]
    fn bulges_are_redder_than_discs() {
        // At z < 1.5 the El bulge is redder in g − i than any disc SED (t ≥ 0.5).
        let gals = sample(11, 400);
        let colour = |f: &[f64; N_BANDS]| counts_to_mag(f[0]) - counts_to_mag(f[2]);
        let mut n = 0;
        for g in gals.iter().filter(|g| g.z < 1.5 && g.bulge_to_total > 0.0 && g.bulge_to_total < 1.0) {
            assert!(colour(&g.bulge_flux) > colour(&g.disk_flux), "z {} t {}", g.z, g.sed_type);
            n += 1;
        }
        assert!(n > 50);
    }

    #[test]
    fn sizes_follow_van_der_wel() {
        let c = Cosmology::default();
        // Fixed physical size: smaller in arcsec at z = 1.5 than at 0.5 (D_A grows).
        let r_kpc = 5.0;
        assert!(r_kpc / c.kpc_per_arcsec(1.5) < r_kpc / c.kpc_per_arcsec(0.5));
        // Evolution at fixed luminosity: (1+z)^−1.48 bulges, (1+z)^−0.75 discs.
        let (b0, _) = half_light_radius_kpc(true, 1.0, 0.0);
        let (b2, _) = half_light_radius_kpc(true, 1.0, 2.0);
        assert!((b2 / b0 - 3f64.powf(-1.48)).abs() < 1e-12);
        let (d0, _) = half_light_radius_kpc(false, 1.0, 0.0);
        let (d2, _) = half_light_radius_kpc(false, 1.0, 2.0);
        assert!((d2 / d0 - 3f64.powf(-0.75)).abs() < 1e-12);
        // An L* disc at z = 0.25 has r_e = 10^0.86 = 7.2 kpc.
        assert!((half_light_radius_kpc(false, 1.0, 0.25).0 - 7.244).abs() < 0.01);
    }

    #[test]
    fn infeasible_limits_are_rejected() {
        let m = model().clone();
        assert!(m.clone().with_mag_limit_i(14.0).is_err());
        assert!(m.clone().with_depths([26.5, 26.5, f64::NAN, 25.2, 24.4]).is_err());
        let nz = NzTable::parse_csv("0.1,1\n0.5,1").unwrap();
        let low = m.with_nz(nz).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let g = draw_galaxy(&mut rng, &low).unwrap();
        assert!(g.z >= 0.1 && g.z <= 0.5);
    }

    #[test]
    fn per_galaxy_cost_is_small() {
        let m = model();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let t0 = std::time::Instant::now();
        let n = 2000;
        for _ in 0..n {
            draw_galaxy(&mut rng, m).unwrap();
        }
        let per = t0.elapsed().as_secs_f64() / n as f64;
        eprintln!("draw_galaxy: {:.1} µs per galaxy (debug build)", per * 1e6);
        // Even unoptimised, far below the 1 ms budget.
        assert!(per < 1e-3, "{per} s per galaxy");
    }
}
