"""The style losses (--style-loss): how a layer's style is matched, one module of this folder per loss.

Each module defines LOSS, an object with:

- ``name`` -- what --style-loss calls it; ``help`` -- what it matches, in a few words (the option's help);
- ``articles_grams`` -- True where, without masks, the loss is the article's Gram cost, which the costs then take
  from the style Grams rescaled to the generated image (optimize.StyleTransferCost: targets held in variables for
  batches and videos; the tiles sum plain Grams);
- ``moments_on_tiles`` -- True where ``cost_of_moments`` gives the cost from moments summed over tiles
  (large/tiled_style.py);
- ``target(mu, second)`` -- what the generated image is compared with, from a style's (guided) mean and second
  moment (masks.style_statistics, or a blend of several), in their precision;
- ``cost(target, a_G, guide=None)`` -- the layer's cost of a generated image's activations, in a region's mask;
- ``cost_of_moments(target, mu_G, second_G)`` -- the same cost from the generated image's (guided) mean and second
  moment, where ``moments_on_tiles``.

The modules are found here by listing the folder (pkgutil), so a new loss is one new module. They import TensorFlow
only inside their methods: the command line lists the losses in --help, which answers without loading it.
"""

import importlib
import pkgutil


def discover():
    """
    The losses of this folder's modules, each module's LOSS, by name in the order of the modules' file names.

    Returns:
    losses -- dict: name -> loss object
    """
    losses = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
        loss = importlib.import_module(f"{__name__}.{module.name}").LOSS
        if loss.name in losses:
            raise ValueError(f"two style loss modules name their loss {loss.name!r}")
        losses[loss.name] = loss
    return losses


LOSSES = discover()
# The --style-loss choices, in the order of the modules' file names.
NAMES = tuple(LOSSES)
# The losses the tiles can compute (large/tiled_style.py): their cost follows from moments summed over the tiles.
TILED_NAMES = tuple(name for name, loss in LOSSES.items() if loss.moments_on_tiles)


def lookup(name):
    """
    The style loss of a name.

    Arguments:
    name -- one of NAMES, e.g. 'gram'

    Returns:
    loss -- its loss object (see the module's docstring)
    """
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown style loss {name!r}; use one of {', '.join(NAMES)}") from None


def help_text():
    """
    The help of --style-loss, from the losses' own: each name with its help, the default left as '{default}'.

    Returns:
    text -- e.g. "how a layer's style is matched: gram (the article's Gram matrices), ... or w2 (...; default
            {default})"
    """
    described = [f"{name} ({loss.help})" for name, loss in LOSSES.items()]
    described[-1] = described[-1][:-1] + "; default {default})"
    listed = described[0] if len(described) == 1 else ", ".join(described[:-1]) + " or " + described[-1]
    return "how a layer's style is matched: " + listed
