//! The synthetic GalaxiesML generator: galaxies from [`super::population`], cutouts from
//! [`super::image`], catalogue rows from [`super::catalog`], written in the GalaxiesML layout
//! ([`pzbench_io::galaxiesml`]) as `pzbench synth` does.
//!
//! # What one run writes
//! `5xSxS_{training,validation,testing}_with_morphology.hdf5` and `.csv` in the output folder:
//! a random 60/20/20 split of `N` galaxies ([`split_counts`], [`split_assignment`]), every key
//! of [`pzbench_io::galaxiesml::TABULAR_KEYS`] in its listed dtype plus `image` (float32
//! `(n, 5, S, S)`); the CSV holds the same tabular columns, no images. Both are marked as
//! generated data: the HDF5 files by a root attribute `synthetic` ([`synthetic_description`]),
//! the CSVs by a last column `synthetic`, `True` in every row.
//!
//! # Reproducibility and parallelism
//! Galaxy `i` (global index `0..N`) draws every random number — population, centring offset,
//! neighbours, sky noise, catalogue extras — from its own ChaCha8 stream:
//! `ChaCha8Rng::seed_from_u64(seed)` with `set_stream(i)`. The split uses stream `u64::MAX`.
//! Galaxies are made in blocks of [`DEFAULT_BLOCK`] in parallel (rayon) and each block is written
//! in order, so the files are bit-identical for a seed whatever the number of threads, and image
//! memory is bounded by one block (the catalogue rows of one split, ≈ 0.8 kB a galaxy, are kept
//! until the split's tabular columns are written).
//!
//! # One galaxy
//! 1. [`draw_galaxy`]: redshift from n(z), type, luminosity, noisy HSC photometry (the
//!    `{b}_cmodel_mag`/`_magsigma` columns), bulge + disc structure.
//! 2. A bulge and a disc [`Component`] with the truth's fluxes, radii, Sérsic indices, axis ratios
//!    and position angle, both offset from the stamp centre by the same random centring offset
//!    (uniform in a disc of radius 0.5 px).
//! 3. Neighbours: [`draw_neighbours`] at [`HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2`] (i < 26);
//!    each neighbour's fluxes come from a simple faint-galaxy model ([`neighbour_flux`]).
//! 4. [`Renderer::render`]: PSF, sky noise, HSC Wide conditions ([`Observing::hsc_wide`]).
//! 5. Catalogue extras (see [`Generator::galaxy`]) and the TRUE morphology of
//!    [`super::catalog`] (not Source Extractor measurements).
//!
//! # Default n(z)
//! The empirical histogram of 28,640 real HSC spectroscopic redshifts
//! ([`HSC_SPECZ_NZ_CSV`], `fixtures/data/nz_hsc_specz.csv`; 78 % below z = 0.75), not the Smail
//! law peaked at 1.5 that the GalaxiesML abstract suggests: the real spec-z sample is what the
//! benchmark's galaxies look like. The Smail law stays available ([`NzSource::Smail`]).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::catalog::{self, CatalogueRow, ProfilePart, POP_RADII_PIX};
use super::image::{
    count_neighbours_within, draw_neighbours, Component, Observing, Renderer, HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2,
};
use super::photometry::PhotometryGrid;
use super::population::{draw_galaxy, mag_to_counts, NzTable, PopulationModel};
use super::sed::T_MAX;
use crate::hsc::N_BANDS;
use crate::random::std_normal;
use pzbench_io::galaxiesml::GalaxiesMlWriter;
use pzbench_io::{persist_temp, temp_path_for};
use pzbench_io::{Error, Result};

/// The default n(z): empirical density of the real HSC spec-z of
/// `fixtures/external/lstm_mdnz_galaxiesml_pred_z.dat`, bins of 0.05 on (0.01, 4]
/// (`fixtures/data/README.md` gives the provenance, `make_nz_hsc_specz.py` the recipe).
pub const HSC_SPECZ_NZ_CSV: &str = include_str!("../../../fixtures/data/nz_hsc_specz.csv");

/// The three files of a GalaxiesML release, in the order galaxies are assigned to them.
pub const SPLITS: [&str; 3] = ["training", "validation", "testing"];

/// The GalaxiesML split fractions: 60/20/20.
pub const SPLIT_FRACTIONS: [f64; 3] = [0.6, 0.2, 0.2];

