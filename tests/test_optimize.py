import numpy as np
import pytest
import tensorflow as tf

from neural_style import (
    STYLE_LAYERS,
    StyleTransferCost,
    compile_train_step,
    compute_content_cost,
    compute_style_cost,
    generate_noise_image,
    load_vgg_model,
    model_nn,
    reshape_and_normalize_image,
    total_cost,
    train_step,
)
from neural_style.lbfgs import LBFGS, compile_cost_and_gradient, lbfgs_max_evaluations
from neural_style.optimize import JIT_COMPILE_ENV, BestImage, CostTerms, resolve_jit_compile
from tests import reference
from tests.transfers import COST_ROUNDING, EPS, GRADIENT_ROUNDING, transfer

HEIGHT, WIDTH = 24, 32


def images(seed=0):
    rng = np.random.default_rng(seed)
    # Smooth content, busy style: both give the small network something to match.
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([x * 8, y * 10, (x + y) * 4], -1).clip(0, 255)
    style = rng.integers(0, 256, (HEIGHT, WIDTH, 3))
    return reshape_and_normalize_image(content), reshape_and_normalize_image(style)


@pytest.fixture()
def model(mat_file):
    return load_vgg_model(str(mat_file[0]), height=HEIGHT, width=WIDTH)


def eager_gradient(cost, image):
    """The gradient of cost(image)'s J with respect to the pixels, eagerly (a numpy array)."""
    variable = tf.Variable(image)
    with tf.GradientTape() as tape:
        J = CostTerms.of(cost(variable)).J
    return tape.gradient(J, variable).numpy()


def assert_adam_steps_agree(actual, expected, adam):
    """
    The pixels after Adam steps computed in two ways from the same images: equal but for float32's rounding.

    The gradients differ by <= GRADIENT_ROUNDING * max|g|; Adam divides them by their running RMS, so a pixel moves
    apart by what reference.Adam.rounding_bound gives (a small fraction of the learning rate where the gradient stands
    above the rounding, up to 2 lr where it is zero but for the rounding), plus the rounding of the Adam arithmetic
    (a few eps of the step) and of the pixels themselves: 8 eps (|x| + lr).
    """
    bound = adam.rounding_bound(GRADIENT_ROUNDING * adam.largest_gradient)
    bound = bound + 8 * EPS * (np.abs(expected) + adam.learning_rate)
    # The power of the test: at a tenth of the pixels the bound is within 2% of a step, where SGD, a learning rate
    # a few percent off or a missing clip shows.
    assert np.quantile(bound, 0.1) < adam.learning_rate / 50, "the bound leaves the test no power"
    outside = np.abs(np.asarray(actual, np.float64) - expected) > bound
    assert not outside.any(), (
        f"{outside.sum()} pixels differ by more than float32's rounding allows: "
        f"{np.asarray(actual)[outside][:5]} against {np.asarray(expected)[outside][:5]} (bound {bound[outside][:5]})"
    )


def test_cost_equals_the_course_functions_composed(model):
    content, style = images()
    generated = generate_noise_image(content, seed=1)
    cost = StyleTransferCost(model, content, style)
    J, J_content, J_style = cost(generated)
    names = [name for name, _ in STYLE_LAYERS]
    # The course's way: run the network per image, then compute_content_cost / compute_style_cost / total_cost.
    a_C = model(content, ["conv4_2"])[0]
    a_G = model(generated, ["conv4_2"])[0]
    expected_content = compute_content_cost(a_C, a_G)
    expected_style = compute_style_cost(model(style, names), model(generated, names))
    np.testing.assert_allclose(J_content.numpy(), expected_content.numpy(), rtol=1e-5)
    np.testing.assert_allclose(J_style.numpy(), expected_style.numpy(), rtol=1e-5)
    np.testing.assert_allclose(J.numpy(), total_cost(expected_content, expected_style).numpy(), rtol=1e-5)
    assert cost.layers == names + ["conv4_2"]  # one forward pass for all of them


