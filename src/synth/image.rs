//! Rendering synthetic HSC-like galaxy cutouts in the GalaxiesML image layout.
//!
//! This module is independent of the photometry model: it takes plain numbers (fluxes per band,
//! sizes, shapes, offsets) and draws a float32 `(5, H, W)` stamp, band order g, r, i, z, y, in
//! coadd counts at zeropoint 27 (a source of magnitude `m` has total flux `10^(-0.4 (m - 27))`).
//!
//! The model, step by step:
//! 1. Each [`Component`] is an elliptical Sérsic (1963) profile
//!    `I(R) = I_e exp(-b_n [(R/R_e)^(1/n) - 1])`, with `b_n` from [`sersic_b`] and `I_e` set
//!    analytically so that the profile integrated to infinity holds the component's flux
//!    (Graham & Driver 2005, eq. 4). The light is integrated over each pixel: by one sample at the
//!    pixel centre far from the component's centre, by 5×5 samples within 2.5 px of it, and by
//!    nested 5×5 refinement of the sub-pixels touching the centre (the cusp of an `n = 4` profile
//!    holds a large share of the light of a small galaxy in its central pixel).
//! 2. Each band is convolved with a circular Gaussian PSF of the band's FWHM (see [`Renderer`]),
//!    separably, on a canvas padded by the kernel's half-width so that light from just outside the
//!    stamp is scattered in, as on the sky.
//! 3. Gaussian sky noise of standard deviation `sky_sigma[band]` is added to every pixel (see
//!    [`sky_sigma_from_depth`]). Source shot noise is left out: HSC Wide coadds are
//!    sky-dominated for the faint (i ≳ 20) galaxies that make up GalaxiesML, and the coadd's
//!    effective gain, needed to turn counts into photo-electrons, is not a single number.
//!
//! Pixel grid and angles: pixel `(x, y)` (column, row; `out[band * H * W + y * W + x]`) covers
//! `[x - 0.5, x + 0.5] × [y - 0.5, y + 0.5]`. The stamp centre is pixel `(size / 2, size / 2)`
//! (integer division: the exact centre for odd sizes, the pixel just above and right of the
//! geometric centre for even sizes, as `shape // 2` in NumPy). A component's `dx_pix`, `dy_pix`
//! offset it from that centre along `+x` and `+y`. Position angles are those of Source
//! Extractor's `THETA_IMAGE`: the major axis's angle counter-clockwise from `+x` towards `+y`.

use rand::Rng;
use statrs::function::gamma::{checked_gamma_lr, ln_gamma};

use crate::{Error, Result};

/// Number of bands (g, r, i, z, y).
pub const N_BANDS: usize = 5;

/// HSC pixel scale in arcseconds (GalaxiesML paper; HSC survey documentation).
pub const HSC_PIXEL_SCALE_ARCSEC: f64 = 0.168;

/// HSC Wide median seeing FWHM in arcseconds, g, r, i, z, y (HSC PDR3 paper, Aihara et al. 2022,
/// Table 1).
pub const HSC_WIDE_PSF_FWHM_ARCSEC: [f64; N_BANDS] = [0.79, 0.75, 0.61, 0.68, 0.68];

/// HSC Wide 5σ point-source depths, g, r, i, z, y, approximately (HSC PDR3, Aihara et al. 2022).
pub const HSC_WIDE_DEPTH_M5: [f64; N_BANDS] = [26.5, 26.5, 26.2, 25.2, 24.4];

/// Photometric zeropoint of the coadd pixel values: `m = 27 - 2.5 log10(flux)`.
pub const ZEROPOINT: f64 = 27.0;

/// Default surface density of neighbouring galaxies, per arcmin², for i < 26.
///
/// From the LSST "gold" sample density, about 55 galaxies arcmin⁻² at i < 25.3 (LSST Science Book
/// 2009, §3.7.2), extrapolated to i < 26 with the faint-end count slope
/// `d log10 N / dm ≈ 0.3` (Metcalfe et al. 2001): `55 × 10^(0.3 × 0.7) ≈ 90`. That is about
/// 10 galaxies in a 20″ (0.11 arcmin²) cutout, most of them near the detection limit.
pub const HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2: f64 = 90.0;

/// Largest stamp side the renderer accepts, in pixels (GalaxiesML uses 64 and 127).
const MAX_SIZE: usize = 2048;

/// Largest PSF FWHM accepted, in pixels (keeps the convolution kernel bounded).
const MAX_PSF_FWHM_PIX: f64 = 100.0;

/// Supported Sérsic indices (`b_n` approximations and pixel integration are validated there).
const SERSIC_N_RANGE: (f64, f64) = (0.2, 10.0);

