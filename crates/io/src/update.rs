//! Files that several pzbench processes may update at once (a leaderboard, a baseline, a training
//! checkpoint): an advisory exclusive lock on a sidecar lock file, and [`update_locked`], which
//! takes the lock, re-reads the file under it, computes the new bytes and writes them with
//! [`write_atomic`], so that concurrent read-modify-writes never lose an update.
//!
//! The lock is the operating system's (`flock` on Unix, through std's [`File::try_lock`]): the
//! kernel releases it when its holder exits, however it exits, so a killed pzbench never leaves a
//! lock held. It is taken on a separate file (`.NAME.lock` beside a file, `DIR/.lock` in a
//! folder) so that the atomic rename of the file itself keeps working. The holder writes its pid
//! and command into the lock file, so that a waiter can say whom it waits for, and removes the
//! lock file when it is done; one left behind by a killed holder is harmless and reused.
//!
//! Waiting polls the lock: after [`WAIT_NOTICE_AFTER`] the caller's [`LockOptions::on_wait`] is
//! told once (the command line prints a line), and after [`LockOptions::timeout`] the wait ends
//! with an error that names the lock file, its holder and the `--lock-timeout` flag.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{write_atomic, Error, Result};

/// How long a lock is waited for unless the caller says otherwise (`--lock-timeout`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a wait lasts before [`LockOptions::on_wait`] is told about it.
pub const WAIT_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// The longest pause between two attempts to take a lock.
const MAX_POLL: Duration = Duration::from_millis(20);

/// A wait for a lock that another process holds, as [`LockOptions::on_wait`] is told about it.
#[derive(Debug, Clone, Copy)]
pub struct LockWait<'a> {
    /// The file or folder the lock protects.
    pub target: &'a Path,
    /// The lock file.
    pub lock_file: &'a Path,
    /// The holder as its lock file names it (`pid 1234: pzbench leaderboard add`), if it does.
    pub holder: Option<&'a str>,
}

impl std::fmt::Display for LockWait<'_> {
    /// `waiting for the lock on board.json (held by pid 1234: pzbench leaderboard add; lock file .board.json.lock)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waiting for the lock on {} (held by {}; lock file {})",
            self.target.display(),
            self.holder.unwrap_or("another process"),
            self.lock_file.display()
        )
    }
}

/// How to wait for a lock.
#[derive(Clone, Copy)]
pub struct LockOptions<'a> {
    /// Give up (with an error) after waiting this long; zero tries once.
    pub timeout: Duration,
    /// Told once when a wait has lasted [`WAIT_NOTICE_AFTER`].
    pub on_wait: Option<&'a dyn Fn(&LockWait<'_>)>,
}

impl Default for LockOptions<'_> {
    /// [`DEFAULT_LOCK_TIMEOUT`], nobody told about waits.
    fn default() -> Self {
        LockOptions { timeout: DEFAULT_LOCK_TIMEOUT, on_wait: None }
    }
}

impl std::fmt::Debug for LockOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockOptions")
            .field("timeout", &self.timeout)
            .field("on_wait", &self.on_wait.map(|_| "Fn"))
            .finish()
    }
}

/// A held lock; dropping it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct FileLock {
    /// `None` once released.
    file: Option<File>,
    path: PathBuf,
}

impl FileLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Removed while still held, so that a waiter that then takes the lock on the removed
            // file sees it is gone and retries on a new one ([`lock_with`]).
            if is_same_file(&file, &self.path) {
                let _ = std::fs::remove_file(&self.path);
            }
            drop(file);
        }
    }
}

/// The lock file of the file at `path`: `.NAME.lock` in the same folder.
pub fn lock_file_for(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::file(path, "not a file name: cannot lock it; name a file"))?
        .to_string_lossy()
        .into_owned();
    Ok(path.with_file_name(format!(".{name}.lock")))
}

/// Lock the file at `path` (which need not exist; its folder must) through [`lock_file_for`].
pub fn lock_beside(path: &Path, options: &LockOptions<'_>) -> Result<FileLock> {
    lock_with(path, &lock_file_for(path)?, options)
}

/// Lock the folder `dir` (which must exist) through `DIR/.lock`.
pub fn lock_folder(dir: &Path, options: &LockOptions<'_>) -> Result<FileLock> {
    lock_with(dir, &dir.join(".lock"), options)
}