def test_train_step_moves_the_pixels_against_the_gradient(model):
    content, style = images()
    cost = StyleTransferCost(model, content, style)
    image = tf.Variable(generate_noise_image(content, seed=2))
    with tf.GradientTape() as tape:
        J = cost(image)[0]
    grad = tape.gradient(J, image).numpy()
    assert np.abs(grad).max() > 0
    before = image.numpy()
    optimizer = tf.keras.optimizers.SGD(learning_rate=1e-3)
    J_before = train_step(image, optimizer, cost)[0]
    np.testing.assert_allclose(J_before.numpy(), J.numpy(), rtol=1e-6)
    np.testing.assert_allclose(image.numpy(), before - 1e-3 * grad, rtol=1e-5, atol=1e-6)


def test_train_step_clips(model):
    content, style = images()
    image = tf.Variable(tf.fill(content.shape, 0.5))
    train_step(image, tf.keras.optimizers.Adam(10.0), StyleTransferCost(model, content, style), clip=(0.0, 1.0))
    assert image.numpy().min() >= 0.0 and image.numpy().max() <= 1.0


def test_compiled_step_equals_eager_step(model):
    """The compiled step (tf.function, and XLA) makes the eager step's and Adam's updates, step by step."""
    content, style = images()
    cost = StyleTransferCost(model, content, style)
    start = generate_noise_image(content, seed=3)
    for jit in (None, True):
        image = tf.Variable(start)
        step = compile_train_step(image, tf.keras.optimizers.Adam(2.0), cost, jit_compile=jit)
        eager, optimizer, adam = tf.Variable(start), tf.keras.optimizers.Adam(2.0), reference.Adam(2.0)
        for _ in range(3):
            # Each step from the same image: only the rounding of the costs and gradients differs, not the path.
            before = image.numpy()
            J = float(step()[0])
            eager.assign(before)
            assert float(train_step(eager, optimizer, cost)[0]) == pytest.approx(J, rel=COST_ROUNDING)
            expected = adam.update(before, eager_gradient(cost, before))
            assert_adam_steps_agree(eager.numpy(), expected, adam)
            assert_adam_steps_agree(image.numpy(), expected, adam)


def test_cost_terms_by_name_and_as_the_courses_tuple(model):
    content, style = images()
    generated = generate_noise_image(content, seed=1)
    terms = StyleTransferCost(model, content, style).terms(generated)
    assert terms.J_tv is None and set(terms.floats()) == {"J", "J_content", "J_style"}
    J, J_content, J_style = StyleTransferCost(model, content, style)(generated)
    assert [float(J), float(J_content), float(J_style)] == [
        float(terms.J),
        float(terms.J_content),
        float(terms.J_style),
    ]
    assert CostTerms.of((1.0, 2.0, 3.0)) == CostTerms(J=1.0, J_content=2.0, J_style=3.0, J_tv=None)
    assert CostTerms(1.0, 2.0, 3.0, 4.0).course() == (1.0, 2.0, 3.0)


@pytest.mark.parametrize("options", [{}, {"clip": True, "learning_rate": 60.0}])
def test_style_transfer_takes_train_step_which_is_adam(weights, options):
    """StyleTransfer's step, train_step and Adam written out in numpy make the same updates from the same states."""
    run = transfer(weights, iterations=4, **options)
    learning_rate, clip = run.options.learning_rate, run.bounds if run.options.clip else None
    start = run.image.numpy()
    images = []
    _, history = run.run(callback=lambda entry: images.append(run.image.numpy()))
    # Each step from StyleTransfer's image before it: train_step eagerly, and Adam in numpy with the gradient of a
    # plain tape. The same images, so only the rounding of the costs and gradients differs (assert_adam_steps_agree).
    image = tf.Variable(start)
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    adam = reference.Adam(learning_rate)
    for entry, before, after in zip(history, [start] + images, images):
        image.assign(before)
        terms = train_step(image, optimizer, run.cost.terms, clip)
        assert terms.floats() == pytest.approx({name: entry[name] for name in terms.floats()}, rel=COST_ROUNDING)
        expected = adam.update(before, eager_gradient(run.cost.terms, before))
        if clip is not None:
            expected = np.clip(expected, *clip)
        assert_adam_steps_agree(image.numpy(), expected, adam)
        assert_adam_steps_agree(after, expected, adam)
    if clip is not None:
        assert np.any(images[-1] == clip[0]) or np.any(images[-1] == clip[1]), "the test needs a clip that bites"


