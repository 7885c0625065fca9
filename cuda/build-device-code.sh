#!/usr/bin/env bash
# Builds the CUDA backend's device code: every src/main/resources/dev/kiln/cuda/*.cu to PTX with nvcc
# (compute_80 baseline; gemm also gets a compute_90 variant, <name>.sm_90.ptx), then assembles each PTX
# with ptxas for sm_80 and sm_90 (the baseline of a family with its own sm_90 variant for sm_80 only) to
# check it and print registers and spills. Called by Maven (exec-maven-plugin, phase
# process-classes) as: build-device-code.sh <source dir> <output dir> <work dir>. Any nvcc or ptxas
# error fails the build. A family whose PTX is newer than its .cu, the shared .cuh headers and this
# script is not rebuilt (ptxas on the gemm takes half a minute); its saved ptxas summary is printed.
# Without nvcc the build goes on: a note is printed and device-code.properties records built=false,
# which the provider reports at run time ("no device code built").
set -euo pipefail

src=${1:?usage: build-device-code.sh <source dir> <output dir> <work dir>}
out=${2:?usage: build-device-code.sh <source dir> <output dir> <work dir>}
work=${3:?usage: build-device-code.sh <source dir> <output dir> <work dir>}
mkdir -p "$out" "$work"
marker="$out/device-code.properties"

# Families with an sm_90 variant and the extra nvcc flags it is built with (see the .cu for why).
declare -A SM90_FLAGS=([gemm]="-DKILN_GEMM_BK=16 -DKILN_GEMM_MIN_BLOCKS=1")

# NVCC=/path/to/nvcc picks one; NVCC=none builds no device code (as on a machine without CUDA).
nvcc=${NVCC:-}
if [[ -n "$nvcc" && ! -x "$nvcc" ]]; then
    nvcc=""
elif [[ -z "$nvcc" ]]; then
    for candidate in "$(command -v nvcc || true)" /usr/local/bin/nvcc /usr/local/cuda/bin/nvcc; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then nvcc=$candidate; break; fi
    done
fi
if [[ -z "$nvcc" ]]; then
    echo "nvcc not found: CUDA device code not built"
    rm -f "$out"/*.ptx
    printf 'built=false\nreason=nvcc was not found at build time (NVCC, PATH, /usr/local/bin, /usr/local/cuda/bin)\n' > "$marker"
    exit 0
fi
ptxas=$(dirname "$nvcc")/ptxas
[[ -x "$ptxas" ]] || ptxas=$(command -v ptxas || true)
if [[ -z "$ptxas" ]]; then
    echo "ptxas not found next to $nvcc or on PATH: cannot check the PTX" >&2
    exit 1
fi

version=$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
echo "CUDA device code: nvcc $version ($nvcc)"

# check <ptx> <sm> <name>: assembles the PTX for the SM; prints one line per kernel with its registers
# and spill bytes.
check() {
    local ptx=$1 sm=$2 name=$3 log
    if ! log=$("$ptxas" -arch="$sm" -v "$ptx" -o /dev/null 2>&1); then
        echo "$log" >&2
        echo "ptxas failed on $name for $sm" >&2
        return 1
    fi
    echo "$log" | awk -v file="$name" -v sm="$sm" '
        /Compiling entry function/ { gsub(/[\047]/, "", $7); entry = $7 }
        /spill stores/ { stores = $5; loads = $9 }
        /Used [0-9]+ registers/ { printf "  %-18s %-6s %-24s %3d registers, %s B spill stores, %s B spill loads\n", file, sm, entry, $5, stores, loads }'
}

shopt -s nullglob
sources=("$src"/*.cu)
if (( ${#sources[@]} == 0 )); then
    echo "no .cu files in $src" >&2
    exit 1
fi
headers=("$src"/*.cuh)
# True when every output exists and is newer than the .cu, the headers and this script.
up_to_date() {
    local cu=$1; shift
    local o i
    for o in "$@"; do
        [[ -f "$o" ]] || return 1
        for i in "$cu" "${headers[@]}" "${BASH_SOURCE[0]}"; do [[ "$o" -nt "$i" ]] || return 1; done
    done
}

# compile <cu> <arch> <ptx> <summary> <sms> [nvcc flags...]: nvcc to PTX, then the ptxas check for each SM
# of the comma-separated <sms>.
compile() {
    local cu=$1 arch=$2 ptx=$3 summary=$4 sms=$5 sm; shift 5
    if up_to_date "$cu" "$ptx" "$summary"; then
        cat "$summary"
        return 0
    fi
    rm -f "$ptx" "$summary"
    "$nvcc" --gpu-architecture="$arch" -ptx -I "$src" "$@" "$cu" -o "$ptx.tmp"
    : > "$summary.tmp"
    for sm in ${sms//,/ }; do
        if ! check "$ptx.tmp" "$sm" "$(basename "$ptx")" >> "$summary.tmp"; then rm -f "$ptx.tmp" "$summary.tmp"; return 1; fi
    done
    mv "$ptx.tmp" "$ptx"
    mv "$summary.tmp" "$summary"
    cat "$summary"
}

ptx_list=()
for cu in "${sources[@]}"; do
    name=$(basename "$cu" .cu)
    # The baseline PTX is what the driver JIT-compiles on every GPU without a tuned variant, Hopper included:
    # assemble it for sm_90 too unless the family has its own sm_90 build.
    if [[ -n "${SM90_FLAGS[$name]+x}" ]]; then baseline_sms=sm_80; else baseline_sms=sm_80,sm_90; fi
    compile "$cu" compute_80 "$out/$name.ptx" "$work/$name.ptxas.txt" "$baseline_sms"
    ptx_list+=("$name.ptx")
    if [[ -n "${SM90_FLAGS[$name]+x}" ]]; then
        # shellcheck disable=SC2086  # the flags are words on purpose
        compile "$cu" compute_90 "$out/$name.sm_90.ptx" "$work/$name.sm_90.ptxas.txt" sm_90 ${SM90_FLAGS[$name]}
        ptx_list+=("$name.sm_90.ptx")
    fi
done
printf 'built=true\nnvcc=%s\nptx=%s\n' "$version" "${ptx_list[*]}" > "$marker"
