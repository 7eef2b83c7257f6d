"""Plain numpy (float64) references, independent of TensorFlow: VGG-19's forward pass, and Adam's update."""

import numpy as np
import scipy.linalg


def conv_relu(x, kernel, bias):
    """3x3 convolution, stride 1, SAME (zero) padding, plus bias, then ReLU. x: (H, W, C_in)."""
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    height, width = x.shape[:2]
    out = np.zeros((height, width, kernel.shape[3]))
    for i in range(3):
        for j in range(3):
            out += padded[i : i + height, j : j + width, :] @ kernel[i, j].astype(np.float64)
    return np.maximum(out + bias, 0)


def forward_rounding(weights, name):
    """
    The bound on float32's rounding in the activations of layer `name` (against float64), relative to their largest.

    Two float32 computations (other kernels, tile sizes) differ by up to twice this.

    Each convolution sums n = 9 C_in products, within n eps sum|terms| of the exact sum, and a pool 4 terms; the errors
    of the layers below add (to first order; He-initialised layers keep the activations' scale). sum|terms| is at
    most 5.2 times the layer's largest activation on the fixtures' random filters (measured in float64: a property
    of the filters, not of a CPU), 8 here: 8 eps sum_l n_l, 1.4e-3 at conv5_4. A wrong filter, padding or pool
    changes the activations by tenths of their largest.
    """
    count = 0
    for block in range(1, 6):  # the layers in forward's order, up to `name`
        for layer in [n for n in weights.layers if n.startswith(f"conv{block}_")]:
            count += 9 * weights.layers[layer][0].shape[2]
            if layer == name:
                return 8 * count * 2.0**-24
        count += 4
        if name.endswith(f"pool{block}"):
            return 8 * count * 2.0**-24
    raise KeyError(name)