/// Gaussian FWHM = `FWHM_PER_SIGMA × σ`, i.e. `2 sqrt(2 ln 2)`.
const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949;

/// The Gaussian PSF kernel extends to `KERNEL_HALF_WIDTH_SIGMAS × σ` (it then holds all but
/// 6·10⁻⁵ of the light in each direction, and is renormalised to unit sum).
const KERNEL_HALF_WIDTH_SIGMAS: f64 = 4.0;

/// Pixels whose centre is within this many pixels (along both x and y) of a component's centre
/// are integrated with `SUBSAMPLE × SUBSAMPLE` samples; the others with one.
const SUPERSAMPLE_ZONE_PIX: f64 = 2.5;

/// Samples per side in each level of supersampling.
const SUBSAMPLE: usize = 5;

/// Maximum nesting of the refinement around a component's centre (sub-pixels of `5^-6` px).
const MAX_REFINE_DEPTH: u32 = 6;

/// Refinement stops once a sub-pixel's side is below this fraction of the profile's minor-axis
/// effective radius `q R_e`.
const REFINE_STOP_FRACTION: f64 = 0.01;

/// Each profile is truncated at the elliptical radius that encloses all but this fraction of its
/// light; beyond it the light is negligible and skipping it keeps small neighbours cheap.
const TRUNCATION_LOST_FRACTION: f64 = 1e-4;

/// Neighbours are placed over the stamp widened by this margin on each side, so that galaxies
/// centred just outside the cutout still spill light into it.
const NEIGHBOUR_MARGIN_ARCSEC: f64 = 2.0;

/// Mean counts above which the Poisson draw of the number of neighbours is split into chunks
/// (Knuth's product method underflows for large means; Poisson variables add).
const POISSON_CHUNK_MEAN: f64 = 50.0;

/// Largest neighbour density accepted, per arcmin² (bounds the work per cutout).
const MAX_NEIGHBOUR_DENSITY: f64 = 10_000.0;

/// One light component of a galaxy: an elliptical Sérsic profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    /// Total flux per band (g, r, i, z, y) in counts at zeropoint 27, integrated to infinity.
    pub flux: [f64; N_BANDS],
    /// Effective (half-light) radius along the major axis, in arcseconds.
    pub r_half_arcsec: f64,
    /// Sérsic index `n` (1 exponential disc, 4 de Vaucouleurs bulge), in `[0.2, 10]`.
    pub sersic_n: f64,
    /// Minor-to-major axis ratio `q`, in `(0, 1]`.
    pub axis_ratio: f64,
    /// Angle of the major axis, degrees counter-clockwise from `+x` towards `+y`.
    pub position_angle_deg: f64,
    /// Offset of the centre from the stamp centre along `+x`, pixels.
    pub dx_pix: f64,
    /// Offset of the centre from the stamp centre along `+y`, pixels.
    pub dy_pix: f64,
}

/// The observing conditions of a cutout.
#[derive(Debug, Clone, PartialEq)]
pub struct Observing {
    /// Stamp side in pixels (GalaxiesML: 64 or 127).
    pub size: usize,
    /// Pixel scale in arcseconds (HSC: 0.168).
    pub pixel_scale: f64,
    /// PSF FWHM per band in arcseconds; 0 means no PSF (the noiseless, unconvolved profile).
    pub psf_fwhm_arcsec: [f64; N_BANDS],
    /// Per-pixel sky noise standard deviation per band, in counts; 0 means no noise.
    pub sky_sigma: [f64; N_BANDS],
}

impl Observing {
    /// HSC Wide conditions for a `size`-pixel stamp: 0.168″ pixels, the median seeing of
    /// [`HSC_WIDE_PSF_FWHM_ARCSEC`] and the sky noise that gives the depths of
    /// [`HSC_WIDE_DEPTH_M5`].
    pub fn hsc_wide(size: usize) -> Result<Self> {
        let sky_sigma =
            sky_sigma_from_depth(HSC_WIDE_DEPTH_M5, HSC_WIDE_PSF_FWHM_ARCSEC, HSC_PIXEL_SCALE_ARCSEC)?;
        Ok(Observing {
            size,
            pixel_scale: HSC_PIXEL_SCALE_ARCSEC,
            psf_fwhm_arcsec: HSC_WIDE_PSF_FWHM_ARCSEC,
            sky_sigma,
        })
    }
}

