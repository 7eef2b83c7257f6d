"""The cost functions of the article: content cost, Gram matrix, style cost and total cost.

Each function keeps the course's name, arguments and formula. The TF1 article evaluated activations through a
session; here every argument is an eager tensor (or array), and the result is an EagerTensor. The style functions also
take the TF2 course's form, where the arguments are the model's list of outputs.
"""

import numpy as np
import tensorflow as tf

from .config import ALPHA, BETA, STYLE_LAYERS

# An activation or image: an eager tensor or a numpy array, float32.
Tensor = tf.Tensor | np.ndarray


def _last_entry_if_stacked(a):
    """The TF2 course passes the list of model outputs (or a stacked tensor); its last entry is the content layer."""
    if isinstance(a, (list, tuple)) or len(a.shape) == 5:
        return a[-1]
    return a


def compute_content_cost(a_C: Tensor, a_G: Tensor) -> tf.Tensor:
    """
    Computes the content cost.

    Arguments:
    a_C -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing content of the image C
           (or, as in the TF2 course, the list of model outputs whose last entry is that activation)
    a_G -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing content of the image G
           (or the list of model outputs, likewise)

    Returns:
    J_content -- scalar that you compute using equation 1 above:
                 1 / (4 * n_H * n_W * n_C) * sum((a_C - a_G) ** 2)
    """
    a_C = tf.convert_to_tensor(_last_entry_if_stacked(a_C))
    a_G = tf.convert_to_tensor(_last_entry_if_stacked(a_G))
    _, n_H, n_W, n_C = a_G.shape
    J_content = tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)
    return J_content


def gram_matrix(A: Tensor) -> tf.Tensor:
    """
    Computes the Gram matrix (style matrix) of A.

    Arguments:
    A -- matrix of shape (n_C, n_H*n_W)

    Returns:
    GA -- Gram matrix of A, of shape (n_C, n_C): GA[i, j] = dot(A[i], A[j])
    """
    GA = tf.matmul(A, A, transpose_b=True)
    return GA


def layer_gram(a: Tensor) -> tf.Tensor:
    """
    The Gram matrix of one layer's activation, unrolled as in compute_layer_style_cost.

    Arguments:
    a -- tensor of dimension (1, n_H, n_W, n_C)

    Returns:
    G -- tensor of shape (n_C, n_C)
    """
    n_C = a.shape[-1]
    return gram_matrix(tf.transpose(tf.reshape(a, [-1, n_C])))


def layer_style_cost_from_gram(GS: Tensor, a_G: Tensor) -> tf.Tensor:
    """
    The layer style cost against a style Gram matrix computed beforehand (the loop computes GS once per run).

    Arguments:
    GS -- Gram matrix of the style image at this layer, shape (n_C, n_C)
    a_G -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image G

    Returns:
    J_style_layer -- 1 / (4 * n_C**2 * (n_H*n_W)**2) * sum((GS - GG) ** 2)
    """
    _, n_H, n_W, n_C = a_G.shape
    GG = layer_gram(a_G)
    return tf.reduce_sum(tf.square(GS - GG)) / (4.0 * n_C**2 * (n_H * n_W) ** 2)


def compute_layer_style_cost(a_S: Tensor, a_G: Tensor) -> tf.Tensor:
    """
    Computes the style cost of one layer.

    Arguments:
    a_S -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image S
    a_G -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image G

    Returns:
    J_style_layer -- tensor representing a scalar value, style cost defined above by equation (2)
    """
    a_S = tf.convert_to_tensor(a_S)
    a_G = tf.convert_to_tensor(a_G)
    GS = layer_gram(a_S)
    J_style_layer = layer_style_cost_from_gram(GS, a_G)
    return J_style_layer


def _by_layer(outputs, STYLE_LAYERS, what):
    """Pairs each style layer with its activation, from a dict keyed by name or a list in STYLE_LAYERS order."""
    if isinstance(outputs, dict):
        missing = [name for name, _ in STYLE_LAYERS if name not in outputs]
        if missing:
            raise KeyError(f"{what} has no activation for {', '.join(missing)}")
        return [outputs[name] for name, _ in STYLE_LAYERS]
    count = len(outputs)
    if count not in (len(STYLE_LAYERS), len(STYLE_LAYERS) + 1):
        raise ValueError(
            f"{what} has {count} activations for {len(STYLE_LAYERS)} style layers "
            "(pass one per style layer, optionally followed by the content layer's)"
        )
    return [outputs[i] for i in range(len(STYLE_LAYERS))]