def pool(x, method):
    """2x2 pool, stride 2, SAME padding: padded cells are left out of the average and of the max."""
    height, width, channels = x.shape
    out = np.zeros(((height + 1) // 2, (width + 1) // 2, channels))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :].reshape(-1, channels)
            out[i, j] = window.mean(axis=0) if method == "avg" else window.max(axis=0)
    return out


def forward(image, weights, pooling="avg"):
    """All activations of VGG-19 for image (1, H, W, 3), keyed by the article's names."""
    x = np.asarray(image, dtype=np.float64)[0]
    if weights.channel_order == "BGR":
        x = x[..., ::-1]
    out = {}
    for block in range(1, 6):
        for name in [n for n in weights.layers if n.startswith(f"conv{block}_")]:
            kernel, bias = weights.layers[name]
            x = out[name] = conv_relu(x, kernel, bias)
        x = out[f"{pooling}pool{block}"] = pool(x, pooling)
    return {name: value[None] for name, value in out.items()}


def numpy_costs(weights, content, generated, layers):
    """J_content at layers[0] and J_style over layers with weights 1/N, from the numpy forward pass."""
    target = forward(content, weights)
    mine = forward(generated, weights)
    _, n_H, n_W, n_C = mine[layers[0]].shape
    J_content = ((target[layers[0]] - mine[layers[0]]) ** 2).sum() / (4 * n_H * n_W * n_C)
    J_style = 0.0
    for name in layers:
        _, n_H, n_W, n_C = mine[name].shape
        A, G = target[name].reshape(-1, n_C), mine[name].reshape(-1, n_C)
        J_style += ((A.T @ A - G.T @ G) ** 2).sum() / (4 * n_C**2 * (n_H * n_W) ** 2) / len(layers)
    return J_content, J_style


def gram(a):
    """The Gram matrix (C, C) of an activation (1, H, W, C): the unnormalised channel correlations, in float64."""
    a = np.asarray(a, dtype=np.float64)
    F = a.reshape(-1, a.shape[-1])
    return F.T @ F


def grams(image, weights, names, pooling="avg"):
    """Each named layer's Gram matrix of an image (1, H, W, 3), from the numpy forward pass."""
    activations = forward(image, weights, pooling)
    return [gram(activations[name]) for name in names]


def content_cost(a_C, a_G, form="course"):
    """The course's J_content, sum((a_C - a_G) ** 2) / (4 n_H n_W n_C), or the paper's 1/2 sum((a_C - a_G) ** 2)."""
    a_C, a_G = np.asarray(a_C, dtype=np.float64), np.asarray(a_G, dtype=np.float64)
    squares = np.sum((a_C - a_G) ** 2)
    return squares / (4 * a_G.size) if form == "course" else 0.5 * squares


def layer_style_cost_from_gram(GS, a_G):
    """The course's layer style cost against a style Gram GS: sum((GS - GG) ** 2) / (4 n_C^2 (n_H n_W)^2)."""
    a_G = np.asarray(a_G, dtype=np.float64)
    n_C = a_G.shape[-1]
    n_HW = a_G.size // n_C
    return np.sum((np.asarray(GS, dtype=np.float64) - gram(a_G)) ** 2) / (4 * n_C**2 * n_HW**2)


def layer_style_cost(a_S, a_G):
    """The course's layer style cost of two activations (1, n_H, n_W, n_C)."""
    return layer_style_cost_from_gram(gram(a_S), a_G)


def total_variation(image):
    """The sum of squared differences between vertical and horizontal neighbours of an image (1, H, W, C)."""
    x = np.asarray(image, dtype=np.float64)
    return np.sum((x[:, 1:] - x[:, :-1]) ** 2) + np.sum((x[:, :, 1:] - x[:, :, :-1]) ** 2)


def noise_image(content, seed, noise_ratio=0.6):
    """The article's starting image: uniform(-20, 20) noise * ratio + content * (1 - ratio), from numpy's seed."""
    noise = np.random.default_rng(seed).uniform(-20, 20, content.shape).astype(np.float32)
    return (noise * noise_ratio + content * (1 - noise_ratio)).astype(np.float32)


def style_transfer_costs(
    generated, content, style_grams, weights, content_layer, style_layers, pooling="avg", form="course"
):
    """
    J_content and J_style of a generated image against a content image and style Grams, with the numpy network.

    Arguments:
    generated, content -- images (1, H, W, 3) as the network sees them
    style_grams -- one Gram matrix per style layer (see grams)
    content_layer -- the content layer's name
    style_layers -- [(name, weight), ...]
    form -- 'course' or 'gatys', the content cost's form

    Returns:
    J_content, J_style -- float64
    """
    a_G = forward(generated, weights, pooling)
    J_content = content_cost(forward(content, weights, pooling)[content_layer], a_G[content_layer], form)
    J_style = sum(
        weight * layer_style_cost_from_gram(GS, a_G[name]) for (name, weight), GS in zip(style_layers, style_grams)
    )
    return J_content, J_style


# The NTSC YIQ matrix as published (FCC), to check the colour functions independently of tf.image.
YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def yiq(image):
    """An RGB image (..., 3) in YIQ (luminance, then the two chrominances), in float64."""
    return np.asarray(image, dtype=np.float64) @ YIQ.T


class Adam:
    """Adam as Kingma & Ba (and Keras) write it, in float64: m and v the moving averages, bias-corrected step."""

    def __init__(self, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.t, self.m, self.v = 0, 0.0, 0.0
        self.largest_gradient = 0.0

    def update(self, x, grad):
        """The pixels x after one step along grad (both arrays of the same shape)."""
        x, grad = np.asarray(x, np.float64), np.asarray(grad, np.float64)
        self.t += 1
        self.m = self.beta_1 * self.m + (1 - self.beta_1) * grad
        self.v = self.beta_2 * self.v + (1 - self.beta_2) * grad**2
        self.largest_gradient = max(self.largest_gradient, float(np.abs(grad).max()))
        step = self.learning_rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        return x - step * self.m / (np.sqrt(self.v) + self.epsilon)

    def largest_normalised_step(self):
        """
        U, the bound on |m_hat| / sqrt(v_hat) after the steps so far (|step| <= learning_rate * U; about 1 early on).

        m_hat = sum_k a_k g_k and v_hat = sum_k b_k g_k^2 are weighted means (the weights of each sum to 1), so by
        Cauchy-Schwarz |m_hat| <= sqrt(sum_k a_k^2 / b_k) * sqrt(v_hat).
        """
        k = np.arange(1, self.t + 1)
        a = (1 - self.beta_1) * self.beta_1 ** (self.t - k) / (1 - self.beta_1**self.t)
        b = (1 - self.beta_2) * self.beta_2 ** (self.t - k) / (1 - self.beta_2**self.t)
        return float(np.sqrt(np.sum(a**2 / b)))

    def rounding_bound(self, gradient_error):
        """
        How far another computation of the same steps may move each pixel from these, per pixel, when each of its
        gradients differed from the ones given here by at most gradient_error (rounding in another summation order).

        Each gradient off by <= D moves m_hat by <= D (a weighted mean) and sqrt(v_hat) by <= D (a weighted
        2-norm: Minkowski), so m_hat / sqrt(v_hat) moves by <= (1 + U) D / (sqrt(v_hat) - D); and never by more than
        2 U, the whole range of a step. A gradient that is zero up to rounding can thus flip a pixel's step (2 lr),
        while a pixel whose gradient stands well above the rounding moves by a small fraction of lr. Clipping is
        1-Lipschitz and adds nothing.

        Arguments:
        gradient_error -- D, the bound on each gradient's error (same units as the gradients)

        Returns:
        bound -- array of the pixels' shape
        """
        U = self.largest_normalised_step()
        root = np.sqrt(self.v / (1 - self.beta_2**self.t))
        with np.errstate(divide="ignore"):
            swing = np.where(root > gradient_error, (1 + U) * gradient_error / (root - gradient_error), np.inf)
        return self.learning_rate * np.minimum(swing, 2 * U)


# --- style losses beyond the Gram matrix, and guided (masked) statistics


def moments(a):
    """The mean (C,) and covariance (C, C) of an activation's features over its positions, in float64."""
    F = np.float64(a).reshape(-1, np.shape(a)[-1])
    mu = F.mean(axis=0)
    return mu, (F - mu).T @ (F - mu) / len(F)


def mean_cov_cost(a_S, a_G):
    """||mu_S - mu_G||^2 + ||C_S - C_G||_F^2 of two activations."""
    (mu_S, C_S), (mu_G, C_G) = moments(a_S), moments(a_G)
    return np.sum((mu_S - mu_G) ** 2) + np.sum((C_S - C_G) ** 2)


def w2_of_moments(mu_S, C_S, mu_G, C_G):
    """The squared Wasserstein-2 distance of two Gaussians, with scipy.linalg.sqrtm's square roots."""
    root_S = scipy.linalg.sqrtm(C_S)
    cross = scipy.linalg.sqrtm(root_S @ C_G @ root_S)
    return np.sum((mu_S - mu_G) ** 2) + np.trace(C_S + C_G - 2 * cross).real


def w2_cost(a_S, a_G):
    """The squared Wasserstein-2 distance of the Gaussians of two activations' features."""
    return w2_of_moments(*moments(a_S), *moments(a_G))


def guided_gram(a, guide):
    """The Gram of an activation's features weighted by guide**2 per position, divided by the sum of guide**2."""
    F = np.float64(a).reshape(-1, a.shape[-1])
    w = np.float64(guide).reshape(-1, 1) ** 2
    return (w * F).T @ F / w.sum()


def block_mean(mask, factor):
    """A mask (H, W) averaged over factor x factor blocks (H and W multiples of factor)."""
    height, width = mask.shape
    return mask.reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3))
