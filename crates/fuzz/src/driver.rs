//! Running inputs: a child process runs a range of a target's inputs in-process and reports each
//! on standard output; the supervisor starts children, counts what they report, and sees what a
//! child cannot report itself: a crash (a signal, e.g. a segfault in the HDF5 C library), an
//! allocation blow-up (the capped allocator's refusal aborts the child), and a hang (no result
//! within the timeout: the child is killed). Either way the input at fault is known (the child
//! announces each input before running it), recorded as a finding, and the next child starts
//! after it.
//!
//! The protocol, one line each: `READY` once the seeds are built; `S i` before input `i`
//! (flushed); `M i message` for a finding's message; `R i code micros heap-bytes` after it, where
//! code is `o` (a result that passed the checks), `e` (a clean, one-line pzbench error), `p`
//! (panic), `b` (an allocation refused and handled), `w` (wrong result) or `u` (an error message
//! that is empty or spans lines).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::mutate::{generate, Seed};
use crate::targets::{Outcome, Target};

/// What the inputs of a target came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub inputs: u64,
    pub ok: u64,
    pub errors: u64,
    pub panics: u64,
    pub crashes: u64,
    pub blowups: u64,
    pub timeouts: u64,
    pub wrong: u64,
    pub unclean: u64,
    /// Fallible reservations by known third-party code ([`alloc::KNOWN_SITES`]) refused by the
    /// cap and handled (the read then failed cleanly): not failures, but listed.
    pub reserved: u64,
    /// The slowest input that finished: microseconds and index.
    pub slowest: (u64, u64),
    /// The largest growth of the live Rust heap during one input, bytes.
    pub peak_heap: u64,
    pub seconds: f64,
}

impl Counts {
    /// Inputs that did not end in a checked result or a clean error.
    pub fn failures(&self) -> u64 {
        self.panics + self.crashes + self.blowups + self.timeouts + self.wrong + self.unclean
    }

    /// Add `other`'s counts (the slowest and the largest heap are the larger of the two).
    pub fn add(&mut self, other: &Counts) {
        self.inputs += other.inputs;
        self.ok += other.ok;
        self.errors += other.errors;
        self.panics += other.panics;
        self.crashes += other.crashes;
        self.blowups += other.blowups;
        self.timeouts += other.timeouts;
        self.wrong += other.wrong;
        self.unclean += other.unclean;
        self.reserved += other.reserved;
        if other.slowest.0 > self.slowest.0 {
            self.slowest = other.slowest;
        }
        self.peak_heap = self.peak_heap.max(other.peak_heap);
        self.seconds += other.seconds;
    }

    /// The header of [`Self::row`].
    pub fn header() -> String {
        format!(
            "{:<12} {:>9} {:>9} {:>9} {:>6} {:>7} {:>7} {:>8} {:>5} {:>7} {:>8} {:>11} {:>9} {:>8}",
            "target",
            "inputs",
            "ok",
            "errors",
            "panics",
            "crashes",
            "blowups",
            "timeouts",
            "wrong",
            "unclean",
            "reserved",
            "slowest ms",
            "heap MiB",
            "seconds"
        )
    }

    /// One line of the table of counts.
    pub fn row(&self, name: &str) -> String {
        format!(
            "{:<12} {:>9} {:>9} {:>9} {:>6} {:>7} {:>7} {:>8} {:>5} {:>7} {:>8} {:>11.1} {:>9.1} {:>8.1}",
            name,
            self.inputs,
            self.ok,
            self.errors,
            self.panics,
            self.crashes,
            self.blowups,
            self.timeouts,
            self.wrong,
            self.unclean,
            self.reserved,
            self.slowest.0 as f64 / 1000.0,
            self.peak_heap as f64 / (1 << 20) as f64,
            self.seconds
        )
    }
}

