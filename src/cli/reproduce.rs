//! `pzbench reproduce`: the whole GalaxiesML study in one command — data, both reference models,
//! predictions, scores, Table 2, Figure 6, scatter plots, a leaderboard and an index page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use pzbench_io::sample::SampleOptions;
use pzbench_io::update::LockOptions;
use pzbench_io::{write_atomic, Error, Result};
use pzbench_metrics::{Bins, BootstrapConfig, Metric};
use pzbench_models::{ModelKind, PredictRequest, TrainConfig, TrainRequest};
use pzbench_report::figure::FIGURE6_SIZE;
use pzbench_report::leaderboard::{self, BoardFormat};
use pzbench_report::{figure6, scatter_plot, score_file, score_models, table2, ModelInput, ModelSpec, ScatterOptions};
use pzbench_synth::generate::{file_name, NzSource, SynthRequest};
use pzbench_synth::photometry::DEFAULT_DZ;

use super::predict::predict_on_terminal;
use super::synth::synthesize_on_terminal;
use super::table2::print_notes;
use super::train::train_on_terminal;

/// Run the whole study: data, NN and CNN, predictions on the test split, Table 2, Figure 6.
///
/// Without --data it first generates the synthetic GalaxiesML set (`pzbench synth`); with --data it
/// uses the real files (5xSxS_{training,validation,testing}_with_morphology.hdf5) from DIR. It then
/// trains the photometry NN and the image+photometry CNN (`pzbench train`), predicts the test split
/// (`pzbench predict`), scores both (`pzbench score`), and writes Table 2 (Markdown, LaTeX, CSV),
/// Figure 6 (PNG, SVG), one scatter plot per model, a leaderboard and an `index.md` linking them
/// all. Each step calls the same library function as the command it names, with that command's
/// defaults; the first failing step ends the run with its error.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench reproduce --output study                      # synthetic data, CPU, ~minutes\n  pzbench reproduce --data /data/galaxiesml --size 127 --cnn-epochs 200 --device cuda --output paper"
)]
pub struct ReproduceArgs {
    /// Output folder (created; existing files of a previous run are replaced).
    #[arg(short, long, alias = "out", value_name = "DIR")]
    pub output: PathBuf,
    /// Folder holding the real GalaxiesML files [default: generate the synthetic set].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Cutout size in pixels: 64 or 127.
    #[arg(long, default_value_t = 64, value_name = "PIXELS")]
    pub size: usize,
    /// Galaxies in the synthetic set (split 60/20/20); ignored with --data.
    #[arg(long, default_value_t = 3000, value_name = "N")]
    pub n: usize,
    /// Training epochs of the NN (early stopping on validation loss, patience 10).
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub nn_epochs: usize,
    /// Training epochs of the CNN (the paper: 200, on a GPU).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub cnn_epochs: usize,
    /// Device for training and prediction: cpu or cuda.
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,
    /// Seed of the data, the models and the bootstrap.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Bootstrap resamples for the intervals in Table 2 and Figure 6 (the flag alone means 1000).
    #[arg(long, default_value_t = 200, value_name = "B", num_args = 0..=1, default_missing_value = "1000")]
    pub bootstrap: usize,
}

/// The steps, for the `[k/STEPS]` progress lines.
const STEPS: usize = 9;

