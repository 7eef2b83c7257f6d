"""What a trained fast network is worth where random filters allow a measure: the project's cost J on held-out
photographs, for the trained network, the same network untrained, and the article's optimisation (200 Adam steps).

    python benchmarks/bench_fast_quality.py train  --steps 1200 [--size 128]     # one style: starry_night
    python benchmarks/bench_fast_quality.py evaluate                               # J on the 8 held-out photos
    python benchmarks/bench_fast_quality.py styles --steps 1200                    # 4 styles in one network, and
                                                                                   # 4 single-style networks of
                                                                                   # steps / 4 each
    python benchmarks/bench_fast_quality.py evaluate-styles
    python benchmarks/bench_fast_quality.py tflite                                 # the trained model exported
    python benchmarks/bench_fast_quality.py figure                                 # docs/pictures/fast_quality.jpg
    python benchmarks/bench_fast_quality.py train --architecture small --steps 1200   # the small layout, same steps
    python benchmarks/bench_fast_quality.py compare                                # J of both architectures' networks,
                                                                                   # trained and untrained
    python benchmarks/bench_fast_quality.py speed [--rounds 5]                     # 768x1024 forward pass of each,
                                                                                   # in alternating rounds

The pictures: the field trains on COCO's 83,000 photographs, which cannot be downloaded here. The installed packages
carry a few photographs (scikit-image's data, scikit-learn's two, matplotlib's one, the project's demo photo): 8
colour photographs of scenes are held out for the measure, and the network trains on the rest (mostly greyscale and
scientific pictures; random crops of each, every step). The loss network is VGG-19 with He-initialised random filters
at the real shapes (seed 0), the same filters for the training and for the judge. J is the project's cost
(StyleTransferCost: the article's alpha J_content + beta J_style, the style resized to the photo's size) of each
8-bit picture, at the photo's size (longest side --size).

--architecture (train, evaluate, tflite): the training's network layout, johnson (the default: the files above) or
small (Dumoulin et al.'s 26-style layout; its files end in _small). `compare` judges both trained networks and both
untrained starts on the same photographs, with the same loss network; `speed` times the forward pass of each layout at
768x1024 (untrained: the time does not depend on the weights), one round of each in turn, so that a shared machine's
load falls on both alike.

Everything is written under benchmarks/results/fast_quality/ (models, pictures, results JSON).
"""

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.machine import cpu_name  # noqa: E402

WORK = os.path.join(HERE, "results", "fast_quality")
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")
# Three public-domain paintings, and a fourth style of another kind: the Hubble deep field (left out of training).
STYLES = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "hubble_deep_field.jpg")
# The 8 held-out photographs: colour photographs of scenes, none of which the network sees in training.
HELD_OUT = (
    ("demo", "tubingen.jpg"),
    ("skimage", "chelsea.png"),
    ("skimage", "coffee.png"),
    ("skimage", "rocket.jpg"),
    ("skimage", "astronaut.png"),
    ("skimage", "motorcycle_left.png"),
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
)
# The training pictures: every other photograph the packages carry (motorcycle_right is left out: it is the
# held-out motorcycle_left's scene from a few centimetres away; drawings, charts and synthetic patterns too).
TRAINING = (
    ("matplotlib", "grace_hopper.jpg"),
    ("skimage", "retina.jpg"),
    ("skimage", "ihc.png"),
    ("skimage", "camera.png"),
    ("skimage", "brick.png"),
    ("skimage", "grass.png"),
    ("skimage", "gravel.png"),
    ("skimage", "moon.png"),
    ("skimage", "coins.png"),
    ("skimage", "cell.png"),
    ("skimage", "clock_motion.png"),
    ("skimage", "page.png"),
)


def package_folder(name):
    """Where a package keeps its sample pictures."""
    if name == "demo":
        import neural_style.demo

        return os.path.dirname(neural_style.demo.__file__)
    if name == "skimage":
        import skimage

        return os.path.join(os.path.dirname(skimage.__file__), "data")
    if name == "sklearn":
        import sklearn.datasets

        return os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data")


def picture_path(entry):
    """The file of a (package, name) entry."""
    return os.path.join(package_folder(entry[0]), entry[1])


