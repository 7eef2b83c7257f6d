"""The comparison of a training under tf.distribute with a one-device training of the same global batches, shared by
tests/test_fast_distributed.py (MirroredStrategy over two logical CPUs) and tests/test_fast_multiworker.py (two worker
processes): the bounds come from the arithmetic, stated where they are used."""

import numpy as np


def assert_same_training(d):
    """
    Checks that the several-device runs end with the one-device weights, for SGD and for Adam.

    Arguments:
    d -- mapping (an .npz file) with steps, adam_learning_rate, and for optimizer in (sgd, adam): {optimizer}_same_start
         (both runs started from the same weights) and, for each variable i, {optimizer}_start_i, {optimizer}_one_i
         (one device), {optimizer}_two_i (several devices)
    """
    eps = np.finfo(np.float32).eps
    count = len([key for key in d if key.startswith("sgd_one_")])  # the variables
    sgd_moves = [np.abs(d[f"sgd_one_{i}"] - d[f"sgd_start_{i}"]).max() for i in range(count)]
    for optimizer in ("sgd", "adam"):
        assert d[f"{optimizer}_same_start"]  # both runs start from the same weights
        for i in range(count):
            start, one, two = d[f"{optimizer}_start_{i}"], d[f"{optimizer}_one_{i}"], d[f"{optimizer}_two_{i}"]
            # The shifts of the normalisations whose output the next normalisation subtracts again have a zero
            # gradient in exact arithmetic (SGD moves them 1e-6 as far as the rest); Adam divides their rounding
            # noise by its own size and makes full steps of it, so they are left out of the comparison.
            # Both runs leave them where rounding puts them (SGD: 1e-6 of the other steps).
            if sgd_moves[i] < 1e-4 * max(sgd_moves):
                continue
            moved = np.abs(one - start).max()
            # Several replicas sum their parts of the batch where one device sums the whole: the gradients differ by
            # float32 rounding of sums that cancel heavily (random Gram targets), far below the factor 2 a wrong
            # replica scaling would make (SGD: a difference as large as the step); the weights themselves are
            # stored to half an ulp at each of the steps.
            bound = (0.1 if optimizer == "sgd" else 1e-2) * moved + 4 * int(d["steps"]) * eps * np.abs(start).max()
            difference = np.abs(one - two)
            if optimizer == "sgd":
                assert difference.max() <= bound, (optimizer, i, difference.max(), moved)
            else:
                # Adam divides each gradient by its own running size: where a gradient is as small as the rounding
                # of its sum (heavy cancellation), the other kernels' rounding can flip its sign, and the step then
                # differs by up to 2 lr a step, 2 lr steps in all (tests/reference.py's Adam.rounding_bound, with
                # U = 1). Everywhere else the steps agree to the bound above: a run whose replicas did not sum their
                # gradients (each a part of the batch) would differ on most weights, not on a few.
                assert difference.max() <= 2 * d["adam_learning_rate"] * d["steps"], (optimizer, i, difference.max())
                assert np.mean(difference <= bound) >= 0.99, (optimizer, i, np.mean(difference <= bound), moved)
