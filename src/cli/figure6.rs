//! `pzbench figure6`: the GalaxiesML paper's Figure 6 for your models, as PNG or SVG.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::input::{BinArgs, BootstrapArgs};
use super::table2::{score_models, InputArgs, ModelSpec};
use pzbench_io::{Error, Result};
use pzbench_report::figure::{save, Figure6};
use pzbench_report::format::significant;

/// Draw the GalaxiesML paper's Figure 6 for your models.
///
/// Five panels against redshift bin, one line per model: (a) bias, (b) scatter, (c) outlier
/// fraction, (d) MSE, (e) loss (METRICS.md definitions; smaller is better), and (f) the number of
/// galaxies per bin. Error bars are percentile bootstrap intervals (200 resamples by default;
/// --bootstrap 0 turns them off). The output format follows the extension: .png (1800×1200 px by
/// default) or .svg.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench figure6 --model CNN=cnn.csv --model NN=nn.csv --out fig6.png\n  pzbench figure6 --model CNN=cnn.csv --truth test.hdf5 --bootstrap 0 --out fig6.svg"
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
    #[arg(long, default_value = "1800x1200", value_name = "WxH")]
    pub size: String,
}

/// Parse `WIDTHxHEIGHT` (each at least 600 and at most 10000 pixels).
pub(super) fn parse_size(spec: &str) -> Result<(u32, u32)> {
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
    let size = parse_size(&args.size)?;
    pzbench_report::figure::ImageFormat::from_path(&args.output)?;
    let bins = args.binning.bins()?;
    let config = args.bootstrap.config()?;
    let (scored, notes) = score_models(&args.models, &args.input, &bins, config)?;
    let first = &scored[0]; // score_models refuses an empty list
    let dataset = &first.dataset;
    let subtitle = vec![
        format!(
            "Dataset '{}' ({}), {} galaxies, z_spec from {} (sha256 {}…)",
            dataset.id,
            if dataset.synthetic { "synthetic" } else { "real GalaxiesML" },
            first.report.overall.map_or(0, |m| m.count),
            dataset.source,
            &dataset.sha256[..dataset.sha256.len().min(16)]
        ),
        match (config, notes.is_empty()) {
            (Some(c), same) => format!(
                "Error bars: {}% percentile bootstrap over galaxies, B = {}, seed {}.{}",
                significant(c.confidence * 100.0, 4),
                c.resamples,
                c.seed,
                if same { "" } else { " Warning: the models were scored on different galaxies." }
            ),
            (None, same) => format!(
                "No error bars (--bootstrap 0).{}",
                if same { "" } else { " Warning: the models were scored on different galaxies." }
            ),
        },
    ];
    let figure = Figure6 { models: scored.iter().map(|s| (s.name.as_str(), &s.report)).collect(), subtitle, size };
    save(&figure, &args.output)?;
    eprintln!("pzbench: wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
