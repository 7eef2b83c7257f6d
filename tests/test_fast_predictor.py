"""The style prediction network (neural_style/fast/predictor.py) read from Magenta's published int8 ONNX file, held
against onnxruntime running that file, on real paintings and photographs."""

import glob
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from neural_style.checks import OptionError  # noqa: E402
from neural_style.fast import predictor  # noqa: E402
from neural_style.fast.onnx_files import read_onnx  # noqa: E402
from neural_style.fast.quantize import integer_convolution  # noqa: E402
from tests.published import published_folder  # noqa: E402

FILE_NAME = "arbitrary_predict.onnx"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PICTURES = sorted(glob.glob(os.path.join(REPO, "neural_style", "demo", "*.jpg"))) + sorted(
    glob.glob(os.path.join(REPO, "..", "shared", "images", "*.jpg"))
)
SIZE = 256


def _model_file():
    """The published predictor's file."""
    return os.path.join(published_folder(), FILE_NAME)


def _picture(path):
    """A picture centre-cropped to a square and resized to the file's 256 x 256 (Lanczos), RGB 0..255 float32."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.LANCZOS)
        return np.asarray(image, np.float32)


@pytest.fixture(scope="module")
def path():
    return _model_file()


@pytest.fixture(scope="module")
def layout(path):
    return predictor.predictor_arrays(read_onnx(path), path)


@pytest.fixture(scope="module")
def model(layout):
    return predictor.build_predictor(*layout)


@pytest.fixture(scope="module")
def pictures():
    found = [p for p in PICTURES if os.path.isfile(p)]
    if len(found) < 4:
        pytest.skip(f"4 pictures wanted, {len(found)} found")
    return np.stack([_picture(p) for p in found])


def _session(onnx_model, watched=()):
    """onnxruntime on the file (its default optimisations), with the int8 activations `watched` as extra outputs."""
    for name in watched:
        onnx_model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT8, None))
    return ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])


def _levels(x, point, quantization):
    """Our activation at a rounding point as the file's int8 levels."""
    scale, zero_point = quantization[point]
    return np.clip(np.round(np.asarray(x) / np.float32(scale)) + zero_point, -128, 127).astype(np.int32)


@pytest.fixture(scope="module")
def runs(path, layout, pictures):
    """The file under onnxruntime on each picture: its output, block 1's and the mean's int8 levels."""
    names = predictor.point_names(layout[0]["blocks"])
    session = _session(onnx.load(path), (names["block1/project"], names["mean"]))
    return [session.run(None, {"style_image": picture[None] / 255.0}) for picture in pictures]


def test_agrees_with_onnxruntime(layout, model, pictures, runs):
    config, arrays = layout
    quantization = config["quantization"]
    # onnxruntime's default (its fused int8 kernels) is what the file's users get.
    theirs = np.concatenate([run[0].reshape(1, -1) for run in runs])
    their_early = np.concatenate([np.transpose(run[1], (0, 2, 3, 1)) for run in runs]).astype(np.int32)
    their_mean = np.concatenate([run[2].reshape(1, -1) for run in runs]).astype(np.int32)
    ours = model(pictures).numpy()
    our_early = _levels(model(pictures, stop_at="block1"), "block1/project", quantization)
    our_mean = _levels(model(pictures, stop_at="mean").numpy().reshape(len(pictures), -1), "mean", quantization)

    # Ours sums each convolution on the file's integers (exact), as the int8 file's own runtime does; onnxruntime runs
    # the file's DequantizeLinear, Conv, QuantizeLinear as a float32 convolution of the dequantised values (even with
    # its optimisations off), whose sum differs from the exact one by about 1e-6 of its size (n terms: n * 2 ** -24 at
    # worst). A value rounds to another 8-bit level only when it lies that close to the boundary between two levels, a
    # chance of about 2 x 1e-6 x 255 levels = 5e-4 per rounding; seven roundings up to block 1's projection make about
    # 0.4%, and a flip moves the sums after it by a fraction of a level. Measured: 6 to 39 of its 98,304 values
    # (0.04% at most; 45 when ours summed in float32 too); the float network differs at 40% of them.
    early_flips = np.mean(our_early != their_early)
    assert early_flips < 0.01, f"block 1's levels differ at {early_flips:.2%} of the positions"

    # Flips multiply down the network (each moves the next sums by a fraction of a level), so the means of the last
    # 1280 channels differ by a level or a few at a few percent of them (measured 16 to 67, up to 4 levels).
    mean_flips = np.mean(our_mean != their_mean, axis=1)
    assert mean_flips.max() < 0.1, f"the means differ at up to {mean_flips.max():.1%} of the channels"

    # The output is the mean through the last 1x1 convolution, rounded to the output's step: ours and the file's each
    # round within half a step, and their sums differ by what the means' differences carry through the convolution
    # (plus float32's order, far below 1e-5). So |ours - theirs| <= step + sum_c |w_cj| |m_c - m'_c|, for each j.
    step = np.float32(quantization["output"][0])
    mean_step = np.float32(quantization["mean"][0])
    weights = np.abs(arrays["output/kernel"].dequantize()).reshape(-1, ours.shape[1])
    bound = step + (np.abs(our_mean - their_mean) * mean_step) @ weights + 1e-5
    difference = np.abs(ours - theirs)
    assert np.all(difference <= bound), f"off by {np.max(difference / bound):.2f} of the bound"
    steps = difference.max(axis=1) / step
    spread = np.ptp(theirs, axis=1)
    print(
        f"\nstyle vectors vs onnxruntime: max |diff| {difference.max():.4f} ({steps.max():.0f} output steps of "
        f"{step:.4f}; {np.max(difference.max(axis=1) / spread):.2%} of the vector's range, {spread.min():.2f} to "
        f"{spread.max():.2f}); numbers off by a step: {np.sum(difference > step / 2, axis=1)} of 100; block 1 levels "
        f"differing: {early_flips:.3%}; means differing: {np.round(mean_flips * 1280).astype(int)} of 1280"
    )