/// Take the exclusive lock on `lock_file` (created if missing) for `target`, waiting as `options`
/// say. Once taken, the lock file holds the holder's pid and command.
pub fn lock_with(target: &Path, lock_file: &Path, options: &LockOptions<'_>) -> Result<FileLock> {
    let started = Instant::now();
    let mut told = false;
    let mut pause = Duration::from_millis(2);
    loop {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(lock_file).map_err(|e| {
                Error::file(target, format!("cannot create the lock file {}: {e}", lock_file.display())).caused_by(e)
            })?;
        match file.try_lock() {
            // The file may have been removed by the holder we waited for: then lock the new one.
            Ok(()) if !is_same_file(&file, lock_file) => continue,
            Ok(()) => {
                let mut lock = FileLock { file: Some(file), path: lock_file.to_path_buf() };
                if let Some(file) = lock.file.as_mut() {
                    // Only a help to whoever waits: a failure to say who holds it is no failure.
                    let _ = file.set_len(0).and_then(|()| file.write_all(holder_line().as_bytes()));
                }
                return Ok(lock);
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(Error::file(target, format!("cannot lock {}: {e}", lock_file.display())).caused_by(e))
            }
        }
        drop(file);
        let waited = started.elapsed();
        if waited >= options.timeout {
            let holder = read_holder(lock_file);
            return Err(Error::file(
                target,
                format!(
                    "gave up after {} waiting for the lock {} (held by {}); wait for that process to finish, or wait longer with --lock-timeout SECONDS",
                    seconds(options.timeout),
                    lock_file.display(),
                    holder.as_deref().unwrap_or("another process")
                ),
            ));
        }
        if !told && waited >= WAIT_NOTICE_AFTER {
            told = true;
            if let Some(on_wait) = options.on_wait {
                let holder = read_holder(lock_file);
                on_wait(&LockWait { target, lock_file, holder: holder.as_deref() });
            }
        }
        std::thread::sleep(pause.min(options.timeout.saturating_sub(waited)));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Update the file at `path` under its lock ([`lock_beside`]): read it (`None` if it does not
/// exist), pass its bytes to `update`, and write what `update` returns atomically
/// ([`write_atomic`]) before releasing the lock. Concurrent updates of one file run one after
/// another, each seeing the result of the one before. An error of `update` leaves the file as it
/// was.
pub fn update_locked(
    path: &Path,
    options: &LockOptions<'_>,
    update: impl FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>>,
) -> Result<()> {
    let _lock = lock_beside(path, options)?;
    let previous = match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::file(path, format!("cannot read: {e}")).caused_by(e)),
    };
    let bytes = update(previous)?;
    write_atomic(path, &bytes)
}

/// Write `bytes` to `path` atomically ([`write_atomic`]) under its lock ([`lock_beside`]).
pub fn write_locked(path: &Path, options: &LockOptions<'_>, bytes: &[u8]) -> Result<()> {
    let _lock = lock_beside(path, options)?;
    write_atomic(path, bytes)
}

/// What a holder writes into its lock file: `pid 1234: pzbench leaderboard add`.
fn holder_line() -> String {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(|p| Path::new(&p).file_name().map_or_else(|| p.to_string_lossy(), |n| n.to_string_lossy()).into_owned())
        .unwrap_or_default();
    let words: Vec<String> =
        args.map(|a| a.to_string_lossy().into_owned()).take_while(|a| !a.starts_with('-')).take(2).collect();
    let command = std::iter::once(program).chain(words).collect::<Vec<_>>().join(" ");
    format!("pid {}: {}\n", std::process::id(), command.trim())
}

/// The holder named in `lock_file`, if it names one.
fn read_holder(lock_file: &Path) -> Option<String> {
    let mut text = String::new();
    File::open(lock_file).ok()?.take(1024).read_to_string(&mut text).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// Whether `file` is (still) the file at `path`.
fn is_same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Elsewhere an open file cannot be removed: it is the one at `path`.
        let _ = (file, path);
        true
    }
}

/// `60 s`, `1.5 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_second_locker_waits_is_told_and_gives_up_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let board = dir.path().join("board.json");
        let held = lock_beside(&board, &LockOptions::default()).unwrap();
        assert_eq!(held.path(), dir.path().join(".board.json.lock"));
        let holder = std::fs::read_to_string(held.path()).unwrap();
        assert!(holder.starts_with(&format!("pid {}: ", std::process::id())), "{holder}");

        let told = AtomicUsize::new(0);
        let on_wait = |wait: &LockWait<'_>| {
            told.fetch_add(1, Ordering::Relaxed);
            let line = wait.to_string();
            assert!(line.contains("waiting for the lock on") && line.contains(".board.json.lock"), "{line}");
            assert!(line.contains(&format!("pid {}", std::process::id())), "{line}");
        };
        let options = LockOptions { timeout: Duration::from_millis(1300), on_wait: Some(&on_wait) };
        let started = Instant::now();
        let err = lock_beside(&board, &options).unwrap_err().to_string();
        assert!(started.elapsed() >= Duration::from_millis(1300));
        assert_eq!(told.load(Ordering::Relaxed), 1);
        assert!(err.contains("gave up after 1.3 s waiting for the lock") && err.contains(".board.json.lock"), "{err}");
        assert!(err.contains("--lock-timeout") && err.contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(!err.contains('\n'));

        // Released: the lock file is gone and the next locker gets it at once.
        drop(held);
        assert!(!dir.path().join(".board.json.lock").exists());
        let zero = LockOptions { timeout: Duration::ZERO, on_wait: None };
        drop(lock_beside(&board, &zero).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "something was left behind");
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let counter = dir.path().join("counter.txt");
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..25 {
                        update_locked(&counter, &LockOptions::default(), |previous| {
                            let n: u64 = previous.map_or(0, |b| String::from_utf8(b).unwrap().parse().unwrap());
                            Ok((n + 1).to_string().into_bytes())
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(std::fs::read_to_string(&counter).unwrap(), "200");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["counter.txt"], "temporary or lock files left behind");
    }

    #[test]
    fn a_failed_update_leaves_the_file_and_a_stale_lock_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, "old").unwrap();
        // As a killed holder leaves it: the file, with a dead pid, and no lock held.
        std::fs::write(dir.path().join(".f.json.lock"), "pid 999999999: pzbench leaderboard add\n").unwrap();
        let err = update_locked(&path, &LockOptions::default(), |_| Err(Error::other("no"))).unwrap_err();
        assert_eq!(err.to_string(), "no");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        write_locked(&path, &LockOptions::default(), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = lock_beside(&dir.path().join("no/such/f.json"), &LockOptions::default()).unwrap_err().to_string();
        assert!(err.contains("cannot create the lock file"), "{err}");
    }
}