/// One input that did not end well.
#[derive(Debug, Clone)]
pub struct Finding {
    pub target: &'static str,
    pub index: u64,
    /// `panic`, `crash`, `blowup`, `timeout`, `wrong`, `unclean`.
    pub kind: &'static str,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// The child.

static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn take_panic() -> Option<String> {
    PANIC.lock().map(|mut slot| slot.take()).unwrap_or(None)
}

/// `text` on one line, at most 400 characters.
pub fn one_line(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() > 400 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Bound what C libraries may allocate (Rust allocations are capped by [`alloc`]).
fn limit_address_space(bytes: u64) {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: setrlimit reads the struct given; failure only leaves the limit as it was.
    unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &limit);
    }
}

/// Run inputs `from..to` of `target` (the hidden `child` command).
pub fn child(target: &Target, seed: u64, from: u64, to: u64, cap_bytes: usize) -> ExitCode {
    limit_address_space(cap_bytes as u64 + (4 << 30));
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        if let Ok(mut slot) = PANIC.lock() {
            slot.get_or_insert(format!("{payload}{at}"));
        }
    }));
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("pzbench-fuzz: cannot make a work directory: {e}");
            return ExitCode::from(3);
        }
    };
    let mut harness = match (target.build)(dir.path()) {
        Ok(harness) => harness,
        Err(e) => {
            eprintln!("pzbench-fuzz: target {}: {e}", target.name);
            return ExitCode::from(3);
        }
    };
    alloc::set_cap(cap_bytes);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let _ = writeln!(out, "READY").and_then(|()| out.flush());
    for index in from..to {
        let input = generate(harness.seeds(), seed, target.name, index);
        if writeln!(out, "S {index}").and_then(|()| out.flush()).is_err() {
            return ExitCode::from(3);
        }
        let base = alloc::live();
        alloc::reset_peak();
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(&input)));
        let micros = started.elapsed().as_micros();
        let heap = alloc::peak().saturating_sub(base);
        let panicked = take_panic();
        let refused = alloc::take_refused();
        let (code, message) = match (result, panicked) {
            (Err(_), message) | (Ok(_), message @ Some(_)) => {
                ('p', message.unwrap_or_else(|| "a panic without a message".into()))
            }
            (Ok(outcome), None) => {
                let (code, message) = match outcome {
                    Outcome::Ok => ('o', String::new()),
                    Outcome::Error(e) => {
                        let text = e.to_string();
                        if text.contains(['\n', '\r']) || text.trim().is_empty() {
                            ('u', format!("error message not one line: {text:?}"))
                        } else {
                            ('e', String::new())
                        }
                    }
                    Outcome::Wrong(what) => ('w', what),
                };
                match (code, refused) {
                    ('o' | 'e', Some((size, true))) => (
                        'r',
                        format!("a reservation of {size} bytes by known third-party code was refused and handled"),
                    ),
                    (_, Some((size, false))) => {
                        ('b', format!("an allocation of {size} bytes was refused (cap {cap_bytes} bytes)"))
                    }
                    _ => (code, message),
                }
            }
        };
        drop(input);
        let written = if message.is_empty() {
            writeln!(out, "R {index} {code} {micros} {heap}")
        } else {
            writeln!(out, "M {index} {}", one_line(&message))
                .and_then(|()| writeln!(out, "R {index} {code} {micros} {heap}"))
        };
        if written.is_err() {
            return ExitCode::from(3);
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// The supervisor.

/// How to run targets.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    /// Longest time one input may take.
    pub timeout: Duration,
    /// Cap on the live Rust heap of a child.
    pub cap_bytes: usize,
    /// Inputs per child process.
    pub batch: u64,
    /// Children at a time.
    pub jobs: usize,
    /// Where findings are written (inputs and a list), if anywhere.
    pub findings: Option<PathBuf>,
    /// This program (re-run as `child`).
    pub exe: PathBuf,
}