def test_other_sizes_as_the_file_computes_them(path, model):
    # At sides that are multiples of 32 the file's fixed paddings (none before, one after each stride-2
    # convolution) are TensorFlow's 'SAME' ones, so the file itself runs there once its input is left free.
    onnx_model = onnx.load(path)
    dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = 224, 320
    picture = np.random.default_rng(3).uniform(0, 255, (1, 224, 320, 3)).astype(np.float32)
    theirs = _session(onnx_model).run(None, {"style_image": picture / 255.0})[0].reshape(1, -1)
    step = model.quantization["output"][0]
    # A few output steps at most, as on the paintings (test_agrees_with_onnxruntime).
    assert np.max(np.abs(model(picture).numpy() - theirs)) <= 3 * step + 1e-6


def test_any_size_and_keras_file(model, tmp_path):
    import keras

    pictures = np.random.default_rng(5).uniform(0, 255, (2, 200, 300, 3)).astype(np.float32)
    styles = model(pictures).numpy()
    assert styles.shape == (2, 100) and styles.dtype == np.float32 and np.all(np.isfinite(styles))
    for height, width in ((1, 1), (37, 53)):
        assert model(np.zeros((1, height, width, 3), np.float32)).shape == (1, 100)
    file = tmp_path / "predictor.keras"
    model.save(file)
    loaded = keras.saving.load_model(file)
    assert isinstance(loaded, predictor.StylePredictor)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(pictures).numpy(), styles)