def style_path(name):
    """A style painting: the shared folder's, else the project's demo copy (starry_night only)."""
    if name == "hubble_deep_field.jpg":
        return picture_path(("skimage", name))
    shared = os.path.join(SHARED_IMAGES, name)
    if os.path.isfile(shared):
        return shared
    return os.path.join(package_folder("demo"), name)


def loss_weights():
    """The loss network's filters: He-initialised, seed 0, the real shapes (the same for training and judging)."""
    from neural_style.weights import random_vgg_weights

    return random_vgg_weights(seed=0)


def training_folder():
    """The training pictures, copied into one folder (the training reads a folder)."""
    folder = os.path.join(WORK, "train_pictures")
    os.makedirs(folder, exist_ok=True)
    for entry in TRAINING:
        target = os.path.join(folder, entry[1])
        if not os.path.isfile(target):
            shutil.copyfile(picture_path(entry), target)
    return folder


def model_path(architecture, stem="starry"):
    """The single-style model file of an architecture: starry.keras (johnson, as before) or starry_small.keras."""
    suffix = "" if architecture == "johnson" else f"_{architecture}"
    return os.path.join(WORK, f"{stem}{suffix}.keras")


def untrained(architecture):
    """The start of every training of an architecture (seed 0)."""
    from neural_style.fast.network import build_transform_net
    from neural_style.fast.train import training_layout

    return build_transform_net(seed=0, styles=1, layout=training_layout(architecture))


def train(output, styles, steps, size, batch_size, seed=0, architecture="johnson"):
    """Trains one network (for one style or several) and returns train_fast_model's summary with the time."""
    from neural_style.fast.train import train_fast_model

    _, summary = train_fast_model(
        [style_path(name) for name in styles],
        training_folder(),
        output,
        weights=loss_weights(),
        work_dir=output + ".train",
        size=size,
        batch_size=batch_size,
        steps=steps,
        seed=seed,
        architecture=architecture,
        progress=False,
    )
    return summary


def judge(photo, style, size, weights):
    """
    The project's cost at a photo's size, and a StyleTransfer ready to optimise it.

    Returns:
    transfer -- a StyleTransfer (the article's settings: Adam, learning rate 2, 200 iterations, noise start)
    J_of -- function(uint8 picture) -> dict of the picture's J, J_content, J_style
    """
    from neural_style.images import normalize_image
    from neural_style.stylize import StyleTransfer

    transfer = StyleTransfer(photo, style, weights=weights, max_size=size, iterations=200)

    def J_of(pixels):
        terms = transfer.cost.terms(normalize_image(np.asarray(pixels, np.float32)))
        return {"J": float(terms.J), "J_content": float(terms.J_content), "J_style": float(terms.J_style)}

    return transfer, J_of


