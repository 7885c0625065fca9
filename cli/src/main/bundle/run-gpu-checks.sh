#!/usr/bin/env bash
# run-gpu-checks.sh: Kiln's checks on a machine with an NVIDIA GPU and driver but no JDK or Maven. The
# template lives at cli/src/main/bundle/; `./kiln gpu-bundle` copies it into build/gpu-bundle/, beside
# runtime/ (a jlinked Java 25) and lib/ (the jars), which is all it uses besides bash and coreutils.
#
#   gpu-bundle/run-gpu-checks.sh [RESULTS_DIR]      default: $OUT, else ./gpu-results
#
# Steps, each with its own log in RESULTS_DIR; a failing step never stops the next:
#   env.txt            host, CPU, memory, the bundle's build, which CUDA libraries the dynamic linker sees
#   nvidia-smi.txt     nvidia-smi and nvidia-smi -q, when nvidia-smi is there
#   info.txt/.json     kiln info, kiln info --json
#   verify-cuda.log    kiln verify --backend cuda (every op family against the reference kernels)
#   verify-cuda-dp4a.log  kiln verify --backend cuda --op qgemm with KILN_CUDA_QGEMM_MMA=0 (the dp4a int8 kernels)
#   bench-gemm-cuda.*  kiln bench gemm, our CUDA kernel (cuda/cuda-sgemm) beside cuBLAS twice: through
#                      JCublas (cuda/cublas-gemm, libcublas.so.12 only) and as the bench's FFM peer column
#                      (cublasSgemm_v2 of libcublas.so.13/12/11, or KILN_CUBLAS; found in a PyTorch install too)
#   bench-gemm-tf32.*  the same with KILN_CUDA_TF32=1: our tensor-core kernel (cuda/cuda-sgemm-tf32)
#   bench-gemm-cpu.*   kiln bench gemm, the CPU backend beside OpenBLAS (when libopenblas is installed)
#   bench-conv.*       kiln bench conv, when this build has it
#   bench-spmm.*       kiln bench spmm --backend cuda,cpu: CSR, BSR, 2:4 against each backend's dense SGEMM (issue #8)
#   bench-qgemm.*      kiln bench qgemm --backend cuda,cpu: s8, s4, b1 against each backend's SGEMM (issue #9)
#   summary.txt        PASS / FAIL / SKIP per step, the CUDA status, ours against cuBLAS per size
# Exit status: 1 when verify failed (a missing driver fails it too) or a benchmark computed a wrong
# result, else 0. The GPU rows are measured once (GPU kernels ignore --threads), the CPU rows per thread
# count, so the two are separate runs.
#
# Environment: KILN_BENCH_SIZES (default 1024,2048,4096,8192), KILN_BENCH_THREADS (CPU thread counts,
# default 1 and every core), KILN_VERIFY_CASES (default 40), KILN_JAVA_OPTS (JVM flags, e.g. -Xmx16g),
# KILN_CUBLAS (a libcublas.so.N for the FFM peer; searched for under /usr, /opt, /home, /root when unset).
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
JAVA="$HERE/runtime/bin/java"
RESULTS=${1:-${OUT:-./gpu-results}}
SIZES=${KILN_BENCH_SIZES:-1024,2048,4096,8192}
CORES=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
THREADS=${KILN_BENCH_THREADS:-$( ((CORES > 1)) && echo "1,$CORES" || echo 1)}
CASES=${KILN_VERIFY_CASES:-40}
OURS=cuda/cuda-sgemm CUBLAS=cuda/cublas-gemm TF32=cuda/cuda-sgemm-tf32   # implementation names in the cuda module

note() { printf 'run-gpu-checks: %s\n' "$*" >&2; }

[[ -x $JAVA ]] || { note "no runtime at $JAVA: run this script from the folder ./kiln gpu-bundle wrote"; exit 2; }
mkdir -p "$RESULTS" || { note "cannot create $RESULTS"; exit 2; }
RESULTS=$(cd "$RESULTS" && pwd)