/// Cutout sides of the GalaxiesML release (the only ones `pzbench synth` accepts).
pub const GALAXIESML_SIZES: [usize; 2] = [64, 127];

/// Smallest and largest cutout side the library accepts (tests use small stamps).
pub const SIZE_RANGE: (usize, usize) = (16, 2048);

/// Galaxies made in parallel and written together.
pub const DEFAULT_BLOCK: usize = 256;

/// Most galaxies one run may make: `object_id` keeps 10 decimal digits for the index.
pub const MAX_GALAXIES: usize = 10_000_000_000;

/// `object_id = (seed mod 10⁸) × 10¹⁰ + i`: unique within a run, readable, below 2⁶³.
const ID_SEED_STRIDE: i64 = 10_000_000_000;
const ID_SEED_MODULUS: u64 = 100_000_000;

/// ChaCha8 stream of the split (galaxies use streams `0..N`, `N ≤ 10¹⁰`).
const SPLIT_STREAM: u64 = u64::MAX;

/// Largest offset of the galaxy from the stamp centre, pixels.
pub const MAX_CENTRE_OFFSET_PIX: f64 = 0.5;

/// The sky field: RA 149.1–151.1°, Dec 1.2–3.2° (around COSMOS), uniform on the sphere.
const FIELD_RA: (f64, f64) = (149.1, 151.1);
const FIELD_DEC: (f64, f64) = (1.2, 3.2);
/// `skymap_id` = tract × 10⁴ + patch_x × 100 + patch_y (HSC convention); the field is cut into
/// 9 × 9 patches of one tract, numbered 9813 (the COSMOS tract) by label only.
const TRACT: i64 = 9813;
const PATCHES: f64 = 9.0;
/// The spec-z position differs from the photometric one by a normal offset of this σ, arcsec.
const SPECZ_OFFSET_ARCSEC: f64 = 0.1;
/// `specz_redshift_err = (1 + z) 10^U(−4.5, −3)`: 3×10⁻⁵ to 10⁻³ in `(1 + z)`, well inside the
/// paper's cuts `0 < err < 1`, `err < 0.005 (1 + z)`.
const Z_ERR_LOG_RANGE: (f64, f64) = (-4.5, -3.0);

/// Neighbour i magnitudes: counts `dN/dm ∝ 10^(0.3 m)` (the faint-end slope behind
/// [`HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2`], Metcalfe et al. 2001) on this range.
const NEIGHBOUR_MAG_I: (f64, f64) = (18.0, 26.0);
const NEIGHBOUR_COUNT_SLOPE: f64 = 0.3;

/// Index of the i band.
const I_BAND: usize = 2;

/// Where the redshift distribution comes from (`pzbench synth --nz`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NzSource {
    /// The empirical HSC spec-z histogram ([`HSC_SPECZ_NZ_CSV`]); the default.
    HscSpecz,
    /// The Smail law with mode 1.5 ([`NzTable::galaxiesml_default`]).
    Smail,
    /// A user table `z,weight` ([`NzTable::parse_csv`]).
    File(PathBuf),
}

impl NzSource {
    /// `hsc` and `smail` name the built-in tables; anything else is a file path.
    pub fn parse(text: &str) -> Self {
        match text {
            "hsc" => NzSource::HscSpecz,
            "smail" => NzSource::Smail,
            path => NzSource::File(PathBuf::from(path)),
        }
    }

    /// The table; a file's errors name the file and the fix.
    pub fn table(&self) -> Result<NzTable> {
        match self {
            NzSource::HscSpecz => NzTable::parse_csv(HSC_SPECZ_NZ_CSV),
            NzSource::Smail => NzTable::galaxiesml_default(),
            NzSource::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    Error::file(
                        path,
                        format!(
                            "cannot read the n(z) table: {e}; --nz takes `hsc`, `smail` or a \
                             CSV file of `z,weight` rows"
                        ),
                    )
                    .caused_by(e)
                })?;
                // A byte-order mark is dropped; UTF-16 is named with the fix.
                let text = pzbench_io::encoding::decode_utf8(path, bytes)?;
                NzTable::parse_csv(&text).map_err(|e| self.explain(e))
            }
        }
    }

    /// Attach the file name and the expected format to an n(z) error of a user table.
    pub fn explain(&self, e: Error) -> Error {
        match self {
            NzSource::File(path) => Error::file(
                path,
                format!(
                    "{e}; --nz wants CSV rows `z,weight` with z increasing within [0.001, 4] \
                     (e.g. fixtures/data/nz_hsc_specz.csv), or `hsc` / `smail`"
                ),
            ),
            _ => e,
        }
    }
}