def evaluate(models, styles, size, adam=True):
    """
    J on each held-out photograph for each model's output (style k of a several-style model), and for the
    optimisation's picture.

    Arguments:
    models -- dict label -> (model path, or an architecture's name for its untrained network, style index)
    styles -- the style painting of each style index
    size -- the photos' longest side
    adam -- also run the optimisation (200 Adam steps) on each photo, for each style

    Returns:
    rows -- list of dicts: photo, style, label, J, J_content, J_style, seconds
    """
    import imageio.v3 as iio

    from neural_style.fast.apply import load_fast_model, stylize_picture
    from neural_style.fast.options import ARCHITECTURES
    from neural_style.images import load_pixels

    weights = loss_weights()
    loaded = {}
    for label, (path, _) in models.items():
        loaded[label] = untrained(path) if path in ARCHITECTURES else load_fast_model(path)
    rows = []
    pictures = os.path.join(WORK, "pictures")
    os.makedirs(pictures, exist_ok=True)
    for entry in HELD_OUT:
        photo = load_pixels(picture_path(entry), max_size=size, what="content")
        stem = os.path.splitext(entry[1])[0]
        for index in sorted({index for _, index in models.values()}):
            style = load_pixels(style_path(styles[index]), max_size=1024, what="style")
            transfer, J_of = judge(photo, style, size, weights)
            for label, (_, style_index) in models.items():
                if style_index != index:
                    continue
                model = loaded[label]
                weights_k = [float(i == index) for i in range(model.styles)] if model.styles > 1 else None
                start = time.perf_counter()
                out = np.clip(np.round(stylize_picture(model, photo, style_weights=weights_k)), 0, 255).astype(np.uint8)
                seconds = time.perf_counter() - start
                iio.imwrite(os.path.join(pictures, f"{stem}_{label}.png"), out)
                rows.append({"photo": stem, "style": index, "label": label, **J_of(out), "seconds": seconds})
            if adam:
                start = time.perf_counter()
                transfer.run()
                seconds = time.perf_counter() - start
                out = transfer.result()
                iio.imwrite(os.path.join(pictures, f"{stem}_adam200_style{index}.png"), out)
                rows.append({"photo": stem, "style": index, "label": "adam200", **J_of(out), "seconds": seconds})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def tflite_errors(path, size):
    """
    The trained model exported to TFLite at each quantisation: the file's size, and its output's difference from the
    Keras model's on the held-out photographs (grey levels, after both are rounded to 8 bits as written).

    Returns:
    dict quantisation -> bytes, max and mean absolute difference, seconds per photo (TFLite interpreter)
    """
    from neural_style.fast.apply import load_fast_model, stylize_picture
    from neural_style.fast.export import export_tflite, run_tflite
    from neural_style.images import load_pixels

    model = load_fast_model(path)
    photos = [load_pixels(picture_path(entry), max_size=size, what="content") for entry in HELD_OUT]
    keras_out = [np.clip(np.round(stylize_picture(model, photo)), 0, 255) for photo in photos]
    results = {}
    for quantize in ("none", "float16", "dynamic"):
        target = os.path.join(WORK, f"{os.path.splitext(os.path.basename(path))[0]}_{quantize}.tflite")
        size_bytes = export_tflite(model, target, quantize=quantize)
        differences, seconds = [], []
        for photo, expected in zip(photos, keras_out):
            start = time.perf_counter()
            lite = np.clip(np.round(run_tflite(target, photo)), 0, 255)
            seconds.append(time.perf_counter() - start)
            differences.append(np.abs(lite - expected))
        results[quantize] = {
            "bytes": size_bytes,
            "max_abs_grey_levels": float(max(d.max() for d in differences)),
            "mean_abs_grey_levels": float(np.mean([d.mean() for d in differences])),
            "share_of_values_off_by_more_than_1": float(np.mean([np.mean(d > 1) for d in differences])),
            "seconds_per_photo": float(np.median(seconds)),
        }
    return results


def summarise(rows):
    """Mean J (and its parts) and mean seconds per label and style."""
    table = {}
    for row in rows:
        key = (row["label"], row["style"])
        table.setdefault(key, []).append(row)
    lines = []
    for (label, style), group in sorted(table.items(), key=lambda item: (item[0][1], item[0][0])):
        mean = {name: float(np.mean([row[name] for row in group])) for name in ("J", "J_content", "J_style", "seconds")}
        lines.append({"label": label, "style": style, "photos": len(group), **mean})
    return lines


def figure(path, photo="tubingen", height=144):
    """
    The README's picture of the measure: the photo, the untrained network's, the trained network's and the
    optimisation's pictures in the first row; the 4-style network's 4 styles and the single-style networks' below.
    """
    import cv2
    import imageio.v3 as iio

    from neural_style.image_files import write_image
    from neural_style.images import load_pixels

    pictures = os.path.join(WORK, "pictures")
    rows = [
        [load_pixels(picture_path(HELD_OUT[0]), max_size=128, what="content").astype(np.uint8)]
        + [iio.imread(os.path.join(pictures, f"{photo}_{label}.png")) for label in ("untrained", "trained")]
        + [iio.imread(os.path.join(pictures, f"{photo}_adam200_style0.png"))],
        [iio.imread(os.path.join(pictures, f"{photo}_four_styles_{k}.png")) for k in range(len(STYLES))],
        [iio.imread(os.path.join(pictures, f"{photo}_single_{k}.png")) for k in range(len(STYLES))],
    ]
    lines = []
    for row in rows:
        scaled = [cv2.resize(p[..., :3], (round(p.shape[1] * height / p.shape[0]), height)) for p in row]
        gap = np.full((height, 4, 3), 255, np.uint8)
        lines.append(np.concatenate([part for picture in scaled for part in (picture, gap)][:-1], axis=1))
    gap = np.full((4, lines[0].shape[1], 3), 255, np.uint8)
    write_image(path, np.concatenate([part for line in lines for part in (line, gap)][:-1], axis=0))


