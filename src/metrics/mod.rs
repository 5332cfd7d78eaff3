//! Photo-z point metrics.
