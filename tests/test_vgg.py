import numpy as np
import pytest
import tensorflow as tf

from neural_style import WeightsError, load_vgg_model, read_mat_weights
from neural_style.vgg import UnknownLayerError, layer_names
from neural_style.weights import CONV_LAYERS, MAT_LAYER_NAMES
from tests import reference
from tests.fixtures import save_mat, vgg_mat_layers, write_vgg_mat
from tests.reference import forward_rounding

HEIGHT, WIDTH = 19, 26  # odd sizes exercise the SAME padding of the pools


def random_image(height=HEIGHT, width=WIDTH, seed=0):
    return np.random.default_rng(seed).uniform(-120, 130, (1, height, width, 3)).astype(np.float32)


@pytest.mark.parametrize("layout", ["current", "beta16"])
def test_both_layouts_read_the_filters_as_stored(tmp_path, layout):
    path = tmp_path / f"{layout}.mat"
    written = write_vgg_mat(path, layout=layout)
    read = read_mat_weights(str(path))
    assert list(read.layers) == list(CONV_LAYERS)
    for name, (kernel, bias) in written.layers.items():
        np.testing.assert_array_equal(read.layers[name][0], kernel)  # [H, W, C_in, C_out], no transpose
        np.testing.assert_array_equal(read.layers[name][1], bias)
        assert read.layers[name][1].shape == (kernel.shape[3],)
        assert read.layers[name][0].dtype == np.float32


