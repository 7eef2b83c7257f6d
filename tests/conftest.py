import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.fixtures import write_vgg_mat  # noqa: E402


@pytest.fixture(scope="session")
def mat_file(tmp_path_factory):
    """A small VGG-19 .mat file in the current MatConvNet layout, and the weights written into it."""
    path = tmp_path_factory.mktemp("weights") / "imagenet-vgg-verydeep-19.mat"
    weights = write_vgg_mat(path, layout="current")
    return path, weights


@pytest.fixture(scope="session")
def small_model(mat_file):
    """A VGGModel built from the small fixture file, at 24x32."""
    from neural_style import load_vgg_model

    return load_vgg_model(str(mat_file[0]), height=24, width=32)


@pytest.fixture()
def weights(mat_file):
    """The weights written into the small .mat file (VGGWeights), for StyleTransfer(weights=...)."""
    return mat_file[1]
