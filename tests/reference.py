"""Plain numpy (float64) references, independent of TensorFlow: VGG-19's forward pass, and Adam's update."""

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


class Adam:
    """Adam as Kingma & Ba (and Keras) write it, in float64: m and v the moving averages, bias-corrected step."""

    def __init__(self, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.t, self.m, self.v = 0, 0.0, 0.0

    def update(self, x, grad):
        """The pixels x after one step along grad (both arrays of the same shape)."""
        x, grad = np.asarray(x, np.float64), np.asarray(grad, np.float64)
        self.t += 1
        self.m = self.beta_1 * self.m + (1 - self.beta_1) * grad
        self.v = self.beta_2 * self.v + (1 - self.beta_2) * grad**2
        step = self.learning_rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        return x - step * self.m / (np.sqrt(self.v) + self.epsilon)