def compute_style_cost(
    style_image_output: list[Tensor] | dict[str, Tensor],
    generated_image_output: list[Tensor] | dict[str, Tensor],
    STYLE_LAYERS: list[tuple[str, float]] = STYLE_LAYERS,
) -> tf.Tensor:
    """
    Computes the overall style cost from several chosen layers.

    Arguments:
    style_image_output -- activations of the style image: a list in STYLE_LAYERS order (a trailing content entry,
                          as the TF2 course's model outputs have, is ignored) or a dict keyed by layer name
    generated_image_output -- activations of the generated image, in the same form
    STYLE_LAYERS -- A python list containing:
                        - the names of the layers we would like to extract style from
                        - a coefficient for each of them

    Returns:
    J_style -- tensor representing a scalar value, style cost defined above by equation (2):
               sum over layers of coeff * J_style_layer
    """
    a_S_all = _by_layer(style_image_output, STYLE_LAYERS, "style_image_output")
    a_G_all = _by_layer(generated_image_output, STYLE_LAYERS, "generated_image_output")
    J_style = 0
    for (_, coeff), a_S, a_G in zip(STYLE_LAYERS, a_S_all, a_G_all):
        J_style += coeff * compute_layer_style_cost(a_S, a_G)
    return J_style


def gatys_content_cost(a_C: Tensor, a_G: Tensor) -> tf.Tensor:
    """
    The content loss of Gatys, Ecker & Bethge (2015), eq. 1: half the sum of squared differences, not normalised.

    Arguments:
    a_C -- tensor of dimension (1, n_H, n_W, n_C), the content image's activations P at the content layer
    a_G -- tensor of dimension (1, n_H, n_W, n_C), the generated image's activations F at that layer

    Returns:
    J_content -- scalar tensor: 1/2 * sum((F - P) ** 2)
    """
    a_C = tf.convert_to_tensor(_last_entry_if_stacked(a_C))
    a_G = tf.convert_to_tensor(_last_entry_if_stacked(a_G))
    return 0.5 * tf.reduce_sum(tf.square(a_G - a_C))


# The content cost forms StyleTransferCost can use: the course's normalised one, and the paper's.
CONTENT_COSTS = {"course": compute_content_cost, "gatys": gatys_content_cost}


def style_gram_for_size(a_S: Tensor, n_pixels: int) -> tf.Tensor:
    """
    The Gram matrix of a style activation, rescaled as if the style image had `n_pixels` positions at this layer.

    The course's Gram matrix is a sum over positions, so it grows with the image: a style image at twice the
    generated image's height and width gives Grams about 4 times larger, and the style cost would ask the generated
    image for 4 times its own feature energy. layer_style_cost_from_gram divides by the generated image's
    (n_H * n_W) ** 2, so a style Gram taken at another size is first multiplied by
    (n_H * n_W)_generated / (n_H * n_W)_style: the per-position average, times the generated positions. At equal
    sizes the factor is 1 and the course's formula is unchanged.

    Arguments:
    a_S -- tensor of dimension (1, n_H_S, n_W_S, n_C), the style image's activation (any spatial size)
    n_pixels -- n_H * n_W of the generated image's activation at the same layer

    Returns:
    GS -- tensor of shape (n_C, n_C): layer_gram(a_S) * n_pixels / (n_H_S * n_W_S)
    """
    _, n_H, n_W, _ = a_S.shape
    GS = layer_gram(a_S)
    if n_H * n_W == n_pixels:
        return GS
    return GS * (n_pixels / (n_H * n_W))