/// The number of galaxies in the training, validation and testing files: `round(0.6 N)`,
/// `round(0.2 N)` and the rest. Each file needs at least one galaxy, so `N ≥ 4`.
pub fn split_counts(n: usize) -> Result<[usize; 3]> {
    if n > MAX_GALAXIES {
        return Err(Error::usage(format!(
            "--n {n}: at most {MAX_GALAXIES} galaxies (object_id keeps 10 digits for the index)"
        )));
    }
    let train = (SPLIT_FRACTIONS[0] * n as f64).round() as usize;
    let val = (SPLIT_FRACTIONS[1] * n as f64).round() as usize;
    let counts = [train, val, n.saturating_sub(train + val)];
    if counts.contains(&0) {
        return Err(Error::usage(format!(
            "--n {n}: give at least 4 galaxies, so that each of the training, validation and \
             testing files (60/20/20) gets one"
        )));
    }
    Ok(counts)
}

/// The global galaxy indices of each split, each list increasing: a uniformly random
/// permutation of `0..N` (Fisher–Yates on ChaCha8 stream `u64::MAX` of the seed) cut
/// 60/20/20.
pub fn split_assignment(n: usize, seed: u64) -> Result<[Vec<u64>; 3]> {
    let counts = split_counts(n)?;
    let mut order: Vec<u64> = (0..n as u64).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(SPLIT_STREAM);
    for i in (1..order.len()).rev() {
        // Multiply-shift: an index in 0..=i, bias ≤ N / 2⁶⁴.
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    let (train, rest) = order.split_at(counts[0]);
    let (val, test) = rest.split_at(counts[1]);
    let sorted = |s: &[u64]| {
        let mut v = s.to_vec();
        v.sort_unstable();
        v
    };
    Ok([sorted(train), sorted(val), sorted(test)])
}

/// `5x{S}x{S}_{split}_with_morphology.{ext}`.
pub fn file_name(size: usize, split: &str, ext: &str) -> String {
    format!("5x{size}x{size}_{split}_with_morphology.{ext}")
}

/// Create the output folder if needed and check that files can be written in it.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::file(dir, format!("cannot create the output folder: {e}; give a writable --out folder")))?;
    let probe = dir.join(".pzbench-synth-write-test");
    std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)).map_err(|e| {
        let _ = std::fs::remove_file(&probe);
        Error::file(dir, format!("cannot write in the output folder: {e}; give a writable --out folder"))
    })
}

/// Fluxes (counts at zeropoint 27, g..y) of one neighbour: i magnitude from the counts
/// `dN/dm ∝ 10^(0.3 m)` on 18 < i < 26 (by inversion), SED type uniform in [0, 5], redshift from
/// the model's n(z), colours from the model's flux grid. A cheap stand-in for the faint field
/// population (two grid look-ups instead of a full [`draw_galaxy`]).
pub fn neighbour_flux(rng: &mut impl Rng, model: &PopulationModel) -> Result<[f64; N_BANDS]> {
    let (lo, hi) = NEIGHBOUR_MAG_I;
    let floor = 10f64.powf(-NEIGHBOUR_COUNT_SLOPE * (hi - lo));
    let u = rng.random::<f64>();
    let mag_i = hi + (u * (1.0 - floor) + floor).log10() / NEIGHBOUR_COUNT_SLOPE;
    let t = T_MAX * rng.random::<f64>();
    let z = model.nz().sample(rng);
    let ratio = model.grid().flux_ratio(t, z)?;
    let flux_i = mag_to_counts(mag_i);
    Ok(ratio.map(|r| if ratio[I_BAND] > 0.0 { (flux_i * r / ratio[I_BAND]).max(0.0) } else { 0.0 }))
}

/// Makes galaxies: the model, the observing conditions and the seed.
#[derive(Debug)]
pub struct Generator<'a> {
    model: &'a PopulationModel,
    obs: Observing,
    renderer: Renderer,
    seed: u64,
}

