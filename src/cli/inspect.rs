//! `pzbench inspect FILE`: what a GalaxiesML HDF5 file holds, and how many rows break the
//! paper's selection cuts (section 3.2; `spec/GALAXIESML.md`, "Selection already applied").

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use pzbench_io::galaxiesml::{Dtype, GalaxiesMlFile, KeyInfo, BANDS, IMAGE_KEY, OBJECT_ID_KEY, REDSHIFT_KEY};
use pzbench_io::{Error, Result};

/// Width of an n(z) bin, and the redshift range the histogram covers.
const Z_BIN: f64 = 0.2;
const Z_MAX: f64 = 4.0;
/// Widest histogram bar, in terminal cells.
const BAR_CELLS: usize = 40;

#[derive(Debug, Args)]
#[command(
    about = "Show what a GalaxiesML HDF5 file holds and check the paper's selection cuts",
    long_about = "Show what a GalaxiesML HDF5 file holds: every key with its dtype and shape, the \
number of galaxies N, the image shape, the redshift range and an n(z) histogram (bins of 0.2 from \
0 to 4), and the cmodel magnitude range of each band.\n\n\
It then counts the rows that break each selection cut of the GalaxiesML paper (section 3.2), \
which the released files already satisfy: 0.01 < z < 4; 0 < z_err < 1; z_err < 0.005 (1 + z); \
0 < mag < 50 in every band; no NaN in any tabular column; no duplicate object_id. A check whose \
key is missing is reported as skipped.\n\n\
Images are never read (the 127x127 training file is 66 GB); only the tabular keys are.",
    after_help = "Examples:\n  pzbench inspect 5x64x64_testing_with_morphology.hdf5\n  \
pzbench inspect --format json 5x64x64_testing_with_morphology.hdf5 > summary.json"
)]
pub struct InspectArgs {
    /// A GalaxiesML HDF5 file (e.g. 5x64x64_testing_with_morphology.hdf5)
    pub file: PathBuf,

    /// Output format: a human-readable summary, or JSON for machines
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Benchmark: read every image in chunks of ROWS rows, print the throughput, and stop
    #[arg(long, hide = true, value_name = "ROWS")]
    pub time_images: Option<usize>,

    /// Benchmark: read every image once in shuffled batches of ROWS rows (sorted within a batch),
    /// as training reads them, print the throughput, and stop
    #[arg(long, hide = true, value_name = "ROWS", conflicts_with = "time_images")]
    pub time_batches: Option<usize>,
}

/// How `inspect` prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and a histogram for the terminal
    Text,
    /// One JSON object
    Json,
}

