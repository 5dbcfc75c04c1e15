#!/usr/bin/env bash
# paper-gpu.sh runs the paper reproduction suite (pipelines/paper/, docs/paper.md) into one
# folder, each experiment split into calls of at most --call-limit seconds, then writes the
# results page from the run folders.
#
#   scripts/paper-gpu.sh                                   # gpu profile on xla:cuda
#   scripts/paper-gpu.sh --profile cpu --backend go        # the 2-core CPU sizes
#   scripts/paper-gpu.sh --profile toy --backend go --out /tmp/suite   # a format check
#
# It fetches nothing: Go builds offline (GOPROXY=off, GOFLAGS=-mod=readonly), so the module
# cache must already hold GoMLX and GoMNIST (`make build` once), and --backend xla:cuda needs
# a PJRT CUDA plugin installed (core/backend says how). Data: ../shared/data relative to the
# repository root, or $FLOWDIFF_SHARED (a folder holding data/ and weights/), which the
# script links as ../shared of its working folder.
#
# Splitting: each call is `flowdiff run` (then `flowdiff run --resume`) under timeout; at the
# limit it gets SIGINT, stops, and the next call continues from the last training checkpoint
# and the finished stages (checkpoint_every bounds the steps lost per call). A call that
# changes nothing in the run folder (a single stage longer than the limit) stops the script.
#
# $PAPER_TIMEOUT replaces the timeout(1) that bounds each call (same arguments and exit status
# 124 when it stopped the call); the tests use one that interrupts at each new checkpoint.
#
# Layout of --out: bin/flowdiff, one folder per experiment (the run folder), calls.tsv (one
# line per call: experiment, call, seconds, exit status), results.md.
set -euo pipefail

profile=gpu backend=xla:cuda out="" limit=510 only="" skip_missing=0
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; echo "flags: --profile P --backend B --out DIR --call-limit SECONDS --only a,b --skip-missing-data"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--profile) profile=$2; shift 2 ;;
	--backend) backend=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--call-limit) limit=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--skip-missing-data) skip_missing=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "paper-gpu.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
out=${out:-$root/runs/paper-$profile-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The experiments in order: name, pipeline, the data folder it reads (relative to ../shared).
experiments=(
	"mnist pipelines/paper/mnist.yaml -"
	"mnist-reset pipelines/paper/mnist-reset.yaml -"
	"cifar-dog pipelines/paper/cifar-dog.yaml data/cifar10-dog"
	"tubulin pipelines/paper/tubulin.yaml data/tubulin-nih3t3"
	"tubulin-dps pipelines/paper/tubulin-dps.yaml data/tubulin-nih3t3"
)

echo "building flowdiff (offline)"
(cd "$root" && GOPROXY=off GOFLAGS=-mod=readonly go build -o "$out/bin/flowdiff" ./cmd/flowdiff)
fd=$out/bin/flowdiff

# Working folder: the repository root, or one whose ../shared is $FLOWDIFF_SHARED.
work=$root
if [ -n "${FLOWDIFF_SHARED:-}" ]; then
	mkdir -p "$out/work"
	ln -sfn "$(cd "$FLOWDIFF_SHARED" && pwd)" "$out/shared"
	work=$out/work
fi
[ -f "$out/calls.tsv" ] || printf 'experiment\tcall\tseconds\tstatus\n' >"$out/calls.tsv"

# fingerprint: what a call changed (finished stages, latest checkpoint).
fingerprint() { { cat "$1/pipeline.yaml" "$1/state.json" "$1/train/checkpoints/latest" 2>/dev/null || true; } | cksum; }

for e in "${experiments[@]}"; do
	read -r name file data <<<"$e"
	if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
	if [ "$data" != - ] && [ ! -e "$work/../shared/$data" ]; then
		if [ $skip_missing = 1 ]; then echo "$name: skipped, $work/../shared/$data is absent"; continue; fi
		echo "paper-gpu.sh: $name needs $work/../shared/$data (set FLOWDIFF_SHARED to the folder holding data/)" >&2
		exit 1
	fi
	dir=$out/$name
	for call in $(seq 1 100); do
		before=$(fingerprint "$dir")
		if [ -f "$dir/pipeline.yaml" ]; then
			args=(run --resume "$dir" --backend "$backend")
		else
			args=(run "$root/$file" --profile "$profile" --backend "$backend" --out "$dir")
		fi
		echo "$name: call $call: flowdiff ${args[*]}"
		start=$(date +%s)
		set +e
		(cd "$work" && "${PAPER_TIMEOUT:-timeout}" -s INT -k 60 "$limit" "$fd" "${args[@]}" >>"$out/$name.log" 2>&1)
		status=$?
		set -e
		printf '%s\t%d\t%d\t%d\n' "$name" "$call" $(($(date +%s) - start)) $status >>"$out/calls.tsv"
		if [ $status = 0 ]; then break; fi
		if [ $status != 124 ]; then
			echo "paper-gpu.sh: $name failed (exit $status); the end of $out/$name.log:" >&2
			tail -n 20 "$out/$name.log" >&2
			exit 1
		fi
		if [ "$(fingerprint "$dir")" = "$before" ]; then
			echo "paper-gpu.sh: $name made no progress in $limit s (a stage longer than the call limit?); see $out/$name.log" >&2
			exit 1
		fi
	done
done

(cd "$root" && "$fd" results "$out" --out "$out/results.md")
echo "$out"