@pytest.mark.parametrize("gpu", [False, True])
def test_jit_compile_environment_variable(monkeypatch, gpu):
    """$NEURAL_STYLE_JIT_COMPILE: '0' never XLA, even when asked; '1' XLA unless asked not to; unset: XLA with a GPU."""
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if gpu else [])
    expected = {None: {None: gpu, True: True, False: False}, "0": {None: False, True: False, False: False}}
    expected["1"] = {None: True, True: True, False: False}
    for setting, answers in expected.items():
        if setting is None:
            monkeypatch.delenv(JIT_COMPILE_ENV, raising=False)
        else:
            monkeypatch.setenv(JIT_COMPILE_ENV, setting)
        assert {asked: resolve_jit_compile(asked) for asked in answers} == answers, setting


@pytest.mark.parametrize("compiled", [False, True])
def test_train_step_keeps_the_lowest_cost_image_before_the_update(model, compiled):
    content, style = images()
    cost = StyleTransferCost(model, content, style)
    image = tf.Variable(generate_noise_image(content, seed=8))
    best = BestImage(image)
    assert float(best.cost) == np.inf
    optimizer = tf.keras.optimizers.Adam(60.0)  # far too long a step: Adam overshoots, the costs go up and down
    step = compile_train_step(image, optimizer, cost, jit_compile=False, best=best) if compiled else None
    before, costs = [], []
    for _ in range(8):
        before.append(image.numpy())
        J, _, _ = step() if compiled else train_step(image, optimizer, cost, best=best)
        costs.append(float(J))
    lowest = int(np.argmin(costs))
    assert 0 < lowest < len(costs) - 1, "the test needs a run whose best image is neither the first nor the last"
    np.testing.assert_array_equal(best.image.numpy(), before[lowest])
    assert float(best.cost) == costs[lowest]
    # Offered images: a NaN or higher cost keeps the best one, a lower cost replaces it.
    for J in (np.nan, np.inf, costs[lowest] * 2):
        best.offer(tf.zeros_like(image), J)
        np.testing.assert_array_equal(best.image.numpy(), before[lowest])
    best.offer(np.ones(image.shape, np.float32), costs[lowest] / 2)
    np.testing.assert_array_equal(best.image.numpy(), np.ones(image.shape))
    assert float(best.cost) == np.float32(costs[lowest] / 2)


