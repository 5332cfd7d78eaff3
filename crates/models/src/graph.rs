//! CUDA graphs of the models' steps (the `cuda` feature): a training step (forward, loss, backward,
//! Adam) or an inference step is recorded once by stream capture and then replayed for every
//! later batch of the same shape. The host then queues one graph launch per step instead of
//! building candle's autograd graph and launching a few hundred kernels, which at 64 px took
//! longer than the device's work (docs/gpu.md).
//!
//! A replay runs the recorded kernels on the recorded buffers, so:
//! - the inputs and outputs of a step live in fixed device buffers ([`StepBuffers`]), written
//!   before and read after each replay; the weights are updated in place (`Var::set`, the fused
//!   Adam of `gpu.rs`), and Adam's step counter and step size live in device memory, advanced by
//!   a kernel of the step (`gpu::AdamClock`);
//! - everything else the step allocates is allocated and freed inside the graph (cudarc's
//!   allocations are stream-ordered, which capture records as graph memory nodes);
//! - candle's small host uploads (kernel dims and strides, scalar constants) and cuDNN's
//!   algorithm timing happen in an uncaptured warm-up step run under
//!   [`candle_core::cuda_backend::CudaDevice::enable_cuda_graph_htod_cache`], whose cached copies
//!   the captured step then reuses; candle refuses any uncached upload while capturing.

use std::sync::Arc;

use candle_core::cuda_backend::cudarc::driver::sys::{CUgraphInstantiate_flags, CUstreamCaptureMode};
use candle_core::cuda_backend::cudarc::driver::{
    result, CudaEvent, CudaGraph, CudaSlice, CudaStream, DevicePtr, PinnedHostSlice,
};
use candle_core::cuda_backend::WrapErr;
use candle_core::{bail, DType, Device, Result, Storage, Tensor};

/// A recorded step.
pub(crate) struct Graph(CudaGraph);

impl Graph {
    /// Records the work that `step` queues on `device`'s stream, without running it. `step` must
    /// have run uncaptured on the same buffers first, under `enable_cuda_graph_htod_cache`;
    /// every tensor it creates must be dropped before it returns.
    pub(crate) fn capture(device: &Device, step: impl FnOnce() -> Result<()>) -> Result<Graph> {
        let cuda = device.as_cuda_device()?;
        let stream = cuda.cuda_stream();
        stream.synchronize().w()?;
        let _cache = cuda.enable_cuda_graph_htod_cache();
        stream.begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL).w()?;
        let recorded = step();
        let ended = stream.end_capture(CUgraphInstantiate_flags(0));
        recorded?;
        let Some(graph) = ended.w()? else { bail!("CUDA graph capture recorded nothing") };
        graph.upload().w()?;
        Ok(Graph(graph))
    }

    /// Queues the recorded step.
    pub(crate) fn replay(&self) -> Result<()> {
        self.0.launch().w()
    }
}

/// The fixed device buffers of a recorded step's inputs, filled from the host through pinned
/// memory on a second stream, double-buffered: the copy of the next batch overlaps the current
/// step, and the step's stream waits only for its own batch ([`StepBuffers::write`]).
pub(crate) struct StepBuffers {
    /// The tensors the step reads, in the order of `write`'s values.
    tensors: Vec<Tensor>,
    copies: Arc<CudaStream>,
    stream: Arc<CudaStream>,
    /// Two sets of staging buffers, used in turn.
    slots: [Slot; 2],
    next: usize,
}

/// Pinned host staging and device staging for every tensor of [`StepBuffers`].
struct Slot {
    pinned: Vec<PinnedHostSlice<f32>>,
    staging: Vec<CudaSlice<f32>>,
    /// Recorded on the copy stream after the slot's upload.
    uploaded: CudaEvent,
    /// Recorded on the step's stream after the staging buffers were copied out, so that the next
    /// upload into them waits for it.
    consumed: CudaEvent,
}

impl StepBuffers {
    /// Zero-filled f32 tensors of `shapes` on `device`, and their staging buffers.
    pub(crate) fn new(device: &Device, shapes: &[&[usize]]) -> Result<Self> {
        let cuda = device.as_cuda_device()?;
        let stream = cuda.cuda_stream();
        let context = stream.context().clone();
        let copies = context.new_stream().w()?;
        let tensors =
            shapes.iter().map(|shape| Tensor::zeros(*shape, DType::F32, device)).collect::<Result<Vec<_>>>()?;
        let slot = || -> Result<Slot> {
            let sizes = shapes.iter().map(|s| s.iter().product::<usize>());
            Ok(Slot {
                // SAFETY: written in full by `write` before any copy reads it.
                pinned: sizes.clone().map(|n| unsafe { context.alloc_pinned::<f32>(n) }.w()).collect::<Result<_>>()?,
                // SAFETY: written in full by the upload before the step's copy reads it.
                staging: sizes.map(|n| unsafe { copies.alloc::<f32>(n) }.w()).collect::<Result<_>>()?,
                uploaded: context.new_event(None).w()?,
                consumed: stream.record_event(None).w()?,
            })
        };
        let slots = [slot()?, slot()?];
        Ok(StepBuffers { tensors, copies, stream, slots, next: 0 })
    }