@pytest.mark.parametrize("layout", ["current", "beta16"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_activations_equal_a_numpy_forward_pass(tmp_path, layout, pooling):
    path = tmp_path / "vgg.mat"
    weights = write_vgg_mat(path, layout=layout)
    model = load_vgg_model(str(path), height=HEIGHT, width=WIDTH, pooling=pooling)
    image = random_image()
    expected = reference.forward(image, weights, pooling)
    names = layer_names(pooling)
    assert list(model) == ["input"] + names
    for name, activation in zip(names, model(image, names)):
        bound = forward_rounding(weights, name) * np.abs(expected[name]).max()
        np.testing.assert_allclose(activation.numpy(), expected[name], rtol=0, atol=bound)


def test_article_keys_and_input_variable(small_model):
    assert list(small_model)[:4] == ["input", "conv1_1", "conv1_2", "avgpool1"]
    assert list(small_model)[-2:] == ["conv5_4", "avgpool5"]
    assert isinstance(small_model["input"], tf.Variable)
    assert small_model["input"].dtype == tf.float32
    assert small_model["input"].shape == (1, 24, 32, 3)


def test_layer_lookup_follows_the_assigned_input(small_model, mat_file):
    image = random_image(24, 32, seed=3)
    small_model["input"].assign(image)
    a = small_model["conv4_2"]
    assert isinstance(a, type(tf.constant(1)))  # an EagerTensor
    expected = reference.forward(image, mat_file[1])["conv4_2"]
    np.testing.assert_allclose(
        a.numpy(), expected, rtol=0, atol=forward_rounding(mat_file[1], "conv4_2") * expected.max()
    )
    small_model["input"].assign(random_image(24, 32, seed=4))
    assert not np.allclose(small_model["conv4_2"].numpy(), a.numpy())


def test_layer_lookup_works_inside_tf_function(small_model):
    small_model["input"].assign(random_image(24, 32, seed=5))

    @tf.function
    def conv3_1_sum():
        return tf.reduce_sum(small_model["conv3_1"])

    # Traced (fused kernels) and eager: the activations within forward_rounding(conv3_1) = 1.2e-4 of their largest,
    # their sum (6x8x16 positive terms) within 768 eps more: 1.7e-4 each, 3.4e-4 apart. Another layer differs by tenths.
    np.testing.assert_allclose(conv3_1_sum().numpy(), tf.reduce_sum(small_model["conv3_1"]).numpy(), rtol=4e-4)


def test_gradient_reaches_the_input_and_matches_finite_differences(small_model):
    image = random_image(24, 32, seed=6)
    small_model["input"].assign(image)
    weights = tf.random.stateless_normal(small_model["conv2_1"].shape, seed=(1, 2))
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(small_model["conv2_1"] * weights)
    grad = tape.gradient(value, small_model["input"]).numpy()
    assert np.abs(grad).max() > 0
    for index in [(0, 5, 7, 0), (0, 12, 20, 2), (0, 0, 0, 1)]:
        eps = 0.5
        shifted = [image.copy(), image.copy()]
        shifted[0][index] += eps
        shifted[1][index] -= eps
        f = [float(tf.reduce_sum(small_model(x, ["conv2_1"])[0] * weights)) for x in shifted]
        np.testing.assert_allclose(grad[index], (f[0] - f[1]) / (2 * eps), rtol=2e-2, atol=1e-2)


def test_one_pass_stops_at_the_deepest_layer_asked_for(small_model, monkeypatch):
    computed = []
    original = type(small_model)._layer

    def counting(self, name, x):
        computed.append(name)
        return original(self, name, x)

    monkeypatch.setattr(type(small_model), "_layer", counting)
    a, b = small_model(random_image(24, 32), ["conv2_1", "conv1_1"])
    assert computed == ["conv1_1", "conv1_2", "avgpool1", "conv2_1"]
    assert a.shape[-1] == 8 and b.shape[-1] == 4


def test_unknown_layer_lists_the_valid_ones(small_model):
    with pytest.raises(UnknownLayerError, match="unknown layer conv6_1; valid layers: conv1_1, conv1_2"):
        small_model(random_image(24, 32), ["conv6_1"])
    with pytest.raises(KeyError):
        small_model["avgpool9"]


def test_max_pooling_names_its_pools(mat_file):
    model = load_vgg_model(str(mat_file[0]), height=8, width=8, pooling="max")
    assert "maxpool3" in model and "avgpool3" not in model
    with pytest.raises(ValueError, match="pooling must be one of avg, max, got .min."):
        load_vgg_model(str(mat_file[0]), pooling="min")


def test_random_weights_need_no_file():
    model = load_vgg_model("random", height=16, width=16)
    assert model.weights.source == "random"
    assert model(random_image(16, 16), ["conv5_1"])[0].shape == (1, 1, 1, 512)


@pytest.mark.slow
def test_real_vgg19_shapes_at_300x400(tmp_path):
    path = tmp_path / "full.mat"
    write_vgg_mat(path, width_divisor=1)
    model = load_vgg_model(str(path))
    model["input"].assign(random_image(300, 400))
    names = layer_names("avg")
    shapes = {name: tuple(a.shape) for name, a in zip(names, model(model["input"], names))}
    assert shapes["conv1_1"] == shapes["conv1_2"] == (1, 300, 400, 64)
    assert shapes["avgpool1"] == (1, 150, 200, 64)
    assert shapes["conv2_2"] == (1, 150, 200, 128)
    assert shapes["conv3_4"] == (1, 75, 100, 256)
    assert shapes["avgpool3"] == (1, 38, 50, 256)
    assert shapes["conv4_2"] == (1, 38, 50, 512)
    assert shapes["conv5_1"] == (1, 19, 25, 512)
    assert shapes["avgpool5"] == (1, 10, 13, 512)


# --- bad files: one clear error naming the file, never an AssertionError / IndexError / KeyError from inside


def test_missing_file_points_to_the_readme(tmp_path):
    path = tmp_path / "nowhere.mat"
    with pytest.raises(FileNotFoundError, match="pretrained-model/README.md") as error:
        load_vgg_model(str(path))
    assert str(path) in str(error.value)


def assert_weights_error(path, match):
    with pytest.raises(WeightsError, match=match) as error:
        read_mat_weights(str(path))
    assert str(path) in str(error.value)


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "notes.mat"
    path.write_text("these are not weights\n" * 20)
    assert_weights_error(path, "not a readable MAT file")


def test_truncated_file(tmp_path, mat_file):
    data = mat_file[0].read_bytes()
    path = tmp_path / "truncated.mat"
    path.write_bytes(data[: len(data) // 2])
    assert_weights_error(path, "not a readable MAT file")


def test_no_layers_variable(tmp_path, mat_file):
    path = save_mat(tmp_path / "nolayers.mat", [], include_layers=False)
    assert_weights_error(path, "no 'layers'")


def test_misnamed_layer(tmp_path, mat_file):
    layers = vgg_mat_layers(mat_file[1])
    layers[21]["name"] = "conv4_x"
    assert_weights_error(save_mat(tmp_path / "misnamed.mat", layers), "layer 21 is named 'conv4_x', expected 'conv4_2'")


def test_missing_layer(tmp_path, mat_file):
    layers = vgg_mat_layers(mat_file[1])
    del layers[MAT_LAYER_NAMES.index("relu3_1")]
    assert_weights_error(save_mat(tmp_path / "missing.mat", layers), "layer 11 is named 'conv3_2', expected 'relu3_1'")


def test_too_few_layers(tmp_path, mat_file):
    layers = vgg_mat_layers(mat_file[1])[:20]
    assert_weights_error(save_mat(tmp_path / "short.mat", layers), "20 layers, expected the 43")


def test_kernel_of_the_wrong_shape(tmp_path, mat_file):
    layers = vgg_mat_layers(mat_file[1])
    kernel = layers[2]["weights"][0, 0]
    layers[2]["weights"][0, 0] = kernel[:, :, :-1, :]  # conv1_2 loses an input channel
    assert_weights_error(save_mat(tmp_path / "shape.mat", layers), r"conv1_2 has a kernel of shape")


def test_layer_without_weights(tmp_path, mat_file):
    layers = vgg_mat_layers(mat_file[1])
    del layers[5]["weights"]
    assert_weights_error(save_mat(tmp_path / "noweights.mat", layers), "layer 5 has no field 'weights'")


def test_bfloat16_convolutions_hand_out_float32_activations_close_to_float32(mat_file):
    image = random_image(24, 32, seed=8)
    exact = reference.forward(image, mat_file[1])
    model = load_vgg_model(str(mat_file[0]), height=24, width=32, precision="bfloat16")
    for name, activation in zip(["conv1_1", "conv3_1", "conv5_1"], model(image, ["conv1_1", "conv3_1", "conv5_1"])):
        assert activation.dtype == tf.float32
        # bfloat16 keeps 8 significant bits: about 1% per operation, compounding a little with depth.
        scale = np.abs(exact[name]).max()
        error = np.abs(activation.numpy() - exact[name]).max() / scale
        assert 1e-5 < error < 0.05  # not float32's exactness, but close
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, got .float8."):
        load_vgg_model(str(mat_file[0]), precision="float8")


# --- Keras VGG19 weights (the TF2 course's file): its preprocessing happens inside the model


def test_keras_weights_see_what_keras_preprocess_input_gives(tmp_path):
    # The claim: the article's RGB minus MEANS, flipped to BGR inside the model, is exactly Keras's
    # preprocess_input (BGR minus [103.939, 116.779, 123.68]), so callers pass the article's images to either file.
    from keras.applications.vgg19 import preprocess_input

    from neural_style import reshape_and_normalize_image
    from neural_style.vgg import VGGModel
    from neural_style.weights import VGGWeights, load_weights
    from tests.h5_fixtures import small_vgg_layers, write_keras2_h5

    path = write_keras2_h5(tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", small_vgg_layers())
    weights = load_weights(str(path))
    assert weights.channel_order == "BGR"
    rgb = np.random.default_rng(4).integers(0, 256, (12, 16, 3)).astype(np.float64)
    bgr = rgb[..., ::-1] - np.array([103.939, 116.779, 123.68])  # computed here, from the published Keras mean
    np.testing.assert_allclose(preprocess_input(rgb[None].copy())[0], bgr, atol=1e-9)
    # A numpy network fed Keras's input directly (no flip: the filters' own order) ...
    as_keras_sees_it = VGGWeights(layers=weights.layers, source="keras", channel_order="RGB")
    expected = reference.forward(bgr[None], as_keras_sees_it)
    # ... equals our model fed the article's mean-subtracted RGB image.
    model = VGGModel(weights, 12, 16)
    names = ["conv1_1", "conv3_2", "block5_conv4"]  # a Keras name is an alias
    got = model(reshape_and_normalize_image(rgb), names)
    for name, activation in zip(["conv1_1", "conv3_2", "conv5_4"], got):
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(
            activation.numpy(), expected[name], rtol=0, atol=forward_rounding(weights, name) * scale
        )


def test_keras_layer_names_map_to_the_articles():
    from neural_style.vgg import canonical_layer_name

    assert canonical_layer_name("block4_conv2") == "conv4_2"
    assert canonical_layer_name("block1_conv1") == "conv1_1"
    assert canonical_layer_name("block3_pool") == "avgpool3"
    assert canonical_layer_name("block3_pool", "max") == "maxpool3"
    for name in ("conv4_2", "block6_conv1", "block1_conv5", "input"):
        assert canonical_layer_name(name) == name
    # Every convolution of VGG-19 has exactly one Keras name that maps to it.
    from neural_style.weights import keras_layer_name

    assert all(canonical_layer_name(keras_layer_name(name)) == name for name in CONV_LAYERS)


def test_before_relu_and_a_swapped_relu(small_model, mat_file):
    image = random_image(24, 32, seed=9)
    weights = mat_file[1]
    below = reference.forward(image, weights)["avgpool1"][0]  # the input of conv2_1
    kernel, bias = weights.layers["conv2_1"]
    # conv_relu(x, k, b) - conv_relu(x, -k, -b) = relu(z) - relu(-z) = z: the value before the ReLU, in numpy.
    expected = reference.conv_relu(below, kernel, bias) - reference.conv_relu(below, -kernel, -bias)
    pre = small_model(image, ["conv2_1"], before_relu=True)[0].numpy()[0]
    np.testing.assert_allclose(
        pre, expected, rtol=0, atol=forward_rounding(weights, "conv2_1") * np.abs(expected).max()
    )
    assert pre.min() < 0
    # The identity in place of every ReLU: conv1_2 is then a purely linear function of the image.
    linear = [small_model(x, ["conv1_2"], relu=tf.identity)[0].numpy() for x in (image, 2 * image)]
    biases = small_model(np.zeros_like(image), ["conv1_2"], relu=tf.identity)[0].numpy()
    np.testing.assert_allclose(linear[1] - biases, 2 * (linear[0] - biases), rtol=1e-3, atol=1e-2)
