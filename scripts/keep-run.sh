#!/bin/sh
# keep-run.sh copies from a finished run folder what `flowdiff table` and `flowdiff results
# --baselines` read, and what a reader of those tables wants to open, into DEST: the resolved
# pipeline, state, metrics and log, the report's Markdown and images, the test observations
# (corrupted/test), the machine record, the amortized restorations, the DPS restorations and
# the prior samples. Checkpoints and the training data are left out (a kept run cannot be
# resumed), so a method's run takes well under a megabyte and the tables in docs/ can be
# regenerated from the repository (docs/baselines.md).
#
#   scripts/keep-run.sh runs/baselines/naive docs/runs/mnist-baselines/naive
#
# DEST is replaced as a whole, and only once the copy is complete.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: scripts/keep-run.sh RUN_DIR DEST" >&2
	exit 2
fi
src=$1 dst=$2
if [ ! -f "$src/metrics.json" ] || [ ! -f "$src/pipeline.yaml" ]; then
	echo "keep-run.sh: $src is not a finished run folder (no metrics.json): finish it first with flowdiff run --resume $src" >&2
	exit 1
fi
parent=$(dirname "$dst")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.keep.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
for f in pipeline.yaml state.json metrics.json metrics.json.sha256 run.log report.md grid.png prior.png \
	train/machine.json train/losses.png train/posterior_mean.npy train/posterior_mean.npy.sha256 \
	sample/dps.npy sample/dps.npy.sha256 sample/dps.png sample/prior.npy sample/prior.npy.sha256 \
	sample/prior.png sample/prior_check.json; do
	if [ -f "$src/$f" ]; then
		mkdir -p "$tmp/$(dirname "$f")"
		cp -p "$src/$f" "$tmp/$f"
	fi
done
mkdir -p "$tmp/corrupted"
cp -Rp "$src/corrupted/test" "$tmp/corrupted/test"
rm -rf "$dst"
mv "$tmp" "$dst"
trap - EXIT
