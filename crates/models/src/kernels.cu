// pzbench's CUDA kernels (built to PTX by build.rs with the `cuda` feature).
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

// Fused bias + activation on contiguous channels-last f32 tensors (channel = fastest index):
// act 0 = tanh, 1 = relu, 2 = linear.
__device__ __forceinline__ float activate(float v, int act) {
    return act == 0 ? tanhf(v) : (act == 1 ? fmaxf(v, 0.0f) : v);
}

extern "C" __global__ void bias_act_f32(const float* x, const float* bias, float* y, long long n, int c, int act) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        y[e] = activate(x[e] + bias[e % c], act);
    }
}

// The gradient before the activation, from its output y: dy * act'(y) (tanh: 1 - y^2; relu: 1
// where y > 0, as PyTorch; linear: 1).
extern "C" __global__ void bias_act_grad_f32(const float* y, const float* dy, float* g, long long n, int act) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const float v = y[e];
        g[e] = act == 0 ? dy[e] * (1.0f - v * v) : (act == 1 ? (v > 0.0f ? dy[e] : 0.0f) : dy[e]);
    }
}

// A convolution block's pooled activation in one pass (the CNN's conv + bias + activation + pool,
// `gpu.rs` ConvBlock): z is the convolution output (B, H, W, C) before the bias; y = act(z + bias)
// is pooled with the rules above and never stored.
__device__ __forceinline__ int first_max_act(const float* z, const float* bias, int ch, int act,
                                                   const long long candidates[4], float values[4]) {
    for (int k = 0; k < 4; ++k) values[k] = activate(z[candidates[k]] + bias[ch], act);
    int best = 0;
    for (int k = 1; k < 4; ++k) {
        const float v = values[k], m = values[best];
        if (v > m || (isnan(v) && !isnan(m))) best = k;
    }
    return best;
}

extern "C" __global__ void bias_act_pool_f32(const float* z, const float* bias, float* y, int b, int h, int w, int c,
                                             int act) {
    const long long total = (long long)b * (h / 2) * (w / 2) * c;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        long long candidates[4];
        float values[4];
        window(o, h, w, c, candidates);
        y[o] = values[first_max_act(z, bias, (int)(o % c), act, candidates, values)];
    }
}

// Its backward pass: the gradient before the activation, g = dy_pooled * act'(y) at each window's
// first maximum and 0 elsewhere, cropped odd rows and columns included, so every element of g is
// written (no zero fill needed).
extern "C" __global__ void bias_act_pool_grad_f32(const float* z, const float* bias, const float* dy, float* g, int b,
                                                  int h, int w, int c, int act) {
    const int ho = h / 2, wo = w / 2;
    const long long total = (long long)b * ho * wo * c;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        long long candidates[4];
        float values[4];
        window(o, h, w, c, candidates);
        const int ch = (int)(o % c);
        const int best = first_max_act(z, bias, ch, act, candidates, values);
        const float v = values[best], d = dy[o];
        const float grad = act == 0 ? d * (1.0f - v * v) : (act == 1 ? (v > 0.0f ? d : 0.0f) : d);
        for (int k = 0; k < 4; ++k) g[candidates[k]] = k == best ? grad : 0.0f;
        // The cropped last row / column (odd sizes) next to this window.
        const long long r = o / c;
        const bool last_col = (w & 1) && (int)(r % wo) == wo - 1;
        const bool last_row = (h & 1) && (int)((r / wo) % ho) == ho - 1;
        const long long row = (long long)w * c;
        if (last_col) {
            g[candidates[1] + c] = 0.0f;
            g[candidates[3] + c] = 0.0f;
        }
        if (last_row) {
            g[candidates[2] + row] = 0.0f;
            g[candidates[3] + row] = 0.0f;
        }
        if (last_row && last_col) g[candidates[3] + row + c] = 0.0f;
    }
}

// Per-block column sums of a (rows, c) matrix, deterministic: block b sums rows
// [b * rows_per_block, (b + 1) * rows_per_block) into partial[b * c .. b * c + c]. blockDim.x
// must be a multiple of c, so each thread always meets the same column; shared memory holds
// blockDim.x floats.
extern "C" __global__ void column_partial_sums_f32(const float* g, float* partial, long long rows, int c,
                                                    long long rows_per_block) {
    extern __shared__ float acc[];
    const long long r0 = blockIdx.x * rows_per_block;
    const long long r1 = min(rows, r0 + rows_per_block);
    float sum = 0.0f;
    for (long long e = r0 * c + threadIdx.x; e < r1 * c; e += blockDim.x) sum += g[e];
    acc[threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.x < c) {
        float s = 0.0f;
        for (int k = threadIdx.x; k < blockDim.x; k += c) s += acc[k];
        partial[blockIdx.x * (long long)c + threadIdx.x] = s;
    }
}

// Adam (src/models/adam.rs) in place, one pass: the two moments, then the weights (the same
// expressions as the CPU path).
extern "C" __global__ void adam_step_f32(float* w, float* m, float* v, const float* g, long long n, float alpha,
                                         float beta1, float beta2, float epsilon) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const float grad = g[e];
        const float first = m[e] * beta1 + grad * (1.0f - beta1);
        const float second = v[e] * beta2 + grad * grad * (1.0f - beta2);
        m[e] = first;
        v[e] = second;
        w[e] -= first * alpha / (sqrtf(second) + epsilon);
    }
}
