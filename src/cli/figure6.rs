//! `pzbench figure6`: the GalaxiesML paper's Figure 6 for your models, as PNG or SVG.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::input::{BinArgs, BootstrapArgs, InputArgs};
use super::table2::print_notes;
use pzbench_io::{Error, Result};
use pzbench_report::figure::{ImageFormat, FIGURE6_SIZE};
use pzbench_report::{figure6, score_models, ModelSpec, ScoredModels};

/// Draw the GalaxiesML paper's Figure 6 for your models.
///
/// Five panels against redshift bin, one line per model: (a) bias, (b) scatter, (c) outlier
/// fraction, (d) MSE, (e) loss (docs/METRICS.md definitions; smaller is better), and (f) the number of
/// galaxies per bin. Error bars are percentile bootstrap intervals (by default; --bootstrap 0 turns
/// them off). The subtitle names the dataset (as table2 does), counts the
/// galaxies outside the bins, and says how few galaxies make a bin's open markers. The output
/// format follows the extension: .png (1800×1200 px by default) or .svg.
#[derive(Debug, Args)]
#[command(
    mut_arg("bootstrap", |arg| arg.default_value(DEFAULT_RESAMPLES)),
    after_help = "Examples:\n  pzbench figure6 --model CNN=cnn.csv --model NN=nn.csv --output fig6.png\n  pzbench figure6 --model CNN=cnn.csv --truth test.hdf5 --bootstrap 0 --output fig6.svg"
)]
pub struct Figure6Args {
    /// A model's predictions as NAME=FILE (repeat for several models; legend keeps this order).
    #[arg(long = "model", value_name = "NAME=FILE", required = true)]
    pub models: Vec<ModelSpec>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output image: .png or .svg (written atomically).
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,

    #[command(flatten)]
    pub bootstrap: BootstrapArgs,

    #[command(flatten)]
    pub binning: BinArgs,

    /// Image size in pixels as WIDTHxHEIGHT.
    #[arg(long, default_value_t = ImageSize(FIGURE6_SIZE), value_name = "WxH")]
    pub size: ImageSize,
}

/// `--bootstrap`'s default in `figure6`: error bars unless turned off (the other commands
/// bootstrap only when asked).
const DEFAULT_RESAMPLES: &str = "200";

/// `--size WIDTHxHEIGHT` of an image, each 600 to 10000 pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize(pub (u32, u32));

impl std::fmt::Display for ImageSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.0 .0, self.0 .1)
    }
}

impl std::str::FromStr for ImageSize {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        parse_size(spec).map(ImageSize)
    }
}

/// Parse `WIDTHxHEIGHT` (each at least 600 and at most 10000 pixels).
fn parse_size(spec: &str) -> Result<(u32, u32)> {
    let parsed = spec
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if (600..=10_000).contains(&w) && (600..=10_000).contains(&h) => Ok((w, h)),
        _ => Err(Error::usage(format!(
            "--size {spec}: expected WIDTHxHEIGHT in pixels, each 600 to 10000, e.g. 1800x1200"
        ))),
    }
}

/// Run `pzbench figure6`.
pub fn run(args: Figure6Args) -> Result<ExitCode> {
    let scored = score(&args)?;
    print_notes(&scored);
    draw(&args, &scored)?;
    eprintln!("pzbench: wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

/// The models of `args` scored on its bins, once its output's extension is known to be an image
/// format.
pub fn score(args: &Figure6Args) -> Result<ScoredModels> {
    ImageFormat::from_path(&args.output)?;
    let bins = args.binning.bins()?;
    let config = args.bootstrap.config()?;
    score_models(&args.models, &args.input.model_input()?, &bins, config)
}

/// Draw Figure 6 of `scored` at `args`'s size into its output file.
pub fn draw(args: &Figure6Args, scored: &ScoredModels) -> Result<()> {
    figure6(scored, args.size.0, &args.output)
}