    /// The tensors the step reads.
    pub(crate) fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// Queues `values` (one slice per tensor, of its size) into the tensors: copied into pinned
    /// memory on the host (waiting only for the upload from the same slot two batches ago), uploaded
    /// on the copy stream, then copied into the tensors on the step's stream after the previous
    /// step. Work queued on the step's stream afterwards sees the new values.
    pub(crate) fn write(&mut self, values: &[&[f32]]) -> Result<()> {
        if values.len() != self.tensors.len() {
            bail!("step buffers: {} inputs for {} tensors", values.len(), self.tensors.len())
        }
        let slot = &mut self.slots[self.next];
        self.next = 1 - self.next;
        // The slot's previous upload must be done before its pinned memory is overwritten
        // (cudarc does not track pinned memory with event tracking off, `lib.rs`).
        slot.uploaded.synchronize().w()?;
        // ... and the staging buffers copied out by the step's stream.
        self.copies.wait(&slot.consumed).w()?;
        for ((pinned, staging), source) in slot.pinned.iter_mut().zip(&mut slot.staging).zip(values) {
            let host = pinned.as_mut_slice().w()?;
            if host.len() != source.len() {
                bail!("step buffers: an input of {} values for a buffer of {}", source.len(), host.len())
            }
            host.copy_from_slice(source);
            self.copies.memcpy_htod(pinned, staging).w()?;
        }
        slot.uploaded.record(&self.copies).w()?;
        self.stream.wait(&slot.uploaded).w()?;
        for (tensor, staging) in self.tensors.iter().zip(&slot.staging) {
            copy_into(tensor, staging, &self.stream)?;
        }
        slot.consumed.record(&self.stream).w()?;
        Ok(())
    }
}

/// Copies `source` into the device memory of the contiguous f32 `tensor` on `stream`, in place
/// (the tensor keeps its buffer, as a recorded graph needs).
fn copy_into(tensor: &Tensor, source: &CudaSlice<f32>, stream: &Arc<CudaStream>) -> Result<()> {
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cuda(storage) = &*storage else { bail!("step buffers must be on a CUDA device") };
    let Some((start, end)) = layout.contiguous_offsets() else { bail!("step buffers must be contiguous") };
    if end - start != source.len() {
        bail!("step buffers: {} values for a tensor of {}", source.len(), end - start)
    }
    let target = storage.as_cuda_slice::<f32>()?.slice(start..end);
    let (target, _target_sync) = target.device_ptr(stream);
    let (source, _source_sync) = source.device_ptr(stream);
    // SAFETY: both buffers hold `end - start` f32 values on this device; the tensor is only
    // read by work queued on `stream` after this copy (its storage is shared, not aliased
    // mutably: candle writes tensors only through in-place ops, which the step does not apply
    // to its inputs).
    unsafe { result::memcpy_dtod_async(target, source, (end - start) * std::mem::size_of::<f32>(), stream.cu_stream()) }
        .w()
}

/// Uncaptured steps before a step is recorded: the first finds cuDNN's fastest algorithms and
/// loads the kernels, the second runs as the recorded one will.
const WARM_UP_STEPS: usize = 2;

/// A step of fixed input and output shapes — inputs in [`StepBuffers`], the result copied into a
/// fixed output tensor — run directly for the first [`WARM_UP_STEPS`] batches, then recorded
/// once and replayed.
pub(crate) struct GraphedStep {
    buffers: StepBuffers,
    output: Tensor,
    graph: Option<Graph>,
    warm_ups: usize,
}

impl GraphedStep {
    /// Inputs of `input_shapes` and an output of `output_shape`, on `device`.
    pub(crate) fn new(device: &Device, input_shapes: &[&[usize]], output_shape: &[usize]) -> Result<Self> {
        Ok(GraphedStep {
            buffers: StepBuffers::new(device, input_shapes)?,
            output: Tensor::zeros(output_shape, DType::F32, device)?,
            graph: None,
            warm_ups: 0,
        })
    }

    /// Queues the next batch's inputs ([`StepBuffers::write`]).
    pub(crate) fn write(&mut self, values: &[&[f32]]) -> Result<()> {
        self.buffers.write(values)
    }

    /// Queues one step: `step` computes the output from the inputs (in [`GraphedStep::new`]'s
    /// order); it is called directly during the warm-up, then once more to be recorded, and not
    /// at all afterwards — work it does on the host (a counter, a step size) belongs before this
    /// call. Returns the output tensor, whose values are those of this step until the next one.
    pub(crate) fn run(&mut self, step: impl FnOnce(&[Tensor]) -> Result<Tensor>) -> Result<Tensor> {
        let inputs = self.buffers.tensors();
        let output = &self.output;
        let record = || -> Result<()> {
            let value = step(inputs)?;
            output.slice_set(&value.reshape(output.shape())?.contiguous()?, 0, 0)
        };
        match &self.graph {
            Some(graph) => graph.replay()?,
            None if self.warm_ups < WARM_UP_STEPS => {
                // candle caches its small host uploads by content under this guard, for the
                // capture to find (only here: values that change every step, uploaded through
                // candle under it, would each add an entry).
                let _cache = output.device().as_cuda_device()?.enable_cuda_graph_htod_cache();
                record()?;
                self.warm_ups += 1;
            }
            None => {
                let graph = Graph::capture(output.device(), record)?;
                graph.replay()?;
                self.graph = Some(graph);
            }
        }
        Ok(self.output.clone())
    }
}
