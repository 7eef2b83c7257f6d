"""The settings of the article's cost, written once for the whole-image cost and the tiled one.

``CostSettings`` holds them (layers, weights, content cost, style loss, masks); ``SettingsCost`` is what
optimize.StyleTransferCost and large.tiles.TiledStyleTransferCost share: the setup from those settings (the layers'
canonical names, the one forward pass's layers, the blend's weights), a construction from a CostSettings, and the
course's call.
"""

import dataclasses

import tensorflow as tf

from .config import ALPHA, BETA, CONTENT_LAYER, STYLE_LAYERS
from .layers import canonical_layer_name
from .masks import Guides
from .option_parsers import blend_weights


@dataclasses.dataclass(frozen=True)
class CostSettings:
    """The settings of a style transfer's cost, its images aside: what optimize.StyleTransferCost and
    large.tiles.TiledStyleTransferCost are built from (their keyword arguments, by the same names and defaults).

    content_layer, style_layers, alpha, beta -- the article's choices (conv4_2, STYLE_LAYERS, 10, 40)
    style_blend -- None (equal weights) or one weight >= 0 per style image; normalised to sum to 1
    tv_weight -- weight of the total variation cost (costs.total_variation_cost); 0 leaves it out
    content_cost -- 'course' (compute_content_cost) or 'gatys' (costs.gatys_content_cost)
    style_loss -- one of style_losses.NAMES: 'gram' (the article's), 'mean-cov' or 'w2'
    guides -- None, or masks.Guides: where the styles act
    """

    content_layer: str = CONTENT_LAYER
    style_layers: list[tuple[str, float]] = dataclasses.field(default_factory=lambda: STYLE_LAYERS)
    alpha: float = ALPHA
    beta: float = BETA
    style_blend: tuple[float, ...] | None = None
    tv_weight: float = 0.0
    content_cost: str = "course"
    style_loss: str = "gram"
    guides: Guides | None = None

    def keywords(self) -> dict:
        """
        The settings by name.

        Returns:
        keywords -- dict: the cost classes' keyword arguments, e.g. {'content_layer': 'conv4_2', ...}
        """
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


class SettingsCost:
    """What optimize.StyleTransferCost and large.tiles.TiledStyleTransferCost share: their setup from a CostSettings
    (set_up), their construction from one (from_settings), and the course's call."""

    @classmethod
    def from_settings(cls, model, content_image, style_image, settings: CostSettings, **extra):
        """
        The cost of a content and style images under a CostSettings.

        Arguments:
        model, content_image, style_image -- as for the class's constructor
        settings -- a CostSettings
        extra -- the class's own keyword arguments (TiledStyleTransferCost's tile_size)

        Returns:
        cost -- an instance of the class
        """
        return cls(model, content_image, style_image, **settings.keywords(), **extra)

    def set_up(self, model, style_image, settings: CostSettings) -> list:
        """
        Keeps the model and the settings with the network's layer names (layers.canonical_layer_name: `settings`,
        and each of them by its name), the layers one forward pass gives (`layers`: the style layers, then the content
        layer unless it is one of them), and the blend's weights (`style_blend`, summing to 1).

        Arguments:
        model -- a VGGModel
        style_image -- one style image (1, h, w, 3), or a list of them (any sizes)
        settings -- a CostSettings

        Returns:
        style_images -- the style images as a list
        """
        self.model = model
        self.content_layer = canonical_layer_name(settings.content_layer, model.pooling)
        self.style_layers = [(canonical_layer_name(name, model.pooling), w) for name, w in settings.style_layers]
        self.settings = dataclasses.replace(settings, content_layer=self.content_layer, style_layers=self.style_layers)
        self.alpha, self.beta = settings.alpha, settings.beta
        self.tv_weight = settings.tv_weight
        self.layers = list(dict.fromkeys([name for name, _ in self.style_layers] + [self.content_layer]))
        style_images = list(style_image) if isinstance(style_image, (list, tuple)) else [style_image]
        self.style_blend = blend_weights(settings.style_blend, len(style_images))
        return style_images

    def __call__(self, generated_image: tf.Tensor) -> tuple:
        """
        Computes the costs of a generated image.

        Arguments:
        generated_image -- tensor of shape (1, n_H, n_W, 3), mean-subtracted

        Returns:
        J, J_content, J_style -- scalar tensors (J includes tv_weight * J_tv; `terms` gives J_tv itself)
        """
        return self.terms(generated_image).course()
