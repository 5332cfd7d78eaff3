//! `pzbench reproduce`: the whole GalaxiesML study in one command — data, both reference models,
//! predictions, scores, Table 2, Figure 6, scatter plots, a leaderboard and an index page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use pzbench_io::sample::SampleOptions;
use pzbench_io::update::LockOptions;
use pzbench_io::{write_atomic, Error, Result};
use pzbench_metrics::{Bins, BootstrapConfig, Metric};
use pzbench_models::{
    ModelKind, PredictRequest, ReferenceModel, TrainConfig, TrainRequest, TRAINING_DATA_SEED, WEIGHTS_FILE,
};
use pzbench_report::figure::FIGURE6_SIZE;
use pzbench_report::leaderboard::{self, BoardFormat};
use pzbench_report::{figure6, scatter_plot, score_file, score_models, table2, ModelInput, ModelSpec, ScatterOptions};
use pzbench_synth::generate::{file_name, NzSource, Splits, SynthRequest};
use pzbench_synth::photometry::DEFAULT_DZ;

use super::predict::{predict_on_terminal, reference_models_dir};
use super::synth::synthesize_on_terminal;
use super::table2::print_notes;
use super::train::train_on_terminal;

/// Run the whole study: data, NN and CNN, predictions on the test split, Table 2, Figure 6.
///
/// Without --data it first generates a synthetic set in the GalaxiesML layout (`pzbench synth`,
/// a seed the reference models were not trained on); with --data it uses the real files
/// (5xSxS_{training,validation,testing}_with_morphology.hdf5) from DIR. It then predicts the test
/// split with the reference NN and CNN shipped in baselines/models (trained once on a GPU; with
/// --train it trains both here instead, `pzbench train`), scores both (`pzbench score`), and
/// writes Table 2 (Markdown, LaTeX, CSV), Figure 6 (PNG, SVG), one scatter plot per model, a
/// leaderboard and an `index.md` linking them all, which names the weights used (SHA-256). Each
/// step calls the same library function as the command it names, with that command's defaults;
/// the first failing step ends the run with its error.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench reproduce --output study                      # shipped reference models, synthetic data, CPU, ~minutes\n  pzbench reproduce --data /data/galaxiesml --output real     # the shipped models on the real test split\n  pzbench reproduce --train --data /data/galaxiesml --size 127 --cnn-epochs 200 --device cuda --output paper"
)]
pub struct ReproduceArgs {
    /// Output folder (created; existing files of a previous run are replaced).
    #[arg(short, long, alias = "out", value_name = "DIR")]
    pub output: PathBuf,
    /// Folder holding the real GalaxiesML files [default: generate a synthetic set].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Cutout size in pixels: 64 or 127 (a 127-pixel reference CNN is not shipped: use --train).
    #[arg(long, default_value_t = 64, value_name = "PIXELS")]
    pub size: usize,
    /// Galaxies in the synthetic set (split 60/20/20; the models are tested on the 20 %); ignored
    /// with --data.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub n: usize,
    /// Train both models here (today's CPU- or GPU-sized runs) instead of using the shipped ones.
    #[arg(long)]
    pub train: bool,
    /// Training epochs of the NN with --train (early stopping on validation loss, patience 10).
    #[arg(long, default_value_t = 300, value_name = "N", requires = "train")]
    pub nn_epochs: usize,
    /// Training epochs of the CNN with --train (the paper: 200, on a GPU).
    #[arg(long, default_value_t = 5, value_name = "N", requires = "train")]
    pub cnn_epochs: usize,
    /// Device for training and prediction: cpu or cuda.
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,
    /// Seed of the synthetic data, of the models with --train, and of the bootstrap.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Bootstrap resamples for the intervals in Table 2 and Figure 6 (the flag alone means 1000).
    #[arg(long, default_value_t = 200, value_name = "B", num_args = 0..=1, default_missing_value = "1000")]
    pub bootstrap: usize,
}