/// The Sérsic `b_n`, defined by `γ(2n, b_n) = Γ(2n) / 2` so that `R_e` encloses half the light
/// (Graham & Driver 2005, eq. 1–2).
///
/// For `n ≥ 0.36` the asymptotic expansion of Ciotti & Bertin (1999, eq. 18),
/// `b_n ≈ 2n − 1/3 + 4/(405n) + 46/(25515n²) + 131/(1148175n³) − 2194697/(30690717750n⁴)`,
/// accurate to better than 10⁻⁴ there; below, the polynomial fit of MacArthur, Courteau &
/// Holtzman (2003, eq. A2), `0.01945 − 0.8902n + 10.95n² − 19.67n³ + 13.43n⁴`.
pub fn sersic_b(n: f64) -> f64 {
    if n >= 0.36 {
        2.0 * n - 1.0 / 3.0
            + 4.0 / (405.0 * n)
            + 46.0 / (25_515.0 * n * n)
            + 131.0 / (1_148_175.0 * n.powi(3))
            - 2_194_697.0 / (30_690_717_750.0 * n.powi(4))
    } else {
        0.01945 - 0.8902 * n + 10.95 * n * n - 19.67 * n.powi(3) + 13.43 * n.powi(4)
    }
}

/// Per-pixel sky noise (counts at zeropoint 27) such that a point source of magnitude `m5[band]`
/// is detected at S/N = 5 by PSF-weighted photometry.
///
/// With per-pixel noise `σ`, optimal (PSF-fitting) photometry measures a point source with the
/// noise of `n_eff` independent pixels, `σ_F = σ sqrt(n_eff)`, where the noise-equivalent area of
/// a Gaussian PSF of standard deviation `σ_psf` is `n_eff = 4π σ_psf² / pixel²`
/// `= 2.266 (FWHM / pixel)²` (King 1983; Ivezić et al. 2019, eq. 3 of the LSST overview). Hence
/// `σ = 10^(-0.4 (m5 - 27)) / (5 sqrt(n_eff))`. A point source cannot be spread over less than one
/// pixel, so `n_eff` is at least 1. For HSC Wide this gives σ ≈ 0.04 (g, r), 0.08 (i), 0.17 (z),
/// 0.36 (y) counts.
///
/// Errors when a depth is not finite, or a FWHM or the pixel scale is not positive and finite.
pub fn sky_sigma_from_depth(
    m5_point_source: [f64; N_BANDS],
    psf_fwhm_arcsec: [f64; N_BANDS],
    pixel_scale: f64,
) -> Result<[f64; N_BANDS]> {
    if !(pixel_scale.is_finite() && pixel_scale > 0.0) {
        return Err(Error::other(format!(
            "sky noise from depth: the pixel scale must be a positive number of arcseconds, got {pixel_scale}"
        )));
    }
    let mut sigma = [0.0; N_BANDS];
    for band in 0..N_BANDS {
        let (m5, fwhm) = (m5_point_source[band], psf_fwhm_arcsec[band]);
        if !m5.is_finite() || !(fwhm.is_finite() && fwhm > 0.0) {
            return Err(Error::other(format!(
                "sky noise from depth: band {} needs a finite 5-sigma depth and a positive PSF FWHM, got m5 = {m5}, FWHM = {fwhm}″",
                BAND_NAMES[band]
            )));
        }
        let sigma_psf_pix = fwhm / FWHM_PER_SIGMA / pixel_scale;
        let n_eff = (4.0 * std::f64::consts::PI * sigma_psf_pix * sigma_psf_pix).max(1.0);
        let flux_5sigma = 10f64.powf(-0.4 * (m5 - ZEROPOINT));
        sigma[band] = flux_5sigma / (5.0 * n_eff.sqrt());
    }
    Ok(sigma)
}

/// Band names, for messages.
const BAND_NAMES: [&str; N_BANDS] = ["g", "r", "i", "z", "y"];

/// Renders stamps for one set of observing conditions, holding the per-band PSF kernels and the
/// scratch buffers, so that rendering allocates nothing.
///
/// The PSF is a circular Gaussian per band, `σ = FWHM / 2.3548`, sampled at integer pixel offsets
/// out to 4σ and renormalised to unit sum (flux is conserved exactly). A Gaussian, rather than a
/// Moffat profile, is separable, so each band costs two 1-D passes (`O(size² × kernel)`); it
/// matches the core of the HSC PSF that sets the FWHM, not its faint wings. The kernel is sampled,
/// not pixel-integrated, because the profile it is applied to is already integrated over pixels.
#[derive(Debug, Clone)]
pub struct Renderer {
    obs: Observing,
    /// Normalised 1-D kernels, one per band, each of odd length `2 k + 1`.
    kernels: [Vec<f64>; N_BANDS],
    /// Canvas padding on each side: the largest kernel half-width.
    pad: usize,
    /// Canvas side, `size + 2 pad`.
    canvas_side: usize,
    /// Unconvolved light per band on the padded canvas, `(band, y, x)`.
    canvas: Vec<f64>,
    /// Horizontally convolved band, `canvas_side` rows of `size`.
    row_pass: Vec<f64>,
    /// One output row being accumulated by the vertical pass.
    acc: Vec<f64>,
}