impl<'a> Generator<'a> {
    /// A generator of `size`×`size` HSC Wide cutouts (size in [16, 2048]).
    pub fn new(model: &'a PopulationModel, size: usize, seed: u64) -> Result<Self> {
        if !(SIZE_RANGE.0..=SIZE_RANGE.1).contains(&size) {
            return Err(Error::usage(format!(
                "cutout size {size}: must be between {} and {} pixels (GalaxiesML: 64 or 127)",
                SIZE_RANGE.0, SIZE_RANGE.1
            )));
        }
        let obs = Observing::hsc_wide(size)?;
        let renderer = Renderer::new(&obs)?;
        Ok(Generator { model, obs, renderer, seed })
    }

    /// The cutout side in pixels.
    pub fn size(&self) -> usize {
        self.obs.size
    }

    /// Values per image row, `5 × S × S`.
    pub fn row_len(&self) -> usize {
        N_BANDS * self.obs.size * self.obs.size
    }

    /// A renderer for one worker (each holds its own scratch buffers).
    pub fn renderer(&self) -> Renderer {
        self.renderer.clone()
    }

    /// The ChaCha8 generator of galaxy `index`.
    pub fn rng(&self, index: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index);
        rng
    }

    /// Galaxy `index`: draws it, renders its cutout into `pixels` (`5 × S × S`, band-major) with
    /// `renderer`, and returns its catalogue row (module docs, "One galaxy").
    ///
    /// Catalogue extras: `object_id = (seed mod 10⁸) × 10¹⁰ + index`; `ra`, `dec` uniform on the
    /// sphere in a 2° × 2° field around COSMOS; `specz_ra`/`specz_dec` 0.1″-scattered copies;
    /// `skymap_id` from a 9 × 9 patch grid; `coord` the cutout's half-width in degrees (the
    /// real column, cone-search related, is undocumented); `specz_redshift` = true z with error
    /// `(1 + z) 10^U(−4.5, −3)`; `specz_mag_i` the noise-free i magnitude; `x_coord`, `y_coord`
    /// the galaxy's centre in pixel coordinates of the cutout (the 2-valued keys repeat them).
    pub fn galaxy(&self, renderer: &mut Renderer, index: u64, pixels: &mut [f32]) -> Result<CatalogueRow> {
        let model = self.model;
        let mut rng = self.rng(index);
        let truth = draw_galaxy(&mut rng, model)?;

        let r_off = MAX_CENTRE_OFFSET_PIX * rng.random::<f64>().sqrt();
        let (sin, cos) = (std::f64::consts::TAU * rng.random::<f64>()).sin_cos();
        let (dx, dy) = (r_off * cos, r_off * sin);
        let bulge = Component {
            flux: truth.bulge_flux,
            r_half_arcsec: truth.r_bulge_arcsec,
            sersic_n: truth.n_bulge,
            axis_ratio: truth.bulge_axis_ratio,
            position_angle_deg: truth.position_angle_deg,
            dx_pix: dx,
            dy_pix: dy,
        };
        let disk = Component {
            flux: truth.disk_flux,
            r_half_arcsec: truth.r_disk_arcsec,
            sersic_n: truth.n_disk,
            axis_ratio: truth.axis_ratio,
            ..bulge
        };

        let mut flux_failure = None;
        let neighbours = draw_neighbours(&mut rng, HSC_WIDE_NEIGHBOUR_DENSITY_PER_ARCMIN2, &self.obs, |rng| {
            match neighbour_flux(rng, model) {
                Ok(f) => f,
                Err(e) => {
                    flux_failure.get_or_insert(e);
                    [0.0; N_BANDS]
                }
            }
        })?;
        if let Some(e) = flux_failure {
            return Err(e);
        }
        let mut components = Vec::with_capacity(2 + neighbours.len());
        components.extend([bulge, disk]);
        components.extend_from_slice(&neighbours);
        renderer.render(&components, &mut rng, pixels)?;

        // Sky position (uniform on the sphere within the field) and the spec-z catalogue's.
        let ra = FIELD_RA.0 + (FIELD_RA.1 - FIELD_RA.0) * rng.random::<f64>();
        let (s0, s1) = (FIELD_DEC.0.to_radians().sin(), FIELD_DEC.1.to_radians().sin());
        let dec = (s0 + (s1 - s0) * rng.random::<f64>()).asin().to_degrees();
        let offset_deg = SPECZ_OFFSET_ARCSEC / 3600.0;
        let specz_ra = ra + offset_deg * std_normal(&mut rng) / dec.to_radians().cos();
        let specz_dec = dec + offset_deg * std_normal(&mut rng);
        let (lo, hi) = Z_ERR_LOG_RANGE;
        let z_err = (1.0 + truth.z) * 10f64.powf(lo + (hi - lo) * rng.random::<f64>());
        let patch = |v: f64, (a, b): (f64, f64)| ((v - a) / (b - a) * PATCHES).floor().clamp(0.0, PATCHES - 1.0) as i64;
        let skymap_id = TRACT * 10_000 + patch(ra, FIELD_RA) * 100 + patch(dec, FIELD_DEC);

        let scale = self.obs.pixel_scale;
        let parts = [
            ProfilePart {
                flux: truth.bulge_flux,
                r_circ_pix: truth.r_bulge_arcsec * truth.bulge_axis_ratio.sqrt() / scale,
                n: truth.n_bulge,
                axis_ratio: truth.bulge_axis_ratio,
            },
            ProfilePart {
                flux: truth.disk_flux,
                r_circ_pix: truth.r_disk_arcsec * truth.axis_ratio.sqrt() / scale,
                n: truth.n_disk,
                axis_ratio: truth.axis_ratio,
            },
        ];
        let mut morphology = catalog::morphology(&parts, truth.position_angle_deg, &self.obs.sky_sigma, scale)?;
        // Counts include the central galaxy (see the catalog module docs).
        let pop = POP_RADII_PIX.map(|r| f64::from(count_neighbours_within(&neighbours, r)) + 1.0);
        let centre = (self.obs.size / 2) as f64;
        let (low, high) = (-0.5 - centre, self.obs.size as f64 - 0.5 - centre);
        let inside =
            neighbours.iter().filter(|c| (low..high).contains(&c.dx_pix) && (low..high).contains(&c.dy_pix)).count();
        for m in &mut morphology {
            m.pop = pop;
            m.total_galaxies = inside as f64 + 1.0;
        }

        let seed_part = i64::try_from(self.seed % ID_SEED_MODULUS).unwrap_or(0);
        let index_part =
            i64::try_from(index).map_err(|_| Error::usage(format!("galaxy index {index} is beyond {MAX_GALAXIES}")))?;
        Ok(CatalogueRow {
            object_id: seed_part * ID_SEED_STRIDE + index_part,
            ra,
            dec,
            coord: 0.5 * self.obs.size as f64 * scale / 3600.0,
            skymap_id,
            specz_redshift: truth.z,
            specz_redshift_err: z_err,
            specz_mag_i: truth.mags_true[I_BAND],
            specz_ra,
            specz_dec,
            cmodel_mag: truth.mags_obs,
            cmodel_magsigma: truth.mag_err,
            morphology,
            x_coord: centre + dx,
            y_coord: centre + dy,
        })
    }

    /// Galaxies `indices`, in parallel: their rows, in order, with their images in `pixels`
    /// (`indices.len()` rows of [`Self::row_len`] values).
    pub fn block(&self, indices: &[u64], pixels: &mut [f32]) -> Result<Vec<CatalogueRow>> {
        let row_len = self.row_len();
        if pixels.len() != indices.len() * row_len {
            return Err(Error::other(format!(
                "synth: image buffer of {} values for {} galaxies of {row_len}",
                pixels.len(),
                indices.len()
            )));
        }
        pixels
            .par_chunks_mut(row_len)
            .zip(indices.par_iter())
            .map_init(|| self.renderer(), |r, (px, &i)| self.galaxy(r, i, px))
            .collect()
    }
}