def write(name, result):
    """Writes a result as JSON under WORK and prints it."""
    os.makedirs(WORK, exist_ok=True)
    result = {"cpu": cpu_name(), "load": os.getloadavg(), **result}
    with open(os.path.join(WORK, name), "w") as file:
        json.dump(result, file, indent=1)
    print(json.dumps(result, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ("train", "evaluate", "styles", "evaluate-styles", "tflite", "figure", "compare", "speed")
    parser.add_argument("part", choices=parts)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--architecture", choices=("johnson", "small"), default="johnson")
    parser.add_argument("--rounds", type=int, default=5, help="speed: rounds of each architecture, alternating")
    parser.add_argument("--adam", action="store_true", help="compare: also the optimisation (200 Adam steps)")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    single = model_path(args.architecture)
    suffix = "" if args.architecture == "johnson" else f"_{args.architecture}"
    if args.part == "train":
        load = os.getloadavg()
        summary = train(single, STYLES[:1], args.steps, args.size, args.batch_size, architecture=args.architecture)
        result = {"size": args.size, "batch_size": args.batch_size, "architecture": args.architecture}
        write(f"train{suffix}.json", {**result, "load_before": load, **summary})
    elif args.part == "evaluate":
        models = {f"trained{suffix}": (single, 0), f"untrained{suffix}": (args.architecture, 0)}
        rows = evaluate(models, STYLES[:1], args.size)
        write(f"evaluate{suffix}.json", {"size": args.size, "summary": summarise(rows), "rows": rows})
    elif args.part == "compare":
        models = {}
        for architecture in ("johnson", "small"):
            label = "" if architecture == "johnson" else "_small"
            models[f"trained{label}"] = (model_path(architecture), 0)
            models[f"untrained{label}"] = (architecture, 0)
        rows = evaluate(models, STYLES[:1], args.size, adam=args.adam)
        trainings = {}
        for name in ("train.json", "train_small.json"):
            with open(os.path.join(WORK, name)) as file:
                trainings[name] = json.load(file)
        steps = {name: result["steps"] for name, result in trainings.items()}
        result = {"size": args.size, "steps": steps, "summary": summarise(rows), "rows": rows}
        write("compare_architectures.json", result)
    elif args.part == "speed":
        from benchmarks.bench_forward import architectures_speed

        write("speed_architectures.json", architectures_speed(768, 1024, args.rounds))
    elif args.part == "styles":
        results = {}
        several = os.path.join(WORK, "four_styles.keras")
        results["four_styles"] = train(several, STYLES, args.steps, args.size, args.batch_size)
        for index, name in enumerate(STYLES):
            path = os.path.join(WORK, f"single_{index}.keras")
            results[f"single_{index}"] = train(path, [name], args.steps // len(STYLES), args.size, args.batch_size)
        write("styles_train.json", {"size": args.size, "steps": args.steps, **results})
    elif args.part == "evaluate-styles":
        models = {"four_styles_" + str(k): (os.path.join(WORK, "four_styles.keras"), k) for k in range(len(STYLES))}
        models.update({f"single_{k}": (os.path.join(WORK, f"single_{k}.keras"), k) for k in range(len(STYLES))})
        rows = evaluate(models, STYLES, args.size, adam=False)
        sizes = {label: os.path.getsize(path) for label, (path, _) in models.items()}
        result = {"size": args.size, "summary": summarise(rows), "file_bytes": sizes, "rows": rows}
        write("evaluate_styles.json", result)
    elif args.part == "figure":
        figure(os.path.join(ROOT, "docs", "pictures", "fast_quality.jpg"))
    elif args.part == "tflite":
        write(f"tflite{suffix}.json", {"size": args.size, "quantizations": tflite_errors(single, args.size)})


if __name__ == "__main__":
    main()