def total_variation_cost(image: Tensor) -> tf.Tensor:
    """
    The total variation cost of an image: how much neighbouring pixels differ (a smoothness prior).

    J_tv = sum((x[i+1, j] - x[i, j]) ** 2) + sum((x[i, j+1] - x[i, j]) ** 2), over every vertical and horizontal pair
    of neighbours and every channel: the squared (L2) form, smooth everywhere, not normalised by the image size.
    (tf.image.total_variation is the absolute (L1) form of the same sums.) It is taken on the image as the network
    sees it, so in the mean-subtracted 0..255 range it is 255 ** 2 times its value for the same image in [0, 1].

    Arguments:
    image -- tensor of shape (1, n_H, n_W, n_C) (or (n_H, n_W, n_C))

    Returns:
    J_tv -- scalar tensor
    """
    image = tf.convert_to_tensor(image)
    if len(image.shape) == 3:
        image = image[None]
    vertical = image[:, 1:, :, :] - image[:, :-1, :, :]
    horizontal = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.square(vertical)) + tf.reduce_sum(tf.square(horizontal))


def total_cost(
    J_content: Tensor | float, J_style: Tensor | float, alpha: float = ALPHA, beta: float = BETA
) -> tf.Tensor:
    """
    Computes the total cost function.

    Arguments:
    J_content -- content cost coded above
    J_style -- style cost coded above
    alpha -- hyperparameter weighting the importance of the content cost
    beta -- hyperparameter weighting the importance of the style cost

    Returns:
    J -- total cost as defined by the formula above: alpha * J_content + beta * J_style
    """
    # Plain Python or numpy numbers keep their float64 precision, as in the course's numpy check.
    J_content, J_style = (J if tf.is_tensor(J) else tf.constant(np.asarray(J)) for J in (J_content, J_style))
    J_style = tf.cast(J_style, J_content.dtype)
    J = alpha * J_content + beta * J_style
    return J


# ---------------------------------------------------------------------------------------------------------------------
# The Gram cost per position, with a mask (neural_style.masks): positions weighted by the mask squared, divided by the
# mask's mass, so that a small region is matched as strongly as a large one (the style loss 'gram' with masks).
# ---------------------------------------------------------------------------------------------------------------------


def guided_gram(a, guide=None):
    """
    The guided Gram matrix of a layer: the Gram of the features multiplied by the guide, divided by the guide's mass.

    GG = sum_p g_p^2 f_p f_p^T / sum_p g_p^2  (g_p = 1: the course's Gram matrix divided by n_H * n_W)

    Arguments:
    a -- tensor of dimension (1, n_H, n_W, n_C), a layer's activations
    guide -- None, or the layer's mask (masks.layer_mask), shape (n_H, n_W), not all 0

    Returns:
    GG -- tensor of shape (n_C, n_C)
    """
    n_C = a.shape[-1]
    F = tf.reshape(a, [-1, n_C])
    if guide is None:
        return tf.matmul(F, F, transpose_a=True) / F.shape[0]
    w = tf.reshape(tf.square(tf.cast(guide, F.dtype)), [-1, 1])
    return tf.matmul(w * F, F, transpose_a=True) / tf.reduce_sum(w)


def guided_gram_cost(GS, GG):
    """
    The article's layer style cost between two guided Gram matrices (guided_gram: both per position).

    J_style_layer = 1 / (4 * n_C**2) * sum((GS - GG) ** 2)
    (= 1 / (4 * n_C**2 * (n_H*n_W)**2) * sum((n_H*n_W * GS - n_H*n_W * GG) ** 2), the course's formula)

    Arguments:
    GS -- the style's guided Gram matrix at this layer, shape (n_C, n_C)
    GG -- the generated image's, likewise

    Returns:
    J_style_layer -- scalar tensor
    """
    n_C = GG.shape[-1]
    return tf.reduce_sum(tf.square(GS - GG)) / (4.0 * n_C**2)


def guided_layer_style_cost(GS, a_G, guide=None):
    """
    The article's layer style cost against a guided Gram matrix, so that regions of any size weigh the same: with no
    guide it equals compute_layer_style_cost.

    Arguments:
    GS -- the style's guided Gram matrix at this layer, shape (n_C, n_C)
    a_G -- tensor of dimension (1, n_H, n_W, n_C), the generated image's activations
    guide -- None, or the generated image's mask at this layer, shape (n_H, n_W)

    Returns:
    J_style_layer -- scalar tensor: guided_gram_cost(GS, guided_gram(a_G, guide))
    """
    return guided_gram_cost(GS, guided_gram(a_G, guide))


