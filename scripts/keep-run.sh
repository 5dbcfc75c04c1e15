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
#   scripts/keep-run.sh --if-finished RUN_DIR DEST   # an unfinished run is left, not an error
#
# A run is finished when state.json records its evaluate stage done. DEST is replaced as a
# whole, and only once the copy is complete.
set -eu
if_finished=0
if [ "${1:-}" = "--if-finished" ]; then
	if_finished=1
	shift
fi
if [ $# -ne 2 ]; then
	echo "usage: scripts/keep-run.sh [--if-finished] RUN_DIR DEST" >&2
	exit 2
fi
src=$1 dst=$2
if [ ! -f "$src/pipeline.yaml" ] || [ ! -f "$src/metrics.json" ] ||
	! grep -A1 '"evaluate": {' "$src/state.json" 2>/dev/null | grep -q '"done": true'; then
	if [ $if_finished = 1 ]; then
		echo "keep-run.sh: $src is not finished (its evaluate stage has not run), not kept"
		exit 0
	fi
	echo "keep-run.sh: $src is not a finished run folder (state.json has no finished evaluate stage): finish it first with flowdiff run --resume $src" >&2
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
