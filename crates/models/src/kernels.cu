// pzbench's CUDA kernels (built to PTX by build.rs with the `cuda` feature).

#include <cuda_bf16.h>
//
// 2x2 max pooling, stride 2, floor mode, on contiguous channels-last (B, H, W, C) f32 tensors,
// with the CPU op's rules (src/models/pool.rs): each window's FIRST maximum in row-major scan
// order (0,0), (0,1), (1,0), (1,1) wins ties, the first NaN wins, and a cropped odd row or column
// gets no gradient. One thread per output element; the backward pass recomputes the argmax.

// The input offsets of output element o's window, in scan order (0,0), (0,1), (1,0), (1,1).
__device__ __forceinline__ void window(long long o, int h, int w, int c, long long candidates[4]) {
    const int ho = h / 2, wo = w / 2;
    const int ch = (int)(o % c);
    long long r = o / c;
    const int j = (int)(r % wo);
    r /= wo;
    const int i = (int)(r % ho);
    const long long n = r / ho;
    const long long top = ((n * h + 2 * i) * w + 2 * j) * (long long)c + ch;
    const long long row = (long long)w * c;
    candidates[0] = top;
    candidates[1] = top + c;
    candidates[2] = top + row;
    candidates[3] = top + row + c;
}

// The offset of the window's first maximum (the first NaN wins).
__device__ __forceinline__ long long first_max(const float* x, const long long candidates[4]) {
    long long best = candidates[0];
    for (int k = 1; k < 4; ++k) {
        const float v = x[candidates[k]], m = x[best];
        if (v > m || (isnan(v) && !isnan(m))) best = candidates[k];
    }
    return best;
}

extern "C" __global__ void max_pool2x2_nhwc_f32(const float* x, float* y, int b, int h, int w, int c) {
    const long long total = (long long)b * (h / 2) * (w / 2) * c;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        long long candidates[4];
        window(o, h, w, c, candidates);
        y[o] = x[first_max(x, candidates)];
    }
}

// dx must be zeroed beforehand (the cropped row/column is never written).
extern "C" __global__ void max_pool2x2_nhwc_f32_backward(const float* x, const float* dy, float* dx, int b, int h,
                                                         int w, int c) {
    const long long total = (long long)b * (h / 2) * (w / 2) * c;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        long long candidates[4];
        window(o, h, w, c, candidates);
        const long long best = first_max(x, candidates);
        for (int k = 0; k < 4; ++k) dx[candidates[k]] = candidates[k] == best ? dy[o] : 0.0f;
    }
}

// The fused blocks' kernels below are templates over the stored element type: f32, or bf16 with
// `--precision bf16` (values are loaded into f32, computed in f32, and rounded once when stored;
// column sums accumulate and are written in f32). Each is instantiated as NAME_f32 and NAME_bf16.
__device__ __forceinline__ float load(float v) { return v; }
__device__ __forceinline__ float load(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T store(float v);
template <> __device__ __forceinline__ float store<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 store<__nv_bfloat16>(float v) { return __float2bfloat16(v); }

// Fused bias + activation on contiguous channels-last tensors (channel = fastest index):
// act 0 = tanh, 1 = relu, 2 = linear.
__device__ __forceinline__ float activate(float v, int act) {
    return act == 0 ? tanhf(v) : (act == 1 ? fmaxf(v, 0.0f) : v);
}

template <typename T>
__device__ void bias_act(const T* x, const T* bias, T* y, long long n, int c, int act) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        y[e] = store<T>(activate(load(x[e]) + load(bias[e % c]), act));
    }
}

// The gradient before the activation, from its output y: dy * act'(y) (tanh: 1 - y^2; relu: 1
// where y > 0, as PyTorch; linear: 1).
template <typename T>
__device__ void bias_act_grad(const T* y, const T* dy, T* g, long long n, int act) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const float v = load(y[e]), d = load(dy[e]);
        g[e] = store<T>(act == 0 ? d * (1.0f - v * v) : (act == 1 ? (v > 0.0f ? d : 0.0f) : d));
    }
}

// A convolution block's pooled activation in one pass (the CNN's conv + bias + activation + pool,
// `gpu.rs` ConvBlock): z is the convolution output (B, H, W, C) before the bias; y = act(z + bias)
// is pooled with the rules above and never stored.
template <typename T>
__device__ __forceinline__ int first_max_act(const T* z, const T* bias, int ch, int act, const long long candidates[4],
                                             float values[4]) {
    for (int k = 0; k < 4; ++k) values[k] = activate(load(z[candidates[k]]) + load(bias[ch]), act);
    int best = 0;
    for (int k = 1; k < 4; ++k) {
        const float v = values[k], m = values[best];
        if (v > m || (isnan(v) && !isnan(m))) best = k;
    }
    return best;
}

template <typename T>
__device__ void bias_act_pool(const T* z, const T* bias, T* y, int b, int h, int w, int c, int act) {
    const long long total = (long long)b * (h / 2) * (w / 2) * c;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        long long candidates[4];
        float values[4];
        window(o, h, w, c, candidates);
        y[o] = store<T>(values[first_max_act(z, bias, (int)(o % c), act, candidates, values)]);
    }
}

