//! The training step (forward, objective, backward, Adam) and the inference step of a model on one
//! batch. On CUDA with the fast path, full batches run from CUDA graphs (`graph.rs`): recorded
//! after two direct steps, then replayed, with the inputs uploaded on a second stream; a batch of
//! another size (the last, partial one) runs directly. Elsewhere every step runs directly.
//! `train.rs` and `model.rs` (prediction) step through here, and so does `bench.rs`, so the
//! benchmark measures the path that training takes.

use candle_core::Tensor;

use super::adam::Adam;
use super::data::{Dataset, HostBatch};
use super::loss::Objective;
use super::model::Model;
use super::CandleContext;
use pzbench_io::{Error, Result};

/// A batch's inputs on the device, for the direct path.
struct DeviceBatch {
    images: Option<Tensor>,
    mags: Tensor,
    z: Option<Tensor>,
}

impl DeviceBatch {
    fn upload(model: &Model, batch: &HostBatch, with_z: bool) -> Result<Self> {
        let device = model.device();
        let mags = Tensor::from_slice(&batch.mags, (batch.n, model.architecture().n_mags()), device)
            .context("moving magnitudes")?;
        let images = match (model.architecture().image_shape(), &batch.images) {
            (Some((c, h, w)), Some(pixels)) => {
                Some(Tensor::from_slice(pixels, (batch.n, c, h, w), device).context("moving images")?)
            }
            _ => None,
        };
        let z = match (with_z, &batch.z) {
            (true, Some(z)) => Some(Tensor::from_slice(z, (batch.n, 1), device).context("moving redshifts")?),
            (true, None) => return Err(Error::usage("the training set has no redshifts")),
            (false, _) => None,
        };
        Ok(DeviceBatch { images, mags, z })
    }
}

#[cfg(feature = "cuda")]
/// The shapes of a full batch's inputs, in the order the steps read them: images (if the model
/// reads them), magnitudes, and (training) redshifts.
fn input_shapes(model: &Model, batch_size: usize, with_z: bool) -> Vec<Vec<usize>> {
    let arch = model.architecture();
    let mut shapes = Vec::new();
    if let Some((c, h, w)) = arch.image_shape() {
        shapes.push(vec![batch_size, c, h, w]);
    }
    shapes.push(vec![batch_size, arch.n_mags()]);
    if with_z {
        shapes.push(vec![batch_size, 1]);
    }
    shapes
}

#[cfg(feature = "cuda")]
/// A batch's host values in the order of [`input_shapes`].
fn host_inputs<'a>(model: &Model, batch: &'a HostBatch, with_z: bool) -> Result<Vec<&'a [f32]>> {
    let mut values = Vec::new();
    if model.architecture().image_shape().is_some() {
        values.push(batch.images.as_deref().ok_or_else(|| {
            Error::usage("the CNN needs images, but the data has none (give the HDF5 file with the `image` key)")
        })?);
    }
    values.push(batch.mags.as_slice());
    if with_z {
        values.push(batch.z.as_deref().ok_or_else(|| Error::usage("the training set has no redshifts"))?);
    }
    Ok(values)
}

#[cfg(feature = "cuda")]
/// `(images, mags[, z])` of the step's input tensors in [`input_shapes`]' order.
fn split_inputs<'t>(model: &Model, inputs: &'t [Tensor]) -> (Option<&'t Tensor>, &'t [Tensor]) {
    match model.architecture().image_shape() {
        Some(_) => (inputs.first(), &inputs[1..]),
        None => (None, inputs),
    }
}

/// What a step reads next: a full batch in the graph's buffers, or a batch on the direct path.
enum Loaded {
    None,
    #[cfg(feature = "cuda")]
    Graphed,
    Direct(DeviceBatch),
}

/// The batches of one kind of step: the one loaded, and, when graphs apply, the recorded step for
/// full batches of `batch_size`, which reads images (if the model does), magnitudes and, when
/// `with_z`, redshifts.
struct Batches<'m> {
    model: &'m Model,
    with_z: bool,
    #[cfg(feature = "cuda")]
    batch_size: usize,
    loaded: Loaded,
    #[cfg(feature = "cuda")]
    graphed: Option<super::graph::GraphedStep>,
}

impl<'m> Batches<'m> {
    /// `output_shape`: the recorded step's output; `what`: the step, for messages.
    fn new(model: &'m Model, batch_size: usize, with_z: bool, output_shape: &[usize], what: &str) -> Result<Self> {
        #[cfg(feature = "cuda")]
        let graphed = if super::gpu::graphs_apply(model.device()) {
            let shapes = input_shapes(model, batch_size, with_z);
            let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
            Some(
                super::graph::GraphedStep::new(model.device(), &shapes, output_shape)
                    .context(&format!("preparing the CUDA graph of the {what}"))?,
            )
        } else {
            None
        };
        #[cfg(not(feature = "cuda"))]
        let _ = (batch_size, output_shape, what);
        Ok(Batches {
            model,
            with_z,
            #[cfg(feature = "cuda")]
            batch_size,
            loaded: Loaded::None,
            #[cfg(feature = "cuda")]
            graphed,
        })
    }