impl Renderer {
    /// Checks the observing conditions and precomputes the PSF kernels.
    pub fn new(obs: &Observing) -> Result<Self> {
        if obs.size == 0 || obs.size > MAX_SIZE {
            return Err(Error::other(format!(
                "image renderer: the stamp size must be between 1 and {MAX_SIZE} pixels, got {}",
                obs.size
            )));
        }
        if !(obs.pixel_scale.is_finite() && obs.pixel_scale > 0.0) {
            return Err(Error::other(format!(
                "image renderer: the pixel scale must be a positive number of arcseconds, got {}",
                obs.pixel_scale
            )));
        }
        let mut kernels: [Vec<f64>; N_BANDS] = Default::default();
        for band in 0..N_BANDS {
            let fwhm_pix = obs.psf_fwhm_arcsec[band] / obs.pixel_scale;
            if !(fwhm_pix.is_finite() && (0.0..=MAX_PSF_FWHM_PIX).contains(&fwhm_pix)) {
                return Err(Error::other(format!(
                    "image renderer: the {}-band PSF FWHM must be between 0 and {MAX_PSF_FWHM_PIX} pixels, got {}″ ({fwhm_pix} px)",
                    BAND_NAMES[band], obs.psf_fwhm_arcsec[band]
                )));
            }
            let sky = obs.sky_sigma[band];
            if !(sky.is_finite() && sky >= 0.0) {
                return Err(Error::other(format!(
                    "image renderer: the {}-band sky noise must be a non-negative number of counts, got {sky}",
                    BAND_NAMES[band]
                )));
            }
            kernels[band] = gaussian_kernel(fwhm_pix / FWHM_PER_SIGMA);
        }
        let pad = kernels.iter().map(|k| k.len() / 2).max().unwrap_or(0);
        let canvas_side = obs.size + 2 * pad;
        Ok(Renderer {
            obs: obs.clone(),
            kernels,
            pad,
            canvas_side,
            canvas: vec![0.0; N_BANDS * canvas_side * canvas_side],
            row_pass: vec![0.0; canvas_side * obs.size],
            acc: vec![0.0; obs.size],
        })
    }

    /// The observing conditions this renderer was built for.
    pub fn observing(&self) -> &Observing {
        &self.obs
    }

    /// Renders `components` (galaxy components and neighbours alike), convolves each band with its
    /// PSF, adds sky noise drawn from `rng`, and writes the stamp into `out`, laid out
    /// `(band, y, x)` with `5 × size × size` values.
    ///
    /// Errors, leaving `out` untouched, when `out` has the wrong length or a component is invalid
    /// (negative or non-finite flux, non-positive size, `n` outside `[0.2, 10]`, `q` outside
    /// `(0, 1]`, non-finite angle or offset).
    pub fn render<R: Rng + ?Sized>(
        &mut self,
        components: &[Component],
        rng: &mut R,
        out: &mut [f32],
    ) -> Result<()> {
        let size = self.obs.size;
        let band_len = size * size;
        if out.len() != N_BANDS * band_len {
            return Err(Error::other(format!(
                "image renderer: the output buffer holds {} values, but a {N_BANDS}×{size}×{size} stamp needs {}",
                out.len(),
                N_BANDS * band_len
            )));
        }
        let profiles = components
            .iter()
            .enumerate()
            .map(|(i, c)| SersicProfile::new(c, i, &self.obs, self.pad))
            .collect::<Result<Vec<_>>>()?;

        self.canvas.fill(0.0);
        for profile in &profiles {
            profile.draw(&mut self.canvas, self.canvas_side);
        }

        for band in 0..N_BANDS {
            self.convolve_band(band, &mut out[band * band_len..(band + 1) * band_len]);
        }

        for band in 0..N_BANDS {
            let sigma = self.obs.sky_sigma[band];
            if sigma > 0.0 {
                let pixels = &mut out[band * band_len..(band + 1) * band_len];
                for pair in pixels.chunks_mut(2) {
                    let (z0, z1) = standard_normal_pair(rng);
                    for (value, z) in pair.iter_mut().zip([z0, z1]) {
                        *value = (f64::from(*value) + sigma * z) as f32;
                    }
                }
            }
        }
        Ok(())
    }

