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
//!    (Graham & Driver 2005). The light is integrated over each pixel: where the profile is
//!    smooth on the pixel scale, by a fourth-order cell average (`f + ∇²f / 24 + …`) of the
//!    samples at pixel centres; elsewhere (estimated error above 10⁻⁵ of the component's flux,
//!    within 1.5 px of the centre, or a profile thinner than a pixel) by adaptive cubature: 3×3
//!    samples per pixel, each sub-square split 3×3 again while its estimated error exceeds 10⁻⁵
//!    of the flux, while it is thinner than the profile, and, for `n > 1`, down to 1 % of the
//!    minor-axis effective radius at the centre itself (the cusp of an `n = 4` profile holds
//!    much of a small galaxy's light in its central pixel). Rendered totals are within 0.2 % of
//!    the light inside the stamp for `n` from 0.2 to 8, `R_e` from 0.05 px, `q` from 0.2, and
//!    pixels within 0.2 % of a brute-force integration (both tested).
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

use pzbench_io::{Error, Result};

use crate::hsc::{BANDS, HSC_PIXEL_SCALE_ARCSEC, HSC_WIDE_DEPTH_M5, HSC_WIDE_PSF_FWHM_ARCSEC, N_BANDS, ZEROPOINT};

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
/// are always integrated adaptively (the centre may be a cusp).
const CENTRAL_ZONE_PIX: f64 = 1.5;

/// Each level of the adaptive cubature splits a square into `SUBSAMPLE × SUBSAMPLE` sub-squares
/// (odd, so that the square's centre sample is reused as its middle sub-square's).
const SUBSAMPLE: usize = 3;

/// Maximum nesting of the adaptive cubature (sub-squares of `3^-8` px).
const MAX_REFINE_DEPTH: u32 = 8;

/// Target accuracy of a pixel's or sub-square's integral, as a fraction of the component's total
/// flux: a pixel is integrated adaptively when the estimated error of its fourth-order cell
/// average exceeds it, and a square is split further while the estimated error of its refined
/// value does.
const REFINE_TOLERANCE: f64 = 1e-5;

/// Around the centre of a cuspy (`n > 1`) profile, squares are split regardless down to this
/// fraction of the profile's minor-axis effective radius `q R_e` (so a cusp between samples
/// cannot go unnoticed).
const REFINE_STOP_FRACTION: f64 = 0.01;

/// Where a profile is thinner than the sampling (minor-axis `q R_e` below the sub-pixel side),
/// squares within this many effective radii of its centre are split until it is resolved.
const RESOLVE_RADIUS_RE: f64 = 4.0;

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
        let sky_sigma = sky_sigma_from_depth(HSC_WIDE_DEPTH_M5, HSC_WIDE_PSF_FWHM_ARCSEC, HSC_PIXEL_SCALE_ARCSEC)?;
        Ok(Observing {
            size,
            pixel_scale: HSC_PIXEL_SCALE_ARCSEC,
            psf_fwhm_arcsec: HSC_WIDE_PSF_FWHM_ARCSEC,
            sky_sigma,
        })
    }
}