/// Which of the three files to write (all three by default). Galaxy `i` of a seed is the same
/// whatever is selected, so a testing file written alone equals the one written with the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Splits([bool; 3]);

impl Splits {
    /// Training, validation and testing.
    pub const ALL: Splits = Splits([true; 3]);
    /// The testing file alone (what a trained model is scored on).
    pub const TESTING: Splits = Splits([false, false, true]);

    /// `--splits`: a comma-separated list of [`SPLITS`] names, e.g. `testing`.
    pub fn parse(list: &str) -> Result<Splits> {
        let mut chosen = [false; 3];
        for name in list.split(',').map(str::trim) {
            let i = SPLITS.iter().position(|s| *s == name).ok_or_else(|| {
                Error::usage(format!("--splits {list}: '{name}' is not a split; name some of {}", SPLITS.join(",")))
            })?;
            chosen[i] = true;
        }
        Ok(Splits(chosen))
    }

    /// Whether the split at `index` of [`SPLITS`] is written.
    pub fn contains(&self, index: usize) -> bool {
        self.0[index]
    }

    /// The galaxies written out of `counts` (per split).
    pub fn galaxies(&self, counts: [usize; 3]) -> usize {
        (0..3).filter(|&i| self.contains(i)).map(|i| counts[i]).sum()
    }
}

