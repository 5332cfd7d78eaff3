//! `pzbench-fuzz`: run a fuzz budget over pzbench's readers and print the counts per target
//! (see the library's documentation, and `benches/fuzz.sh` for the long budget).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use pzbench_fuzz::driver::{self, Counts, RunConfig};
use pzbench_fuzz::mutate::generate;
use pzbench_fuzz::targets::{target, Outcome, Target, TARGETS};

#[global_allocator]
static ALLOC: pzbench_fuzz::alloc::CappedAlloc = pzbench_fuzz::alloc::CappedAlloc;

/// Fuzz pzbench's readers with byte mutations of valid seed files.
#[derive(Debug, Parser)]
#[command(name = "pzbench-fuzz", args_conflicts_with_subcommands = true)]
struct Cli {
    /// Targets: `all`, or a comma-separated list of NAME or NAME=INPUTS (see `list`)
    #[arg(long, default_value = "all")]
    target: String,
    /// Inputs per target (for targets given without =INPUTS)
    #[arg(long, default_value_t = 1000)]
    inputs: u64,
    /// Seed of the run: the same seed gives the same inputs
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Longest time one input may take, in seconds
    #[arg(long, default_value_t = 5.0)]
    timeout_s: f64,
    /// Largest live Rust heap a child may reach, in MiB
    #[arg(long, default_value_t = 1024)]
    alloc_cap_mb: usize,
    /// Inputs per child process
    #[arg(long, default_value_t = 5000)]
    batch: u64,
    /// Child processes at a time
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Write each finding's input and a list (findings.txt) into this directory
    #[arg(long)]
    findings: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// List the targets
    List,
    /// Run one input again, in this process (a panic shows its message), and say what it came to
    Replay {
        #[arg(long)]
        target: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        index: u64,
        /// Also write the input's bytes here
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Run inputs FROM..TO of a target and report each (run by the supervisor)
    #[command(hide = true)]
    Child {
        #[arg(long)]
        target: String,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long)]
        alloc_cap_mb: usize,
    },
}

fn find(name: &str) -> Result<&'static Target, String> {
    target(name).ok_or_else(|| {
        format!(
            "no target '{name}'; the targets are: {}",
            TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
        )
    })
}

/// The targets and their input counts named by `--target`.
fn plan(spec: &str, inputs: u64) -> Result<Vec<(&'static Target, u64)>, String> {
    let mut plan = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, n) = match item.split_once('=') {
            Some((name, n)) => (name, n.parse::<u64>().map_err(|_| format!("--target {item}: bad input count"))?),
            None => (item, inputs),
        };
        if name == "all" {
            plan.extend(TARGETS.iter().filter(|t| t.in_all).map(|t| (t, n)));
        } else {
            plan.push((find(name)?, n));
        }
    }
    Ok(plan)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Sub::List) => {
            for t in TARGETS {
                println!("{:<12} {}{}", t.name, t.about, if t.in_all { "" } else { " (not in `all`)" });
            }
            ExitCode::SUCCESS
        }
        Some(Sub::Child { target, seed, from, to, alloc_cap_mb }) => match find(&target) {
            Ok(t) => driver::child(t, seed, from, to, alloc_cap_mb << 20),
            Err(e) => {
                eprintln!("pzbench-fuzz: {e}");
                ExitCode::from(2)
            }
        },
        Some(Sub::Replay { target, seed, index, save }) => replay(&target, seed, index, save),
        None => run(&cli),
    }
}

fn replay(name: &str, seed: u64, index: u64, save: Option<PathBuf>) -> ExitCode {
    let result = find(name).and_then(|t| {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut harness = (t.build)(dir.path())?;
        let input = generate(harness.seeds(), seed, t.name, index);
        pzbench_fuzz::alloc::set_cap(1 << 30);
        pzbench_fuzz::alloc::trace_refusals();
        println!(
            "input {index} of {name} (seed {seed}): {} bytes from seed file '{}', variant {}",
            input.bytes.len(),
            harness.seeds()[input.seed].name,
            input.variant
        );
        if let Some(path) = save {
            std::fs::write(&path, &input.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        match harness.run(&input) {
            Outcome::Ok => println!("ok"),
            Outcome::Error(e) => println!("error: {e}"),
            Outcome::Wrong(what) => println!("WRONG: {what}"),
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pzbench-fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> ExitCode {
    let plan = match plan(&cli.target, cli.inputs) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("pzbench-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("pzbench-fuzz: cannot find this program: {e}");
            return ExitCode::from(2);
        }
    };
    let config = RunConfig {
        seed: cli.seed,
        timeout: Duration::from_secs_f64(cli.timeout_s.max(0.01)),
        cap_bytes: cli.alloc_cap_mb << 20,
        batch: cli.batch,
        jobs: cli.jobs,
        findings: cli.findings.clone(),
        exe,
    };
    println!(
        "pzbench-fuzz: seed {}, timeout {} s per input, heap cap {} MiB, {} child process(es) at a time",
        cli.seed, cli.timeout_s, cli.alloc_cap_mb, cli.jobs
    );
    println!("{}", Counts::header());
    let mut all = Counts::default();
    let mut findings = Vec::new();
    let started = std::time::Instant::now();
    for (t, n) in plan {
        match driver::run_target(t, n, &config) {
            Ok((counts, mut found)) => {
                println!("{}", counts.row(t.name));
                all.add(&counts);
                findings.append(&mut found);
            }
            Err(e) => {
                eprintln!("pzbench-fuzz: {e}");
                return ExitCode::from(2);
            }
        }
    }
    all.seconds = started.elapsed().as_secs_f64();
    println!("{}", all.row("all"));
    let (notes, failures): (Vec<_>, Vec<_>) = findings.iter().partition(|f| f.kind == "reserved");
    for (what, list) in [("note(s), not failures", &notes), ("finding(s)", &failures)] {
        if list.is_empty() {
            continue;
        }
        println!("{} {what}:", list.len());
        for f in list.iter().take(40) {
            println!(
                "  {} {} at input {}: {} (pzbench-fuzz replay --target {} --seed {} --index {})",
                f.target, f.kind, f.index, f.message, f.target, cli.seed, f.index
            );
        }
    }
    if failures.is_empty() {
        println!("no findings");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
