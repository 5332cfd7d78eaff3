//! The tabular side of a synthetic GalaxiesML file: one [`CatalogueRow`] per galaxy, its
//! morphology estimates, and the columns of [`TABULAR_KEYS`] built from the rows (for the HDF5
//! files and the CSV beside them).
//!
//! **The morphology columns are TRUE values of the generator's intrinsic (pre-PSF) bulge + disc
//! profile, not Source Extractor measurements** on the images. Per band `b`, with bulge and disc
//! fluxes `B_b`, `D_b` (the bulge is redder, so the mix changes from band to band), both
//! components circularised (`R = r_e sqrt(q)`, in pixels):
//! - `{b}_sersic_index`: light-weighted `(4 B_b + 1 D_b) / (B_b + D_b)`;
//! - `{b}_half_light_radius`: radius of the circle holding half of the composite profile's light
//!   (exact, from the Sérsic enclosed-light function), pixels;
//! - `{b}_major_axis`, `{b}_minor_axis`: half-light semi-axes `r_½ / sqrt(q̄)` and `r_½ sqrt(q̄)`,
//!   with `q̄` the light-weighted axis ratio, pixels; `{b}_ellipticity` = `1 − q̄`;
//! - `{b}_pos_angle`: the true position angle, degrees counter-clockwise from +x, folded into
//!   (−90, 90] as Source Extractor's `THETA_IMAGE`;
//! - `{b}_isophotal_area`: `π r_iso²`, where the composite surface brightness falls to
//!   1.5 × the band's per-pixel sky σ (a typical Source Extractor `DETECT_THRESH`), pixels²
//!   (0 if even the centre is fainter);
//! - `{b}_petro_rad`: Petrosian radius, η = I(r) / ⟨I⟩(<r) = 0.2 (the SDSS definition), pixels;
//! - `{b}_peak_surface_brightness`: mean surface brightness inside the central pixel-sized circle
//!   (radius 0.5 px), mag arcsec⁻²;
//! - `{b}_central_image_pop_{5,10,15}px_rad`: the galaxies whose true centre lies within 5, 10,
//!   15 px of the stamp centre, **counting the central galaxy itself** (the real column counts
//!   the Source Extractor detections of the cutout, and the target, at the centre, is one);
//! - `{b}_total_galaxies`: the galaxies centred inside the stamp, the central one included.
//!
//! The counts are the same in every band (they are true positions, not detections).

use std::io::Write;
use std::path::Path;

use statrs::function::gamma::{checked_gamma_lr, gamma};

use super::image::sersic_b;
use pzbench_io::galaxiesml::{Column, ColumnData, Dtype, KeySpec, BANDS, SYNTHETIC_MARKER, TABULAR_KEYS};
use pzbench_io::{Error, Result};

use crate::hsc::{N_BANDS, ZEROPOINT};

/// Isophote of `{b}_isophotal_area`, in units of the per-pixel sky σ.
pub const ISOPHOTE_SKY_SIGMAS: f64 = 1.5;

/// Petrosian ratio η of `{b}_petro_rad` (SDSS: Blanton et al. 2001).
pub const PETROSIAN_ETA: f64 = 0.2;

/// Radii (pixels) of the `{b}_central_image_pop_{5,10,15}px_rad` columns.
pub const POP_RADII_PIX: [f64; 3] = [5.0, 10.0, 15.0];

/// Bisection steps of the radius solvers (the bracket shrinks by 2⁻⁶⁰).
const BISECTION_STEPS: usize = 60;

/// One Sérsic component as the morphology estimates see it: flux per band, circularised
/// half-light radius in pixels, index and axis ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfilePart {
    pub flux: [f64; N_BANDS],
    pub r_circ_pix: f64,
    pub n: f64,
    pub axis_ratio: f64,
}