/// The steps, for the `[k/STEPS]` progress lines.
const STEPS: usize = 9;

/// The two models of the study: label, kind.
const MODELS: [(&str, ModelKind); 2] = [("NN", ModelKind::Nn), ("CNN", ModelKind::Cnn)];

/// One model's weights as used in the run.
struct UsedModel {
    label: &'static str,
    /// `reference:NAME` or the checkpoint trained here.
    source: String,
    /// SHA-256 (hex) of its weights file.
    sha256: String,
}

/// Run `pzbench reproduce`. A failed run leaves no empty folder behind: the output folder, if
/// this run created it, is removed with every folder in it that holds no file
/// ([`remove_empty_folders`]); files already written stay.
pub fn run(args: ReproduceArgs) -> Result<ExitCode> {
    let created = !args.output.exists();
    let output = args.output.clone();
    let result = run_study(args);
    if result.is_err() && created {
        remove_empty_folders(&output);
    }
    result
}

/// Remove `dir` and every folder below it that holds no file, deepest first (links are not
/// followed); a folder holding a file stays, and so does the file. Failures are ignored: this only
/// tidies up after an error.
fn remove_empty_folders(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_folders(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The study itself ([`run`]).
fn run_study(args: ReproduceArgs) -> Result<ExitCode> {
    if args.size != 64 && args.size != 127 {
        return Err(Error::usage(format!("--size {}: GalaxiesML cutouts are 64 or 127 pixels", args.size)));
    }
    let (seed, size) = (args.seed, args.size);
    let shipped = if args.train { None } else { Some(shipped_models(size)?) };
    if shipped.is_some() && args.data.is_none() && seed == TRAINING_DATA_SEED {
        return Err(Error::usage(format!(
            "--seed {seed} draws the galaxies the reference models were trained on; pick another seed (default 42), or --train"
        )));
    }
    let out = &args.output;
    create_dir(out, "the output folder")?;
    let mut step = 0;
    let mut say = |what: &str| {
        step += 1;
        eprintln!("\n[{step}/{STEPS}] {what}");
    };

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
                // The shipped models need the testing file alone.
                splits: if args.train { Splits::ALL } else { Splits::TESTING },
            };
            synthesize_on_terminal(&request, false)?;
            request.output
        }
    };
    let split = |name: &str| data_dir.join(file_name(size, name, "hdf5"));
    let (train, val, test) = (split("training"), split("validation"), split("testing"));
    let needed: &[&PathBuf] = if args.train { &[&train, &val, &test] } else { &[&test] };
    for file in needed {
        if !file.is_file() {
            return Err(Error::file(file, "missing: --data must hold the GalaxiesML files of this --size"));
        }
    }

    let mut predictions = Vec::new();
    let mut used = Vec::new();
    create_dir(&out.join("predictions"), "predictions/")?;
    for (i, (label, kind)) in MODELS.into_iter().enumerate() {
        let name = label.to_lowercase();
        let (dir, source) = match &shipped {
            Some(models) => {
                say(&format!("the shipped {label}: {}", models[i].spec()));
                (models[i].dir(&reference_models_dir())?, models[i].spec())
            }
            None => {
                let epochs = if kind == ModelKind::Nn { args.nn_epochs } else { args.cnn_epochs };
                say(&format!("training the {label} ({epochs} epochs at most, on {})", args.device));
                let dir = out.join("models").join(&name);
                let request = TrainRequest {
                    config: TrainConfig { epochs, seed, ..kind.default_config() },
                    device: args.device.clone(),
                    ..TrainRequest::new(kind, train.clone(), val.clone(), dir.clone())
                };
                train_on_terminal(&request, false)?;
                (dir, format!("trained here: models/{name}/"))
            }
        };
        let sha256 = pzbench_io::sha256_file(&dir.join(WEIGHTS_FILE))?;
        let preds = out.join("predictions").join(format!("{name}.csv"));
        let request = PredictRequest { device: args.device.clone(), ..PredictRequest::new(dir, test.clone()) };
        predict_on_terminal(&request, &preds, true)?;
        predictions.push(ModelSpec { name: label.to_string(), path: preds });
        used.push(UsedModel { label, source, sha256 });
    }
    for model in &used {
        eprintln!("{}: {} (weights sha256 {})", model.label, model.source, model.sha256);
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
            None => format!("synthetic {size}x{size} test split (pzbench synth, seed {seed})"),
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
        let plot = ScatterOptions {
            title: Some(format!("{}: z_phot vs z_spec", model.name)),
            dataset: input.dataset.clone(),
            synthetic: input.synthetic,
            ..ScatterOptions::default()
        };
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
    let (title, source) = match &args.data {
        Some(dir) => ("GalaxiesML study".to_string(), format!("the GalaxiesML files in `{}`", dir.display())),
        None => (
            "Photo-z study on SYNTHETIC data".to_string(),
            format!(
                "a **synthetic** set in the GalaxiesML layout, {} galaxies at {size}×{size} (`pzbench synth --seed {seed}`, \
                 in `data/`): not the HSC release, whose numbers are the paper's",
                args.n
            ),
        ),
    };
    let how = match &shipped {
        Some(_) => {
            "the reference models shipped with pzbench, trained once on a GPU on a synthetic set of another seed \
                    (`baselines/models/README.md`)"
                .to_string()
        }
        None => format!(
            "trained here with `pzbench train` on {} (NN ≤ {} epochs with early stopping, CNN {} epochs), seed {seed}",
            args.device, args.nn_epochs, args.cnn_epochs
        ),
    };
    let weights: String =
        used.iter().map(|m| format!("| {} | {} | `{}` |\n", m.label, m.source, m.sha256)).collect::<Vec<_>>().concat();
    let checkpoints = if shipped.is_some() {
        ""
    } else {
        "- `models/{nn,cnn}/`: checkpoints (safetensors + model.json with the training curve)\n"
    };
    let index = format!(
        "# {title} (pzbench {version})\n\nData: {source}.\n\nModels: the paper's NN (photometry) and CNN (images + photometry), {how}.\n\n\
         | model | weights | SHA-256 of model.safetensors |\n|---|---|---|\n{weights}\n\
         ## Table 2\n\n{markdown}\nAlso as [LaTeX](table2.tex) and [CSV](table2.csv); per-model scores with {bootstrap}-resample \
         bootstrap intervals: [NN](score_nn.json), [CNN](score_cnn.json).\n\n## Figure 6\n\n![Figure 6](figure6.png)\n\n\
         [SVG](figure6.svg)\n\n## Predictions against truth\n\n![NN](scatter_nn.png)\n![CNN](scatter_cnn.png)\n\n\
         ## Leaderboard\n\nSee [leaderboard.md](leaderboard.md) ([JSON](leaderboard.json)).\n\n## Files\n\n{checkpoints}\
         - `predictions/{{nn,cnn}}.csv`: `object_id,z_spec,z_phot` for every test galaxy\n",
        version = pzbench_io::VERSION,
        bootstrap = args.bootstrap,
    );
    write_atomic(&out.join("index.md"), index.as_bytes())?;
    eprintln!("\ndone: {}", out.join("index.md").display());
    Ok(ExitCode::SUCCESS)
}

/// The shipped NN and CNN for cutouts of `size` pixels, in the order of [`MODELS`].
fn shipped_models(size: usize) -> Result<[ReferenceModel; 2]> {
    let find = |(label, kind): (&str, ModelKind)| {
        ReferenceModel::for_kind(kind, size).ok_or_else(|| {
            Error::usage(format!(
                "no reference {label} for {size}x{size} cutouts is shipped (baselines/models/README.md lists them): \
                 add --train to train one here"
            ))
        })
    };
    Ok([find(MODELS[0])?, find(MODELS[1])?])
}

/// Create the folder `dir` (`what` names it in the error).
fn create_dir(dir: &Path, what: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create {what}: {e}")).caused_by(e))
}