kiln() {
  # KILN_JAVA_OPTS unquoted on purpose: several flags in one variable.
  "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED ${KILN_JAVA_OPTS:-} \
    -cp "$HERE/lib/*" dev.kiln.cli.Main "$@"
}

# --- steps and the summary ---------------------------------------------------------------------------

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LINES=()        # one line per finished step, in order
CUDA_STATUS="unknown (kiln info did not say)" CUDA_OK=0
CUBLAS_TABLE=()
VERDICT="incomplete (the script was stopped)"

# Rewritten after every step, so an interrupted run still leaves what it got.
write_summary() {
  {
    echo "Kiln GPU checks, started $STARTED on $(uname -n), results in $RESULTS"
    echo "bundle: $(head -n 2 "$HERE/BUNDLE.txt" 2>/dev/null | paste -sd ' ' -)"
    echo "CUDA: $CUDA_STATUS"
    echo
    printf '%s\n' "${LINES[@]}"
    if ((${#CUBLAS_TABLE[@]})); then echo; printf '%s\n' "${CUBLAS_TABLE[@]}"; fi
    echo
    echo "result: $VERDICT"
  } >"$RESULTS/summary.txt"
}

# record RESULT NAME SECONDS DETAIL LOG: one summary line.
record() {
  LINES+=("$(printf '%-4s  %-16s %5ss  %s  [%s]' "$1" "$2" "$3" "$4" "$5")")
  write_summary
}

# run_step LOG CMD...: runs CMD with stdout and stderr into RESULTS/LOG and onto the console; sets RC and
# TOOK (seconds). Never fails the script.
run_step() {
  local log=$1 t0=$SECONDS; shift
  note "$* > $log"
  "$@" 2>&1 | tee "$RESULTS/$log"
  RC=${PIPESTATUS[0]}
  TOOK=$((SECONDS - t0))
}

# The line of LOG that best says what happened: the last one matching PATTERN, else its last line.
last_line() {
  local log=$RESULTS/$1 line
  line=$(grep -E "$2" "$log" 2>/dev/null | tail -n 1)
  [[ -n $line ]] || line=$(grep -v '^WARNING: Using incubator' "$log" 2>/dev/null | grep -v '^[[:space:]]*$' | tail -n 1)
  printf '%s' "${line:-no output}"
}

# Why a CUDA step failed: with no usable CUDA device, that (the log has the step's own words); else $1.
cuda_why() { if ((CUDA_OK)); then printf '%s' "$1"; else printf 'CUDA %s' "$CUDA_STATUS"; fi; }

write_summary

# env: the host and the bundle, for comparing results between machines.
env_report() {
  echo "date: $STARTED"
  uname -a
  grep -m1 '^model name' /proc/cpuinfo 2>/dev/null
  echo "cores: $CORES"
  grep -E '^(MemTotal|MemAvailable)' /proc/meminfo 2>/dev/null
  echo
  cat "$HERE/BUNDLE.txt" 2>/dev/null
  echo
  "$JAVA" -version 2>&1
  echo
  echo "CUDA libraries known to the dynamic linker:"
  local ldc
  ldc=$(command -v ldconfig || echo /sbin/ldconfig)
  "$ldc" -p 2>/dev/null | grep -E 'lib(cuda|cublas|nvidia-ptxjitcompiler)\.so' || echo "  none (ldconfig -p lists no libcuda/libcublas)"
  return 0
}
run_step env.txt env_report
record PASS env "$TOOK" "$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $CORES cores" env.txt

# nvidia-smi: the driver's own view (version, GPUs, clocks, memory, other processes on the GPU).
if command -v nvidia-smi >/dev/null 2>&1; then
  smi() { nvidia-smi; echo; nvidia-smi -q; }
  run_step nvidia-smi.txt smi
  if ((RC == 0)); then
    record PASS nvidia-smi "$TOOK" "$(grep -m1 -o 'Driver Version: *[0-9.]*' "$RESULTS/nvidia-smi.txt")" nvidia-smi.txt
  else
    record FAIL nvidia-smi "$TOOK" "exit $RC: $(last_line nvidia-smi.txt 'NVIDIA-SMI has failed|[Ee]rror')" nvidia-smi.txt
  fi
else
  record SKIP nvidia-smi 0 "nvidia-smi not found on PATH" -
fi

# info: JDK, Vector API, every backend with its devices or the reason it is unavailable.
run_step info.txt kiln info
INFO_RC=$RC INFO_TOOK=$TOOK
info_json() { kiln info --json 2>"$RESULTS/info-json.stderr"; }
run_step info.json info_json
cuda_line=$(grep -m1 '^backend cuda ' "$RESULTS/info.txt" 2>/dev/null)
CUDA_OK=0
case $cuda_line in
  "backend cuda available"*) CUDA_OK=1; CUDA_STATUS="available: ${cuda_line#backend cuda available: }" ;;
  "backend cuda unavailable"*) CUDA_STATUS="unavailable: ${cuda_line#backend cuda unavailable: }" ;;
  *) [[ $INFO_RC -ne 0 ]] && CUDA_STATUS="unknown (kiln info failed)" ;;
esac
if ((INFO_RC == 0 && RC == 0)); then
  record PASS info "$((INFO_TOOK + TOOK))" "CUDA $CUDA_STATUS" "info.txt info.json"
else
  record FAIL info "$((INFO_TOOK + TOOK))" "exit $INFO_RC (info), $RC (info --json): $(last_line info.txt 'kiln')" "info.txt info.json"
fi

# verify: every op family on the CUDA device against the reference kernels; exits 1 on any failure,
# and when no CUDA device opened. Its seed is in the log.
run_step verify-cuda.log kiln verify --backend cuda --cases "$CASES"
VERIFY_RC=$RC
if ((RC == 0)); then
  record PASS verify-cuda "$TOOK" "$(last_line verify-cuda.log '^verify: [0-9]+ passed')" verify-cuda.log
else
  record FAIL verify-cuda "$TOOK" "exit $RC: $(cuda_why "$(last_line verify-cuda.log '^verify:.*(FAILED|failed|unavailable|no device)')")" verify-cuda.log
fi

# The int8 GEMM on CUDA cores (dp4a): the step above sends s8/u8 QGEMM to the tensor-core kernel (mma.sync)
# wherever the GPU has one; with that switched off, every qgemm case goes to the dp4a/popc kernels.
verify_dp4a() { KILN_CUDA_QGEMM_MMA=0 kiln verify --backend cuda --op qgemm --cases 0; }
run_step verify-cuda-dp4a.log verify_dp4a
if ((RC == 0)); then
  record PASS verify-cuda-dp4a "$TOOK" "$(last_line verify-cuda-dp4a.log '^verify qgemm')" verify-cuda-dp4a.log
else
  ((VERIFY_RC == 0)) && VERIFY_RC=$RC
  record FAIL verify-cuda-dp4a "$TOOK" "exit $RC: $(cuda_why "$(last_line verify-cuda-dp4a.log '^verify.*(FAILED|failed|unavailable|no device)')")" verify-cuda-dp4a.log
fi

# The bench's FFM cuBLAS peer loads libcublas.so.13/12/11 by name; where the dynamic linker knows none (e.g.
# CUDA 13 only inside a PyTorch wheel), point it at the first one on disk.
if [[ -z ${KILN_CUBLAS:-} ]] && ! { command -v ldconfig >/dev/null && ldconfig -p 2>/dev/null | grep -qE 'libcublas\.so\.1[123]'; }; then
  found=$(timeout 60 find /usr /opt /home /root -xdev -name 'libcublas.so.1[123]' 2>/dev/null | sort -r | head -n 1)
  if [[ -n $found ]]; then export KILN_CUBLAS=$found; note "cuBLAS for the bench peer: $found"; fi
fi

# GEMM on the GPU: ours and cuBLAS on the same operands, resident on the device, the same run. The
# threads are the CPU's (for the OpenBLAS peer column, when installed): GPU kernels ignore them.
# --warmup 0: bench predicts the first size's time from the last call of that warm-up alone, and skips a
# size predicted over --max-call; one slow call there (a busy CPU, the driver compiling PTX) then skips
# every size, for good. Without it the first size is measured and predicts the next; each figure still
# warms up inside its own time box.
run_step bench-gemm-cuda.log kiln bench gemm --backend "$OURS,$CUBLAS" --sizes "$SIZES" --threads "$CORES" \
  --warmup 0 --json "$RESULTS/bench-gemm-cuda.json"
BENCH_WRONG=0
if grep -q 'WRONG' "$RESULTS/bench-gemm-cuda.log"; then BENCH_WRONG=1; fi
cublas_skip=$(grep -m1 "^# skip $CUBLAS" "$RESULTS/bench-gemm-cuda.log" | sed "s|^# skip $CUBLAS[^:]*: ||")
if ((RC == 0)); then
  detail="$(grep -c "\"backend\": \"$OURS\"" "$RESULTS/bench-gemm-cuda.json") rows ours, $(grep -c "\"backend\": \"$CUBLAS\"" "$RESULTS/bench-gemm-cuda.json") cuBLAS"
  [[ -n $cublas_skip ]] && detail+="; cuBLAS skipped: $cublas_skip"
  record PASS bench-gemm-cuda "$TOOK" "$detail" "bench-gemm-cuda.log bench-gemm-cuda.json"
else
  record FAIL bench-gemm-cuda "$TOOK" "exit $RC: $(cuda_why "$(last_line bench-gemm-cuda.log 'WRONG|nothing to measure|^bench')")" \
    "bench-gemm-cuda.log bench-gemm-cuda.json"
fi

# Ours against cuBLAS per shape, from the JSON (one object per line, keys as bench/README.md says).
if [[ -s $RESULTS/bench-gemm-cuda.json ]]; then
  mapfile -t CUBLAS_TABLE < <(awk -v ours="$OURS" -v peer="$CUBLAS" '
    function field(line, key,   i, v) {
      i = index(line, "\"" key "\": "); if (!i) return ""
      v = substr(line, i + length(key) + 4); sub(/[,}].*/, "", v); gsub(/"/, "", v); return v
    }
    function num(v) { return (v == "" || v == "null") ? "" : v }
    /"backend"/ {
      s = field($0, "m") "x" field($0, "n") "x" field($0, "k"); b = field($0, "backend")
      if (!(s in seen)) { seen[s] = 1; order[++n] = s }
      if (b == ours) {
        o[s] = field($0, "gflops")
        if (field($0, "peer") == "cublas" && num(field($0, "peer_gflops")) != "") f[s] = field($0, "peer_gflops")
      } else if (b == peer) c[s] = field($0, "gflops")
    }
    END {
      if (n == 0) exit
      printf "GEMM f32 on the GPU, GFLOP/s (median); ratio = ours / the faster cuBLAS figure:\n"
      printf "%-16s %10s %14s %12s %8s\n", "shape", "ours", "cuBLAS JCublas", "cuBLAS FFM", "ratio"
      for (i = 1; i <= n; i++) {
        s = order[i]; best = 0
        if (s in c && c[s] > best) best = c[s]
        if (s in f && f[s] > best) best = f[s]
        r = (s in o && best > 0) ? sprintf("%.2f", o[s] / best) : "-"
        printf "%-16s %10s %14s %12s %8s\n", s, (s in o ? sprintf("%.1f", o[s]) : "-"), (s in c ? sprintf("%.1f", c[s]) : "-"),
               (s in f ? sprintf("%.1f", f[s]) : "-"), r
      }
    }' "$RESULTS/bench-gemm-cuda.json")