    /// Separable convolution of one band of the padded canvas with its kernel, written (without
    /// noise) into the band's `size × size` slice of the output.
    fn convolve_band(&mut self, band: usize, out: &mut [f32]) {
        let (size, side, pad) = (self.obs.size, self.canvas_side, self.pad);
        let kernel = &self.kernels[band];
        let half = kernel.len() / 2;
        let offset = pad - half;
        let canvas = &self.canvas[band * side * side..(band + 1) * side * side];

        // Horizontal pass over every canvas row, keeping only the stamp's columns.
        for (row_out, row_in) in self.row_pass.chunks_exact_mut(size).zip(canvas.chunks_exact(side))
        {
            for (x, value) in row_out.iter_mut().enumerate() {
                let window = &row_in[x + offset..x + offset + kernel.len()];
                *value = window.iter().zip(kernel).map(|(a, k)| a * k).sum();
            }
        }

        // Vertical pass, one output row at a time.
        for (y, row_out) in out.chunks_exact_mut(size).enumerate() {
            self.acc.fill(0.0);
            for (k, weight) in kernel.iter().enumerate() {
                let start = (y + offset + k) * size;
                let row_in = &self.row_pass[start..start + size];
                for (a, v) in self.acc.iter_mut().zip(row_in) {
                    *a += weight * v;
                }
            }
            for (o, a) in row_out.iter_mut().zip(&self.acc) {
                *o = *a as f32;
            }
        }
    }
}

/// Convenience wrapper: builds a [`Renderer`] for `obs` and renders one stamp. Use a
/// [`Renderer`] directly when rendering many stamps.
pub fn render<R: Rng + ?Sized>(
    components: &[Component],
    obs: &Observing,
    rng: &mut R,
    out: &mut [f32],
) -> Result<()> {
    Renderer::new(obs)?.render(components, rng, out)
}

/// A normalised Gaussian of standard deviation `sigma_pix`, sampled at integer offsets out to
/// `4σ`; `[1.0]` (no blurring) when `sigma_pix` is 0.
fn gaussian_kernel(sigma_pix: f64) -> Vec<f64> {
    let half = (KERNEL_HALF_WIDTH_SIGMAS * sigma_pix).ceil() as usize;
    if half == 0 {
        return vec![1.0];
    }
    let inv_two_var = 1.0 / (2.0 * sigma_pix * sigma_pix);
    let mut kernel: Vec<f64> = (0..=2 * half)
        .map(|i| {
            let d = i as f64 - half as f64;
            (-d * d * inv_two_var).exp()
        })
        .collect();
    let total: f64 = kernel.iter().sum();
    for k in &mut kernel {
        *k /= total;
    }
    kernel
}

/// How `(R/R_e)^(1/n)` is computed from `(R/R_e)²`: exact roots for the common indices, a power
/// otherwise (the inner loop's main cost).
#[derive(Debug, Clone, Copy)]
enum RadialPower {
    /// `n = 0.5`: the squared radius itself.
    Identity,
    /// `n = 1`: one square root.
    Sqrt,
    /// `n = 2`: two square roots.
    FourthRoot,
    /// `n = 4`: three square roots.
    EighthRoot,
    /// Any other `n`: `(R/R_e)^(2 · 1/(2n))`.
    Pow(f64),
}

impl RadialPower {
    fn for_index(n: f64) -> Self {
        if n == 0.5 {
            RadialPower::Identity
        } else if n == 1.0 {
            RadialPower::Sqrt
        } else if n == 2.0 {
            RadialPower::FourthRoot
        } else if n == 4.0 {
            RadialPower::EighthRoot
        } else {
            RadialPower::Pow(0.5 / n)
        }
    }

    #[inline]
    fn apply(self, r2: f64) -> f64 {
        match self {
            RadialPower::Identity => r2,
            RadialPower::Sqrt => r2.sqrt(),
            RadialPower::FourthRoot => r2.sqrt().sqrt(),
            RadialPower::EighthRoot => r2.sqrt().sqrt().sqrt(),
            RadialPower::Pow(p) => r2.powf(p),
        }
    }
}

