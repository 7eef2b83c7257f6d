"""What parsing a weight file in a child process (weights.container.read_contained) costs, on a file of the real size.

Writes a .mat in MatConvNet's current layout with VGG-19's real shapes, classifier included (about 575 MB, like the
published 510 MB file), into a temporary folder (never committed), then times, in alternating rounds, the parse in
this process (weights.parse.parse_mat) against the contained read (weights.read_mat_weights: header check, child
process, filters handed back), best of each.

    python benchmarks/weights_containment.py [--rounds 3] [--folder /tmp] [--path existing.mat]
"""

import argparse
import os
import tempfile
import time

from neural_style import weights as W
from neural_style.weights.parse import parse_mat
from tests.fixtures import save_mat, vgg_mat_layers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", default=tempfile.gettempdir())
    parser.add_argument("--path", help="time this .mat instead of writing one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        path = args.path or os.path.join(folder, W.MAT_FILENAME)
        if not args.path:
            save_mat(path, vgg_mat_layers(W.random_vgg_weights(), fc_units=4096, classes=1000))
        print(f"{path}: {os.path.getsize(path) / 1e6:.0f} MB")
        times = {"in-process": [], "contained": []}
        for _ in range(args.rounds):
            for name, read in (("in-process", parse_mat), ("contained", W.read_mat_weights)):
                start = time.perf_counter()
                read(path)
                times[name].append(time.perf_counter() - start)
        best = {name: min(values) for name, values in times.items()}
        for name, values in times.items():
            print(f"{name}: best {best[name]:.2f} s of {', '.join(f'{v:.2f}' for v in values)}")
        extra = best["contained"] - best["in-process"]
        print(f"containment costs {extra:+.2f} s ({best['contained'] / best['in-process']:.2f}x)")


if __name__ == "__main__":
    main()