/// The morphology columns of one band (see the module docs for their definitions).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BandMorphology {
    pub sersic_index: f64,
    pub half_light_radius: f64,
    pub major_axis: f64,
    pub minor_axis: f64,
    pub ellipticity: f64,
    pub pos_angle: f64,
    pub isophotal_area: f64,
    pub petro_rad: f64,
    pub peak_surface_brightness: f64,
    pub pop: [f64; 3],
    pub total_galaxies: f64,
}

/// Every tabular value of one synthetic galaxy.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogueRow {
    pub object_id: i64,
    pub ra: f64,
    pub dec: f64,
    pub coord: f64,
    pub skymap_id: i64,
    pub specz_redshift: f64,
    pub specz_redshift_err: f64,
    pub specz_mag_i: f64,
    pub specz_ra: f64,
    pub specz_dec: f64,
    pub cmodel_mag: [f64; N_BANDS],
    pub cmodel_magsigma: [f64; N_BANDS],
    pub morphology: [BandMorphology; N_BANDS],
    pub x_coord: f64,
    pub y_coord: f64,
}

impl CatalogueRow {
    /// `specz_name`: the survey name of the redshift, here `pzbench-synth-<object_id>`.
    pub fn specz_name(&self) -> String {
        format!("pzbench-synth-{}", self.object_id)
    }
}

/// The fraction of a Sérsic profile's light inside `r / r_e = s`: the regularised lower
/// incomplete gamma function `P(2n, b_n s^(1/n))` (Graham & Driver 2005, eq. 2). For integer
/// `2n` (n = 1 discs, n = 4 bulges) by the finite Poisson sum
/// `1 − e^(−x) Σ_{k<2n} x^k / k!`; otherwise through statrs.
pub fn sersic_enclosed_fraction(n: f64, s: f64) -> Result<f64> {
    if s <= 0.0 {
        return Ok(0.0);
    }
    let x = sersic_b(n) * s.powf(1.0 / n);
    let two_n = 2.0 * n;
    if two_n.fract() == 0.0 && two_n <= 20.0 {
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..two_n as usize {
            term *= x / k as f64;
            sum += term;
        }
        return Ok((1.0 - (-x).exp() * sum).clamp(0.0, 1.0));
    }
    checked_gamma_lr(two_n, x).map_err(|e| Error::other(format!("Sérsic enclosed light for n = {n}: {e}")))
}

/// A circularised bulge + disc profile in one band.
struct Composite {
    parts: Vec<(f64, ProfilePart)>,
    total: f64,
}

impl Composite {
    fn new(parts: &[ProfilePart], band: usize) -> Self {
        let parts: Vec<(f64, ProfilePart)> = parts.iter().map(|p| (p.flux[band].max(0.0), *p)).collect();
        let total = parts.iter().map(|(f, _)| f).sum();
        Composite { parts, total }
    }

    /// Light inside radius `r` (pixels).
    fn enclosed(&self, r: f64) -> Result<f64> {
        let mut sum = 0.0;
        for (f, p) in &self.parts {
            if *f > 0.0 {
                sum += f * sersic_enclosed_fraction(p.n, r / p.r_circ_pix)?;
            }
        }
        Ok(sum)
    }

    /// Surface brightness at radius `r`, counts per pixel²:
    /// `F b^(2n) / (2π n R² Γ(2n)) · exp(−b (r/R)^(1/n))` per component.
    fn intensity(&self, r: f64) -> f64 {
        self.parts
            .iter()
            .filter(|(f, _)| *f > 0.0)
            .map(|(f, p)| {
                let b = sersic_b(p.n);
                let norm = f * b.powf(2.0 * p.n)
                    / (2.0 * std::f64::consts::PI * p.n * p.r_circ_pix * p.r_circ_pix * gamma(2.0 * p.n));
                norm * (-b * (r / p.r_circ_pix).powf(1.0 / p.n)).exp()
            })
            .sum()
    }

    /// An outer radius that holds all the light that matters.
    fn outer(&self) -> f64 {
        self.parts.iter().map(|(_, p)| p.r_circ_pix).fold(0.0, f64::max) * 200.0
    }
}

