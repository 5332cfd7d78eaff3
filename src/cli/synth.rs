//! `pzbench synth`: a synthetic data set in the GalaxiesML layout (`synth::generate`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::progress::progress_bar;
use pzbench_io::Result;
use pzbench_synth::generate::{
    file_name, split_counts, synthesize, NzSource, Splits, SynthProgress, SynthRequest, Written, SPLITS,
};
use pzbench_synth::photometry::DEFAULT_DZ;

#[derive(Debug, Args)]
#[command(
    about = "Generate a synthetic data set in the GalaxiesML layout (HDF5 images + catalogue, CSV)",
    long_about = "Generate a synthetic data set in the GalaxiesML layout: \
5xSxS_{training,validation,testing}_with_morphology.hdf5 (a random 60/20/20 split of N galaxies; \
`image` float32 (n, 5, S, S) in g, r, i, z, y plus every tabular key of the real files, same \
names and dtypes) and 5xSxS_{split}_with_morphology.csv (the tabular columns, no images). Both \
say they are synthetic: the HDF5 files by a root attribute `synthetic`, the CSVs by a last column \
`synthetic` of True. --splits testing writes the testing files alone (the same galaxies).\n\n\
Each galaxy: redshift from n(z); spectral type, luminosity and noisy HSC photometry (the cmodel \
columns) from the population model; a bulge + disc Sérsic cutout with HSC Wide seeing, sky noise \
and faint neighbours. The morphology columns are TRUE values of the intrinsic profile, not \
Source Extractor measurements.\n\n\
Default n(z) (`--nz hsc`): the empirical histogram of 28,640 real HSC spectroscopic redshifts \
(78 % below z = 0.75). `--nz smail`: a Smail law peaked at z = 1.5. `--nz FILE`: a CSV table \
`z,weight` (z increasing within [0.001, 4]).\n\n\
Deterministic: the same --n, --size, --seed and --nz give bit-identical files on any number of \
cores. Every file is written to a temporary name and moved into place only when all six are \
complete.",
    after_help = "Examples:\n  pzbench synth --n 10000 --size 64 --seed 1 --output data/synth\n  \
pzbench synth --n 60 --size 127 --seed 7 --nz smail --output tiny\n  \
pzbench synth --n 1000 --output data/flat --nz my_nz.csv --quiet"
)]
pub struct SynthArgs {
    /// Number of galaxies in all, split 60/20/20 (at least 4)
    #[arg(long, value_name = "N")]
    pub n: usize,

    /// Cutout side in pixels: 64 or 127, as in the GalaxiesML release
    #[arg(long, default_value_t = 64, value_name = "PIXELS")]
    pub size: usize,

    /// Random seed; the same seed gives bit-identical files
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Output folder (created if missing)
    #[arg(short, long, alias = "out", value_name = "DIR")]
    pub output: PathBuf,

    /// Redshift distribution: hsc (real HSC spec-z), smail (peak 1.5), or a CSV file z,weight
    #[arg(long, default_value = "hsc", value_name = "hsc|smail|FILE")]
    pub nz: String,

    /// Write only these files: a comma-separated list of training, validation, testing (the
    /// galaxies of each are those of the full set) [default: all three]
    #[arg(long, value_name = "LIST")]
    pub splits: Option<String>,

    /// No progress bar or summary on stderr
    #[arg(long, short)]
    pub quiet: bool,

    /// Redshift step of the photometry grid (tests use a coarser one to start faster)
    #[arg(long, hide = true, default_value_t = DEFAULT_DZ)]
    pub grid_dz: f64,
}

/// Run `pzbench synth`.
pub fn run(args: SynthArgs) -> Result<ExitCode> {
    let request = SynthRequest {
        n: args.n,
        size: args.size,
        seed: args.seed,
        nz: NzSource::parse(&args.nz),
        grid_dz: args.grid_dz,
        output: args.output,
        splits: args.splits.as_deref().map(Splits::parse).transpose()?.unwrap_or_default(),
    };
    synthesize_on_terminal(&request, args.quiet)?;
    Ok(ExitCode::SUCCESS)
}

/// [`synthesize`] with a progress bar on stderr and, unless `quiet`, a summary of what was
/// written (also used by `pzbench reproduce`).
pub(super) fn synthesize_on_terminal(request: &SynthRequest, quiet: bool) -> Result<Written> {
    let started = Instant::now();
    let spinner = progress_bar(None, "{spinner} {msg}", !quiet)?;
    let galaxies = request.splits.galaxies(split_counts(request.n)?);
    let bar = progress_bar(Some(galaxies as u64), GALAXY_BAR, !quiet)?;
    let written = synthesize(request, &mut |progress| match progress {
        SynthProgress::BuildingModel => {
            spinner.set_message("building the HSC photometry grid");
            spinner.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        SynthProgress::ModelReady => spinner.finish_and_clear(),
        SynthProgress::Galaxies(k) => bar.inc(k as u64),
    });
    spinner.finish_and_clear();
    bar.finish_and_clear();
    let written = written?;
    if !quiet {
        let [a, b, c] = written.counts;
        eprintln!(
            "wrote {galaxies} galaxies ({a} / {b} / {c}) of 5x{s}x{s} in {:.1} s to {}:",
            started.elapsed().as_secs_f64(),
            request.output.display(),
            s = request.size,
        );
        for split in SPLITS.iter().enumerate().filter(|(i, _)| request.splits.contains(*i)).map(|(_, s)| s) {
            eprintln!("  {}  {}", file_name(request.size, split, "hdf5"), file_name(request.size, split, "csv"));
        }
    }
    Ok(written)
}

/// The galaxy progress bar's layout.
const GALAXY_BAR: &str = "{bar:40} {pos}/{len} galaxies  {per_sec}  eta {eta}  {msg}";
