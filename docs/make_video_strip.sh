#!/usr/bin/env bash
# Makes the README's still strip of `neural-style video` into docs/examples/ (git-ignored: made from images that are
# not ours to commit): a slow pan and zoom over tubingen.jpg (benchmarks/video.py clip), stylised with starry_night.jpg,
# and four consecutive frames of the clip (top row) and of the result (bottom row) side by side.
#
# Usage: docs/make_video_strip.sh [IMAGES_FOLDER]
#   IMAGES_FOLDER   holds tubingen.jpg and starry_night.jpg (default ../shared/images, beside the repository)
# Environment:
#   WEIGHTS=random          the VGG-19 weights (random: He-initialised filters, demo quality; give the .mat for real)
#   FRAMES=6                frames of the clip (10 fps)
#   SIZE=160                longest side of the stylised frames, in pixels
#   ITERATIONS=20           steps of each frame after the first; the first gets twice as many
#   PYTHON=python           the interpreter that has neural_style installed
set -euo pipefail

cd "$(dirname "$0")/.."
IMAGES=${1:-../shared/images}
WEIGHTS=${WEIGHTS:-random}
FRAMES=${FRAMES:-6}
SIZE=${SIZE:-160}
ITERATIONS=${ITERATIONS:-20}
PYTHON=${PYTHON:-python}
OUT=docs/examples

for image in tubingen.jpg starry_night.jpg; do
    [ -f "$IMAGES/$image" ] || { echo "make_video_strip.sh: $IMAGES/$image not found; give the images folder" >&2; exit 2; }
done
mkdir -p "$OUT"
"$PYTHON" benchmarks/video.py clip "$OUT/pan" --frames "$FRAMES" --images "$IMAGES"
echo "+ neural-style video --content $OUT/pan --style starry_night.jpg --output $OUT/pan_starry.mp4 ..." >&2
"$PYTHON" -m neural_style video --content "$OUT/pan" --fps 10 --style "$IMAGES/starry_night.jpg" \
    --output "$OUT/pan_starry.mp4" --weights "$WEIGHTS" --max-size "$SIZE" --seed 0 \
    --first-iterations $((2 * ITERATIONS)) --iterations "$ITERATIONS"
"$PYTHON" benchmarks/video.py strip "$OUT/video_strip.png" "$OUT/pan" "$OUT/pan_starry.work/frames" \
    --first $((FRAMES / 2 - 2)) --count 4
echo "strip written to $OUT/video_strip.png" >&2