    /// Runs `step` on the graph's input tensors — the images (if the model reads them), then the
    /// rest in [`input_shapes`]' order — as [`super::graph::GraphedStep::run`] does.
    #[cfg(feature = "cuda")]
    fn run_graphed(
        &mut self,
        step: impl FnOnce(Option<&Tensor>, &[Tensor]) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Tensor> {
        let model = self.model;
        let Some(graphed) = self.graphed.as_mut() else { candle_core::bail!("no CUDA graph to replay") };
        graphed.run(|inputs| {
            let (images, rest) = split_inputs(model, inputs);
            step(images, rest)
        })
    }

    /// Queues `batch`'s upload for the next step.
    fn load(&mut self, batch: &HostBatch) -> Result<()> {
        #[cfg(feature = "cuda")]
        if let (Some(graphed), true) = (self.graphed.as_mut(), batch.n == self.batch_size) {
            graphed.write(&host_inputs(self.model, batch, self.with_z)?).context("uploading the batch")?;
            self.loaded = Loaded::Graphed;
            return Ok(());
        }
        self.loaded = Loaded::Direct(DeviceBatch::upload(self.model, batch, self.with_z)?);
        Ok(())
    }
}

/// Training steps of a model with batches of a given size (`train.rs`, `bench.rs`).
pub(crate) struct TrainingSteps<'m> {
    batches: Batches<'m>,
    objective: Objective,
}

impl<'m> TrainingSteps<'m> {
    pub(crate) fn new(model: &'m Model, objective: Objective, batch_size: usize) -> Result<Self> {
        Ok(TrainingSteps { batches: Batches::new(model, batch_size, true, &[1], "training step")?, objective })
    }

    /// Queues `batch`'s upload for the next [`TrainingSteps::step`].
    pub(crate) fn load(&mut self, batch: &HostBatch) -> Result<()> {
        self.batches.load(batch)
    }

    /// One step on the loaded batch (it stays loaded); returns the objective's value, on the
    /// device, valid until the next step.
    pub(crate) fn step(&mut self, adam: &mut Adam) -> Result<Tensor> {
        let (model, objective) = (self.batches.model, self.objective);
        adam.advance().context("updating the weights")?;
        let train =
            |adam: &mut Adam, images: Option<&Tensor>, mags: &Tensor, z: &Tensor| -> candle_core::Result<Tensor> {
                let out = model.forward_tensors(images, mags)?;
                let loss = objective.tensor(&out, z)?;
                let grads = loss.backward()?;
                adam.apply(&grads)?;
                Ok(loss)
            };
        match &self.batches.loaded {
            Loaded::None => Err(Error::other("a training step ran before a batch was loaded")),
            #[cfg(feature = "cuda")]
            Loaded::Graphed => self
                .batches
                .run_graphed(|images, rest| train(adam, images, &rest[0], &rest[1]))
                .and_then(|loss| loss.squeeze(0))
                .context("training step (CUDA graph; --no-cuda-graphs runs without)"),
            Loaded::Direct(batch) => {
                let z = batch.z.as_ref().ok_or_else(|| Error::usage("the training set has no redshifts"))?;
                train(adam, batch.images.as_ref(), &batch.mags, z).context("training step")
            }
        }
    }
}

/// Inference steps of a model with batches of a given size (`model.rs`, `train.rs`'s validation,
/// `bench.rs`).
pub(crate) struct InferenceSteps<'m> {
    batches: Batches<'m>,
    batch_size: usize,
}

impl<'m> InferenceSteps<'m> {
    pub(crate) fn new(model: &'m Model, batch_size: usize) -> Result<Self> {
        let outputs = [batch_size, model.architecture().head().outputs()];
        let batches = Batches::new(model, batch_size, false, &outputs, "inference step")?;
        Ok(InferenceSteps { batches, batch_size })
    }

    /// The outputs for every row of `data`, in row order ([`crate::predict`]).
    pub(crate) fn predict_all(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        let model = self.batches.model;
        model.check_data(data)?;
        let rows: Vec<usize> = (0..data.len()).collect();
        let batches: Vec<Vec<usize>> = rows.chunks(self.batch_size).map(<[usize]>::to_vec).collect();
        let mut out = Vec::with_capacity(data.len());
        model.preprocess().for_each_batch(data, &batches, |batch| {
            self.load(&batch)?;
            out.extend(self.predict()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Queues `batch`'s upload for the next [`InferenceSteps::predict`].
    pub(crate) fn load(&mut self, batch: &HostBatch) -> Result<()> {
        self.batches.load(batch)
    }

    /// The outputs for the loaded batch (it stays loaded), row-major: one redshift or 3K mixture
    /// parameters per galaxy.
    pub(crate) fn predict(&mut self) -> Result<Vec<f32>> {
        let model = self.batches.model;
        let out = match &self.batches.loaded {
            Loaded::None => return Err(Error::other("an inference step ran before a batch was loaded")),
            #[cfg(feature = "cuda")]
            Loaded::Graphed => self
                .batches
                .run_graphed(|images, rest| model.forward_tensors(images, &rest[0]))
                .context("predicting (CUDA graph; --no-cuda-graphs runs without)")?,
            Loaded::Direct(batch) => model.forward_tensors(batch.images.as_ref(), &batch.mags).context("predicting")?,
        };
        out.flatten_all().and_then(|p| p.to_vec1::<f32>()).context("reading the predictions")
    }
}
