//! The fuzz harness's tests as ONE test binary: the inputs that found bugs, replayed, and a short
//! budget of every target.

mod regressions;
mod short_budget;
