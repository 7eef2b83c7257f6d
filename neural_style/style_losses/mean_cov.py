"""mean-cov: the squared distance of the features' means and covariances (costs.mean_cov_distance)."""


def covariance(mu, second):
    """
    The covariance of features from their mean and second moment: C = second - mu mu^T.

    Arguments:
    mu -- the (guided) mean, (n_C,)
    second -- the (guided) second moment, (n_C, n_C)

    Returns:
    C -- (n_C, n_C), in their precision
    """
    return second - mu[:, None] * mu[None, :]


class MeanCovLoss:
    """A layer's features as a Gaussian (mean, covariance), compared with the style's by `distance`."""

    name = "mean-cov"
    help = "squared distance of the features' means and covariances"
    articles_grams = False
    moments_on_tiles = True

    def target(self, mu, second):
        """
        The style's mean and covariance.

        Arguments:
        mu, second -- the style's (guided) mean (n_C,) and second moment (n_C, n_C) (masks.style_statistics)

        Returns:
        target -- (mu_S, C_S)
        """
        return mu, covariance(mu, second)

    def distance(self, target, mu_G, C_G):
        """
        The loss between the style's target and the generated image's mean and covariance.

        Arguments:
        target -- from target
        mu_G, C_G -- the generated image's (guided) mean (n_C,) and covariance (n_C, n_C)

        Returns:
        J_style_layer -- scalar tensor: costs.mean_cov_distance
        """
        from ..costs import mean_cov_distance

        return mean_cov_distance(*target, mu_G, C_G)

    def cost(self, target, a_G, guide=None):
        """
        The layer's cost of a generated image: `distance` from its features' moments, weighted by the guide squared.

        Arguments:
        target -- from target
        a_G -- tensor of dimension (1, n_H, n_W, n_C), the generated image's activations
        guide -- None, or the region's mask at this layer, shape (n_H, n_W)

        Returns:
        J_style_layer -- scalar tensor
        """
        import tensorflow as tf

        from ..costs import feature_moments

        return self.distance(target, *feature_moments(a_G, None if guide is None else tf.square(guide)))

    def cost_of_moments(self, target, mu_G, second_G):
        """
        The layer's cost from the generated image's (guided) mean and second moment.

        Arguments:
        target -- from target
        mu_G -- the (guided) mean of the generated image's features, (n_C,)
        second_G -- their (guided) second moment, (n_C, n_C)

        Returns:
        J_style_layer -- scalar tensor, equal to cost's up to rounding
        """
        return self.distance(target, mu_G, covariance(mu_G, second_G))


LOSS = MeanCovLoss()
