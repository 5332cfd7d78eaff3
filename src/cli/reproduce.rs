//! `pzbench reproduce`: the whole GalaxiesML study in one command — data, both reference models,
//! predictions, scores, Table 2, Figure 6, scatter plots, a leaderboard and an index page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::run_words;
use pzbench_io::{Error, Result};

/// Run the whole study: data, NN and CNN, predictions on the test split, Table 2, Figure 6.
///
/// Without --data it first generates the synthetic GalaxiesML set (`pzbench synth`); with --data it
/// uses the real files (5xSxS_{training,validation,testing}_with_morphology.hdf5) from DIR. It then
/// trains the photometry NN and the image+photometry CNN (`pzbench train`), predicts the test split
/// (`pzbench predict`), scores both (`pzbench score`), and writes Table 2 (Markdown, LaTeX, CSV),
/// Figure 6 (PNG, SVG), one scatter plot per model, a leaderboard and an `index.md` linking them
/// all. Each step is the same code as the command it names.
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

fn text(path: &Path) -> String {
    path.display().to_string()
}

/// Run `pzbench reproduce`.
pub fn run(args: ReproduceArgs) -> Result<ExitCode> {
    if args.size != 64 && args.size != 127 {
        return Err(Error::usage(format!("--size {}: GalaxiesML cutouts are 64 or 127 pixels", args.size)));
    }
    let out = &args.output;
    std::fs::create_dir_all(out).map_err(|e| Error::file(out, format!("cannot create the output folder: {e}")))?;
    let steps = 9;
    let mut step = 0;
    let mut say = |what: &str| {
        step += 1;
        eprintln!("\n[{step}/{steps}] {what}");
    };
    let seed = args.seed.to_string();
    let size = args.size;

    let data_dir = match &args.data {
        Some(dir) => {
            say(&format!("using the GalaxiesML files in {}", dir.display()));
            dir.clone()
        }
        None => {
            say(&format!("generating {} synthetic galaxies at {size}x{size} (pzbench synth)", args.n));
            let dir = out.join("data");
            run_words(&[
                "synth",
                "--n",
                &args.n.to_string(),
                "--size",
                &size.to_string(),
                "--seed",
                &seed,
                "--out",
                &text(&dir),
            ])?;
            dir
        }
    };
    let split = |name: &str| data_dir.join(format!("5x{size}x{size}_{name}_with_morphology.hdf5"));
    let (train, val, test) = (split("training"), split("validation"), split("testing"));
    for file in [&train, &val, &test] {
        if !file.is_file() {
            return Err(Error::file(file, "missing: --data must hold the three GalaxiesML files of this --size"));
        }
    }

    let models = [("NN", "nn", args.nn_epochs), ("CNN", "cnn", args.cnn_epochs)];
    let mut predictions = Vec::new();
    for (label, kind, epochs) in models {
        say(&format!("training the {label} ({epochs} epochs at most, on {})", args.device));
        let dir = out.join("models").join(kind);
        run_words(&[
            "train",
            "--model",
            kind,
            "--train",
            &text(&train),
            "--val",
            &text(&val),
            "--out",
            &text(&dir),
            "--epochs",
            &epochs.to_string(),
            "--seed",
            &seed,
            "--device",
            &args.device,
        ])?;
        let preds = out.join("predictions").join(format!("{kind}.csv"));
        std::fs::create_dir_all(out.join("predictions"))
            .map_err(|e| Error::file(out, format!("cannot create predictions/: {e}")))?;
        run_words(&[
            "predict",
            "--model",
            &text(&dir),
            "--data",
            &text(&test),
            "--out",
            &text(&preds),
            "--device",
            &args.device,
            "--quiet",
        ])?;
        predictions.push((label, kind, preds));
    }

    say("scoring both models on the test split (pzbench score)");
    let bootstrap = args.bootstrap.to_string();
    for (_, kind, preds) in &predictions {
        run_words(&[
            "score",
            &text(preds),
            "--quiet",
            "--format",
            "json",
            "--bootstrap",
            &bootstrap,
            "--seed",
            &seed,
            "--output",
            &text(&out.join(format!("score_{kind}.json"))),
        ])?;
    }
    let model_flags: Vec<String> = predictions
        .iter()
        .flat_map(|(label, _, preds)| ["--model".to_string(), format!("{label}={}", text(preds))])
        .collect();
    let dataset: Vec<String> = match &args.data {
        Some(_) => vec!["--dataset".into(), format!("GalaxiesML {size}x{size} test split")],
        None => vec![
            "--dataset".into(),
            format!("synthetic GalaxiesML {size}x{size} test split (seed {seed})"),
            "--synthetic".into(),
        ],
    };

    say("Table 2 (Markdown, LaTeX, CSV)");
    for (format, file) in [("markdown", "table2.md"), ("latex", "table2.tex"), ("csv", "table2.csv")] {
        let mut words: Vec<String> = vec!["table2".into()];
        words.extend(model_flags.iter().cloned());
        words.extend(dataset.iter().cloned());
        words.extend(
            ["--published", "--bootstrap", &bootstrap, "--seed", &seed, "--format", format, "--output"]
                .map(String::from),
        );
        words.push(text(&out.join(file)));
        run_words(&words)?;
    }

    say("Figure 6 (PNG, SVG)");
    for file in ["figure6.png", "figure6.svg"] {
        let mut words: Vec<String> = vec!["figure6".into()];
        words.extend(model_flags.iter().cloned());
        words.extend(dataset.iter().cloned());
        words.extend(["--bootstrap", &bootstrap, "--seed", &seed, "--out"].map(String::from));
        words.push(text(&out.join(file)));
        run_words(&words)?;
    }

    say("scatter plots (z_phot against z_spec)");
    for (label, kind, preds) in &predictions {
        run_words(&[
            "plot",
            "scatter",
            "--predictions",
            &text(preds),
            "--title",
            &format!("{label}: z_phot vs z_spec"),
            "--out",
            &text(&out.join(format!("scatter_{kind}.png"))),
        ])?;
    }

    say("leaderboard");
    let board = out.join("leaderboard.json");
    for (label, _, preds) in &predictions {
        let mut words: Vec<String> = [
            "leaderboard",
            "add",
            "--board",
            &text(&board),
            "--name",
            label,
            "--predictions",
            &text(preds),
            "--replace",
        ]
        .map(String::from)
        .to_vec();
        words.extend(dataset.iter().cloned());
        run_words(&words)?;
    }
    run_words(&[
        "leaderboard",
        "render",
        "--board",
        &text(&board),
        "--format",
        "markdown",
        "--output",
        &text(&out.join("leaderboard.md")),
    ])?;

    say("index.md");
    let table = std::fs::read_to_string(out.join("table2.md"))
        .map_err(|e| Error::file(out.join("table2.md"), format!("cannot read: {e}")))?;
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
         ## Table 2\n\n{table}\nAlso as [LaTeX](table2.tex) and [CSV](table2.csv); per-model scores with {bootstrap}-resample \
         bootstrap intervals: [NN](score_nn.json), [CNN](score_cnn.json).\n\n## Figure 6\n\n![Figure 6](figure6.png)\n\n\
         [SVG](figure6.svg)\n\n## Predictions against truth\n\n![NN](scatter_nn.png)\n![CNN](scatter_cnn.png)\n\n\
         ## Leaderboard\n\nSee [leaderboard.md](leaderboard.md) ([JSON](leaderboard.json)).\n\n## Files\n\n\
         - `models/{{nn,cnn}}/`: checkpoints (safetensors + model.json with the training curve)\n\
         - `predictions/{{nn,cnn}}.csv`: `object_id,z_spec,z_phot` for every test galaxy\n",
        version = pzbench_io::VERSION,
        device = args.device,
        nn = args.nn_epochs,
        cnn = args.cnn_epochs,
    );
    pzbench_io::write_atomic(&out.join("index.md"), index.as_bytes())?;
    eprintln!("\ndone: {}", out.join("index.md").display());
    Ok(ExitCode::SUCCESS)
}