/// The Sérsic `b_n`, defined by `γ(2n, b_n) = Γ(2n) / 2` so that `R_e` encloses half the light
/// (Graham & Driver 2005).
///
/// For `n ≥ 0.36` the asymptotic expansion of Ciotti & Bertin (1999, eq. 18),
/// `b_n ≈ 2n − 1/3 + 4/(405n) + 46/(25515n²) + 131/(1148175n³) − 2194697/(30690717750n⁴)`,
/// whose absolute error is below 3·10⁻⁴ there (below 10⁻⁵ for `n ≥ 2`); below, the polynomial fit
/// of MacArthur, Courteau & Holtzman (2003), `0.01945 − 0.8902n + 10.95n² − 19.67n³ +
/// 13.43n⁴`, within 2·10⁻³ of the exact value for `0.2 ≤ n < 0.36`.
pub fn sersic_b(n: f64) -> f64 {
    if n >= 0.36 {
        2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25_515.0 * n * n) + 131.0 / (1_148_175.0 * n.powi(3))
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
/// `= 2.266 (FWHM / pixel)²` (King 1983; the LSST overview, Ivezić et al. 2019). Hence
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
        if !(m5.is_finite() && fwhm.is_finite() && fwhm > 0.0) {
            return Err(Error::other(format!(
                "sky noise from depth: band {} needs a finite 5-sigma depth and a positive PSF FWHM, got m5 = {m5}, FWHM = {fwhm}″",
                BANDS[band]
            )));
        }
        let sigma_psf_pix = fwhm / FWHM_PER_SIGMA / pixel_scale;
        let n_eff = (4.0 * std::f64::consts::PI * sigma_psf_pix * sigma_psf_pix).max(1.0);
        let flux_5sigma = 10f64.powf(-0.4 * (m5 - ZEROPOINT));
        sigma[band] = flux_5sigma / (5.0 * n_eff.sqrt());
    }
    Ok(sigma)
}

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
    /// Profile samples at pixel centres, for the component being drawn.
    samples: Vec<f64>,
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
                    BANDS[band], obs.psf_fwhm_arcsec[band]
                )));
            }
            let sky = obs.sky_sigma[band];
            if !(sky.is_finite() && sky >= 0.0) {
                return Err(Error::other(format!(
                    "image renderer: the {}-band sky noise must be a non-negative number of counts, got {sky}",
                    BANDS[band]
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
            samples: Vec::new(),
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
    pub fn render<R: Rng + ?Sized>(&mut self, components: &[Component], rng: &mut R, out: &mut [f32]) -> Result<()> {
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
            profile.draw(&mut self.canvas, self.canvas_side, &mut self.samples);
        }

        for band in 0..N_BANDS {
            self.convolve_band(band, &mut out[band * band_len..(band + 1) * band_len]);
        }

        for band in 0..N_BANDS {
            let sigma = self.obs.sky_sigma[band];
            if sigma > 0.0 {
                let pixels = &mut out[band * band_len..(band + 1) * band_len];
                for i in (0..band_len).step_by(2) {
                    let (z0, z1) = standard_normal_pair(rng);
                    pixels[i] = (f64::from(pixels[i]) + sigma * z0) as f32;
                    if i + 1 < band_len {
                        pixels[i + 1] = (f64::from(pixels[i + 1]) + sigma * z1) as f32;
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
        // The vertical pass reads canvas rows offset .. offset + rows, and every row is read
        // from column offset over a window of size + 2 half.
        let rows = size + 2 * half;
        let row_pass = &mut self.row_pass[..rows * size];
        let acc = &mut self.acc[..size];

        // Horizontal pass: row_pass[r][x] = Σ_k kernel[k] canvas[r + offset][x + offset + k].
        for r in 0..rows {
            let start = (r + offset) * side + offset;
            let row_in = &canvas[start..start + size + 2 * half];
            convolve_symmetric(&mut row_pass[r * size..(r + 1) * size], kernel, row_in, 0, 1);
        }

        // Vertical pass: out[y][x] = Σ_k kernel[k] row_pass[y + k][x].
        for y in 0..size {
            convolve_symmetric(acc, kernel, row_pass, y * size, size);
            let row_out = &mut out[y * size..(y + 1) * size];
            for x in 0..size {
                row_out[x] = acc[x] as f32;
            }
        }
    }
}

/// `out[x] = Σ_k kernel[k] data[start + k stride + x]` for a symmetric kernel of odd length,
/// pairing the taps `k` and `len - 1 - k` (half the multiplications). The loops run over
/// contiguous slices, one tap pair at a time, so that they vectorise.
fn convolve_symmetric(out: &mut [f64], kernel: &[f64], data: &[f64], start: usize, stride: usize) {
    let n = out.len();
    let last = kernel.len() - 1;
    let half = last / 2;
    let centre = &data[start + half * stride..start + half * stride + n];
    let weight = kernel[half];
    for x in 0..n {
        out[x] = weight * centre[x];
    }
    for k in 0..half {
        let near = &data[start + k * stride..start + k * stride + n];
        let far = &data[start + (last - k) * stride..start + (last - k) * stride + n];
        let weight = kernel[k];
        for x in 0..n {
            out[x] += weight * (near[x] + far[x]);
        }
    }
}

/// Convenience wrapper: builds a [`Renderer`] for `obs` and renders one stamp. Use a
/// [`Renderer`] directly when rendering many stamps.
pub fn render<R: Rng + ?Sized>(components: &[Component], obs: &Observing, rng: &mut R, out: &mut [f32]) -> Result<()> {
    Renderer::new(obs)?.render(components, rng, out)
}

/// A normalised Gaussian of standard deviation `sigma_pix`, sampled at integer offsets out to
/// `4σ` (odd length, exactly symmetric); `[1.0]` (no blurring) when `sigma_pix` is 0.
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
    /// Smallest sub-pixel side worth refining to at the centre, pixels (infinite for `n ≤ 1`:
    /// no forced refinement).
    min_refine_side: f64,
    /// Minor-axis effective radius `q R_e`, pixels.
    minor_re: f64,
    /// Half the diagonal of a unit square, in effective radii along the minor axis (the most a
    /// square's corner can be nearer the centre than its middle, per unit side).
    half_diagonal_in_re: f64,
    /// Elliptical radius, in `R_e`, within which unresolved features are searched for.
    resolve_radius: f64,
}

impl SersicProfile {
    /// Validates component `index` and converts it to canvas coordinates.
    fn new(c: &Component, index: usize, obs: &Observing, pad: usize) -> Result<Self> {
        let bad = |what: String| Err(Error::other(format!("image renderer: component {index}: {what}")));
        for (band, &f) in c.flux.iter().enumerate() {
            if !(f.is_finite() && f >= 0.0) {
                return bad(format!("the {}-band flux must be a non-negative number of counts, got {f}", BANDS[band]));
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
        // R² = u² + (v/q)²: 2π n R_e² q e^b b^(-2n) Γ(2n) I_e (Graham & Driver 2005).
        let ln_amplitude =
            2.0 * n * b.ln() - (2.0 * std::f64::consts::PI * n * re_pix * re_pix * q).ln() - ln_gamma(2.0 * n);
        let t = gamma_quantile(2.0 * n, 1.0 - TRUNCATION_LOST_FRACTION)
            .map_err(|e| Error::other(format!("image renderer: component {index}: {e}")).caused_by(e))?;
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
            half_box_x: (a_trunc * a_trunc * cos_pa * cos_pa + b_trunc * b_trunc * sin_pa * sin_pa).sqrt(),
            half_box_y: (a_trunc * a_trunc * sin_pa * sin_pa + b_trunc * b_trunc * cos_pa * cos_pa).sqrt(),
            // Only profiles with n > 1 have a cusp (an infinite slope) at the centre.
            min_refine_side: if n > 1.0 { REFINE_STOP_FRACTION * q * re_pix } else { f64::INFINITY },
            minor_re: q * re_pix,
            half_diagonal_in_re: std::f64::consts::FRAC_1_SQRT_2 / (q * re_pix),
            resolve_radius: r2_truncation.sqrt().min(RESOLVE_RADIUS_RE),
        })
    }

    /// Squared elliptical radius `(R/R_e)²` of canvas point `(x, y)`.
    #[inline]
    fn r2_at(&self, x: f64, y: f64) -> f64 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let u = dx * self.cos_pa + dy * self.sin_pa;
        let v = dy * self.cos_pa - dx * self.sin_pa;
        (u * u + v * v * self.inv_q2) * self.inv_re2
    }

    /// Surface brightness per unit flux at squared elliptical radius `r2`.
    #[inline]
    fn at_r2(&self, r2: f64) -> f64 {
        if r2 >= self.r2_truncation {
            return 0.0;
        }
        self.amplitude * (-self.b * self.power.apply(r2)).exp()
    }

    /// Surface brightness per unit flux at canvas point `(x, y)`.
    #[inline]
    fn at(&self, x: f64, y: f64) -> f64 {
        self.at_r2(self.r2_at(x, y))
    }

    /// Whether a square of side `side` at squared elliptical radius `r2` may hold light in a
    /// feature narrower than the square, which samples spaced `side` apart could all miss: the
    /// profile's minor-axis half-light radius is below `side` and the square reaches within
    /// [`RESOLVE_RADIUS_RE`] effective radii (or the truncation radius) of the centre.
    #[inline]
    fn may_be_unresolved(&self, r2: f64, side: f64) -> bool {
        side > self.minor_re && r2.sqrt() - side * self.half_diagonal_in_re < self.resolve_radius
    }

    /// Mean surface brightness over the square of side `side` centred on `(x, y)`, where the
    /// profile's value `centre_value` is already known, by adaptive cubature: the midpoint rule
    /// on `SUBSAMPLE²` sub-squares, each refined the same way while the square's refined estimate
    /// differs from its one-sample estimate by more than [`REFINE_TOLERANCE`] of the total flux,
    /// while it lies next to the profile's centre and is larger than `min_refine_side`, or while
    /// it [may hide an unresolved feature](Self::may_be_unresolved).
    fn box_mean(&self, x: f64, y: f64, side: f64, centre_value: f64, depth: u32) -> f64 {
        const COUNT: usize = SUBSAMPLE * SUBSAMPLE;
        let step = side / SUBSAMPLE as f64;
        let first = -0.5 * (SUBSAMPLE as f64 - 1.0) * step;
        let mut points = [(0.0, 0.0, 0.0, 0.0); COUNT];
        for (k, point) in points.iter_mut().enumerate() {
            let sx = x + first + (k % SUBSAMPLE) as f64 * step;
            let sy = y + first + (k / SUBSAMPLE) as f64 * step;
            let r2 = self.r2_at(sx, sy);
            let value = if k == COUNT / 2 { centre_value } else { self.at_r2(r2) };
            *point = (sx, sy, r2, value);
        }
        let mean = points.iter().map(|p| p.3).sum::<f64>() / COUNT as f64;
        if depth >= MAX_REFINE_DEPTH {
            return mean;
        }
        // Richardson: the midpoint rule's error falls as the step squared, so the finer estimate
        // is off by about (fine - coarse) / (3² - 1).
        let inaccurate = (mean - centre_value).abs() * side * side / 8.0 > REFINE_TOLERANCE;
        let may_hide_cusp = step > self.min_refine_side;
        let mut sum = 0.0;
        for &(sx, sy, r2, value) in &points {
            let near_centre = (sx - self.cx).abs().max((sy - self.cy).abs()) < step;
            let refine = inaccurate || (may_hide_cusp && near_centre) || self.may_be_unresolved(r2, step);
            sum += if refine { self.box_mean(sx, sy, step, value, depth + 1) } else { value };
        }
        sum / COUNT as f64
    }

    /// Adds this component's pixel-integrated light, times its flux in each band, to the canvas.
    ///
    /// The profile is first sampled at the centres of the pixels of its bounding box and of a
    /// two-pixel border (into `samples`). A pixel's integral is then the fourth-order cell average
    /// `Σ w_i w_j f_ij` over its 3×3 neighbourhood with `w = (1, 22, 1) / 24`, i.e.
    /// `f + (δ²_x + δ²_y) f / 24 + δ²_x δ²_y f / 576` with `δ²` the central second differences
    /// (exact for polynomials up to cubic in each direction; all weights positive, so never
    /// negative). Its leading error is `(1/288 − 1/1920) (f_xxxx + f_yyyy)`, estimated from the
    /// fourth differences along x and y. Where that estimate exceeds [`REFINE_TOLERANCE`],
    /// within 1.5 px of the centre, and where the profile is too thin for the pixel grid, the
    /// pixel is integrated by adaptive cubature instead. Choosing the pixels by their error,
    /// not by a fixed zone, keeps the accuracy uniform: one-sample midpoint pixels beside exactly
    /// integrated ones would misplace of order 1 % of the light of a small or flat-cored profile.
    fn draw(&self, canvas: &mut [f64], side: usize, samples: &mut Vec<f64>) {
        /// `1/288 − 1/1920`: the leading error of the cell average per unit fourth derivative.
        const FOURTH_ORDER_ERROR: f64 = 1.0 / 288.0 - 1.0 / 1920.0;
        const BORDER: usize = 2;
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

        // Samples at pixel centres over the box and a two-pixel border: sample (i, j) is pixel
        // (x0 + i - 2, y0 + j - 2).
        let width = x1 - x0 + 1 + 2 * BORDER;
        let height = y1 - y0 + 1 + 2 * BORDER;
        samples.clear();
        samples.resize(width * height, 0.0);
        for j in 0..height {
            let y = y0 as f64 + j as f64 - BORDER as f64;
            for i in 0..width {
                samples[j * width + i] = self.at(x0 as f64 + i as f64 - BORDER as f64, y);
            }
        }

        for py in y0..=y1 {
            let yc = py as f64;
            let j = py - y0 + BORDER;
            for px in x0..=x1 {
                let xc = px as f64;
                let at = j * width + px - x0 + BORDER;
                let f = |offset_x: isize, offset_y: isize| {
                    samples[at.wrapping_add_signed(offset_y * width as isize + offset_x)]
                };
                let centre_value = f(0, 0);
                let d2x = f(-1, 0) - 2.0 * centre_value + f(1, 0);
                let d2y = f(0, -1) - 2.0 * centre_value + f(0, 1);
                let d2xy = f(-1, -1) + f(1, -1) + f(-1, 1) + f(1, 1) - 2.0 * (f(-1, 0) + f(1, 0) + f(0, -1) + f(0, 1))
                    + 4.0 * centre_value;
                let d4x = f(-2, 0) - 4.0 * (f(-1, 0) + f(1, 0)) + 6.0 * centre_value + f(2, 0);
                let d4y = f(0, -2) - 4.0 * (f(0, -1) + f(0, 1)) + 6.0 * centre_value + f(0, 2);
                let error = FOURTH_ORDER_ERROR * (d4x.abs() + d4y.abs());
                let near = (xc - self.cx).abs().max((yc - self.cy).abs()) < CENTRAL_ZONE_PIX;
                let value = if near || error > REFINE_TOLERANCE || self.may_be_unresolved(self.r2_at(xc, yc), 1.0) {
                    self.box_mean(xc, yc, 1.0, centre_value, 0)
                } else {
                    centre_value + (d2x + d2y) / 24.0 + d2xy / 576.0
                };
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
fn gamma_quantile(a: f64, p: f64) -> Result<f64> {
    let ln_gamma_a = ln_gamma(a);
    let mut t = a;
    for _ in 0..200 {
        let value = checked_gamma_lr(a, t).map_err(|e| {
            Error::other(format!("incomplete gamma function failed at a = {a}, x = {t}: {e}")).caused_by(e)
        })?;
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
    Err(Error::other(format!("the truncation radius of a Sérsic profile with 2n = {a} did not converge")))
}

/// Two independent standard normal deviates by the polar form of the Box–Muller transform
/// (Marsaglia & Bray 1964): draw `(u, v)` uniform in the unit disc, return
/// `(u, v) · sqrt(-2 ln s / s)` with `s = u² + v²`. Accepts π/4 of the draws, and needs no
/// trigonometric functions. `u` and `v` are the two 32-bit halves of one 64-bit draw (centred
/// on the 2³² grid, so never exactly ±1): half the generator calls, and a 2⁻³² resolution is
/// far finer than the noise model needs (the largest possible deviate is about 9.3σ).
fn standard_normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    const SCALE: f64 = 2.0 / 4_294_967_296.0;
    loop {
        let bits = rng.next_u64();
        let u = ((bits >> 32) as f64 + 0.5) * SCALE - 1.0;
        let v = ((bits & 0xFFFF_FFFF) as f64 + 0.5) * SCALE - 1.0;
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
    if !(density_per_arcmin2.is_finite() && (0.0..=MAX_NEIGHBOUR_DENSITY).contains(&density_per_arcmin2)) {
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
    let count = components.iter().filter(|c| c.dx_pix.hypot(c.dy_pix) <= radius_pix).count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use statrs::function::gamma::gamma_lr;

    const NO_PSF: [f64; N_BANDS] = [0.0; N_BANDS];

    fn observing(size: usize, psf: [f64; N_BANDS], sky: [f64; N_BANDS]) -> Observing {
        Observing { size, pixel_scale: HSC_PIXEL_SCALE_ARCSEC, psf_fwhm_arcsec: psf, sky_sigma: sky }
    }

    fn galaxy(flux: f64, re_pix: f64, n: f64, q: f64, pa: f64) -> Component {
        Component {
            flux: [flux; N_BANDS],
            r_half_arcsec: re_pix * HSC_PIXEL_SCALE_ARCSEC,
            sersic_n: n,
            axis_ratio: q,
            position_angle_deg: pa,
            dx_pix: 0.0,
            dy_pix: 0.0,
        }
    }

    /// Renders and returns band `band` as f64.
    fn band_image(components: &[Component], obs: &Observing, seed: u64, band: usize) -> Vec<f64> {
        let mut out = vec![0f32; N_BANDS * obs.size * obs.size];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        render(components, obs, &mut rng, &mut out).expect("valid inputs render");
        let len = obs.size * obs.size;
        out[band * len..(band + 1) * len].iter().map(|&v| f64::from(v)).collect()
    }

    /// (sum, centroid x, centroid y, Ixx, Iyy, Ixy) of a stamp.
    fn moments(image: &[f64], size: usize) -> (f64, f64, f64, f64, f64, f64) {
        let pixels = || image.iter().enumerate().map(move |(i, &v)| ((i % size) as f64, (i / size) as f64, v));
        let sum: f64 = pixels().map(|(_, _, v)| v).sum();
        let mx = pixels().map(|(x, _, v)| x * v).sum::<f64>() / sum;
        let my = pixels().map(|(_, y, v)| y * v).sum::<f64>() / sum;
        let ixx = pixels().map(|(x, _, v)| (x - mx).powi(2) * v).sum::<f64>() / sum;
        let iyy = pixels().map(|(_, y, v)| (y - my).powi(2) * v).sum::<f64>() / sum;
        let ixy = pixels().map(|(x, y, v)| (x - mx) * (y - my) * v).sum::<f64>() / sum;
        (sum, mx, my, ixx, iyy, ixy)
    }

    #[test]
    fn sersic_b_encloses_half_the_light() {
        // Known values: b_1 = 1.67835, b_4 = 7.66925 (Ciotti & Bertin 1999, Table 1).
        assert!((sersic_b(1.0) - 1.678_35).abs() < 1e-4);
        assert!((sersic_b(4.0) - 7.669_25).abs() < 1e-4);
        // (n, tolerance on the enclosed fraction): MacArthur et al. below n = 0.36, then
        // Ciotti & Bertin, whose error falls fast with n.
        for (n, tol) in [
            (0.2, 3e-3),
            (0.3, 3e-3),
            (0.35, 3e-3),
            (0.36, 3e-4),
            (0.5, 3e-4),
            (0.8, 3e-4),
            (1.0, 3e-5),
            (2.0, 3e-6),
            (4.0, 3e-7),
            (10.0, 3e-7),
        ] {
            let p = gamma_lr(2.0 * n, sersic_b(n));
            assert!((p - 0.5).abs() < tol, "n = {n}: P(2n, b_n) = {p}");
        }
    }

    #[test]
    fn total_flux_matches_input_without_psf() {
        let obs = observing(127, NO_PSF, [0.0; N_BANDS]);
        // (R_e in pixels, n, tolerance): small R_e puts the n = 4 cusp inside the central pixels.
        for (re, n, tol) in [(1.5, 1.0, 0.01), (0.5, 1.0, 0.01), (1.5, 4.0, 0.02), (0.5, 4.0, 0.02)] {
            let mut c = galaxy(500.0, re, n, 0.6, 33.0);
            c.dx_pix = 0.3;
            c.dy_pix = -0.2;
            let sum: f64 = band_image(&[c], &obs, 1, 2).iter().sum();
            assert!((sum / 500.0 - 1.0).abs() < tol, "R_e = {re} px, n = {n}: total {sum}");
        }
    }

    #[test]
    fn total_flux_is_accurate_across_indices_sizes_and_shapes() {
        // The light inside the stamp lies between the analytic fractions inside elliptical
        // radius R = r_in (an ellipse inside the inscribed circle of radius r_in) and
        // R = r_out / q (an ellipse containing the circumscribed circle), the fraction inside R
        // being P(2n, b_n (R/R_e)^(1/n)) (Graham & Driver 2005); less the 10⁻⁴ lost to
        // truncation.
        let size = 127;
        let obs = observing(size, NO_PSF, [0.0; N_BANDS]);
        let mut renderer = Renderer::new(&obs).expect("valid");
        let mut out = vec![0f32; N_BANDS * size * size];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for n in [0.2, 0.5, 1.0, 2.5, 4.0, 8.0] {
            for re in [0.05, 0.3, 1.5] {
                for q in [0.2, 1.0] {
                    let mut c = galaxy(1.0, re, n, q, 63.0);
                    c.dx_pix = 0.37;
                    c.dy_pix = -0.21;
                    renderer.render(&[c], &mut rng, &mut out).expect("renders");
                    let sum: f64 = out[..size * size].iter().map(|&v| f64::from(v)).sum();
                    let enclosed = |r: f64| gamma_lr(2.0 * n, sersic_b(n) * (r / re).powf(1.0 / n));
                    let (low, high) = (enclosed(62.5), enclosed(63.5 * std::f64::consts::SQRT_2 / q));
                    assert!(
                        sum > low - 2e-3 && sum < high + 1e-3,
                        "n = {n}, R_e = {re} px, q = {q}: total {sum}, expected {low}..{high}"
                    );
                }
            }
        }
    }

    #[test]
    fn pixel_values_match_brute_force_integration() {
        // Each pixel against a 60×60 midpoint sum over it (the centre pixels of the n = 4 cusp,
        // where that brute force is itself unreliable, are left out).
        let size = 31;
        let obs = observing(size, NO_PSF, [0.0; N_BANDS]);
        for (n, re, q) in [(1.0, 2.0, 0.4), (0.5, 1.2, 0.7), (4.0, 3.0, 0.6), (2.5, 0.8, 0.3)] {
            let mut c = galaxy(1.0, re, n, q, 117.0);
            c.dx_pix = 0.28;
            c.dy_pix = -0.41;
            let image = band_image(&[c], &obs, 1, 2);
            let profile = SersicProfile::new(&c, 0, &obs, 0).expect("valid");
            let peak = image.iter().copied().fold(0.0, f64::max);
            let sub = 60;
            for py in 5..26 {
                for px in 5..26 {
                    let (x, y) = (px as f64, py as f64);
                    if n > 1.0 && (x - profile.cx).abs().max((y - profile.cy).abs()) < 1.5 {
                        continue;
                    }
                    let mut sum = 0.0;
                    for j in 0..sub {
                        for i in 0..sub {
                            let sx = x - 0.5 + (i as f64 + 0.5) / sub as f64;
                            let sy = y - 0.5 + (j as f64 + 0.5) / sub as f64;
                            sum += profile.at(sx, sy);
                        }
                    }
                    let exact = sum / (sub * sub) as f64;
                    let rendered = image[py * size + px];
                    assert!(
                        (rendered - exact).abs() < 2e-3 * exact + 2e-4 * peak,
                        "n = {n}, R_e = {re}, q = {q}, pixel ({px}, {py}): {rendered} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn half_light_radius_matches_r_e() {
        let size = 127;
        let obs = observing(size, NO_PSF, [0.0; N_BANDS]);
        let re = 8.0;
        for n in [1.0, 4.0] {
            let flux = 1000.0;
            let image = band_image(&[galaxy(flux, re, n, 1.0, 0.0)], &obs, 1, 2);
            let centre = (size / 2) as f64;
            let mut by_radius: Vec<(f64, f64)> = image
                .iter()
                .enumerate()
                .map(|(i, &v)| (((i % size) as f64 - centre).hypot((i / size) as f64 - centre), v))
                .collect();
            by_radius.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Half of the analytic total: the light beyond the stamp counts too.
            let mut cumulative = 0.0;
            let mut r_half = f64::NAN;
            let mut previous = (0.0, 0.0);
            for &(r, v) in &by_radius {
                if cumulative + v >= 0.5 * flux {
                    let frac = (0.5 * flux - cumulative) / v;
                    r_half = previous.0 + frac * (r - previous.0);
                    break;
                }
                cumulative += v;
                previous = (r, cumulative);
            }
            assert!((r_half / re - 1.0).abs() < 0.05, "n = {n}: half-light radius {r_half} px");
        }
    }

    #[test]
    fn psf_broadens_by_its_variance_and_conserves_flux() {
        let size = 127;
        let c = galaxy(300.0, 1.0, 1.0, 0.8, 20.0);
        let sharp = band_image(&[c], &observing(size, NO_PSF, [0.0; N_BANDS]), 1, 2);
        let psf = HSC_WIDE_PSF_FWHM_ARCSEC;
        let blurred = band_image(&[c], &observing(size, psf, [0.0; N_BANDS]), 1, 2);
        let (s0, x0, y0, ixx0, iyy0, ixy0) = moments(&sharp, size);
        let (s1, x1, y1, ixx1, iyy1, ixy1) = moments(&blurred, size);
        let var = (psf[2] / FWHM_PER_SIGMA / HSC_PIXEL_SCALE_ARCSEC).powi(2);
        assert!((s1 / s0 - 1.0).abs() < 1e-4, "flux {s0} -> {s1}");
        assert!((x1 - x0).abs() < 1e-3 && (y1 - y0).abs() < 1e-3);
        assert!(((ixx1 - ixx0) / var - 1.0).abs() < 0.02, "Ixx {ixx0} -> {ixx1}, σ² {var}");
        assert!(((iyy1 - iyy0) / var - 1.0).abs() < 0.02, "Iyy {iyy0} -> {iyy1}, σ² {var}");
        assert!((ixy1 - ixy0).abs() < 0.02 * var, "Ixy {ixy0} -> {ixy1}");
        let peak = |im: &[f64]| im.iter().copied().fold(f64::MIN, f64::max);
        assert!(peak(&blurred) < 0.5 * peak(&sharp));
    }

    #[test]
    fn light_from_outside_the_stamp_is_scattered_in() {
        // A compact source centred on the left edge of the stamp: by symmetry, the PSF moves as
        // much light in from outside as out from inside, so half the flux lands in the stamp.
        let size = 64;
        let mut c = galaxy(400.0, 1.0, 1.0, 1.0, 0.0);
        c.dx_pix = -0.5 - (size / 2) as f64;
        let image = band_image(&[c], &observing(size, HSC_WIDE_PSF_FWHM_ARCSEC, [0.0; 5]), 1, 0);
        let sum: f64 = image.iter().sum();
        assert!((sum / 200.0 - 1.0).abs() < 0.01, "flux in stamp {sum}, expected 200");
    }

    #[test]
    fn empty_stamp_noise_has_the_sky_sigma() {
        let obs = Observing::hsc_wide(127).expect("HSC Wide conditions are valid");
        let mut out = vec![0f32; N_BANDS * 127 * 127];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        render(&[], &obs, &mut rng, &mut out).expect("renders");
        let len = 127 * 127;
        for band in 0..N_BANDS {
            let px: Vec<f64> = out[band * len..(band + 1) * len].iter().map(|&v| v.into()).collect();
            let mean = px.iter().sum::<f64>() / len as f64;
            let std = (px.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / len as f64).sqrt();
            let sigma = obs.sky_sigma[band];
            assert!(mean.abs() < 4.0 * sigma / (len as f64).sqrt(), "band {band}: mean {mean}");
            assert!((std / sigma - 1.0).abs() < 0.03, "band {band}: std {std} vs σ {sigma}");
        }
    }

    #[test]
    fn seeded_renders_are_deterministic() {
        let obs = Observing::hsc_wide(64).expect("valid");
        let comps = [galaxy(100.0, 3.0, 1.0, 0.5, 10.0), galaxy(50.0, 1.0, 4.0, 0.9, 80.0)];
        let mut renderer = Renderer::new(&obs).expect("valid");
        let mut draw = |seed: u64| {
            let mut out = vec![0f32; N_BANDS * 64 * 64];
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            renderer.render(&comps, &mut rng, &mut out).expect("renders");
            out
        };
        let (a, b, c) = (draw(11), draw(11), draw(12));
        assert_eq!(a, b, "the same seed must give the same stamp, scratch reused");
        assert_ne!(a, c, "another seed must give other noise");
        let fresh = band_image(&comps, &obs, 11, 0);
        let a0: Vec<f64> = a[..64 * 64].iter().map(|&v| v.into()).collect();
        assert_eq!(a0, fresh, "a fresh renderer gives the same stamp");
    }

    #[test]
    fn axis_ratio_and_position_angle_shape_the_second_moments() {
        let size = 127;
        let obs = observing(size, NO_PSF, [0.0; N_BANDS]);
        let q = 0.5;
        for pa in [0.0_f64, 30.0, 90.0, 135.0] {
            let image = band_image(&[galaxy(100.0, 6.0, 1.0, q, pa)], &obs, 1, 2);
            let (_, _, _, ixx, iyy, ixy) = moments(&image, size);
            // Principal axes of the moment tensor.
            let angle = 0.5 * (2.0 * ixy).atan2(ixx - iyy);
            let mean = 0.5 * (ixx + iyy);
            let spread = (0.25 * (ixx - iyy).powi(2) + ixy * ixy).sqrt();
            let measured_q = ((mean - spread) / (mean + spread)).sqrt();
            let expected = pa.to_radians();
            let mut diff = (angle - expected).rem_euclid(std::f64::consts::PI);
            if diff > std::f64::consts::FRAC_PI_2 {
                diff -= std::f64::consts::PI;
            }
            assert!(diff.abs() < 0.5f64.to_radians(), "PA {pa}: measured {}°", angle.to_degrees());
            assert!((measured_q / q - 1.0).abs() < 0.02, "PA {pa}: measured q {measured_q}");
        }
        // PA = 0 puts the major axis along x.
        let image = band_image(&[galaxy(100.0, 6.0, 1.0, q, 0.0)], &obs, 1, 2);
        let (_, _, _, ixx, iyy, _) = moments(&image, size);
        assert!(ixx > 3.5 * iyy, "Ixx {ixx}, Iyy {iyy}");
    }

    #[test]
    fn typical_i22_galaxy_has_realistic_pixel_values() {
        let obs = Observing::hsc_wide(64).expect("valid");
        // i = 22: 10^(-0.4 (22 - 27)) = 100 counts; a 0.5″ exponential disc.
        let mut c = galaxy(100.0, 0.5 / HSC_PIXEL_SCALE_ARCSEC, 1.0, 0.7, 40.0);
        c.flux = [40.0, 70.0, 100.0, 120.0, 130.0];
        let image = band_image(&[c], &obs, 5, 2);
        let peak = image.iter().copied().fold(f64::MIN, f64::max);
        assert!((0.5..10.0).contains(&peak), "i-band peak {peak}");
        let centre = 32 * 64 + 32;
        assert!(image[centre] > 0.8 * peak, "the peak sits at the stamp centre");
        // Far from the galaxy the pixels are sky noise of order 0.1.
        let corner_rms = (image[..64 * 8].iter().map(|v| v * v).sum::<f64>() / 512.0).sqrt();
        assert!((0.03..0.3).contains(&corner_rms), "corner rms {corner_rms}");
    }

    #[test]
    fn sky_sigma_gives_snr_5_at_the_depth() {
        let sigma =
            sky_sigma_from_depth(HSC_WIDE_DEPTH_M5, HSC_WIDE_PSF_FWHM_ARCSEC, HSC_PIXEL_SCALE_ARCSEC).expect("valid");
        for band in 0..N_BANDS {
            // Noise-equivalent area of the sampled 2-D PSF, 1 / Σ p².
            let k = gaussian_kernel(HSC_WIDE_PSF_FWHM_ARCSEC[band] / FWHM_PER_SIGMA / 0.168);
            let sum_p2: f64 = k.iter().map(|a| a * a).sum::<f64>().powi(2);
            let flux5 = 10f64.powf(-0.4 * (HSC_WIDE_DEPTH_M5[band] - ZEROPOINT));
            let snr = flux5 / (sigma[band] / sum_p2.sqrt());
            assert!((snr - 5.0).abs() < 0.1, "band {band}: S/N {snr}");
        }
        // i band: 2.09 counts at S/N 5 over 4π (1.542 px)² = 29.9 px: σ ≈ 0.077.
        assert!((sigma[2] - 0.0765).abs() < 0.001, "i-band σ {}", sigma[2]);
        assert!(sigma[4] > sigma[3] && sigma[3] > sigma[2] && sigma[2] > sigma[0]);
        assert!(sky_sigma_from_depth(HSC_WIDE_DEPTH_M5, [0.7, 0.7, 0.0, 0.7, 0.7], 0.168).is_err());
        assert!(sky_sigma_from_depth(HSC_WIDE_DEPTH_M5, HSC_WIDE_PSF_FWHM_ARCSEC, 0.0).is_err());
    }

    #[test]
    fn neighbours_follow_the_density_and_the_callback_fluxes() {
        let obs = Observing::hsc_wide(64).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let region_arcmin = (64.0 * 0.168 + 2.0 * NEIGHBOUR_MARGIN_ARCSEC) / 60.0;
        for density in [HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2, 2000.0] {
            let expected = density * region_arcmin * region_arcmin;
            let draws = 2000;
            let mut total = 0usize;
            let mut sizes = Vec::new();
            for _ in 0..draws {
                // i = 24.5 for every neighbour: flux 10.
                let ns = draw_neighbours(&mut rng, density, &obs, |_| [5.0, 8.0, 10.0, 11.0, 12.0]).expect("valid");
                total += ns.len();
                for n in &ns {
                    let edge = 32.5 + NEIGHBOUR_MARGIN_ARCSEC / 0.168;
                    assert!(n.dx_pix.abs() <= edge + 1.0 && n.dy_pix.abs() <= edge + 1.0);
                    assert_eq!(n.flux[2], 10.0);
                    assert!(n.axis_ratio > 0.2 && n.axis_ratio <= 1.0);
                    sizes.push(n.r_half_arcsec);
                }
            }
            let mean = total as f64 / draws as f64;
            let tolerance = 4.0 * (expected / draws as f64).sqrt();
            assert!((mean - expected).abs() < tolerance, "mean {mean}, expected {expected}");
            sizes.sort_by(f64::total_cmp);
            let median = sizes[sizes.len() / 2];
            assert!((median - 0.3).abs() < 0.02, "median neighbour size {median}″");
        }
        assert!(draw_neighbours(&mut rng, -1.0, &obs, |_| [1.0; 5]).is_err());
        assert!(draw_neighbours(&mut rng, 500.0, &obs, |_| [f64::NAN; 5]).is_err());
        assert!(draw_neighbours(&mut rng, 0.0, &obs, |_| [1.0; 5]).expect("valid").is_empty());
    }

    #[test]
    fn neighbours_are_counted_by_distance_from_the_centre() {
        let at = |dx: f64, dy: f64| Component { dx_pix: dx, dy_pix: dy, ..galaxy(1.0, 1.0, 1.0, 1.0, 0.0) };
        let ns = [at(3.0, 0.0), at(3.0, 4.0), at(-7.0, 0.0), at(0.0, -12.0), at(12.0, 12.0)];
        assert_eq!(count_neighbours_within(&ns, 5.0), 2);
        assert_eq!(count_neighbours_within(&ns, 10.0), 3);
        assert_eq!(count_neighbours_within(&ns, 15.0), 4);
        assert_eq!(count_neighbours_within(&[], 15.0), 0);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let obs = Observing::hsc_wide(64).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ok = galaxy(10.0, 2.0, 1.0, 0.5, 0.0);
        let mut out = vec![0f32; N_BANDS * 64 * 64];
        assert!(render(&[ok], &obs, &mut rng, &mut out[1..]).is_err());
        for bad in [
            Component { sersic_n: 12.0, ..ok },
            Component { axis_ratio: 0.0, ..ok },
            Component { r_half_arcsec: -1.0, ..ok },
            Component { flux: [1.0, -1.0, 1.0, 1.0, 1.0], ..ok },
            Component { dx_pix: f64::NAN, ..ok },
        ] {
            assert!(render(&[ok, bad], &obs, &mut rng, &mut out).is_err(), "{bad:?}");
        }
        assert!(out.iter().all(|&v| v == 0.0), "a failed render leaves the output untouched");
        assert!(Renderer::new(&Observing { size: 0, ..obs.clone() }).is_err());
        assert!(Renderer::new(&Observing { sky_sigma: [f64::NAN; 5], ..obs.clone() }).is_err());
        assert!(Renderer::new(&Observing { psf_fwhm_arcsec: [-0.1; 5], ..obs.clone() }).is_err());
        assert!(Renderer::new(&Observing { pixel_scale: 0.0, ..obs }).is_err());
    }
}