/// The root of a decreasing `f(r) − target` on `[0, hi]` by bisection (`hi` if `f(hi)` is still
/// above the target).
fn bisect(hi: f64, mut above: impl FnMut(f64) -> Result<bool>) -> Result<f64> {
    let (mut lo, mut hi) = (0.0, hi);
    if above(hi)? {
        return Ok(hi);
    }
    for _ in 0..BISECTION_STEPS {
        let mid = 0.5 * (lo + hi);
        if above(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// The morphology of `parts` (bulge and disc) in every band, for a position angle `pa_deg`,
/// per-pixel sky noise `sky_sigma` and pixel scale `pixel_scale` (arcsec). The counts
/// (`pop`, `total_galaxies`) are left at 0 for the caller.
pub fn morphology(
    parts: &[ProfilePart],
    pa_deg: f64,
    sky_sigma: &[f64; N_BANDS],
    pixel_scale: f64,
) -> Result<[BandMorphology; N_BANDS]> {
    let mut out = [BandMorphology::default(); N_BANDS];
    let pos_angle = fold_angle(pa_deg);
    for (band, m) in out.iter_mut().enumerate() {
        // A band without light (never, for an i < 25 galaxy in practice) takes the i-band mix.
        let own = Composite::new(parts, band);
        let c = if own.total > 0.0 && own.total.is_finite() { own } else { Composite::new(parts, 2) };
        if !(c.total > 0.0 && c.total.is_finite()) {
            return Err(Error::other(format!(
                "synthetic galaxy has no light in band {} nor in i (flux {})",
                BANDS[band], c.total
            )));
        }
        let weight = |value: fn(&ProfilePart) -> f64| c.parts.iter().map(|(f, p)| f * value(p)).sum::<f64>() / c.total;
        let q = weight(|p| p.axis_ratio);
        let half = bisect(c.outer(), |r| Ok(c.enclosed(r)? < 0.5 * c.total))?;
        let iso_level = ISOPHOTE_SKY_SIGMAS * sky_sigma[band];
        let r_iso = if iso_level > 0.0 { bisect(c.outer(), |r| Ok(c.intensity(r) > iso_level))? } else { c.outer() };
        let petro = bisect(c.outer(), |r| {
            let mean = c.enclosed(r)? / (std::f64::consts::PI * r * r);
            Ok(r == 0.0 || c.intensity(r) > PETROSIAN_ETA * mean)
        })?;
        let central = c.enclosed(0.5)? / (std::f64::consts::PI * 0.25);
        *m = BandMorphology {
            sersic_index: weight(|p| p.n),
            half_light_radius: half,
            major_axis: half / q.sqrt(),
            minor_axis: half * q.sqrt(),
            ellipticity: 1.0 - q,
            pos_angle,
            isophotal_area: std::f64::consts::PI * r_iso * r_iso,
            petro_rad: petro,
            peak_surface_brightness: ZEROPOINT
                - 2.5 * (central.max(f64::MIN_POSITIVE) / (pixel_scale * pixel_scale)).log10(),
            pop: [0.0; 3],
            total_galaxies: 0.0,
        };
    }
    Ok(out)
}

/// An angle in degrees folded into (−90, 90].
fn fold_angle(deg: f64) -> f64 {
    let a = deg.rem_euclid(180.0);
    if a > 90.0 {
        a - 180.0
    } else {
        a
    }
}

/// Which value of a [`CatalogueRow`] a key holds.
#[derive(Clone, Copy, Debug)]
enum Field {
    ObjectId,
    Ra,
    Dec,
    Coord,
    SkymapId,
    Redshift,
    RedshiftErr,
    FlagHomogeneous,
    MagI,
    Name,
    SpeczRa,
    SpeczDec,
    CmodelMag(usize),
    CmodelMagSigma(usize),
    Pop(usize, usize),
    Ellipticity(usize),
    HalfLightRadius(usize),
    IsophotalArea(usize),
    MajorAxis(usize),
    MinorAxis(usize),
    PeakSurfaceBrightness(usize),
    PetroRad(usize),
    PosAngle(usize),
    SersicIndex(usize),
    TotalGalaxies(usize),
    XCoord,
    YCoord,
}

/// One value of a row, in the key's dtype.
enum Cell {
    F64(f64),
    I64(i64),
    Bool(bool),
    Str(String),
}

impl Field {
    /// The field a GalaxiesML key holds; `None` for a key the generator does not know.
    fn of(key: &str) -> Option<Field> {
        let field = match key {
            "object_id" => Field::ObjectId,
            "ra" => Field::Ra,
            "dec" => Field::Dec,
            "coord" => Field::Coord,
            "skymap_id" => Field::SkymapId,
            "specz_redshift" => Field::Redshift,
            "specz_redshift_err" => Field::RedshiftErr,
            "specz_flag_homogeneous" => Field::FlagHomogeneous,
            "specz_mag_i" => Field::MagI,
            "specz_name" => Field::Name,
            "specz_ra" => Field::SpeczRa,
            "specz_dec" => Field::SpeczDec,
            // The 2-valued keys of the real files are (N,) in TABULAR_KEYS: x and y of the
            // centre (their exact meaning is undocumented).
            "x_coord" | "x_coord_x" | "y_coord_x" => Field::XCoord,
            "y_coord" | "x_coord_y" | "y_coord_y" => Field::YCoord,
            _ => {
                let (band, rest) = key.split_once('_')?;
                let b = BANDS.iter().position(|&name| name == band)?;
                match rest {
                    "cmodel_mag" => Field::CmodelMag(b),
                    "cmodel_magsigma" => Field::CmodelMagSigma(b),
                    "central_image_pop_5px_rad" => Field::Pop(b, 0),
                    "central_image_pop_10px_rad" => Field::Pop(b, 1),
                    "central_image_pop_15px_rad" => Field::Pop(b, 2),
                    "ellipticity" => Field::Ellipticity(b),
                    "half_light_radius" => Field::HalfLightRadius(b),
                    "isophotal_area" => Field::IsophotalArea(b),
                    "major_axis" => Field::MajorAxis(b),
                    "minor_axis" => Field::MinorAxis(b),
                    "peak_surface_brightness" => Field::PeakSurfaceBrightness(b),
                    "petro_rad" => Field::PetroRad(b),
                    "pos_angle" => Field::PosAngle(b),
                    "sersic_index" => Field::SersicIndex(b),
                    "total_galaxies" => Field::TotalGalaxies(b),
                    _ => return None,
                }
            }
        };
        Some(field)
    }

    fn get(self, row: &CatalogueRow) -> Cell {
        let m = |b: usize| &row.morphology[b];
        match self {
            Field::ObjectId => Cell::I64(row.object_id),
            Field::Ra => Cell::F64(row.ra),
            Field::Dec => Cell::F64(row.dec),
            Field::Coord => Cell::F64(row.coord),
            Field::SkymapId => Cell::I64(row.skymap_id),
            Field::Redshift => Cell::F64(row.specz_redshift),
            Field::RedshiftErr => Cell::F64(row.specz_redshift_err),
            Field::FlagHomogeneous => Cell::Bool(true),
            Field::MagI => Cell::F64(row.specz_mag_i),
            Field::Name => Cell::Str(row.specz_name()),
            Field::SpeczRa => Cell::F64(row.specz_ra),
            Field::SpeczDec => Cell::F64(row.specz_dec),
            Field::CmodelMag(b) => Cell::F64(row.cmodel_mag[b]),
            Field::CmodelMagSigma(b) => Cell::F64(row.cmodel_magsigma[b]),
            Field::Pop(b, k) => Cell::F64(m(b).pop[k]),
            Field::Ellipticity(b) => Cell::F64(m(b).ellipticity),
            Field::HalfLightRadius(b) => Cell::F64(m(b).half_light_radius),
            Field::IsophotalArea(b) => Cell::F64(m(b).isophotal_area),
            Field::MajorAxis(b) => Cell::F64(m(b).major_axis),
            Field::MinorAxis(b) => Cell::F64(m(b).minor_axis),
            Field::PeakSurfaceBrightness(b) => Cell::F64(m(b).peak_surface_brightness),
            Field::PetroRad(b) => Cell::F64(m(b).petro_rad),
            Field::PosAngle(b) => Cell::F64(m(b).pos_angle),
            Field::SersicIndex(b) => Cell::F64(m(b).sersic_index),
            Field::TotalGalaxies(b) => Cell::F64(m(b).total_galaxies),
            Field::XCoord => Cell::F64(row.x_coord),
            Field::YCoord => Cell::F64(row.y_coord),
        }
    }
}

/// The fields of every key of [`TABULAR_KEYS`], in order.
fn fields() -> Result<Vec<(&'static KeySpec, Field)>> {
    TABULAR_KEYS
        .iter()
        .map(|spec| {
            Field::of(spec.name).map(|f| (spec, f)).ok_or_else(|| {
                Error::other(format!("the synthetic generator has no value for GalaxiesML key `{}`", spec.name))
            })
        })
        .collect()
}

/// Every column of [`TABULAR_KEYS`], in its listed dtype, for `rows`.
pub fn columns(rows: &[CatalogueRow]) -> Result<Vec<Column>> {
    fields()?
        .into_iter()
        .map(|(spec, field)| {
            let cells = rows.iter().map(|r| field.get(r));
            let data = match spec.dtype {
                Dtype::F64 => ColumnData::F64(cells.map(|c| cell_f64(&c)).collect()),
                Dtype::F32 => ColumnData::F32(cells.map(|c| cell_f64(&c) as f32).collect()),
                Dtype::I64 => ColumnData::I64(cells.map(|c| cell_i64(&c)).collect()),
                Dtype::I32 => ColumnData::I32(cells.map(|c| i32::try_from(cell_i64(&c)).unwrap_or(i32::MAX)).collect()),
                Dtype::Bool => ColumnData::Bool(cells.map(|c| matches!(c, Cell::Bool(true))).collect()),
                Dtype::Str => ColumnData::Str(cells.map(cell_text).collect()),
            };
            Ok(Column { name: spec.name.to_owned(), data })
        })
        .collect()
}

fn cell_f64(c: &Cell) -> f64 {
    match c {
        Cell::F64(v) => *v,
        Cell::I64(v) => *v as f64,
        Cell::Bool(v) => f64::from(u8::from(*v)),
        Cell::Str(_) => f64::NAN,
    }
}

fn cell_i64(c: &Cell) -> i64 {
    match c {
        Cell::I64(v) => *v,
        Cell::F64(v) => *v as i64,
        Cell::Bool(v) => i64::from(*v),
        Cell::Str(_) => 0,
    }
}

/// A cell as CSV text: floats in Rust's shortest round-trip form, always with a decimal point or
/// exponent (`1.0`, `1e-7`) so that pandas reads float columns as floats; bools as pandas writes them
/// (`True`/`False`), strings quoted when they need it.
fn cell_text(c: Cell) -> String {
    match c {
        Cell::F64(v) => format!("{v:?}"),
        Cell::I64(v) => format!("{v}"),
        Cell::Bool(v) => if v { "True" } else { "False" }.to_owned(),
        Cell::Str(s) => s,
    }
}

fn csv_field(text: String) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Write `rows` as a CSV with a header of every tabular key (same order as [`TABULAR_KEYS`])
/// to `out`, then the column [`SYNTHETIC_MARKER`], `True` in every row, which marks the
/// catalogue as generated (the HDF5 files carry the same mark as a root attribute).
pub fn write_csv(rows: &[CatalogueRow], out: &mut impl Write, path: &Path) -> Result<()> {
    let fields = fields()?;
    let io = |e: std::io::Error| Error::file(path, format!("cannot write output: {e}"));
    let mut header: Vec<&str> = fields.iter().map(|(spec, _)| spec.name).collect();
    header.push(SYNTHETIC_MARKER);
    writeln!(out, "{}", header.join(",")).map_err(io)?;
    let marker = cell_text(Cell::Bool(true));
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (_, field) in &fields {
            line.push_str(&csv_field(cell_text(field.get(row))));
            line.push(',');
        }
        line.push_str(&marker);
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosed_fraction_is_one_half_at_re_and_matches_statrs() {
        for n in [0.5, 1.0, 2.0, 4.0, 1.5, 2.7] {
            let f = sersic_enclosed_fraction(n, 1.0).unwrap();
            assert!((f - 0.5).abs() < 2e-4, "n {n}: {f}");
        }
        for n in [1.0, 4.0] {
            for s in [0.01, 0.3, 1.7, 12.0] {
                let x = sersic_b(n) * f64::powf(s, 1.0 / n);
                let exact = checked_gamma_lr(2.0 * n, x).unwrap();
                assert!((sersic_enclosed_fraction(n, s).unwrap() - exact).abs() < 1e-12);
            }
        }
        assert_eq!(sersic_enclosed_fraction(1.0, 0.0).unwrap(), 0.0);
    }

    fn part(flux: f64, r: f64, n: f64, q: f64) -> ProfilePart {
        ProfilePart { flux: [flux; N_BANDS], r_circ_pix: r, n, axis_ratio: q }
    }

    #[test]
    fn single_component_morphology_is_its_truth() {
        let sky = [0.05; N_BANDS];
        let m = morphology(&[part(100.0, 4.0, 1.0, 0.5)], 135.0, &sky, 0.168).unwrap();
        for b in m {
            assert!((b.half_light_radius - 4.0).abs() < 1e-3, "{b:?}");
            assert!((b.sersic_index - 1.0).abs() < 1e-12);
            assert!((b.ellipticity - 0.5).abs() < 1e-12);
            assert!((b.major_axis / b.minor_axis - 2.0).abs() < 1e-9);
            assert_eq!(b.pos_angle, -45.0);
            // Petrosian radius of an exponential disc with η = 0.2: 2.16 r_e (Graham et al. 2005).
            assert!((b.petro_rad / 4.0 - 2.16).abs() < 0.03, "{}", b.petro_rad / 4.0);
            assert!(b.isophotal_area > std::f64::consts::PI * 16.0);
            assert!(b.peak_surface_brightness.is_finite());
        }
        // A fainter copy has a smaller isophotal area and a fainter peak.
        let faint = morphology(&[part(10.0, 4.0, 1.0, 0.5)], 0.0, &sky, 0.168).unwrap();
        assert!(faint[2].isophotal_area < m[2].isophotal_area);
        assert!((faint[2].peak_surface_brightness - m[2].peak_surface_brightness - 2.5).abs() < 1e-9);
    }

    #[test]
    fn bulge_and_disc_mix_by_band() {
        let mut bulge = part(0.0, 1.0, 4.0, 0.8);
        let mut disc = part(0.0, 5.0, 1.0, 0.4);
        // A red bulge: 10 % of the g light, 60 % of the y light.
        bulge.flux = [10.0, 20.0, 35.0, 50.0, 60.0];
        disc.flux = [90.0, 80.0, 65.0, 50.0, 40.0];
        let m = morphology(&[bulge, disc], 10.0, &[0.05; N_BANDS], 0.168).unwrap();
        assert!((m[0].sersic_index - 1.3).abs() < 1e-12);
        assert!((m[4].sersic_index - 2.8).abs() < 1e-12);
        // More bulge light: smaller, more concentrated.
        assert!(m[4].half_light_radius < m[0].half_light_radius);
        assert!(m[0].half_light_radius < 5.0 && m[4].half_light_radius > 1.0);
    }

    #[test]
    fn every_tabular_key_has_a_field() {
        assert!(fields().is_ok());
        assert!(Field::of("q_cmodel_mag").is_none());
        assert_eq!(fold_angle(90.0), 90.0);
        assert_eq!(fold_angle(179.0), -1.0);
        assert_eq!(csv_field("a,b".to_owned()), "\"a,b\"");
    }
}
