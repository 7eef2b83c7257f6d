"""gram: the article's style cost, the distance of the layers' Gram matrices (per position, so masks can weigh it)."""


class GramLoss:
    """The article's Gram cost: the style's (guided) Gram matrix is its second moment (costs.guided_gram)."""

    name = "gram"
    help = "the article's Gram matrices"
    articles_grams = True
    moments_on_tiles = True

    def target(self, mu, second):
        """
        The style's Gram matrix per position: its second moment.

        Arguments:
        mu, second -- the style's (guided) mean (n_C,) and second moment (n_C, n_C) (masks.style_statistics)

        Returns:
        target -- (GS,), GS = second
        """
        return (second,)

    def cost(self, target, a_G, guide=None):
        """
        The layer's cost of a generated image: costs.guided_layer_style_cost.

        Arguments:
        target -- from target
        a_G -- tensor of dimension (1, n_H, n_W, n_C), the generated image's activations
        guide -- None, or the region's mask at this layer, shape (n_H, n_W)

        Returns:
        J_style_layer -- scalar tensor
        """
        from ..costs import guided_layer_style_cost

        return guided_layer_style_cost(target[0], a_G, guide)

    def cost_of_moments(self, target, mu_G, second_G):
        """
        The layer's cost from the generated image's (guided) moments: its second moment is its guided Gram matrix.

        Arguments:
        target -- from target
        mu_G -- the (guided) mean of the generated image's features, (n_C,) (unused: the Gram has no mean)
        second_G -- their (guided) second moment, (n_C, n_C)

        Returns:
        J_style_layer -- scalar tensor, equal to cost's up to rounding
        """
        from ..costs import guided_gram_cost

        return guided_gram_cost(target[0], second_G)


LOSS = GramLoss()