impl Default for Splits {
    fn default() -> Self {
        Splits::ALL
    }
}

/// What `pzbench synth` makes: `n` galaxies of `size`×`size` pixels from `seed`, with redshifts
/// from `nz`, written to `output` (created if missing).
#[derive(Clone, Debug, PartialEq)]
pub struct SynthRequest {
    pub n: usize,
    pub size: usize,
    pub seed: u64,
    pub nz: NzSource,
    /// Redshift step of the photometry grid ([`crate::photometry::DEFAULT_DZ`]; tests use a
    /// coarser one to start faster).
    pub grid_dz: f64,
    pub output: PathBuf,
    /// The files written (the split of `n` is drawn as if all three were).
    pub splits: Splits,
}

/// What [`synthesize`] is doing, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthProgress {
    /// Building the HSC photometry grid and the population model (a second or two).
    BuildingModel,
    /// The model is ready; galaxies follow.
    ModelReady,
    /// This many more galaxies are written.
    Galaxies(usize),
}

/// Make a synthetic GalaxiesML data set: check the request (cheap checks first, so bad input
/// fails before the photometry grid is built), build the population model, then [`generate`]
/// the six files, reporting what happens to `progress`.
pub fn synthesize(request: &SynthRequest, progress: &mut dyn FnMut(SynthProgress)) -> Result<Written> {
    if !GALAXIESML_SIZES.contains(&request.size) {
        return Err(Error::usage(format!(
            "--size {}: GalaxiesML cutouts are 64 or 127 pixels; use --size 64 or --size 127",
            request.size
        )));
    }
    split_counts(request.n)?;
    let nz = request.nz.table()?;
    if !(request.grid_dz > 0.0 && request.grid_dz <= 0.1) {
        return Err(Error::usage(format!("--grid-dz {}: must be in (0, 0.1]", request.grid_dz)));
    }
    prepare_output_dir(&request.output)?;
    progress(SynthProgress::BuildingModel);
    let grid = PhotometryGrid::hsc_with_step(true, request.grid_dz)?;
    let model = PopulationModel::new(grid, nz).map_err(|e| request.nz.explain(e))?;
    progress(SynthProgress::ModelReady);
    let mut report = |k| progress(SynthProgress::Galaxies(k));
    generate_splits(
        &model,
        request.n,
        request.size,
        request.seed,
        &request.output,
        DEFAULT_BLOCK,
        request.splits,
        &mut report,
    )
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// Galaxies in the training, validation and testing files (0 for a file not written).
    pub counts: [usize; 3],
    /// The HDF5 files, then the CSV files, in split order.
    pub files: Vec<PathBuf>,
}

