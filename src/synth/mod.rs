//! The synthetic GalaxiesML-format generator.
//!
//! - [`cosmology`]: flat ΛCDM distances (Hogg 1999);
//! - [`filters`]: the HSC g, r, i, z, y curves and speclite-compatible AB photometry;
//! - [`sed`]: the CWWSB4 galaxy templates and Madau (1995) IGM absorption;
//! - [`photometry`]: template magnitudes and the precomputed type × redshift × band flux grid;
//! - [`population`]: redshifts, types, luminosities, noisy HSC photometry, bulge/disk structure;
//! - [`image`]: bulge + disk Sérsic cutouts with PSF, sky noise and neighbours.

pub mod cosmology;
pub mod filters;
pub mod image;
pub mod photometry;
pub mod population;
pub mod sed;
