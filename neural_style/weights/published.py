"""What the published VGG-19 weight files are: the layers they hold, their names, URLs, sizes and digests.

Plain data, importing nothing: every other part of the weights package reads it.
"""

# The 43 layers of MatConvNet's imagenet-vgg-verydeep-19, in file order.
MAT_LAYER_NAMES = (
    "conv1_1",
    "relu1_1",
    "conv1_2",
    "relu1_2",
    "pool1",
    "conv2_1",
    "relu2_1",
    "conv2_2",
    "relu2_2",
    "pool2",
    "conv3_1",
    "relu3_1",
    "conv3_2",
    "relu3_2",
    "conv3_3",
    "relu3_3",
    "conv3_4",
    "relu3_4",
    "pool3",
    "conv4_1",
    "relu4_1",
    "conv4_2",
    "relu4_2",
    "conv4_3",
    "relu4_3",
    "conv4_4",
    "relu4_4",
    "pool4",
    "conv5_1",
    "relu5_1",
    "conv5_2",
    "relu5_2",
    "conv5_3",
    "relu5_3",
    "conv5_4",
    "relu5_4",
    "pool5",
    "fc6",
    "relu6",
    "fc7",
    "relu7",
    "fc8",
    "prob",
)

# The 16 convolutions of VGG-19 with their (input, output) channel counts.
CONV_LAYERS = {
    "conv1_1": (3, 64),
    "conv1_2": (64, 64),
    "conv2_1": (64, 128),
    "conv2_2": (128, 128),
    "conv3_1": (128, 256),
    "conv3_2": (256, 256),
    "conv3_3": (256, 256),
    "conv3_4": (256, 256),
    "conv4_1": (256, 512),
    "conv4_2": (512, 512),
    "conv4_3": (512, 512),
    "conv4_4": (512, 512),
    "conv5_1": (512, 512),
    "conv5_2": (512, 512),
    "conv5_3": (512, 512),
    "conv5_4": (512, 512),
}

WEIGHTS_HELP = "see pretrained-model/README.md, run `neural-style weights download`, or use --weights random for a demo"
RANDOM = "random"

# MatConvNet's imagenet-vgg-verydeep-19.mat (about 510 MB): the current file, and the older beta16 one.
MAT_FILENAME = "imagenet-vgg-verydeep-19.mat"
MAT_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
MAT_SHA256 = "abdb57167f82a2a1fbab1e1c16ad9373411883f262a1a37ee5db2e6fb0044695"
MAT_MD5 = "106118b7cf60435e6d8e04f6a6dc3657"
MAT_BETA16_URL = "https://www.vlfeat.org/matconvnet/models/beta16/imagenet-vgg-verydeep-19.mat"
MAT_BETA16_MD5 = "8ee3263992981a1d26e73b3ca028a123"

# Keras's VGG19 weights without the classifier (about 80 MB), as the TF2 course loads them; Keras publishes the MD5.
KERAS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + KERAS_FILENAME
KERAS_MD5 = "253f8cb515780f3b799900260a226db6"

# The published files a download or a file on disk is checked against: (description, algorithm, digest, file name).
PUBLISHED_FILES = (
    ("MatConvNet imagenet-vgg-verydeep-19.mat (current)", "sha256", MAT_SHA256, MAT_FILENAME),
    ("MatConvNet imagenet-vgg-verydeep-19.mat (beta16)", "md5", MAT_BETA16_MD5, MAT_FILENAME),
    (f"Keras {KERAS_FILENAME}", "md5", KERAS_MD5, KERAS_FILENAME),
)

# The most bytes a download of each published file may receive: its size (the MatConvNet file is about 510 MiB, the
# Keras one about 76 MiB) and a small margin, as the exact byte counts are not recorded here.
PUBLISHED_MAX_BYTES = {MAT_URL: 520 * 1024**2, MAT_BETA16_URL: 520 * 1024**2, KERAS_URL: 80 * 1024**2}
