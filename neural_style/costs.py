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