/// Reads every image once in batches of `rows` rows drawn from a seeded shuffle, each batch
/// sorted, through the training pipeline's reader (`models::Hdf5Images`: plain parallel reads of
/// a contiguous image cube, HDF5 otherwise).
fn time_shuffled_batches(file: GalaxiesMlFile, rows: usize) -> Result<pzbench_io::galaxiesml::ImageReadTiming> {
    use pzbench_models::{Hdf5Images, ImageSource};
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if rows == 0 {
        return Err(Error::usage("--time-batches needs at least 1 row per batch"));
    }
    let images = Hdf5Images::new(file)?;
    let mut order: Vec<usize> = (0..images.n()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    let started = std::time::Instant::now();
    let mut timing = pzbench_io::galaxiesml::ImageReadTiming { rows: 0, bytes: 0, seconds: 0.0 };
    let mut pixels = Vec::new();
    for batch in order.chunks(rows) {
        let mut batch = batch.to_vec();
        batch.sort_unstable();
        images.read_rows(&batch, &mut pixels)?;
        timing.rows += batch.len();
        timing.bytes += std::mem::size_of_val(pixels.as_slice()) as u64;
    }
    timing.seconds = started.elapsed().as_secs_f64();
    Ok(timing)
}

/// Run `pzbench inspect`.
pub fn run(args: InspectArgs) -> Result<ExitCode> {
    let file = GalaxiesMlFile::open(&args.file)?;
    let timing = match (args.time_images, args.time_batches) {
        (Some(rows), _) => Some(("chunks", rows, file.time_image_read(rows)?)),
        (None, Some(rows)) => {
            Some(("shuffled batches", rows, time_shuffled_batches(GalaxiesMlFile::open(&args.file)?, rows)?))
        }
        (None, None) => None,
    };
    let out = if let Some((how, rows, t)) = timing {
        match args.format {
            Format::Text => format!(
                "read {} rows ({:.1} MB) of `image` in {how} of {rows} in {:.3} s: {:.0} MB/s, {:.0} rows/s\n",
                t.rows,
                t.bytes as f64 / 1e6,
                t.seconds,
                t.mb_per_s(),
                t.rows as f64 / t.seconds
            ),
            Format::Json => to_json(&t)?,
        }
    } else {
        let summary = Summary::of(&file)?;
        match args.format {
            Format::Text => summary.to_text(),
            Format::Json => to_json(&summary)?,
        }
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Everything `inspect` reports (the JSON output is this, serialised).
#[derive(Debug, Serialize)]
struct Summary {
    pzbench_version: &'static str,
    file: String,
    n_rows: usize,
    image_shape: [usize; 4],
    keys: Vec<KeyInfo>,
    redshift: Range,
    histogram: Histogram,
    magnitudes: Vec<BandMagnitudes>,
    checks: Vec<Check>,
}

/// Minimum and maximum of the finite values, and how many values were not finite.
#[derive(Debug, Serialize)]
struct Range {
    min: Option<f64>,
    max: Option<f64>,
    non_finite: usize,
}

impl Range {
    fn of(values: &[f64]) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        Range {
            min: finite.clone().reduce(f64::min),
            max: finite.reduce(f64::max),
            non_finite: values.iter().filter(|v| !v.is_finite()).count(),
        }
    }
}

/// n(z) in bins of [`Z_BIN`] from 0 to [`Z_MAX`].
#[derive(Debug, Serialize)]
struct Histogram {
    bin_width: f64,
    /// `counts[i]` counts `i * bin_width <= z < (i + 1) * bin_width`.
    counts: Vec<usize>,
    /// Finite redshifts below 0 or at/above [`Z_MAX`].
    outside: usize,
}

impl Histogram {
    fn of(z: &[f64]) -> Self {
        let bins = (Z_MAX / Z_BIN).round() as usize;
        let mut counts = vec![0; bins];
        let mut outside = 0;
        for &v in z.iter().filter(|v| v.is_finite()) {
            let bin = (v / Z_BIN).floor();
            if (0.0..bins as f64).contains(&bin) {
                counts[bin as usize] += 1;
            } else {
                outside += 1;
            }
        }
        Histogram { bin_width: Z_BIN, counts, outside }
    }
}

/// The cmodel magnitude range of one band.
#[derive(Debug, Serialize)]
struct BandMagnitudes {
    band: &'static str,
    key: String,
    /// `None` when the file lacks the key.
    range: Option<Range>,
    /// Rows outside 0 < mag < 50 (NaN included).
    outside_0_50: Option<usize>,
}

/// One selection cut and how many rows break it.
#[derive(Debug, Serialize)]
struct Check {
    cut: &'static str,
    /// `None` when the check was skipped (see `note`).
    violations: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Check {
    fn counted(cut: &'static str, violations: usize) -> Self {
        Check { cut, violations: Some(violations), note: None }
    }

    fn skipped(cut: &'static str, missing: &str) -> Self {
        Check { cut, violations: None, note: Some(format!("skipped: no key `{missing}`")) }
    }
}

impl Summary {
    fn of(file: &GalaxiesMlFile) -> Result<Self> {
        let n_rows = file.n_galaxies()?;
        let (_, bands, h, w) = file.image_shape()?;
        let z = file.read_f64(REDSHIFT_KEY)?;
        let has = |key: &str| file.key(key).is_some();

        let mut checks = vec![Check::counted("0.01 < z < 4", z.iter().filter(|&&v| !(0.01 < v && v < 4.0)).count())];
        let err_key = "specz_redshift_err";
        if has(err_key) {
            let err = file.read_f64(err_key)?;
            checks.push(Check::counted("0 < z_err < 1", err.iter().filter(|&&e| !(0.0 < e && e < 1.0)).count()));
            checks.push(Check::counted(
                "z_err < 0.005 (1 + z)",
                err.iter()
                    .zip(&z)
                    .filter(|&(&e, &v)| e.partial_cmp(&(0.005 * (1.0 + v))) != Some(std::cmp::Ordering::Less))
                    .count(),
            ));
        } else {
            checks.push(Check::skipped("0 < z_err < 1", err_key));
            checks.push(Check::skipped("z_err < 0.005 (1 + z)", err_key));
        }

        let mut magnitudes = Vec::with_capacity(BANDS.len());
        let mut bad_mag_rows = vec![false; n_rows];
        let mut missing_mag = None;
        for band in BANDS {
            let key = format!("{band}_cmodel_mag");
            if !has(&key) {
                magnitudes.push(BandMagnitudes { band, key: key.clone(), range: None, outside_0_50: None });
                missing_mag.get_or_insert(key);
                continue;
            }
            let mag = file.read_f64(&key)?;
            let mut outside = 0;
            for (bad, &m) in bad_mag_rows.iter_mut().zip(&mag) {
                if !(0.0 < m && m < 50.0) {
                    *bad = true;
                    outside += 1;
                }
            }
            magnitudes.push(BandMagnitudes { band, key, range: Some(Range::of(&mag)), outside_0_50: Some(outside) });
        }
        checks.push(match missing_mag {
            Some(key) => Check::skipped("0 < mag < 50 in every band", &key),
            None => Check::counted("0 < mag < 50 in every band", bad_mag_rows.iter().filter(|&&b| b).count()),
        });

        // NaN can only be stored in float keys; the image is not tabular.
        let mut nan_rows = vec![false; n_rows];
        for key in file.keys() {
            if matches!(key.native, Some(Dtype::F64 | Dtype::F32)) && key.name != IMAGE_KEY {
                let (values, per_row) = file.read_f64_rows(&key.name)?;
                for (nan, row) in nan_rows.iter_mut().zip(values.chunks(per_row.max(1))) {
                    *nan |= row.iter().any(|v| v.is_nan());
                }
            }
        }
        checks.push(Check::counted("no NaN in any tabular column", nan_rows.iter().filter(|&&b| b).count()));

        checks.push(if has(OBJECT_ID_KEY) {
            let ids = file.read_i64(OBJECT_ID_KEY)?;
            let mut seen = HashSet::with_capacity(ids.len());
            Check::counted("no duplicate object_id", ids.iter().filter(|id| !seen.insert(*id)).count())
        } else {
            Check::skipped("no duplicate object_id", OBJECT_ID_KEY)
        });

        Ok(Summary {
            pzbench_version: pzbench_io::VERSION,
            file: file.path().display().to_string(),
            n_rows,
            image_shape: [n_rows, bands, h, w],
            keys: file.keys().to_vec(),
            redshift: Range::of(&z),
            histogram: Histogram::of(&z),
            magnitudes,
            checks,
        })
    }

    fn to_text(&self) -> String {
        let mut s = String::new();
        let [n, b, h, w] = self.image_shape;
        s += &format!("{}\n  N = {}   image ({n}, {b}, {h}, {w}) float32\n\n", self.file, self.n_rows);

        let width = self.keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
        s += &format!("keys ({}):\n", self.keys.len());
        for k in &self.keys {
            s += &format!("  {:width$}  {:18}  {}\n", k.name, k.dtype, shape_text(&k.shape));
        }

        s += &format!("\nredshift ({REDSHIFT_KEY}): {}\n", range_text(&self.redshift));
        s += &histogram_text(&self.histogram);

        s += "\ncmodel magnitudes:\n";
        for m in &self.magnitudes {
            match (&m.range, m.outside_0_50) {
                (Some(r), Some(out)) => s += &format!("  {}  {}   outside (0, 50): {out}\n", m.band, range_text(r)),
                _ => s += &format!("  {}  no key `{}`\n", m.band, m.key),
            }
        }

        s += "\nselection cuts (paper section 3.2), rows that break each:\n";
        for c in &self.checks {
            match (c.violations, &c.note) {
                (Some(v), _) => s += &format!("  {:30}  {v:>8}\n", c.cut),
                (None, Some(note)) => s += &format!("  {:30}  {note}\n", c.cut),
                (None, None) => s += &format!("  {:30}  skipped\n", c.cut),
            }
        }
        s
    }
}

/// A shape as numpy prints it: `(6,)`, `(6, 5, 64, 64)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

fn range_text(r: &Range) -> String {
    let bound = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.4}"));
    let mut s = format!("min {}  max {}", bound(r.min), bound(r.max));
    if r.non_finite > 0 {
        s += &format!("  ({} not finite)", r.non_finite);
    }
    s
}

/// n(z) as horizontal bars of block characters, one line per bin, scaled to the fullest bin.
fn histogram_text(hist: &Histogram) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let max = hist.counts.iter().copied().max().unwrap_or(0).max(1);
    let mut s = format!("n(z), bins of {}:\n", hist.bin_width);
    for (i, &count) in hist.counts.iter().enumerate() {
        let lo = i as f64 * hist.bin_width;
        let eighths = (count * BAR_CELLS * 8).div_ceil(max);
        let mut bar = "█".repeat(eighths / 8);
        if eighths % 8 > 0 {
            bar.push(EIGHTHS[eighths % 8 - 1]);
        }
        s += &format!("  {lo:3.1}–{:3.1} │{bar:BAR_CELLS$} {count}\n", lo + hist.bin_width);
    }
    if hist.outside > 0 {
        s += &format!("  outside [0, {Z_MAX}): {}\n", hist.outside);
    }
    s
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|json| json + "\n")
        .map_err(|e| Error::other(format!("cannot encode JSON: {e}")))
}

/// Print to stdout; a closed pipe (`pzbench inspect F | head`) is not an error.
fn print_stdout(text: &str) -> Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