/// A component prepared for drawing, in padded-canvas pixel coordinates.
#[derive(Debug, Clone)]
struct SersicProfile {
    flux: [f64; N_BANDS],
    /// Centre on the canvas.
    cx: f64,
    cy: f64,
    cos_pa: f64,
    sin_pa: f64,
    /// `1 / R_e²`, R_e in pixels.
    inv_re2: f64,
    /// `1 / q²`.
    inv_q2: f64,
    power: RadialPower,
    b: f64,
    /// Surface brightness at `R = 0` per unit flux, per pixel²: `I_e e^{b_n} / F`.
    amplitude: f64,
    /// `(R/R_e)²` beyond which the profile is cut off.
    r2_truncation: f64,
    /// Half-extent of the truncation ellipse's bounding box, pixels.
    half_box_x: f64,
    half_box_y: f64,
    /// Smallest sub-pixel side worth refining to, pixels.
    min_refine_side: f64,
}

impl SersicProfile {
    /// Validates component `index` and converts it to canvas coordinates.
    fn new(c: &Component, index: usize, obs: &Observing, pad: usize) -> Result<Self> {
        let bad = |what: String| {
            Err(Error::other(format!("image renderer: component {index}: {what}")))
        };
        for (band, &f) in c.flux.iter().enumerate() {
            if !(f.is_finite() && f >= 0.0) {
                return bad(format!(
                    "the {}-band flux must be a non-negative number of counts, got {f}",
                    BAND_NAMES[band]
                ));
            }
        }
        let re_pix = c.r_half_arcsec / obs.pixel_scale;
        if !(re_pix.is_finite() && re_pix > 0.0) {
            return bad(format!(
                "the half-light radius must be a positive number of arcseconds, got {}",
                c.r_half_arcsec
            ));
        }
        let n = c.sersic_n;
        if !(SERSIC_N_RANGE.0..=SERSIC_N_RANGE.1).contains(&n) {
            return bad(format!(
                "the Sérsic index must be between {} and {}, got {n}",
                SERSIC_N_RANGE.0, SERSIC_N_RANGE.1
            ));
        }
        let q = c.axis_ratio;
        if !(q > 0.0 && q <= 1.0) {
            return bad(format!("the axis ratio must be in (0, 1], got {q}"));
        }
        if !(c.position_angle_deg.is_finite() && c.dx_pix.is_finite() && c.dy_pix.is_finite()) {
            return bad(format!(
                "the position angle and offsets must be finite, got {}°, ({}, {}) px",
                c.position_angle_deg, c.dx_pix, c.dy_pix
            ));
        }

        let b = sersic_b(n);
        // Total flux of I(R) = I_e exp(-b [(R/R_e)^(1/n) - 1]) with elliptical radius
        // R² = u² + (v/q)²: 2π n R_e² q e^b b^(-2n) Γ(2n) I_e (Graham & Driver 2005, eq. 4).
        let ln_amplitude = 2.0 * n * b.ln()
            - (2.0 * std::f64::consts::PI * n * re_pix * re_pix * q).ln()
            - ln_gamma(2.0 * n);
        let t = gamma_quantile(2.0 * n, 1.0 - TRUNCATION_LOST_FRACTION)
            .map_err(|e| Error::other(format!("image renderer: component {index}: {e}")))?;
        let r2_truncation = (t / b).powf(2.0 * n);
        let (sin_pa, cos_pa) = c.position_angle_deg.to_radians().sin_cos();
        let a_trunc = re_pix * r2_truncation.sqrt();
        let b_trunc = q * a_trunc;
        let centre = (obs.size / 2 + pad) as f64;
        Ok(SersicProfile {
            flux: c.flux,
            cx: centre + c.dx_pix,
            cy: centre + c.dy_pix,
            cos_pa,
            sin_pa,
            inv_re2: 1.0 / (re_pix * re_pix),
            inv_q2: 1.0 / (q * q),
            power: RadialPower::for_index(n),
            b,
            amplitude: ln_amplitude.exp(),
            r2_truncation,
            half_box_x: (a_trunc * a_trunc * cos_pa * cos_pa + b_trunc * b_trunc * sin_pa * sin_pa)
                .sqrt(),
            half_box_y: (a_trunc * a_trunc * sin_pa * sin_pa + b_trunc * b_trunc * cos_pa * cos_pa)
                .sqrt(),
            min_refine_side: REFINE_STOP_FRACTION * q * re_pix,
        })
    }

