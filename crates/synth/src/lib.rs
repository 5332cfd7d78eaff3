//! The synthetic GalaxiesML-format generator.
//!
//! - [`cosmology`]: flat ΛCDM distances (Hogg 1999);
//! - [`hsc`]: the HSC survey numbers every part shares (bands, zero point, seeing, depths);
//! - [`random`]: normal deviates;
//! - [`filters`]: the HSC g, r, i, z, y curves and speclite-compatible AB photometry;
//! - [`sed`]: the CWWSB4 galaxy templates and Madau (1995) IGM absorption;
//! - [`photometry`]: template magnitudes and the precomputed type × redshift × band flux grid;
//! - [`population`]: redshifts, types, luminosities, noisy HSC photometry, bulge/disk structure;
//! - [`image`]: bulge + disk Sérsic cutouts with PSF, sky noise and neighbours;
//! - [`catalog`]: the tabular columns of a synthetic galaxy (true morphology, CSV);
//! - [`generate`]: `pzbench synth`, the whole GalaxiesML-format data set, in parallel blocks.

pub mod catalog;
pub mod cosmology;
pub mod filters;
pub mod generate;
pub mod hsc;
pub mod image;
pub mod photometry;
pub mod population;
pub mod random;
pub mod sed;
