# source me: build environment for candle + cuda without a system CUDA toolkit.
# CUDA_WHEELS_DIR holds the five unpacked 13.0 wheels (see docs/GPU_RECIPE.md, step 1).
export CUDA_WHEELS_DIR=${CUDA_WHEELS_DIR:-$HOME/.cache/pzbench-cuda}
export CU=$CUDA_WHEELS_DIR/nvidia/cu13
export PATH=$CU/bin:$CU/nvvm/bin:$PATH
export CUDA_ROOT=$CU CUDA_HOME=$CU CUDA_PATH=$CU
export CUDA_COMPUTE_CAP=90
export LIBRARY_PATH=$CU/lib:$CU/lib/stubs
# keep the CUDA build apart from the CPU one: the first CUDA build compiles candle-kernels (~30 min)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda}
