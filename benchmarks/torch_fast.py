"""The fast stylisation's transformation network and costs in PyTorch, for bench_fast_torch.py: the PyTorch side of its
comparison, built from the TensorFlow network's own kernels and the check's metadata (see bench_fast_torch.py).

The network is Johnson et al.'s layout as neural_style/fast/network.py builds it; the loss network is torch_vgg's
VGG-19. Nothing here imports torch or TensorFlow at import time: bench_fast_torch.py's parent process imports neither.
"""

from benchmarks.torch_vgg import vgg_features


def torch_network(meta, arrays):
    """
    The transformation network in PyTorch, with the TensorFlow network's kernels, scales and shifts.

    Arguments:
    meta -- the check's metadata: each convolution's stride, the encoder's and the residual blocks' counts, epsilon
    arrays -- the check's arrays: kernel{i} (HWIO), gamma{i}, beta{i}, kernel_out, bias_out

    Returns:
    net -- a torch.nn.Module: pictures (batch, 3, H, W) in 0..255 -> stylised pictures, likewise
    mapping -- list of (torch parameter, TensorFlow variable path) pairs, for comparing gradients
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    def conv(kernel, stride, bias=None):
        size, _, c_in, c_out = kernel.shape
        layer = nn.Conv2d(c_in, c_out, size, stride, bias=bias is not None)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
            if bias is not None:
                layer.bias.copy_(torch.from_numpy(bias))
        return nn.Sequential(nn.ReflectionPad2d(size // 2), layer)

    class TransformNetwork(nn.Module):
        # Johnson et al.'s layout as network.py builds it: encoder convolutions, residual blocks of two, the decoder's
        # nearest x2 upsampling + convolution stages; each convolution but the last one followed by an instance
        # normalisation (affine, the same epsilon) and, but for each block's second, a ReLU.
        def __init__(self):
            super().__init__()
            count = len(meta["strides"])
            self.blocks = nn.ModuleList(conv(arrays[f"kernel{i}"], meta["strides"][i]) for i in range(count))
            self.norms = nn.ModuleList()
            for i in range(count):
                norm = nn.InstanceNorm2d(arrays[f"gamma{i}"].shape[0], eps=meta["epsilon"], affine=True)
                with torch.no_grad():
                    norm.weight.copy_(torch.from_numpy(arrays[f"gamma{i}"]))
                    norm.bias.copy_(torch.from_numpy(arrays[f"beta{i}"]))
                self.norms.append(norm)
            self.out = conv(arrays["kernel_out"], 1, arrays["bias_out"])
            self.encoder, self.residual = meta["encoder"], meta["residual_blocks"]

        def block(self, i, x):
            return self.norms[i](self.blocks[i](x))

        def forward(self, pictures):
            x = pictures / 255.0
            for i in range(self.encoder):
                x = torch.relu(self.block(i, x))
            i = self.encoder
            for _ in range(self.residual):
                x = x + self.block(i + 1, torch.relu(self.block(i, x)))
                i += 2
            for i in range(i, len(self.blocks)):
                x = torch.relu(self.block(i, F.interpolate(x, scale_factor=2, mode="nearest")))
            return self.out(x) * 127.5 + 127.5

    net = TransformNetwork()
    # TensorFlow's variables, in the order network.py makes them: conv{i}/kernel, norm{i}/gamma and beta, conv_out's.
    mapping = []
    for i, (block, norm) in enumerate(zip(net.blocks, net.norms)):
        mapping += [(block[1].weight, f"conv{i}/kernel"), (norm.weight, f"norm{i}/gamma"), (norm.bias, f"norm{i}/beta")]
    mapping += [(net.out[1].weight, "conv_out/kernel"), (net.out[1].bias, "conv_out/bias")]
    return net, mapping


def torch_costs(meta, filters, grams, pictures, generated):
    """
    The project's costs in PyTorch: the course's content cost at the content layer, its style cost against the style's
    Gram matrices at each style layer (weighted), the squared total variation; each the mean over the batch.

    Arguments:
    meta -- the check's metadata (layers, weights, means)
    filters -- the loss network's filters (torch_vgg.torch_filters)
    grams -- dict layer -> the style's Gram matrix (C, C)
    pictures, generated -- (batch, 3, H, W) in 0..255: the crops and the network's output

    Returns:
    J, J_content, J_style, J_tv -- scalar tensors
    """
    import torch

    mean = torch.tensor(meta["means"], dtype=torch.float32).view(1, 3, 1, 1)
    content = meta["content_layer"]
    names = [name for name, _ in meta["style_layers"]]
    batch = pictures.shape[0]
    with torch.no_grad():  # the crops' features are targets (pytorch/examples: a loss network without gradients)
        a_C = vgg_features(pictures - mean, filters, [content])[content]
    features = vgg_features(generated - mean, filters, names + [content])
    _, c, h, w = a_C.shape
    J_content = ((features[content] - a_C) ** 2).sum() / (4 * h * w * c) / batch
    J_style = 0.0
    for name, weight in meta["style_layers"]:
        _, c, h, w = features[name].shape
        f = features[name].reshape(batch, c, h * w)
        gram = torch.bmm(f, f.transpose(1, 2))
        J_style = J_style + weight * ((gram - grams[name]) ** 2).sum() / (4 * c**2 * (h * w) ** 2) / batch
    vertical = generated[:, :, 1:, :] - generated[:, :, :-1, :]
    horizontal = generated[:, :, :, 1:] - generated[:, :, :, :-1]
    J_tv = ((vertical**2).sum() + (horizontal**2).sum()) / batch
    content_weight, style_weight, tv_weight = meta["weights"]
    return content_weight * J_content + style_weight * J_style + tv_weight * J_tv, J_content, J_style, J_tv
