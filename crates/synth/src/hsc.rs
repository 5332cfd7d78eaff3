//! The Hyper Suprime-Cam survey numbers that every part of the generator shares: bands, pixel
//! scale, zero point, seeing and depths of HSC Wide (the survey the GalaxiesML images come from).

/// HSC band names in GalaxiesML order (the second axis of `image`).
pub use pzbench_io::galaxiesml::BANDS;

/// Number of HSC bands.
pub const N_BANDS: usize = BANDS.len();

/// HSC pixel scale in arcseconds (GalaxiesML paper; HSC survey documentation).
pub const HSC_PIXEL_SCALE_ARCSEC: f64 = 0.168;

/// Photometric zeropoint of the HSC coadds: flux in counts is `10^(−0.4 (m − 27))`, i.e.
/// `m = 27 - 2.5 log10(flux)` (HSC pipeline, Bosch et al. 2018; GalaxiesML images are in these
/// units).
pub const ZEROPOINT: f64 = 27.0;

/// HSC Wide median seeing FWHM in arcseconds, g, r, i, z, y (HSC PDR3 paper, Aihara et al. 2022,
/// Table 1).
pub const HSC_WIDE_PSF_FWHM_ARCSEC: [f64; N_BANDS] = [0.79, 0.75, 0.61, 0.68, 0.68];

/// HSC Wide 5σ point-source depths g, r, i, z, y, approximately (HSC-SSP PDR3, Aihara et al.
/// 2022, PASJ 74, 247; values from the project data README).
pub const HSC_WIDE_DEPTH_M5: [f64; N_BANDS] = [26.5, 26.5, 26.2, 25.2, 24.4];
