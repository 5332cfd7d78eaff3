//! Adam as Keras implements it (the authors' optimiser, `tf.keras.optimizers.Adam` with its
//! defaults β₁ = 0.9, β₂ = 0.999, ε = 1e-7), with moments that can be saved and restored so that a
//! resumed run continues exactly where it stopped:
//!
//! ```text
//! m ← β₁ m + (1 - β₁) g        v ← β₂ v + (1 - β₂) g²
//! w ← w - lr · sqrt(1 - β₂ᵗ) / (1 - β₁ᵗ) · m / (sqrt(v) + ε)
//! ```

use std::collections::HashMap;

use candle_core::{backprop::GradStore, Result, Tensor, Var};

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-7;

/// One parameter with its two moment estimates.
struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
}

/// The optimiser state over a set of named variables.
pub(crate) struct Adam {
    slots: Vec<Slot>,
    lr: f64,
    /// Steps taken so far.
    step: u64,
    /// The step size α_t of the current step (`advance`).
    step_size: f64,
    /// The counter, learning rate and step size on the device, where the fused CUDA update
    /// reads them (created by the first `advance` that finds a weight it applies to), and the
    /// `(steps, lr)` it will hold once the queued steps ran.
    #[cfg(feature = "cuda")]
    device_clock: Option<(super::gpu::AdamClock, (u64, f64))>,
}

impl Adam {
    /// Fresh state (zero moments, step 0) for `vars`, taken in the given order.
    pub(crate) fn new(vars: Vec<(String, Var)>, lr: f64) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let m = var.zeros_like()?;
                let v = var.zeros_like()?;
                Ok(Slot { name, var, m, v })
            })
            .collect::<Result<_>>()?;
        Ok(Adam {
            slots,
            lr,
            step: 0,
            step_size: 0.0,
            #[cfg(feature = "cuda")]
            device_clock: None,
        })
    }

    /// Changes the learning rate (a schedule's); the moments are kept.
    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Steps taken so far.
    pub(crate) fn steps(&self) -> u64 {
        self.step
    }

    /// One update from the gradients in `grads`; variables without a gradient are left alone.
    #[cfg(any(test, feature = "cuda"))]
    pub(crate) fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.advance()?;
        self.apply(grads)
    }

    /// Counts one more step and sets its step size `α_t = lr · sqrt(1 - β₂ᵗ) / (1 - β₁ᵗ)`;
    /// [`Adam::apply`] then updates the weights. On CUDA, `apply` counts the step on the device
    /// too (`gpu::AdamClock`), which this sets only when the count or the learning rate changed
    /// otherwise, so that a CUDA graph can record `apply` once and replay it after each
    /// `advance` (`graph.rs`).
    pub(crate) fn advance(&mut self) -> Result<()> {
        #[cfg(feature = "cuda")]
        if let Some(slot) = self.slots.iter().find(|slot| super::gpu::adam_applies(slot.var.as_tensor())) {
            let (clock, expected) = match self.device_clock.as_mut() {
                Some(clock) => clock,
                None => self.device_clock.insert((super::gpu::AdamClock::new(slot.var.device())?, (u64::MAX, 0.0))),
            };
            if *expected != (self.step, self.lr) {
                clock.set(self.step, self.lr)?;
            }
            *expected = (self.step + 1, self.lr);
        }
        self.step += 1;
        let t = self.step as i32;
        self.step_size = self.lr * (1.0 - BETA2.powi(t)).sqrt() / (1.0 - BETA1.powi(t));
        Ok(())
    }

    /// The update of the current step ([`Adam::advance`]) from the gradients in `grads`;
    /// variables without a gradient are left alone.
    pub(crate) fn apply(&mut self, grads: &GradStore) -> Result<()> {
        let alpha = self.step_size;
        #[cfg(feature = "cuda")]
        let mut clock = self.device_clock.as_mut().map(|(clock, _)| clock);
        #[cfg(feature = "cuda")]
        if let Some(clock) = clock.as_mut() {
            clock.advance((BETA1, BETA2))?;
        }
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            #[cfg(feature = "cuda")]
            if let (true, Some(clock)) = (super::gpu::adam_applies(slot.var.as_tensor()), clock.as_ref()) {
                super::gpu::adam_step(slot.var.as_tensor(), &slot.m, &slot.v, g, clock, (BETA1, BETA2), EPSILON)?;
                continue;
            }
            slot.m = ((&slot.m * BETA1)? + (g * (1.0 - BETA1))?)?;
            slot.v = ((&slot.v * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&slot.m * alpha)? / (slot.v.sqrt()? + EPSILON)?)?;
            slot.var.set(&slot.var.sub(&update)?)?;
        }
        Ok(())
    }

    /// The moments as named tensors (`m.NAME`, `v.NAME`), for a checkpoint.
    pub(crate) fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for slot in &self.slots {
            out.insert(format!("m.{}", slot.name), slot.m.clone());
            out.insert(format!("v.{}", slot.name), slot.v.clone());
        }
        out
    }

    /// Restores the moments saved by [`Adam::state`] and the step count.
    pub(crate) fn restore(&mut self, state: &HashMap<String, Tensor>, step: u64) -> Result<()> {
        for slot in &mut self.slots {
            for (prefix, target) in [("m", &mut slot.m), ("v", &mut slot.v)] {
                let key = format!("{prefix}.{}", slot.name);
                let saved =
                    state.get(&key).ok_or_else(|| candle_core::Error::Msg(format!("optimizer state lacks {key}")))?;
                if saved.shape() != target.shape() {
                    candle_core::bail!(
                        "optimizer state {key} has shape {:?}, expected {:?}",
                        saved.shape(),
                        target.shape()
                    )
                }
                *target = saved.to_dtype(target.dtype())?.to_device(target.device())?;
            }
        }
        if state.len() != 2 * self.slots.len() {
            candle_core::bail!("optimizer state has {} tensors, expected {}", state.len(), 2 * self.slots.len())
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn first_steps_match_keras_by_hand() {
        // Minimise w² from w = 1 with lr 0.1: g = 2w. Step 1: m = 0.2, v = 0.004,
        // alpha = 0.1·sqrt(0.001)/0.1, update = alpha·m/(sqrt(v)+eps) ≈ 0.1.
        let w = Var::new(&[1.0f64], &Device::Cpu).unwrap();
        let mut adam = Adam::new(vec![("w".into(), w.clone())], 0.1).unwrap();
        let mut expected = 1.0f64;
        let (mut m, mut v) = (0.0f64, 0.0f64);
        for t in 1..=3 {
            let grads = w.as_tensor().sqr().unwrap().sum_all().unwrap().backward().unwrap();
            adam.step(&grads).unwrap();
            let g = 2.0 * expected;
            m = BETA1 * m + (1.0 - BETA1) * g;
            v = BETA2 * v + (1.0 - BETA2) * g * g;
            let alpha = 0.1 * (1.0 - BETA2.powi(t)).sqrt() / (1.0 - BETA1.powi(t));
            expected -= alpha * m / (v.sqrt() + EPSILON);
            let got = w.to_vec1::<f64>().unwrap()[0];
            assert!((got - expected).abs() < 1e-12, "step {t}: {got} vs {expected}");
        }
        assert_eq!(adam.steps(), 3);
        let state = adam.state();
        let mut other = Adam::new(vec![("w".into(), w.clone())], 0.1).unwrap();
        other.restore(&state, 3).unwrap();
        assert_eq!(other.state()["m.w"].to_vec1::<f64>().unwrap(), state["m.w"].to_vec1::<f64>().unwrap());
        assert!(other.restore(&HashMap::new(), 0).is_err());
    }
}
