"""w2: the squared Wasserstein-2 distance of the features' Gaussians (costs.w2_distance)."""

from .mean_cov import MeanCovLoss, covariance


class W2Loss(MeanCovLoss):
    """mean-cov's Gaussians, compared by the Wasserstein-2 distance, which needs the style covariance's square root."""

    name = "w2"
    help = "Wasserstein-2 distance of their Gaussians"

    def target(self, mu, second):
        """
        The style's mean, covariance and the covariance's square root (computed once per run).

        Arguments:
        mu, second -- the style's (guided) mean (n_C,) and second moment (n_C, n_C) (masks.style_statistics)

        Returns:
        target -- (mu_S, C_S, sqrt_C_S)
        """
        from ..costs import sqrtm_psd

        C = covariance(mu, second)
        return mu, C, sqrtm_psd(C)

    def distance(self, target, mu_G, C_G):
        """
        The loss between the style's target and the generated image's mean and covariance.

        Arguments:
        target -- from target
        mu_G, C_G -- the generated image's (guided) mean (n_C,) and covariance (n_C, n_C)

        Returns:
        J_style_layer -- scalar tensor: costs.w2_distance
        """
        from ..costs import w2_distance

        return w2_distance(*target, mu_G, C_G)


LOSS = W2Loss()
