#!/usr/bin/env bash
# The whole GPU check in one device call: CuPy parity and CUDA training tests, the GPU feature
# benchmark on the full MIT-BIH (from the pack that `make device-prep` wrote) or, without it, the
# bundled sample tiled to the full database's size, then the MIT-BIH comparison trained on the GPU
# against one epoch on the CPU cores. Logs go to $OUT (the device tool brings them back).
# Ends by itself before LIMIT_S seconds (default 560) so a 600 s call returns every log.
#
#   here:       make device-prep
#   device run: bash benchmarks/device_check.sh      (carry: .whl .bench)
set -uo pipefail
started=$SECONDS
LIMIT_S=${LIMIT_S:-560}
OUT=${OUT:-/tmp/ecgnet-device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" >/dev/null; then  # wfdb is not on the lent machines' image
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi

{
  nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv
  python3 -c 'import sys, cupy, numpy, scipy, wfdb; print("python", sys.version.split()[0], "cupy", cupy.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__, "wfdb", wfdb.__version__)'
  nproc
} 2>&1 | tee "$OUT/device.txt"

python3 -m pytest -q -rs -m gpu tests/test_gpu.py -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}

if [ -f .bench/mitdb/manifest.json ]; then
  python3 -m benchmarks.mitdb_pack unpack .bench/mitdb /tmp/mitdb 2>&1 | tee "$OUT/gpu_bench.log"
  bench_args=(--mitdb /tmp/mitdb)
else
  echo "no .bench/mitdb pack: the bundled sample, tiled to the full database's 100,623 beats" \
    | tee "$OUT/gpu_bench.log"
  bench_args=(--tile-to 100623)
fi
python3 -m benchmarks.gpu "${bench_args[@]}" 2>&1 | tee -a "$OUT/gpu_bench.log"
bench_rc=${PIPESTATUS[0]}

train_rc=0
if [ -d /tmp/mitdb ]; then
  left=$(( LIMIT_S - (SECONDS - started) ))
  echo "gpu training: $left s left of $LIMIT_S" | tee "$OUT/gpu_training.log"
  timeout "$left" python3 -m benchmarks.gpu_training --mitdb /tmp/mitdb \
    --out "$OUT/gpu_training.json" 2>&1 | tee -a "$OUT/gpu_training.log"
  train_rc=${PIPESTATUS[0]}
fi
echo "gpu tests rc=$tests_rc, gpu benchmark rc=$bench_rc, gpu training rc=$train_rc ($(( SECONDS - started )) s)"
exit $(( tests_rc || bench_rc || train_rc ))