/// Longest time a child may take to build its seeds.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Run `inputs` inputs of `target`; the counts and the findings.
pub fn run_target(target: &'static Target, inputs: u64, config: &RunConfig) -> Result<(Counts, Vec<Finding>), String> {
    let started = Instant::now();
    let ranges: VecDeque<(u64, u64)> =
        (0..inputs).step_by(config.batch.max(1) as usize).map(|a| (a, (a + config.batch).min(inputs))).collect();
    let queue = Mutex::new(ranges);
    let total = Mutex::new((Counts::default(), Vec::new()));
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for job in 0..config.jobs.max(1) {
            let (queue, total, failure) = (&queue, &total, &failure);
            s.spawn(move || loop {
                if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                    return;
                }
                let Some(range) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return;
                };
                match supervise(target, range, config, job) {
                    Ok((counts, findings)) => {
                        if let Ok(mut total) = total.lock() {
                            total.0.add(&counts);
                            total.1.extend(findings);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or(None) {
        return Err(e);
    }
    let (mut counts, mut findings) = total.into_inner().map_err(|_| "a supervisor thread panicked".to_string())?;
    counts.seconds = started.elapsed().as_secs_f64();
    findings.sort_by_key(|f| f.index);
    if let Some(dir) = &config.findings {
        save_findings(dir, target, config.seed, &findings)?;
    }
    Ok((counts, findings))
}

/// Run one range of inputs in as many children as it takes.
fn supervise(
    target: &'static Target,
    (from, to): (u64, u64),
    config: &RunConfig,
    job: usize,
) -> Result<(Counts, Vec<Finding>), String> {
    let mut counts = Counts::default();
    let mut findings = Vec::new();
    let stderr_path = std::env::temp_dir().join(format!("pzbench-fuzz-{}-{job}.stderr", std::process::id()));
    let mut next = from;
    while next < to {
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
        let mut child = Command::new(&config.exe)
            .args(["child", "--target", target.name])
            .args(["--seed", &config.seed.to_string(), "--from", &next.to_string(), "--to", &to.to_string()])
            .args(["--alloc-cap-mb", &(config.cap_bytes >> 20).to_string()])
            .env("HDF5_USE_FILE_LOCKING", "FALSE")
            .env("RAYON_NUM_THREADS", "2")
            .env("POLARS_MAX_THREADS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", config.exe.display()))?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if line.is_err() || tx.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        let spawned = Instant::now();
        let mut ready = false;
        let mut current: Option<(u64, Instant)> = None;
        let mut messages: HashMap<u64, String> = HashMap::new();
        let mut timed_out = false;
        loop {
            let deadline = match current {
                Some((_, at)) => at + config.timeout,
                None if !ready => spawned + SETUP_TIMEOUT,
                None => Instant::now() + SETUP_TIMEOUT,
            };
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let mut parts = line.splitn(3, ' ');
                    let (tag, index, rest) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
                    let index: u64 = index.and_then(|i| i.parse().ok()).unwrap_or(u64::MAX);
                    match tag {
                        Some("READY") => ready = true,
                        Some("S") => current = Some((index, Instant::now())),
                        Some("M") => {
                            messages.insert(index, rest.to_string());
                        }
                        Some("R") => {
                            let fields: Vec<&str> = rest.split(' ').collect();
                            let (code, micros, heap) = (
                                fields.first().copied().unwrap_or("?"),
                                fields.get(1).and_then(|m| m.parse().ok()).unwrap_or(0u64),
                                fields.get(2).and_then(|h| h.parse().ok()).unwrap_or(0u64),
                            );
                            counts.inputs += 1;
                            if micros > counts.slowest.0 {
                                counts.slowest = (micros, index);
                            }
                            counts.peak_heap = counts.peak_heap.max(heap);
                            let kind = match code {
                                "o" => {
                                    counts.ok += 1;
                                    None
                                }
                                "e" => {
                                    counts.errors += 1;
                                    None
                                }
                                "p" => {
                                    counts.panics += 1;
                                    Some("panic")
                                }
                                "b" => {
                                    counts.blowups += 1;
                                    Some("blowup")
                                }
                                "r" => {
                                    counts.reserved += 1;
                                    Some("reserved")
                                }
                                "w" => {
                                    counts.wrong += 1;
                                    Some("wrong")
                                }
                                _ => {
                                    counts.unclean += 1;
                                    Some("unclean")
                                }
                            };
                            if let Some(kind) = kind {
                                let message = messages.remove(&index).unwrap_or_default();
                                findings.push(Finding { target: target.name, index, kind, message });
                            }
                            current = None;
                            next = index + 1;
                        }
                        _ => {}
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    timed_out = true;
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait().map_err(|e| format!("cannot wait for a child: {e}"))?;
        let _ = reader.join();
        let tail = tail_of(&stderr_path);
        if !ready {
            return Err(format!("target {}: a child failed to start ({status}): {}", target.name, one_line(&tail)));
        }
        match current {
            Some((index, at)) => {
                counts.inputs += 1;
                let (kind, message) = if timed_out {
                    counts.timeouts += 1;
                    ("timeout", format!("no result after {:.1} s", at.elapsed().as_secs_f64()))
                } else if tail.contains("memory allocation of") {
                    counts.blowups += 1;
                    let from = last_line_with(&tail, "pzbench-fuzz: refused");
                    ("blowup", format!("{} ({from})", last_line_with(&tail, "memory allocation of")))
                } else {
                    counts.crashes += 1;
                    ("crash", format!("the process ended ({status}); stderr: {}", one_line(tail.trim())))
                };
                findings.push(Finding { target: target.name, index, kind, message });
                next = index + 1;
            }
            None if timed_out || !status.success() => {
                return Err(format!(
                    "target {}: a child stopped between inputs ({status}): {}",
                    target.name,
                    one_line(&tail)
                ));
            }
            None => {
                if next < to {
                    return Err(format!("target {}: a child stopped early at input {next}", target.name));
                }
            }
        }
    }
    let _ = std::fs::remove_file(&stderr_path);
    Ok((counts, findings))
}

/// The last 4 kB of a file.
fn tail_of(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&text[text.len().saturating_sub(4096)..]).into_owned()
}

fn last_line_with(text: &str, needle: &str) -> String {
    text.lines().rev().find(|l| l.contains(needle)).unwrap_or(needle).to_string()
}

/// The seeds of a target, built once in the supervisor to write the inputs of findings.
fn seeds_of(target: &'static Target) -> Result<&'static [Seed], String> {
    static BUILT: OnceLock<Mutex<HashMap<&'static str, &'static [Seed]>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().map_err(|_| "poisoned")?;
    if let Some(seeds) = built.get(target.name) {
        return Ok(seeds);
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let harness = (target.build)(dir.path())?;
    let seeds: &'static [Seed] = Box::leak(harness.seeds().to_vec().into_boxed_slice());
    built.insert(target.name, seeds);
    Ok(seeds)
}

/// Write each finding's input (`TARGET-sSEED-iINDEX.KIND.bin`) and append it to `findings.txt`.
fn save_findings(dir: &Path, target: &'static Target, seed: u64, findings: &[Finding]) -> Result<(), String> {
    if findings.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let seeds = seeds_of(target)?;
    let mut list = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("findings.txt"))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    for f in findings {
        let input = generate(seeds, seed, target.name, f.index);
        let name = format!("{}-s{seed}-i{}.{}.bin", target.name, f.index, f.kind);
        std::fs::write(dir.join(&name), &input.bytes).map_err(|e| format!("{name}: {e}"))?;
        writeln!(
            list,
            "{} seed {seed} index {} {} (from seed file '{}', variant {}): {}",
            target.name, f.index, f.kind, seeds[input.seed].name, input.variant, f.message
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}
