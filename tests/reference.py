"""A plain numpy (float64) forward pass of VGG-19, independent of TensorFlow, to check the model against."""

import numpy as np


def conv_relu(x, kernel, bias):
    """3x3 convolution, stride 1, SAME (zero) padding, plus bias, then ReLU. x: (H, W, C_in)."""
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    height, width = x.shape[:2]
    out = np.zeros((height, width, kernel.shape[3]))
    for i in range(3):
        for j in range(3):
            out += padded[i : i + height, j : j + width, :] @ kernel[i, j].astype(np.float64)
    return np.maximum(out + bias, 0)


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
