// pzbench's CUDA kernels (built to PTX by build.rs with the `cuda` feature).
//
// 2x2 max pooling, stride 2, floor mode, on contiguous channels-last (B, H, W, C) f32 tensors,
// with the CPU op's rules (src/models/pool.rs): each window's FIRST maximum in row-major scan
// order (0,0), (0,1), (1,0), (1,1) wins ties, the first NaN wins, and a cropped odd row or column
// gets no gradient. One thread per output element; the backward pass recomputes the argmax.

__device__ __forceinline__ long long first_max(const float* x, long long o, int h, int w, int c) {
    const int ho = h / 2, wo = w / 2;
    const int ch = (int)(o % c);
    long long r = o / c;
    const int j = (int)(r % wo);
    r /= wo;
    const int i = (int)(r % ho);
    const long long n = r / ho;
    const long long top = ((n * h + 2 * i) * w + 2 * j) * (long long)c + ch;
    const long long row = (long long)w * c;
    const long long candidates[4] = {top, top + c, top + row, top + row + c};
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
        y[o] = x[first_max(x, o, h, w, c)];
    }
}

// dx must be zeroed beforehand (the cropped row/column is never written).
extern "C" __global__ void max_pool2x2_nhwc_f32_backward(const float* x, const float* dy, float* dx, int b, int h,
                                                         int w, int c) {
    const long long total = (long long)b * (h / 2) * (w / 2) * c;
    const int ho = h / 2, wo = w / 2;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        const long long best = first_max(x, o, h, w, c);
        const int ch = (int)(o % c);
        long long r = o / c;
        const int j = (int)(r % wo);
        r /= wo;
        const int i = (int)(r % ho);
        const long long n = r / ho;
        const long long top = ((n * h + 2 * i) * w + 2 * j) * (long long)c + ch;
        const long long row = (long long)w * c;
        const long long candidates[4] = {top, top + c, top + row, top + row + c};
        for (int k = 0; k < 4; ++k) dx[candidates[k]] = candidates[k] == best ? dy[o] : 0.0f;
    }
}