/// A file being written to a temporary name beside its target; removed on drop unless
/// committed (renamed into place).
struct PendingFile {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl PendingFile {
    fn commit(mut self) -> Result<()> {
        persist_temp(&self.tmp, &self.path)
            .map_err(|e| Error::file(&self.path, format!("cannot write output: {e}")).caused_by(e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// One split, written but not yet moved into place.
struct PendingSplit {
    hdf5: GalaxiesMlWriter,
    hdf5_path: PathBuf,
    csv: PendingFile,
}

/// Write the CSV of `rows` to a temporary file beside `path`.
fn write_csv_pending(rows: &[CatalogueRow], path: &Path) -> Result<PendingFile> {
    let pending = PendingFile { tmp: temp_path_for(path), path: path.to_path_buf(), committed: false };
    let file =
        std::fs::File::create(&pending.tmp).map_err(|e| Error::file(path, format!("cannot create output: {e}")))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    catalog::write_csv(rows, &mut out, path)?;
    out.flush().map_err(|e| Error::file(path, format!("cannot write output: {e}")))?;
    Ok(pending)
}

/// The value of the `synthetic` root attribute of every HDF5 file [`generate`] writes
/// ([`GalaxiesMlWriter::mark_synthetic`]): what made the file (no version, so the bytes stay
/// the same across pzbench versions).
pub fn synthetic_description(n: usize, size: usize, seed: u64) -> String {
    format!("generated by pzbench synth: {n} galaxies of {size}x{size} pixels, seed {seed}; not the GalaxiesML release")
}

/// Generate `n` galaxies of `size`×`size` pixels with `seed` and write the three HDF5 files and
/// three CSVs into `out_dir` (created if missing), `block` galaxies at a time. `progress` is
/// called on the calling thread with the number of galaxies of each block made.
///
/// Atomic as a whole: every file is first written to a temporary name, and only when all six
/// are complete are they moved into place; if anything fails, no output file is left (files of
/// the same names from an earlier run are replaced only on success, except if the final moves
/// themselves fail midway, when the ones already moved are removed).
pub fn generate(
    model: &PopulationModel,
    n: usize,
    size: usize,
    seed: u64,
    out_dir: &Path,
    block: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Written> {
    generate_splits(model, n, size, seed, out_dir, block, Splits::ALL, progress)
}

/// [`generate`] writing only the files of `splits` (their galaxies are those of the full set).
#[allow(clippy::too_many_arguments)]
pub fn generate_splits(
    model: &PopulationModel,
    n: usize,
    size: usize,
    seed: u64,
    out_dir: &Path,
    block: usize,
    splits: Splits,
    progress: &mut dyn FnMut(usize),
) -> Result<Written> {
    if block == 0 {
        return Err(Error::usage("synth: the block size must be at least 1 galaxy"));
    }
    let assignment = split_assignment(n, seed)?;
    let generator = Generator::new(model, size, seed)?;
    prepare_output_dir(out_dir)?;
    let row_len = generator.row_len();
    let mut pixels = vec![0f32; block.min(n) * row_len];

    let mut pending = Vec::with_capacity(SPLITS.len());
    for (i, (split, indices)) in SPLITS.iter().zip(&assignment).enumerate() {
        if !splits.contains(i) {
            continue;
        }
        let hdf5_path = out_dir.join(file_name(size, split, "hdf5"));
        let mut writer = GalaxiesMlWriter::create(&hdf5_path, indices.len(), size)?;
        writer.mark_synthetic(&synthetic_description(n, size, seed))?;
        let mut rows = Vec::with_capacity(indices.len());
        for (k, chunk) in indices.chunks(block).enumerate() {
            let buffer = &mut pixels[..chunk.len() * row_len];
            rows.extend(generator.block(chunk, buffer)?);
            writer.write_images(k * block, buffer)?;
            progress(chunk.len());
        }
        for column in catalog::columns(&rows)? {
            writer.write_column(&column)?;
        }
        let csv = write_csv_pending(&rows, &out_dir.join(file_name(size, split, "csv")))?;
        pending.push(PendingSplit { hdf5: writer, hdf5_path, csv });
    }

    let mut hdf5_files = Vec::new();
    let mut csv_files = Vec::new();
    let mut result = Ok(());
    for split in pending {
        let csv_path = split.csv.path.clone();
        result = split.hdf5.finish().map(|()| hdf5_files.push(split.hdf5_path));
        if result.is_ok() {
            result = split.csv.commit().map(|()| csv_files.push(csv_path));
        }
        if result.is_err() {
            break;
        }
    }
    hdf5_files.extend(csv_files);
    if let Err(e) = result {
        for f in &hdf5_files {
            let _ = std::fs::remove_file(f);
        }
        return Err(e);
    }
    let counts = std::array::from_fn(|i| if splits.contains(i) { assignment[i].len() } else { 0 });
    Ok(Written { counts, files: hdf5_files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// A model on a coarse Δz = 0.02 grid (fast to build in debug builds).
    fn model() -> &'static PopulationModel {
        static MODEL: OnceLock<PopulationModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            let grid = PhotometryGrid::hsc_with_step(true, 0.02).unwrap();
            PopulationModel::new(grid, NzSource::HscSpecz.table().unwrap()).unwrap()
        })
    }

    #[test]
    fn default_nz_is_the_real_hsc_specz_distribution() {
        let nz = NzSource::HscSpecz.table().unwrap();
        let (lo, hi) = nz.range();
        assert_eq!((lo, hi), (0.01, 4.0));
        assert_eq!(nz.pdf(0.01), 0.0);
        assert_eq!(nz.pdf(4.0), 0.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let z: Vec<f64> = (0..40_000).map(|_| nz.sample(&mut rng)).collect();
        assert!(z.iter().all(|&v| v > 0.01 && v < 4.0));
        // The real sample: 78.4 % below 0.75, median 0.489.
        let below = z.iter().filter(|&&v| v < 0.75).count() as f64 / z.len() as f64;
        assert!((below - 0.784).abs() < 0.01, "{below}");
        let mut sorted = z.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!((median - 0.489).abs() < 0.03, "{median}");
        // Unlike the Smail law of the paper's abstract, which peaks at 1.5.
        assert!((NzSource::Smail.table().unwrap().mode() - 1.5).abs() < 0.01);
    }

    #[test]
    fn nz_sources_parse() {
        assert_eq!(NzSource::parse("hsc"), NzSource::HscSpecz);
        assert_eq!(NzSource::parse("smail"), NzSource::Smail);
        assert_eq!(NzSource::parse("my.csv"), NzSource::File(PathBuf::from("my.csv")));
        let e = NzSource::parse("/no/such/nz.csv").table().unwrap_err().to_string();
        assert!(e.contains("/no/such/nz.csv") && e.contains("cannot read"), "{e}");
        assert_eq!(file_name(127, "testing", "hdf5"), "5x127x127_testing_with_morphology.hdf5");
    }

    #[test]
    fn neighbours_follow_the_faint_counts() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mags: Vec<f64> = (0..20_000)
            .map(|_| {
                let f = neighbour_flux(&mut rng, model()).unwrap();
                assert!(f.iter().all(|v| v.is_finite() && *v >= 0.0));
                crate::hsc::ZEROPOINT - 2.5 * f[I_BAND].log10()
            })
            .collect();
        assert!(mags.iter().all(|m| (18.0 - 1e-9..=26.0 + 1e-9).contains(m)));
        // dN/dm ∝ 10^(0.3 m): half of them in the last magnitude, 26 > i > 25.
        let faint = mags.iter().filter(|&&m| m > 25.0).count() as f64 / mags.len() as f64;
        let expected = (1.0 - 10f64.powf(-0.3)) / (1.0 - 10f64.powf(-2.4));
        assert!((faint - expected).abs() < 0.015, "{faint} vs {expected}");
    }

    #[test]
    fn one_galaxy_row_is_consistent_and_deterministic() {
        let generator = Generator::new(model(), 64, 123).unwrap();
        let mut renderer = generator.renderer();
        let mut a = vec![0f32; generator.row_len()];
        let mut b = vec![0f32; generator.row_len()];
        for index in [0u64, 1, 977] {
            let row = generator.galaxy(&mut renderer, index, &mut a).unwrap();
            let again = generator.galaxy(&mut generator.renderer(), index, &mut b).unwrap();
            assert_eq!(row, again);
            assert!(a == b);
            assert_eq!(row.object_id, 123 * 10_000_000_000 + index as i64);
            let z = row.specz_redshift;
            assert!(row.specz_redshift_err > 0.0 && row.specz_redshift_err < 0.005 * (1.0 + z));
            assert!((row.x_coord - 32.0).hypot(row.y_coord - 32.0) <= MAX_CENTRE_OFFSET_PIX);
            assert!((FIELD_RA.0..FIELD_RA.1).contains(&row.ra));
            assert!((FIELD_DEC.0..FIELD_DEC.1).contains(&row.dec));
            assert_eq!(row.skymap_id / 10_000, TRACT);
            for m in &row.morphology {
                assert!(m.pop[0] >= 1.0 && m.pop[0] <= m.pop[1] && m.pop[1] <= m.pop[2]);
                assert!(m.pop[2] <= m.total_galaxies);
                assert!(m.half_light_radius > 0.0 && m.major_axis >= m.minor_axis);
                assert!((1.0..=4.0).contains(&m.sersic_index));
                assert!((-90.0..=90.0).contains(&m.pos_angle));
            }
            // The image holds the galaxy: the central 5 px carry more i-band light than sky noise.
            let s = 64;
            let centre: f32 =
                (30..35).flat_map(|y| (30..35).map(move |x| (y, x))).map(|(y, x)| a[2 * s * s + y * s + x]).sum();
            assert!(centre > 0.0, "index {index}: {centre}");
        }
        let mut c = vec![0f32; generator.row_len()];
        generator.galaxy(&mut renderer, 2, &mut c).unwrap();
        assert!(a != c);
        assert!(Generator::new(model(), 8, 1).is_err());
        assert!(generator.block(&[1, 2], &mut c).is_err(), "buffer of one row for two galaxies");
    }
}