def test_int8_weights_read_bit_for_bit(path, layout, model):
    config, arrays = layout
    graph = onnx.load(path).graph
    initialisers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    dequantizers = {node.output[0]: node for node in graph.node if node.op_type == "DequantizeLinear"}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    layers = []
    for block in config["blocks"]:
        if block["kind"] == "conv":
            layers.append((block["name"], block["stride"]))
        elif block["kind"] == "inverted_residual":
            layers += [(f"{block['name']}/expand", 1)] if block["expand"] else []
            layers += [(f"{block['name']}/depthwise", block["stride"]), (f"{block['name']}/project", 1)]
    assert len(layers) == len(convs) == 53
    ours = {weight.path: weight.numpy() for weight in model.weights}
    assert set(arrays) == set(ours)
    for (layer, stride), node in zip(layers, convs):
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["strides"] == [stride, stride], layer
        # TensorFlow's 'SAME' at the file's even sizes: (0, 1) for a stride-2 3x3, (1, 1) for a stride-1 one.
        kernel = attributes["kernel_shape"][0]
        assert attributes["pads"] == ([0, 0, 1, 1] if stride == 2 else [kernel // 2] * 4), layer
        order = (2, 3, 0, 1) if attributes["group"] > 1 else (2, 3, 1, 0)
        for key, name, transpose in (("kernel", node.input[1], order), ("bias", node.input[2], (0,))):
            dequantizer = dequantizers[name]
            values, scale = (initialisers[n] for n in dequantizer.input[:2])
            weight = arrays[f"{layer}/{key}"]
            assert weight.values.dtype == values.dtype == (np.int8 if key == "kernel" else np.int32)
            np.testing.assert_array_equal(weight.values, np.transpose(values, transpose))
            np.testing.assert_array_equal(weight.scale.view(np.uint32), scale.astype(np.float32).view(np.uint32))
            # DequantizeLinear's arithmetic: (int32(q) - zero point) as float32, times the float32 scale.
            zero_point = initialisers[dequantizer.input[2]].astype(np.int32)
            shape = [1] * values.ndim
            shape[0] = -1
            expected = (values.astype(np.int32) - zero_point.reshape(shape)).astype(np.float32)
            expected = np.transpose(expected * scale.reshape(shape), transpose)
            np.testing.assert_array_equal(ours[f"{layer}/{key}"], expected)


def test_float_arithmetic(layout, model, pictures, runs):
    config, arrays = layout
    float_model = predictor.build_predictor({**config, "quantization": {}}, arrays)
    assert float_model.quantization == {}
    # Not a bound: how far the float network the weights stand for is from the file, for the record.
    theirs = np.concatenate([run[0].reshape(1, -1) for run in runs])
    their_early = np.concatenate([np.transpose(run[1], (0, 2, 3, 1)) for run in runs]).astype(np.int32)
    for name, network in (("float arithmetic", float_model), ("the file's arithmetic", model)):
        styles = network(pictures).numpy()
        assert np.all(np.isfinite(styles))
        difference = np.abs(styles - theirs)
        early = _levels(network(pictures, stop_at="block1"), "block1/project", config["quantization"])
        print(
            f"\n{name} vs onnxruntime: max |diff| {difference.max():.4f}, mean {difference.mean():.4f} "
            f"({np.max(difference.max(axis=1) / np.ptp(theirs, axis=1)):.2%} of the vector's range); block 1's "
            f"levels differing: {np.mean(early != their_early):.2%}"
        )


def test_other_files_refused(path, tmp_path):
    transformer = os.path.join(os.path.dirname(path), "arbitrary_transform.onnx")
    if os.path.isfile(transformer):
        with pytest.raises(OptionError, match="arbitrary_transform.onnx: not Magenta's MobileNetV2 style predictor"):
            predictor.read_predictor(transformer)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a network")
    with pytest.raises(OptionError, match="junk.onnx"):
        predictor.read_predictor(str(junk))


def test_layout_checked(layout):
    config, arrays = layout
    with pytest.raises(OptionError, match="points the layout does not have"):
        predictor.StylePredictor(config["blocks"], {"block99/add": [0.1, 0]})
    with pytest.raises(OptionError, match="cannot read"):
        predictor.StylePredictor([*config["blocks"][:-1], {"kind": "pool", "name": "output"}])
    with pytest.raises(OptionError, match="missing"):
        predictor.build_predictor(config, {k: v for k, v in arrays.items() if k != "conv0/bias"})
    with pytest.raises(OptionError, match="stop_at"):
        predictor.build_predictor(config, arrays)(np.zeros((1, 32, 32, 3), np.float32), stop_at="block99")


def test_bundled_predictor_computes_on_the_files_integers(model):
    """The bundled network's predictor takes its weights' scales from the .npz (their integers and scales as the
    file holds them), so it does the integer arithmetic of the predictor read from the file: the same vectors."""
    from neural_style.fast import bundled

    network = bundled.load_bundled(bundled.ARBITRARY)
    assert network.predictor.integer and model.integer
    assert network.predictor.quantization == model.quantization
    pictures = np.random.default_rng(8).integers(0, 256, (2, 96, 160, 3)).astype(np.float32)
    np.testing.assert_array_equal(network.predictor(pictures).numpy(), model(pictures).numpy())


def test_float_config_stays_float(layout):
    config, arrays = layout
    assert predictor.with_weight_scales({**config, "quantization": {}}, arrays)["quantization"] == {}
    dequantised = {name: weight.dequantize() for name, weight in arrays.items()}
    # Without the weights' integers there is nothing to sum exactly: the float convolutions, rounded where the file is.
    assert not predictor.build_predictor(config, dequantised).integer


def _same_padding(levels, kernel, stride):
    """levels (H, W, C) padded with zeros as TensorFlow's 'SAME' pads them for a kernel and a stride."""
    padded = []
    for n in levels.shape[:2]:
        out = -(-n // stride)
        total = max((out - 1) * stride + kernel - n, 0)
        padded.append((total // 2, total - total // 2))
    return np.pad(levels, [*padded, (0, 0)])


def test_integer_convolution_is_numpys_integer_arithmetic(layout, model, pictures):
    """conv0 (3 x 3, stride 2) and block 1's depthwise convolution against numpy: int64 sums of the levels times the
    kernel's integers plus the bias's, times the float32 multiplier, rounded half to even, clipped: the same levels
    exactly (the float32 sums are exact: below 2 ** 24)."""
    config, arrays = layout
    quantization = model.quantization
    picture = pictures[:1, :64, :96]

    def requantize(total, point, reads, kernel_scale):
        scale, zero_point = quantization[point]
        multiplier = (np.float32(quantization[reads][0]) * kernel_scale) / np.float32(scale)
        product = total.astype(np.float32) * multiplier
        return np.clip(np.round(product) + zero_point, -128, 127).astype(np.int64)

    # conv0 reads the picture's levels less the zero point: the whole pixels themselves (the input's scale is 1 / 255).
    levels = picture[0].astype(np.int64)
    kernel = arrays["conv0/kernel"].values.astype(np.int64)  # (3, 3, 3, 32)
    padded = _same_padding(levels, 3, 2)
    rows, cols = -(-levels.shape[0] // 2), -(-levels.shape[1] // 2)
    total = np.zeros((rows, cols, kernel.shape[-1]), np.int64)
    for dy in range(3):
        for dx in range(3):
            total += padded[dy : dy + 2 * rows : 2, dx : dx + 2 * cols : 2] @ kernel[dy, dx]
    total += arrays["conv0/bias"].values.astype(np.int64)
    expected = requantize(total, "conv0", "input", np.ravel(arrays["conv0/kernel"].scale).astype(np.float32))
    ours = model(picture, stop_at="conv0").numpy()[0]
    scale, zero_point = quantization["conv0"]
    np.testing.assert_array_equal(np.round(ours / np.float32(scale)) + zero_point, expected)

    # Block 1's depthwise convolution (stride 2) of its expansion, given our expansion's levels.
    block = model.stages[[b["name"] for b in config["blocks"]].index("block1")]
    block0 = model(picture, stop_at="block0")
    expand_scale = np.float32(quantization["block1/expand"][0])
    ours_expand = integer_convolution(block.expand, block0, block.rounding, "expand", "input", relu6=True).numpy()[0]
    levels = np.round(ours_expand / expand_scale).astype(np.int64)
    kernel = arrays["block1/depthwise/kernel"].values.astype(np.int64)[:, :, :, 0]  # (3, 3, C)
    padded = _same_padding(levels, 3, 2)
    rows, cols = -(-levels.shape[0] // 2), -(-levels.shape[1] // 2)
    total = np.zeros((rows, cols, kernel.shape[-1]), np.int64)
    for dy in range(3):
        for dx in range(3):
            total += padded[dy : dy + 2 * rows : 2, dx : dx + 2 * cols : 2] * kernel[dy, dx]
    total += arrays["block1/depthwise/bias"].values.astype(np.int64)
    depthwise_scale = np.ravel(arrays["block1/depthwise/kernel"].scale).astype(np.float32)
    expected = requantize(total, "block1/depthwise", "block1/expand", depthwise_scale)
    ours = integer_convolution(block.depthwise, ours_expand[None], block.rounding, "depthwise", "expand", relu6=True)
    scale, zero_point = quantization["block1/depthwise"]
    np.testing.assert_array_equal(np.round(ours.numpy()[0] / np.float32(scale)) + zero_point, expected)


def test_level_average_is_the_exact_sum():
    """quantize.level_average: float32(the levels' integer sum) x scale / count, whether summed in float64 or int32
    (TFLite's), against numpy's int64 sum."""
    import tensorflow as tf

    from neural_style.fast.quantize import level_average

    scale = np.float32(0.0235294122248888)
    levels = np.random.default_rng(2).integers(0, 256, (2, 301, 399, 5))
    x = levels.astype(np.float32) * scale
    expected = (levels.sum(axis=(1, 2), keepdims=True).astype(np.float32) * scale / np.float32(301 * 399)).astype(
        np.float32
    )
    for int32 in (False, True):
        np.testing.assert_array_equal(level_average(tf.constant(x), scale, int32).numpy(), expected)