    /// Surface brightness per unit flux at canvas point `(x, y)`.
    #[inline]
    fn at(&self, x: f64, y: f64) -> f64 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let u = dx * self.cos_pa + dy * self.sin_pa;
        let v = dy * self.cos_pa - dx * self.sin_pa;
        let r2 = (u * u + v * v * self.inv_q2) * self.inv_re2;
        if r2 >= self.r2_truncation {
            return 0.0;
        }
        self.amplitude * (-self.b * self.power.apply(r2)).exp()
    }

    /// Mean surface brightness over the square of side `side` centred on `(x, y)`, from
    /// `SUBSAMPLE²` samples; sub-squares touching the profile's centre are refined recursively.
    fn box_mean(&self, x: f64, y: f64, side: f64, depth: u32) -> f64 {
        let step = side / SUBSAMPLE as f64;
        let refine = depth < MAX_REFINE_DEPTH && step > self.min_refine_side;
        let first = -0.5 * (SUBSAMPLE as f64 - 1.0) * step;
        let mut sum = 0.0;
        for j in 0..SUBSAMPLE {
            let sy = y + first + j as f64 * step;
            for i in 0..SUBSAMPLE {
                let sx = x + first + i as f64 * step;
                let near_centre = (sx - self.cx).abs().max((sy - self.cy).abs()) < step;
                sum += if refine && near_centre {
                    self.box_mean(sx, sy, step, depth + 1)
                } else {
                    self.at(sx, sy)
                };
            }
        }
        sum / (SUBSAMPLE * SUBSAMPLE) as f64
    }

    /// Adds this component's pixel-integrated light, times its flux in each band, to the canvas.
    fn draw(&self, canvas: &mut [f64], side: usize) {
        let last = side as f64 - 1.0;
        if self.cx + self.half_box_x < -0.5
            || self.cx - self.half_box_x > last + 0.5
            || self.cy + self.half_box_y < -0.5
            || self.cy - self.half_box_y > last + 0.5
        {
            return;
        }
        let lo = |c: f64, h: f64| (c - h).floor().clamp(0.0, last) as usize;
        let hi = |c: f64, h: f64| (c + h).ceil().clamp(0.0, last) as usize;
        let (x0, x1) = (lo(self.cx, self.half_box_x), hi(self.cx, self.half_box_x));
        let (y0, y1) = (lo(self.cy, self.half_box_y), hi(self.cy, self.half_box_y));
        let band_len = side * side;
        for py in y0..=y1 {
            let yc = py as f64;
            for px in x0..=x1 {
                let xc = px as f64;
                let near = (xc - self.cx).abs().max((yc - self.cy).abs()) < SUPERSAMPLE_ZONE_PIX;
                let value = if near { self.box_mean(xc, yc, 1.0, 0) } else { self.at(xc, yc) };
                if value > 0.0 {
                    let index = py * side + px;
                    for (band, f) in self.flux.iter().enumerate() {
                        canvas[band * band_len + index] += f * value;
                    }
                }
            }
        }
    }
}

/// The `t` with `P(a, t) = p` (regularised lower incomplete gamma function), by Newton's method
/// from `t = a`. `P(a, ·)` is concave beyond `a - 1`, so from below the root every step stays
/// below it and the iteration converges monotonically.
fn gamma_quantile(a: f64, p: f64) -> std::result::Result<f64, String> {
    let ln_gamma_a = ln_gamma(a);
    let mut t = a;
    for _ in 0..200 {
        let value = checked_gamma_lr(a, t)
            .map_err(|e| format!("incomplete gamma function failed at a = {a}, x = {t}: {e}"))?;
        if value >= p {
            return Ok(t);
        }
        let density = ((a - 1.0) * t.ln() - t - ln_gamma_a).exp();
        let step = (p - value) / density;
        t += step;
        if step <= 1e-10 * t {
            return Ok(t);
        }
    }
    Err(format!("the truncation radius of a Sérsic profile with 2n = {a} did not converge"))
}

/// Two independent standard normal deviates by the polar form of the Box–Muller transform
/// (Marsaglia & Bray 1964): draw `(u, v)` uniform in the unit disc, return
/// `(u, v) · sqrt(-2 ln s / s)` with `s = u² + v²`. Accepts π/4 of the draws, and needs no
/// trigonometric functions.
fn standard_normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    loop {
        let u = 2.0 * rng.random::<f64>() - 1.0;
        let v = 2.0 * rng.random::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            let factor = (-2.0 * s.ln() / s).sqrt();
            return (u * factor, v * factor);
        }
    }
}