# ---------------------------------------------------------------------------------------------------------------------
# Style losses beyond the Gram matrix: a layer's features as a Gaussian, matched by its mean and covariance.
#
# The Gram matrix matches second moments only, and grows with the number of positions. These losses take each
# layer's features f_p (one n_C vector per position p, optionally weighted by a guide w_p, see neural_style.masks) as
# samples of a Gaussian with mean mu and covariance C, both averages over positions, so their scale does not depend
# on the image size. The style's statistics are fixed targets: computed once per run, like the style Grams.
# ---------------------------------------------------------------------------------------------------------------------


def feature_moments(a, weights=None):
    """
    The mean and covariance of a layer's features over its positions, optionally weighted.

    mu = sum_p w_p f_p / sum_p w_p;  C = sum_p w_p (f_p - mu)(f_p - mu)^T / sum_p w_p  (w_p = 1: plain averages)

    Arguments:
    a -- tensor of dimension (1, n_H, n_W, n_C), a layer's activations
    weights -- None, or a tensor of n_H * n_W weights >= 0 (any shape with that many entries), not all 0

    Returns:
    mu -- tensor of shape (n_C,)
    C -- tensor of shape (n_C, n_C), symmetric positive semi-definite
    """
    a = tf.convert_to_tensor(a)
    n_C = a.shape[-1]
    F = tf.reshape(a, [-1, n_C])
    if weights is None:
        w = tf.ones_like(F[:, :1])
    else:
        w = tf.reshape(tf.cast(weights, F.dtype), [-1, 1])
    mass = tf.reduce_sum(w)
    mu = tf.reduce_sum(w * F, axis=0) / mass
    centred = F - mu
    C = tf.matmul(w * centred, centred, transpose_a=True) / mass
    return mu, C


def _eigenvalue_noise(K, eigenvalues):
    """n * eps * lambda_max: how far rounding moves the eigenvalues of an n x n symmetric matrix (eps: its dtype's)."""
    return K.shape[-1] * np.finfo(K.dtype.as_numpy_dtype).eps * tf.reduce_max(tf.abs(eigenvalues))


def _psd_eigh(K):
    """
    The eigendecomposition of a symmetric positive semi-definite matrix, eigenvalues within rounding of 0 set to 0.

    Arguments:
    K -- tensor of shape (n, n)

    Returns:
    eigenvalues -- tensor of shape (n,), >= 0: those below n * eps * lambda_max (rounding, not signal) are 0
    V -- tensor of shape (n, n), the eigenvectors as columns
    """
    eigenvalues, V = tf.linalg.eigh((K + tf.transpose(K)) / 2)
    return tf.where(eigenvalues > _eigenvalue_noise(K, eigenvalues), eigenvalues, 0), V


def sqrtm_psd(C):
    """
    The symmetric square root of a symmetric positive semi-definite matrix, by eigendecomposition.

    C = V diag(lambda) V^T  ->  C^(1/2) = V diag(sqrt(lambda)) V^T, each lambda clamped at 0 (see _psd_eigh: rounding
    makes the zero eigenvalues of a singular C slightly negative or positive). Meant for the style's fixed
    statistics (no gradient is needed there; the gradient of eigh is infinite where eigenvalues repeat, as the zero
    eigenvalues of dead channels do).

    Arguments:
    C -- tensor of shape (n, n), symmetric positive semi-definite

    Returns:
    sqrt_C -- tensor of shape (n, n), symmetric, sqrt_C @ sqrt_C = C
    """
    eigenvalues, V = _psd_eigh(tf.convert_to_tensor(C))
    return tf.matmul(V * tf.sqrt(eigenvalues), V, transpose_b=True)