fi
if ((${#CUBLAS_TABLE[@]} == 0)); then
  CUBLAS_TABLE=("GEMM on the GPU: no figures ($( ((CUDA_OK)) && echo "see bench-gemm-cuda.log" || echo "CUDA $CUDA_STATUS"))")
fi
if [[ -n $cublas_skip ]] && ((CUDA_OK)); then CUBLAS_TABLE+=("cuBLAS: not measured: $cublas_skip"); fi
write_summary

# The opt-in TF32 tensor-core kernel against the same cuBLAS peer (cuBLAS runs full FP32, so this ratio
# is ours-with-tensor-cores over cuBLAS FP32; the row's check uses the f32 tolerance and may say WRONG for
# large k, which is TF32 rounding, not a defect: it does not fail the run).
gemm_tf32() { KILN_CUDA_TF32=1 kiln bench gemm --backend "$TF32" --sizes "$SIZES" --threads "$CORES" --warmup 0 \
  --json "$RESULTS/bench-gemm-tf32.json"; }
run_step bench-gemm-tf32.log gemm_tf32
if ((RC == 0)); then
  record PASS bench-gemm-tf32 "$TOOK" "$(grep -c '"backend"' "$RESULTS/bench-gemm-tf32.json" 2>/dev/null) rows" \
    "bench-gemm-tf32.log bench-gemm-tf32.json"
else
  record FAIL bench-gemm-tf32 "$TOOK" "exit $RC: $(cuda_why "$(last_line bench-gemm-tf32.log 'nothing to measure|^bench|skip')")" \
    "bench-gemm-tf32.log bench-gemm-tf32.json"
fi

# GEMM on the CPU backend, beside OpenBLAS when it is installed, per thread count (--warmup 0: as above).
run_step bench-gemm-cpu.log kiln bench gemm --backend cpu --sizes "$SIZES" --threads "$THREADS" \
  --warmup 0 --json "$RESULTS/bench-gemm-cpu.json"
if grep -q 'WRONG' "$RESULTS/bench-gemm-cpu.log"; then BENCH_WRONG=1; fi
peer=$(grep -m1 '^# peer: ' "$RESULTS/bench-gemm-cpu.log" | sed 's/^# peer: //; s/^OpenBLAS OpenBLAS/OpenBLAS/')
if ((RC == 0)); then
  record PASS bench-gemm-cpu "$TOOK" "threads $THREADS; peer ${peer:-unknown}" "bench-gemm-cpu.log bench-gemm-cpu.json"
else
  record FAIL bench-gemm-cpu "$TOOK" "exit $RC: $(last_line bench-gemm-cpu.log 'WRONG|nothing to measure|^bench')" \
    "bench-gemm-cpu.log bench-gemm-cpu.json"
fi

# Convolution: run when this build's `kiln bench` lists a conv command in its help.
if kiln bench --help 2>/dev/null | grep -qE '^ +conv( |$)'; then
  run_step bench-conv.log kiln bench conv --backend cuda,cpu --json "$RESULTS/bench-conv.json"
  if grep -q 'WRONG' "$RESULTS/bench-conv.log"; then BENCH_WRONG=1; fi
  if ((RC == 0)); then
    record PASS bench-conv "$TOOK" "$(last_line bench-conv.log '^# wrote')" "bench-conv.log bench-conv.json"
  else
    record FAIL bench-conv "$TOOK" "exit $RC: $(cuda_why "$(last_line bench-conv.log 'WRONG|nothing to measure|^bench')")" bench-conv.log
  fi
else
  record SKIP bench-conv 0 "this build has no conv benchmark (no 'kiln bench conv')" -
fi

# Sparse x dense and low-bit GEMM on the GPU beside the same GPU's SGEMM (operands resident, kernel time), and
# on the CPU backend at all cores, in one run each; a CUDA device that is missing gives one '# skip cuda' line.
# Run when this build's commands take --backend (bench spmm/qgemm were CPU-only before).
bench_family() { # LOG_STEM SUMMARY_NAME ARGS...: one of the two, into RESULTS/STEM.log and .json
  local stem=$1 name=$2; shift 2
  if ! kiln bench "$1" --help 2>/dev/null | grep -q -- '--backend'; then
    record SKIP "$name" 0 "this build's 'kiln bench $1' has no --backend" -
    return
  fi
  run_step "$stem.log" kiln bench "$@" --threads "$CORES" --json "$RESULTS/$stem.json"
  if grep -q 'WRONG' "$RESULTS/$stem.log"; then BENCH_WRONG=1; fi
  if ((RC == 0)); then
    record PASS "$name" "$TOOK" "$(grep -c '"backend": "cuda"' "$RESULTS/$stem.json" 2>/dev/null) rows cuda, $(grep -c '"backend": "cpu"' \
      "$RESULTS/$stem.json" 2>/dev/null) rows cpu$(grep -m1 '^# skip cuda' "$RESULTS/$stem.log" | sed 's/^# /; /')" "$stem.log $stem.json"
  else
    record FAIL "$name" "$TOOK" "exit $RC: $(cuda_why "$(last_line "$stem.log" 'WRONG|nothing to measure|^bench')")" "$stem.log $stem.json"
  fi
}
bench_family bench-spmm bench-spmm spmm --backend cuda,cpu --format csr,bsr,2:4 --sparsity 0.7,0.9,0.95
bench_family bench-qgemm bench-qgemm qgemm --backend cuda,cpu --type s8,s4,b1 --sizes 1x4096x4096,1024

# --- verdict ------------------------------------------------------------------------------------------

status=0
if ((VERIFY_RC != 0)); then
  VERDICT="FAIL: verify --backend cuda exited $VERIFY_RC$( ((CUDA_OK)) || echo " (CUDA $CUDA_STATUS)")"
  status=1
elif ((BENCH_WRONG)); then
  VERDICT="FAIL: a benchmark computed a WRONG result (see the bench logs)"
  status=1
else
  VERDICT="PASS: verify --backend cuda passed$(printf '%s\n' "${LINES[@]}" | grep -q '^FAIL' && echo "; some other steps failed, see above")"
fi
[[ $status -ne 0 ]] && printf '%s\n' "${LINES[@]}" | grep -q '^FAIL  bench' && VERDICT+="; benchmark steps failed too"
write_summary
echo
cat "$RESULTS/summary.txt"
exit "$status"
