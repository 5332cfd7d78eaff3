//! Progress bars on standard error, set up in one place for every command that draws one.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pzbench_io::{Error, Result};

/// A progress bar of `len` steps (`None`: a spinner, of no known length) in the indicatif
/// `template`, drawn on standard error when `draw`, hidden otherwise (e.g. `--quiet`).
pub fn progress_bar(len: Option<u64>, template: &str, draw: bool) -> Result<ProgressBar> {
    let target = if draw { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let style = ProgressStyle::with_template(template)
        .map_err(|e| Error::other(format!("progress bar template: {e}")).caused_by(e))?;
    Ok(ProgressBar::with_draw_target(len, target).with_style(style))
}
