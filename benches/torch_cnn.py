"""The paper's CNN (pzbench's `crates/models/src/cnn.rs`) in PyTorch: training throughput reference.

usage: python3 torch_cnn.py [--size 64] [--batch 256] [--iters 40] [--warmup 5] [--repeat 3]
                            [--variants default,tuned,strict,bf16,compile,compile_bf16]

Prints training galaxies/s (forward, loss, backward, Adam step) and inference galaxies/s (forward
under no_grad, predictions copied to the host, as `pzbench bench train` does): the median of
--repeat timed runs of --iters steps each, with the smallest and largest, and the same as one JSON
line (`JSON {...}`, read by benches/gpu_table.py).

Same layers as pzbench: 3x3 'same' convolutions 32 tanh, pool, 64 tanh, pool, 128 tanh, pool,
256 tanh, pool, 256 tanh, pool, 512 relu, 512 relu; flatten; dense 512/128/32 tanh; photometry
branch 6 x dense 200 relu on the 5 raw magnitudes; concatenate; dense 1. Max pooling 2x2 floor
mode. Adam (lr 1e-4) on the Tanaka loss (gamma 0.15). Inputs are random tensors already on the GPU,
so this measures the model step alone (no data loading), as `pzbench bench train` does.

Variants:
  default  PyTorch's defaults: cudnn.benchmark off, cuDNN convolutions may use TF32 (matmuls not);
  tuned    as default, with cudnn.benchmark on (fastest algorithm measured per shape, as pzbench);
  strict   tuned with TF32 off (plain fp32 everywhere);
  bf16     tuned, channels_last, bf16 autocast (mixed precision, fp32 master weights);
  compile       default, the model compiled by torch.compile (mode "default": TorchInductor's
                fused Triton kernels; the warm-up steps include the compilations, of the
                training graph and, under no_grad, of the inference graph);
  compile_bf16  bf16, compiled the same way.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn

CONVS = [(32, "tanh", True), (64, "tanh", True), (128, "tanh", True), (256, "tanh", True),
         (256, "tanh", True), (512, "relu", False), (512, "relu", False)]


def act(name):
    return nn.Tanh() if name == "tanh" else nn.ReLU()


class Cnn(nn.Module):
    def __init__(self, size, bands=5, mags=5):
        super().__init__()
        layers, cin, side = [], bands, size
        for cout, a, pool in CONVS:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), act(a)]
            if pool:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            cin = cout
        self.image = nn.Sequential(*layers, nn.Flatten())
        dense, width = [], cin * side * side
        for w in (512, 128, 32):
            dense += [nn.Linear(width, w), nn.Tanh()]
            width = w
        self.image_dense = nn.Sequential(*dense)
        phot, pw = [], mags
        for _ in range(6):
            phot += [nn.Linear(pw, 200), nn.ReLU()]
            pw = 200
        self.phot = nn.Sequential(*phot)
        self.head = nn.Linear(32 + 200, 1)

    def forward(self, img, mags):
        return self.head(torch.cat([self.image_dense(self.image(img)), self.phot(mags)], 1))


def tanaka(pred, z, gamma=0.15):
    dz = (pred - z) / (1 + z)
    return (1 - 1 / (1 + (dz / gamma) ** 2)).mean()


def run(name, size, batch, warmup, iters, repeat):
    torch.backends.cudnn.allow_tf32 = name != "strict"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = name not in ("default", "compile")
    torch.manual_seed(0)
    dev = "cuda"
    bf16 = name in ("bf16", "compile_bf16")
    fmt = torch.channels_last if bf16 else torch.contiguous_format
    eager = Cnn(size).to(dev, memory_format=fmt)
    model = torch.compile(eager) if name.startswith("compile") else eager
    img = torch.rand(batch, 5, size, size, device=dev).to(memory_format=fmt)
    mags = 20 + 5 * torch.rand(batch, 5, device=dev)
    z = 2 * torch.rand(batch, 1, device=dev)
    opt = torch.optim.Adam(eager.parameters(), lr=1e-4)

    def forward():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            return model(img, mags).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = tanaka(forward(), z)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    train, infer = [], []
    for _ in range(repeat):
        torch.cuda.synchronize()
        t = time.time()
        for _ in range(iters):
            loss = step()
        torch.cuda.synchronize()
        train.append(iters * batch / (time.time() - t))
    with torch.no_grad():
        for _ in range(warmup):
            forward()
        for _ in range(repeat):
            torch.cuda.synchronize()
            t = time.time()
            for _ in range(iters):
                forward().cpu()
            infer.append(iters * batch / (time.time() - t))
    params = sum(p.numel() for p in eager.parameters())
    peak = torch.cuda.max_memory_allocated() / 2**30
    med = statistics.median
    print(f"RESULT torch {name} {size}px batch {batch}: {batch / med(train) * 1e3:.1f} ms/step, "
          f"{med(train):.0f} [{min(train):.0f}, {max(train):.0f}] galaxies/s train, "
          f"{med(infer):.0f} [{min(infer):.0f}, {max(infer):.0f}] galaxies/s inference, "
          f"{params} parameters, loss {loss.item():.4f}, peak {peak:.2f} GiB", flush=True)
    print("JSON " + json.dumps({"implementation": f"torch {name}", "image_size": size, "batch_size": batch,
                                "train": train, "infer": infer, "peak_gib": peak}), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", default="default,tuned,strict,bf16")
    a = ap.parse_args()
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
          torch.cuda.get_device_name(0), flush=True)
    for v in a.variants.split(","):
        run(v, a.size, a.batch, a.warmup, a.iters, a.repeat)