@tf.custom_gradient
def trace_sqrtm_psd(K):
    """
    The trace of the square root of a symmetric positive semi-definite matrix, with a gradient that stays finite.

    tr(K^(1/2)) = sum_i sqrt(lambda_i) over the eigenvalues of K (clamped at 0). Its gradient is
    d tr(K^(1/2)) / dK = 1/2 K^(-1/2) = V diag(1 / (2 sqrt(lambda_i))) V^T, with no 1/(lambda_i - lambda_j) terms (so
    repeated eigenvalues are harmless), but infinite where lambda_i = 0: there lambda_i is taken as at least
    n * eps * lambda_max (eps the dtype's machine epsilon), the eigensolver's own rounding. In W2 below,
    K = C_S^(1/2) C_G C_S^(1/2) with C_G = F^T F / M, and the chain rule multiplies each 1/sqrt(lambda_i) by
    F C_S^(1/2) v_i, whose norm is sqrt(M lambda_i): the gradient with respect to the features is bounded, and exact
    wherever lambda_i > n * eps * lambda_max.

    Arguments:
    K -- tensor of shape (n, n), symmetric positive semi-definite

    Returns:
    tr_sqrt_K -- scalar tensor
    """
    eigenvalues, V = _psd_eigh(K)

    def grad(upstream):
        floor = tf.maximum(_eigenvalue_noise(K, eigenvalues), np.finfo(K.dtype.as_numpy_dtype).tiny)
        scale = 0.5 / tf.sqrt(tf.maximum(eigenvalues, floor))
        return upstream * tf.matmul(V * scale, V, transpose_b=True)

    return tf.reduce_sum(tf.sqrt(eigenvalues)), grad


def mean_cov_distance(mu_S, C_S, mu_G, C_G):
    """
    The squared distance of the means and of the covariances of two feature sets.

    J = ||mu_S - mu_G||^2 + ||C_S - C_G||_F^2 = sum((mu_S - mu_G) ** 2) + sum((C_S - C_G) ** 2)

    Arguments:
    mu_S, C_S -- the style's mean (n_C,) and covariance (n_C, n_C) at a layer (feature_moments)
    mu_G, C_G -- the generated image's, likewise

    Returns:
    J_style_layer -- scalar tensor
    """
    return tf.reduce_sum(tf.square(mu_S - mu_G)) + tf.reduce_sum(tf.square(C_S - C_G))


def w2_distance(mu_S, C_S, sqrt_C_S, mu_G, C_G):
    """
    The squared Wasserstein-2 distance between the Gaussians N(mu_S, C_S) and N(mu_G, C_G).

    W2^2 = ||mu_S - mu_G||^2 + tr(C_S + C_G - 2 (C_S^(1/2) C_G C_S^(1/2))^(1/2))

    The square roots are symmetric ones of positive semi-definite matrices (sqrtm_psd for the style's, computed once;
    trace_sqrtm_psd for the other, whose gradient stays finite, also when the two sets are identical and W2 = 0).

    Arguments:
    mu_S, C_S -- the style's mean (n_C,) and covariance (n_C, n_C) at a layer (feature_moments)
    sqrt_C_S -- sqrtm_psd(C_S)
    mu_G, C_G -- the generated image's mean and covariance

    Returns:
    J_style_layer -- scalar tensor (0 for identical statistics, up to rounding)
    """
    K = tf.matmul(tf.matmul(sqrt_C_S, C_G), sqrt_C_S)
    covariance_term = tf.linalg.trace(C_S) + tf.linalg.trace(C_G) - 2 * trace_sqrtm_psd(K)
    return tf.reduce_sum(tf.square(mu_S - mu_G)) + covariance_term


def compute_layer_mean_cov_cost(a_S, a_G):
    """
    Computes the mean-and-covariance style cost of one layer (--style-loss mean-cov).

    Arguments:
    a_S -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image S
    a_G -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image G

    Returns:
    J_style_layer -- ||mu_S - mu_G||^2 + ||C_S - C_G||_F^2, means and covariances over positions (feature_moments)
    """
    mu_S, C_S = feature_moments(a_S)
    mu_G, C_G = feature_moments(a_G)
    return mean_cov_distance(mu_S, C_S, mu_G, C_G)


def compute_layer_w2_cost(a_S, a_G):
    """
    Computes the Wasserstein-2 style cost of one layer (--style-loss w2); the style is a fixed target (no gradient).

    Arguments:
    a_S -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image S
    a_G -- tensor of dimension (1, n_H, n_W, n_C), hidden layer activations representing style of the image G

    Returns:
    J_style_layer -- ||mu_S - mu_G||^2 + tr(C_S + C_G - 2 (C_S^(1/2) C_G C_S^(1/2))^(1/2))
    """
    mu_S, C_S = feature_moments(tf.stop_gradient(a_S))
    mu_G, C_G = feature_moments(a_G)
    return w2_distance(mu_S, C_S, sqrtm_psd(C_S), mu_G, C_G)
