//! Ctrl-C during a long computation: [`run`] computes on a worker thread with the GIL released
//! while the calling thread watches Python's signal handlers, so that a `KeyboardInterrupt`
//! arrives within a fraction of a second instead of after the whole computation.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::Duration;

use pyo3::prelude::*;

use crate::{catch_panic, PzbenchError};

/// How long the calling thread waits for the worker between two checks of the signal handlers.
const POLL: Duration = Duration::from_millis(50);

/// Run `work` on a worker thread with the GIL released and return its result, checking Python's
/// signal handlers (`PyErr_CheckSignals`: SIGINT's handler raises `KeyboardInterrupt`) every
/// [`POLL`] meanwhile. When a handler raises, set the flag that `work` receives, wait for `work`
/// to return (it should look at the flag often, e.g. between bootstrap resamples), drop its
/// result and return the handler's exception. A panic in `work` becomes `PzbenchError`.
///
/// Signal handlers run only in Python's main thread; called from another thread, `run` simply
/// waits for `work`.
pub fn run<T: Send>(py: Python<'_>, work: impl FnOnce(&AtomicBool) -> PyResult<T> + Send) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    let stop = &stop;
    std::thread::scope(|scope| {
        let (sender, mut receiver) = sync_channel(1);
        scope.spawn(move || {
            let outcome = catch_panic(AssertUnwindSafe(|| work(stop))).and_then(|result| result);
            // The receiver lives until this thread has ended (the scope joins it first).
            sender.send(outcome).ok();
        });
        loop {
            // The receiver cannot be shared with a GIL-free closure (it is not `Sync`): move it
            // in and back out.
            let (received, back) = py.detach(move || (receiver.recv_timeout(POLL), receiver));
            receiver = back;
            match received {
                Ok(outcome) => return outcome,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(signal) = py.check_signals() {
                        stop.store(true, Ordering::Relaxed);
                        py.detach(move || receiver.recv().ok());
                        return Err(signal);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PzbenchError::new_err("internal error: the worker thread ended without a result"))
                }
            }
        }
    })
}