def test_model_nn_lowers_the_cost_and_saves_where_the_article_does(model, tmp_path, capsys):
    content, style = images()
    generated = generate_noise_image(content, seed=4)
    history, calls = [], []
    result = model_nn(
        model,
        generated,
        num_iterations=20,
        content_image=content,
        style_image=style,
        output_dir=str(tmp_path / "output"),
        print_every=5,
        history=history,
        callback=lambda i, image, costs: calls.append(i),
    )
    assert result.shape == (1, HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(result, model["input"].numpy())  # the generated image is model['input']
    assert [entry["iteration"] for entry in history] == list(range(20)) == calls
    assert history[-1]["J"] < 0.5 * history[0]["J"]
    for entry in history:
        np.testing.assert_allclose(entry["J"], 10 * entry["J_content"] + 40 * entry["J_style"], rtol=1e-4)
    saved = sorted(p.name for p in (tmp_path / "output").iterdir())
    assert saved == ["0.png", "10.png", "15.png", "5.png", "generated_image.jpg"]
    printed = capsys.readouterr().out
    assert "Iteration 0 :\ntotal cost = " in printed and "Iteration 15 :" in printed
    assert "content cost = " in printed and "style cost = " in printed


def test_model_nn_takes_the_input_size(model):
    content, style = images()
    small = [x[:, :16, :16] for x in (content, style)]
    result = model_nn(
        model, small[0], num_iterations=2, content_image=small[0], style_image=small[1], output_dir=None, print_every=0
    )
    assert result.shape == (1, 16, 16, 3)


# L-BFGS (scipy's L-BFGS-B driven by one compiled cost-and-gradient function)


@pytest.mark.parametrize("jit", [False, True])
def test_gradient_handed_to_scipy_is_the_tape_gradient(model, jit):
    content, style = images()
    cost = StyleTransferCost(model, content, style)
    start = generate_noise_image(content, seed=5)
    lbfgs = LBFGS(compile_cost_and_gradient(cost, start.shape, jit_compile=jit), start.shape)
    x = start.astype(np.float64).ravel()
    J, grad = lbfgs.value_and_gradient(x)
    image = tf.Variable(start)
    with tf.GradientTape() as tape:
        J_eager = cost(image)[0]
    expected = tape.gradient(J_eager, image).numpy().astype(np.float64).ravel()
    assert isinstance(J, float) and grad.dtype == np.float64 and grad.shape == x.shape
    # float32 inside: every value handed over is a float32 value, widened exactly.
    np.testing.assert_array_equal(grad, grad.astype(np.float32).astype(np.float64))
    assert J == pytest.approx(float(J_eager), rel=COST_ROUNDING)
    np.testing.assert_allclose(grad, expected, rtol=0, atol=GRADIENT_ROUNDING * np.abs(expected).max())
    assert lbfgs.evaluations == 1 and lbfgs.best_cost == J
    np.testing.assert_array_equal(lbfgs.best_image, start)


def test_lbfgs_beats_adam_in_as_many_iterations_and_respects_the_bounds(model):
    content, style = images()
    cost = StyleTransferCost(model, content, style)
    start = generate_noise_image(content, seed=6)
    image = tf.Variable(start)
    step = compile_train_step(image, tf.keras.optimizers.Adam(2.0), cost, jit_compile=False)
    adam = [float(step()[0]) for _ in range(15)] + [float(cost(image)[0])]
    low, high = np.full((1, 1, 1, 3), -60.0), np.full((1, 1, 1, 3), 60.0)
    lbfgs = LBFGS(compile_cost_and_gradient(cost, start.shape, jit_compile=False), start.shape, (low, high))
    entries = []
    best = lbfgs.minimize(start, 15, callback=lambda entry, x: entries.append((entry, x)))
    assert [entry["iteration"] for entry, _ in entries] == list(range(15)) and lbfgs.iterations == 15
    for entry, x in entries:
        assert x.min() >= -60 and x.max() <= 60
        assert entry["J"] == pytest.approx(float(cost(tf.constant(x))[0]), rel=COST_ROUNDING)
    assert float(cost(tf.constant(best))[0]) == pytest.approx(lbfgs.best_cost, rel=COST_ROUNDING)
    assert lbfgs.best_cost <= min(entry["J"] for entry, _ in entries)
    assert lbfgs.best_cost < min(adam)
    assert lbfgs.evaluations <= lbfgs_max_evaluations(15) and entries[-1][0]["evaluations"] <= lbfgs.evaluations


def test_lbfgs_stops_at_the_evaluation_cap(model):
    content, style = images()
    cost = StyleTransferCost(model, content, style)
    start = generate_noise_image(content, seed=7)
    lbfgs = LBFGS(compile_cost_and_gradient(cost, start.shape, jit_compile=False), start.shape)
    lbfgs.minimize(start, 50, max_evaluations=6)
    assert lbfgs.iterations < 50 and lbfgs.evaluations <= 6 + 20  # scipy checks the cap between iterations
