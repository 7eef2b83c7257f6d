#!/usr/bin/env bash
# Renders one example figure per `neural-style visualize` kind into docs/examples/ (git-ignored: the pictures are
# made from images that are not ours to commit).
#
# Usage: docs/make_examples.sh [IMAGES_FOLDER]
#   IMAGES_FOLDER   holds tubingen.jpg, starry_night.jpg, ... (default ../shared/images, beside the repository)
# Environment:
#   WEIGHTS=random          the VGG-19 weights (random: He-initialised filters, demo quality; give the .mat for real)
#   SIZE=128                longest side of the images, in pixels
#   ITERATIONS=100          steps of `maximize`, and per panel of `sweep`
#   PYTHON=python           the interpreter that has neural_style installed
set -euo pipefail

cd "$(dirname "$0")/.."
IMAGES=${1:-../shared/images}
WEIGHTS=${WEIGHTS:-random}
SIZE=${SIZE:-128}
ITERATIONS=${ITERATIONS:-100}
PYTHON=${PYTHON:-python}
OUT=docs/examples

for image in tubingen.jpg starry_night.jpg; do
    [ -f "$IMAGES/$image" ] || { echo "make_examples.sh: $IMAGES/$image not found; give the images folder" >&2; exit 2; }
done
mkdir -p "$OUT"
visualize() { echo "+ neural-style visualize $*" >&2; "$PYTHON" -m neural_style visualize "$@"; }
common=(--weights "$WEIGHTS" --max-size "$SIZE" --seed 0)

visualize maps "$IMAGES/tubingen.jpg" --layer conv3_1 --output "$OUT/maps.png" "${common[@]}"
visualize top "$IMAGES" --layer conv4_1 --channel 12 --k 4 --output "$OUT/top.png" "${common[@]}"
visualize project "$IMAGES/tubingen.jpg" --layer conv5_1 --channel 7 --output "$OUT/project.png" "${common[@]}"
visualize maximize --layer conv4_1 --channel 12 --iterations "$ITERATIONS" --output "$OUT/maximize.png" \
    "${common[@]}"
visualize sweep --content "$IMAGES/tubingen.jpg" --style "$IMAGES/starry_night.jpg" --iterations "$ITERATIONS" \
    --output "$OUT/sweep.png" "${common[@]}"

# curves needs a run's cost history: a short style transfer writes one.
echo "+ neural-style --content tubingen.jpg --style starry_night.jpg ... --history $OUT/history.jsonl" >&2
"$PYTHON" -m neural_style --content "$IMAGES/tubingen.jpg" --style "$IMAGES/starry_night.jpg" \
    --output "$OUT/stylized.png" --history "$OUT/history.jsonl" --iterations "$ITERATIONS" --save-every 0 --quiet \
    "${common[@]}"
visualize curves "$OUT/history.jsonl" --output "$OUT/curves.png"
echo "examples written to $OUT/" >&2
