//! `pzbench inspect FILE`: what a GalaxiesML HDF5 file holds, and how many rows break the
//! paper's selection cuts (section 3.2; `docs/GALAXIESML.md`, "Selection already applied").
//! [`pzbench_io::selection::Summary`] computes it; this file renders it as text or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use pzbench_io::galaxiesml::{GalaxiesMlFile, REDSHIFT_KEY};
use pzbench_io::images::time_shuffled_batches;
use pzbench_io::selection::{Histogram, Range, Summary, Z_MAX};
use pzbench_io::{Error, Result};

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
    #[arg(long, value_name = "ROWS")]
    pub time_images: Option<usize>,

    /// Benchmark: read every image once in shuffled batches of ROWS rows (sorted within a batch),
    /// as training reads them, print the throughput, and stop
    #[arg(long, value_name = "ROWS", conflicts_with = "time_images")]
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
            Format::Text => to_text(&summary),
            Format::Json => to_json(&summary)?,
        }
    };
    super::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The summary as text: the file and its keys, the redshift range and n(z), the magnitude
/// ranges, the selection cuts.
fn to_text(summary: &Summary) -> String {
    let mut s = String::new();
    let [n, b, h, w] = summary.image_shape;
    s += &format!("{}\n  N = {}   image ({n}, {b}, {h}, {w}) float32\n\n", summary.file, summary.n_rows);

    let width = summary.keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
    s += &format!("keys ({}):\n", summary.keys.len());
    for k in &summary.keys {
        s += &format!("  {:width$}  {:18}  {}\n", k.name, k.dtype, shape_text(&k.shape));
    }

    s += &format!("\nredshift ({REDSHIFT_KEY}): {}\n", range_text(&summary.redshift));
    s += &histogram_text(&summary.histogram);

    s += "\ncmodel magnitudes:\n";
    for m in &summary.magnitudes {
        match (&m.range, m.outside_0_50) {
            (Some(r), Some(out)) => s += &format!("  {}  {}   outside (0, 50): {out}\n", m.band, range_text(r)),
            _ => s += &format!("  {}  no key `{}`\n", m.band, m.key),
        }
    }

    s += "\nselection cuts (paper section 3.2), rows that break each:\n";
    for c in &summary.checks {
        match (c.violations, &c.note) {
            (Some(v), _) => s += &format!("  {:30}  {v:>8}\n", c.cut),
            (None, Some(note)) => s += &format!("  {:30}  {note}\n", c.cut),
            (None, None) => s += &format!("  {:30}  skipped\n", c.cut),
        }
    }
    s
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
        .map_err(|e| Error::other(format!("cannot encode JSON: {e}")).caused_by(e))
}