/// Draws the neighbouring galaxies of one cutout: a Poisson number with mean
/// `density_per_arcmin2 × area`, at uniform random positions over the stamp widened by 2″ on
/// each side (so that galaxies centred just outside still spill light in; the area counts the
/// margin). Pass [`HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2`] for HSC Wide at i < 26.
///
/// The caller, who has the photometry model, gives each neighbour its fluxes (counts at
/// zeropoint 27, g..y) through `draw_flux`, called once per neighbour with the same `rng`. The
/// shapes are generic faint field galaxies:
/// - exponential discs (`n = 1`), which dominate the faint counts;
/// - major-axis half-light radius log-normal about `0.3″ × 10^(-0.14 (i - 24.5))`
///   (scatter 0.35 in ln, clipped to 0.05–5″), with `i` the neighbour's i-band magnitude: a rough
///   size–magnitude relation anchored at ~0.3″ for i ≈ 24.5 and ~0.75″ for i ≈ 21.5, typical
///   HST sizes of field galaxies at those magnitudes, not a published fit;
/// - axis ratio uniform in [0.2, 1] (roughly the observed distribution for discs, Padilla &
///   Strauss 2008) and position angle uniform.
///
/// Errors when the density is negative, not finite or above 10,000 arcmin⁻², when `obs` has a
/// non-positive pixel scale, or when `draw_flux` returns a negative or non-finite flux.
pub fn draw_neighbours<R, F>(
    rng: &mut R,
    density_per_arcmin2: f64,
    obs: &Observing,
    mut draw_flux: F,
) -> Result<Vec<Component>>
where
    R: Rng + ?Sized,
    F: FnMut(&mut R) -> [f64; N_BANDS],
{
    if !(density_per_arcmin2.is_finite()
        && (0.0..=MAX_NEIGHBOUR_DENSITY).contains(&density_per_arcmin2))
    {
        return Err(Error::other(format!(
            "neighbours: the surface density must be between 0 and {MAX_NEIGHBOUR_DENSITY} per arcmin², got {density_per_arcmin2}"
        )));
    }
    if !(obs.pixel_scale.is_finite() && obs.pixel_scale > 0.0) {
        return Err(Error::other(format!(
            "neighbours: the pixel scale must be a positive number of arcseconds, got {}",
            obs.pixel_scale
        )));
    }
    let margin_pix = NEIGHBOUR_MARGIN_ARCSEC / obs.pixel_scale;
    let region_pix = obs.size as f64 + 2.0 * margin_pix;
    let region_arcmin = region_pix * obs.pixel_scale / 60.0;
    let count = poisson(rng, density_per_arcmin2 * region_arcmin * region_arcmin);

    // The region runs over pixel coordinates [-0.5 - margin, size - 0.5 + margin]; offsets are
    // measured from the stamp centre.
    let low = -0.5 - margin_pix - (obs.size / 2) as f64;
    let mut neighbours = Vec::with_capacity(count);
    for _ in 0..count {
        let dx_pix = low + region_pix * rng.random::<f64>();
        let dy_pix = low + region_pix * rng.random::<f64>();
        let flux = draw_flux(rng);
        if let Some(bad) = flux.iter().find(|f| !(f.is_finite() && **f >= 0.0)) {
            return Err(Error::other(format!(
                "neighbours: the flux callback returned {bad}; fluxes must be non-negative counts"
            )));
        }
        // A neighbour with no i-band light gets the smallest size.
        let mag_i = if flux[2] > 0.0 { ZEROPOINT - 2.5 * flux[2].log10() } else { f64::INFINITY };
        let median_re = 0.3 * 10f64.powf(-0.14 * (mag_i - 24.5));
        let (z, _) = standard_normal_pair(rng);
        let r_half_arcsec = (median_re * (0.35 * z).exp()).clamp(0.05, 5.0);
        let axis_ratio = 0.2 + 0.8 * (1.0 - rng.random::<f64>());
        let position_angle_deg = 180.0 * rng.random::<f64>();
        neighbours.push(Component {
            flux,
            r_half_arcsec,
            sersic_n: 1.0,
            axis_ratio,
            position_angle_deg,
            dx_pix,
            dy_pix,
        });
    }
    Ok(neighbours)
}

/// A Poisson deviate of mean `mean` (finite, non-negative): Knuth's product-of-uniforms method,
/// on chunks of mean at most 50 whose counts are summed (a sum of Poisson variables is Poisson).
fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> usize {
    let mut remaining = mean;
    let mut count = 0;
    while remaining > 0.0 {
        let chunk = remaining.min(POISSON_CHUNK_MEAN);
        remaining -= chunk;
        let limit = (-chunk).exp();
        let mut product = rng.random::<f64>();
        while product > limit {
            count += 1;
            product *= rng.random::<f64>();
        }
    }
    count
}

/// How many of `components` have their centre within `radius_pix` pixels (inclusive) of the stamp
/// centre: the catalogue's `{b}_central_image_pop_{5,10,15}px_rad` when given the neighbours.
pub fn count_neighbours_within(components: &[Component], radius_pix: f64) -> u32 {
    let count = components
        .iter()
        .filter(|c| c.dx_pix.hypot(c.dy_pix) <= radius_pix)
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}