/// Run `pzbench reproduce`.
pub fn run(args: ReproduceArgs) -> Result<ExitCode> {
    if args.size != 64 && args.size != 127 {
        return Err(Error::usage(format!("--size {}: GalaxiesML cutouts are 64 or 127 pixels", args.size)));
    }
    let out = &args.output;
    create_dir(out, "the output folder")?;
    let mut step = 0;
    let mut say = |what: &str| {
        step += 1;
        eprintln!("\n[{step}/{STEPS}] {what}");
    };
    let (seed, size) = (args.seed, args.size);

    let data_dir = match &args.data {
        Some(dir) => {
            say(&format!("using the GalaxiesML files in {}", dir.display()));
            dir.clone()
        }
        None => {
            say(&format!("generating {} synthetic galaxies at {size}x{size} (pzbench synth)", args.n));
            let request = SynthRequest {
                n: args.n,
                size,
                seed,
                nz: NzSource::HscSpecz,
                grid_dz: DEFAULT_DZ,
                output: out.join("data"),
            };
            synthesize_on_terminal(&request, false)?;
            request.output
        }
    };
    let split = |name: &str| data_dir.join(file_name(size, name, "hdf5"));
    let (train, val, test) = (split("training"), split("validation"), split("testing"));
    for file in [&train, &val, &test] {
        if !file.is_file() {
            return Err(Error::file(file, "missing: --data must hold the three GalaxiesML files of this --size"));
        }
    }

    let models = [("NN", ModelKind::Nn, args.nn_epochs), ("CNN", ModelKind::Cnn, args.cnn_epochs)];
    let mut predictions = Vec::new();
    create_dir(&out.join("predictions"), "predictions/")?;
    for (label, kind, epochs) in models {
        say(&format!("training the {label} ({epochs} epochs at most, on {})", args.device));
        let name = label.to_lowercase();
        let dir = out.join("models").join(&name);
        let request = TrainRequest {
            config: TrainConfig { epochs, seed, ..kind.default_config() },
            device: args.device.clone(),
            ..TrainRequest::new(kind, train.clone(), val.clone(), dir.clone())
        };
        train_on_terminal(&request, false)?;
        let preds = out.join("predictions").join(format!("{name}.csv"));
        let request = PredictRequest { device: args.device.clone(), ..PredictRequest::new(dir, test.clone()) };
        predict_on_terminal(&request, &preds, true)?;
        predictions.push(ModelSpec { name: label.to_string(), path: preds });
    }

    say("scoring both models on the test split (pzbench score)");
    let bins = Bins::galaxiesml_default();
    let bootstrap =
        (args.bootstrap > 0).then_some(BootstrapConfig { resamples: args.bootstrap, confidence: 0.95, seed });
    for model in &predictions {
        let report = score_file(&model.path, &SampleOptions::default(), &bins, bootstrap)?;
        write_atomic(&out.join(format!("score_{}.json", model.name.to_lowercase())), report.to_json().as_bytes())?;
    }
    let input = ModelInput {
        sample: SampleOptions::default(),
        dataset: Some(match &args.data {
            Some(_) => format!("GalaxiesML {size}x{size} test split"),
            None => format!("synthetic GalaxiesML {size}x{size} test split (seed {seed})"),
        }),
        synthetic: args.data.is_none(),
        ..ModelInput::default()
    };
    let scored = score_models(&predictions, &input, &bins, bootstrap)?;
    print_notes(&scored);

    say("Table 2 (Markdown, LaTeX, CSV)");
    let table = table2(&scored, true)?;
    let markdown = table.to_markdown();
    for (file, text) in [("table2.md", &markdown), ("table2.tex", &table.to_latex()), ("table2.csv", &table.to_csv())] {
        write_atomic(&out.join(file), text.as_bytes())?;
    }

    say("Figure 6 (PNG, SVG)");
    for file in ["figure6.png", "figure6.svg"] {
        figure6(&scored, FIGURE6_SIZE, &out.join(file))?;
    }

    say("scatter plots (z_phot against z_spec)");
    for model in &predictions {
        let plot =
            ScatterOptions { title: Some(format!("{}: z_phot vs z_spec", model.name)), ..ScatterOptions::default() };
        let file = out.join(format!("scatter_{}.png", model.name.to_lowercase()));
        scatter_plot(&model.path, &SampleOptions::default(), &plot, &file)?;
    }

    say("leaderboard");
    let board = out.join("leaderboard.json");
    for model in &predictions {
        let lock = LockOptions { on_wait: Some(&super::input::print_lock_wait), ..LockOptions::default() };
        leaderboard::add(&board, &model.name, &model.path, &input, None, true, &lock)?;
    }
    let rendered = leaderboard::render(&board, Metric::Loss, BoardFormat::Markdown)?;
    write_atomic(&out.join("leaderboard.md"), rendered.as_bytes())?;

    say("index.md");
    let source = match &args.data {
        Some(dir) => format!("the GalaxiesML files in `{}`", dir.display()),
        None => format!(
            "a synthetic GalaxiesML set of {} galaxies at {size}×{size} (`pzbench synth --seed {seed}`, in `data/`)",
            args.n
        ),
    };
    let index = format!(
        "# GalaxiesML study (pzbench {version})\n\nData: {source}. Models: the paper's NN (photometry) and CNN (images + photometry), \
         trained with `pzbench train` on {device} (NN ≤ {nn} epochs with early stopping, CNN {cnn} epochs), seed {seed}.\n\n\
         ## Table 2\n\n{markdown}\nAlso as [LaTeX](table2.tex) and [CSV](table2.csv); per-model scores with {bootstrap}-resample \
         bootstrap intervals: [NN](score_nn.json), [CNN](score_cnn.json).\n\n## Figure 6\n\n![Figure 6](figure6.png)\n\n\
         [SVG](figure6.svg)\n\n## Predictions against truth\n\n![NN](scatter_nn.png)\n![CNN](scatter_cnn.png)\n\n\
         ## Leaderboard\n\nSee [leaderboard.md](leaderboard.md) ([JSON](leaderboard.json)).\n\n## Files\n\n\
         - `models/{{nn,cnn}}/`: checkpoints (safetensors + model.json with the training curve)\n\
         - `predictions/{{nn,cnn}}.csv`: `object_id,z_spec,z_phot` for every test galaxy\n",
        version = pzbench_io::VERSION,
        device = args.device,
        nn = args.nn_epochs,
        cnn = args.cnn_epochs,
        bootstrap = args.bootstrap,
    );
    write_atomic(&out.join("index.md"), index.as_bytes())?;
    eprintln!("\ndone: {}", out.join("index.md").display());
    Ok(ExitCode::SUCCESS)
}

/// Create the folder `dir` (`what` names it in the error).
fn create_dir(dir: &Path, what: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create {what}: {e}")).caused_by(e))
}