// Its backward pass: the gradient before the activation, g = dy_pooled * act'(y) at each window's
// first maximum and 0 elsewhere, cropped odd rows and columns included, so every element of g is
// written (no zero fill needed).
template <typename T>
__device__ void bias_act_pool_grad(const T* z, const T* bias, const T* dy, T* g, int b, int h, int w, int c, int act) {
    const int ho = h / 2, wo = w / 2;
    const long long total = (long long)b * ho * wo * c;
    const T zero = store<T>(0.0f);
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        long long candidates[4];
        float values[4];
        window(o, h, w, c, candidates);
        const int ch = (int)(o % c);
        const int best = first_max_act(z, bias, ch, act, candidates, values);
        const float v = values[best], d = load(dy[o]);
        const T grad = store<T>(act == 0 ? d * (1.0f - v * v) : (act == 1 ? (v > 0.0f ? d : 0.0f) : d));
        for (int k = 0; k < 4; ++k) g[candidates[k]] = k == best ? grad : zero;
        // The cropped last row / column (odd sizes) next to this window.
        const long long r = o / c;
        const bool last_col = (w & 1) && (int)(r % wo) == wo - 1;
        const bool last_row = (h & 1) && (int)((r / wo) % ho) == ho - 1;
        const long long row = (long long)w * c;
        if (last_col) {
            g[candidates[1] + c] = zero;
            g[candidates[3] + c] = zero;
        }
        if (last_row) {
            g[candidates[2] + row] = zero;
            g[candidates[3] + row] = zero;
        }
        if (last_row && last_col) g[candidates[3] + row + c] = zero;
    }
}

// Per-block column sums of a (rows, c) matrix, deterministic, in f32: block b sums rows
// [b * rows_per_block, (b + 1) * rows_per_block) into partial[b * c .. b * c + c]. blockDim.x
// must be a multiple of c, so each thread always meets the same column; shared memory holds
// blockDim.x floats.
template <typename T>
__device__ void column_partial_sums(const T* g, float* partial, long long rows, int c, long long rows_per_block) {
    extern __shared__ float acc[];
    const long long r0 = blockIdx.x * rows_per_block;
    const long long r1 = min(rows, r0 + rows_per_block);
    float sum = 0.0f;
    for (long long e = r0 * c + threadIdx.x; e < r1 * c; e += blockDim.x) sum += load(g[e]);
    acc[threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.x < c) {
        float s = 0.0f;
        for (int k = threadIdx.x; k < blockDim.x; k += c) s += acc[k];
        partial[blockIdx.x * (long long)c + threadIdx.x] = s;
    }
}

#define INSTANTIATE(T, SUFFIX)                                                                                      \
    extern "C" __global__ void bias_act_##SUFFIX(const T* x, const T* bias, T* y, long long n, int c, int act) {   \
        bias_act<T>(x, bias, y, n, c, act);                                                                         \
    }                                                                                                               \
    extern "C" __global__ void bias_act_grad_##SUFFIX(const T* y, const T* dy, T* g, long long n, int act) {      \
        bias_act_grad<T>(y, dy, g, n, act);                                                                         \
    }                                                                                                               \
    extern "C" __global__ void bias_act_pool_##SUFFIX(const T* z, const T* bias, T* y, int b, int h, int w, int c, \
                                                      int act) {                                                    \
        bias_act_pool<T>(z, bias, y, b, h, w, c, act);                                                              \
    }                                                                                                               \
    extern "C" __global__ void bias_act_pool_grad_##SUFFIX(const T* z, const T* bias, const T* dy, T* g, int b,    \
                                                           int h, int w, int c, int act) {                          \
        bias_act_pool_grad<T>(z, bias, dy, g, b, h, w, c, act);                                                     \
    }                                                                                                               \
    extern "C" __global__ void column_partial_sums_##SUFFIX(const T* g, float* partial, long long rows, int c,     \
                                                            long long rows_per_block) {                             \
        column_partial_sums<T>(g, partial, rows, c, rows_per_block);                                                \
    }

INSTANTIATE(float, f32)
INSTANTIATE(__nv_bfloat16, bf16)

// Adam's clock (src/models/adam.rs): clock = {steps taken, learning rate}; counts one more step
// t and writes its step size lr·sqrt(1 - β₂ᵗ)/(1 - β₁ᵗ) for adam_step_f32. Queued with the update,
// so that a CUDA graph of the training step (graph.rs) advances it on every replay. One thread.
extern "C" __global__ void adam_advance(double* clock, float* step_size, double beta1, double beta2) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double t = clock[0] + 1.0;
    clock[0] = t;
    step_size[0] = (float)(clock[1] * sqrt(1.0 - pow(beta2, t)) / (1.0 - pow(beta1, t)));
}

// Adam (src/models/adam.rs) in place, one pass: the two moments, then the weights (the same
// expressions as the CPU path), with the step size that adam_advance wrote.
extern "C" __global__ void adam_step_f32(float* w, float* m, float* v, const float* g, long long n,
                                         const float* step_size, float beta1, float beta2, float epsilon) {
    const float alpha = *step_size;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const float grad = g[e];
        const float first = m[e] * beta1 + grad * (1.0f - beta1);
        const float second = v[e] * beta2 + grad * grad * (1.0f - beta2);
        m[e] = first;
        v[e] = second;
        w[e] -= first * alpha / (sqrtf(second) + epsilon);
    }
}
