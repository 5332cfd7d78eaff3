//! `pzbench ensemble`: models trained with different seeds combined into one (deep ensembles).
//! The arguments become an [`EnsembleRequest`] for [`pzbench_models::build_ensemble`]; this file
//! prints.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::bench::CudaGraphArgs;
use super::input::CatalogueArgs;
use pzbench_io::Result;
use pzbench_models::{self, EnsembleRequest, Head, DEFAULT_PREDICT_BATCH};

/// Combine models trained with different seeds into an ensemble that `pzbench predict` reads as one.
///
/// An ensemble of mixture-density models (train --head mdn) predicts the equal-weight mixture of
/// its members' PDFs (Lakshminarayanan et al. 2017): a Gaussian mixture of all their components,
/// written and scored as one model's. Where the members disagree the mixture is wider than each of
/// them, so the ensemble fits one factor on all its widths, as training does for one model
/// (docs/mdn.md), on the galaxies the members validated on: give their --val file, or their
/// --train file when they held out --val-fraction of it with the same --split-seed (the split is
/// drawn again and checked against each member's model.json). An ensemble of point models predicts
/// the mean of their redshifts.
///
/// DIR is written at once (members' checkpoints copied into DIR/members/, DIR/ensemble.json); it
/// must not exist or be empty.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  for s in 1 2 3 4 5; do pzbench train --model nn --head mdn --train train.csv --val-fraction 0.2 --split-seed 1 --seed $s --out nn_mdn_$s; done\n  pzbench ensemble nn_mdn_1 nn_mdn_2 nn_mdn_3 nn_mdn_4 nn_mdn_5 --val train.csv --out nn_mdn_x5\n  pzbench predict --model nn_mdn_x5 --data test.csv --out pdfs.csv --qp pdfs.qp.hdf5"
)]
pub struct EnsembleArgs {
    /// The members: checkpoint directories written by `pzbench train` or shipped models (reference:NAME); two or more, all with the same head.
    #[arg(value_name = "MEMBER", required = true, num_args = 2..)]
    pub members: Vec<PathBuf>,

    /// The ensemble directory to write (must not exist, or be empty).
    #[arg(short, long, alias = "out", value_name = "DIR")]
    pub output: PathBuf,

    /// The members' validation data, to fit the ensemble's width factor on: their --val file, or their --train file if they held out --val-fraction of it.
    #[arg(long, value_name = "FILE", conflicts_with = "no_width_calibration")]
    pub val: Option<PathBuf>,

    /// Keep the members' widths as they are (each member's own calibration still applies).
    #[arg(long)]
    pub no_width_calibration: bool,

    /// Compute device of the validation predictions: cpu, cuda or cuda:N (cuda needs a build with --features cuda).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,

    /// Galaxies per forward pass.
    #[arg(long, default_value_t = DEFAULT_PREDICT_BATCH, value_name = "N")]
    pub batch_size: usize,

    #[command(flatten)]
    pub graphs: CudaGraphArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,

    /// Do not print the summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run `pzbench ensemble`.
pub fn run(args: EnsembleArgs) -> Result<ExitCode> {
    args.graphs.select();
    let reference_models = super::predict::reference_models_dir();
    let members = args.members.iter().map(|m| pzbench_models::resolve_model_dir(m, &reference_models));
    let request = EnsembleRequest {
        members: members.collect::<Result<_>>()?,
        output: args.output.clone(),
        calibrate_on: args.val.clone(),
        keep_widths: args.no_width_calibration,
        device: args.device.clone(),
        batch_size: args.batch_size,
        read: args.catalogue.read_options()?,
    };
    let record = pzbench_models::build_ensemble(&request)?;
    let head = record.head();
    if !args.quiet {
        let names: Vec<&str> = record.members.iter().map(|m| m.architecture.name()).collect();
        let what = match head {
            Head::Point => "the mean of their redshifts".to_string(),
            Head::Mdn { .. } => {
                let components = |head: Head| if let Head::Mdn { components } = head { components } else { 0 };
                let k: usize = record.members.iter().map(|m| components(m.architecture.head())).sum();
                match record.width_calibration {
                    Some(c) => format!(
                        "a mixture of {k} components, widths × {:.4} (validation PIT KS {:.4} → {:.4} on {} galaxies)",
                        c.scale, c.val_pit_ks_before, c.val_pit_ks_after, c.n_val
                    ),
                    None => format!("a mixture of {k} components, the members' widths"),
                }
            }
        };
        eprintln!(
            "pzbench: ensemble of {} models ({}; seeds {}): {what} -> {}",
            record.members.len(),
            names.join(", "),
            record.members.iter().map(|m| m.seed.to_string()).collect::<Vec<_>>().join(", "),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
