"""Gatys et al.'s optimiser: scipy's L-BFGS-B on the pixels of the generated image, on the article's cost.

``LBFGS`` runs L-BFGS-B with the cost and its gradient from one compiled function (``compile_cost_and_gradient``)
and the valid pixel range as box constraints; it keeps the lowest-cost image evaluated, as the Adam step does
(optimize.py).
"""

import numpy as np
import scipy.optimize
import tensorflow as tf

from .config import LBFGS_EXTRA_EVALUATIONS
from .optimize import resolve_jit_compile


def lbfgs_max_evaluations(iterations):
    """
    The default cap on cost evaluations for an L-BFGS run of `iterations` iterations: 2 * iterations + 20.

    Arguments:
    iterations -- number of L-BFGS iterations

    Returns:
    max_evaluations -- int
    """
    return 2 * iterations + LBFGS_EXTRA_EVALUATIONS


def compile_cost_and_gradient(cost, shape, jit_compile=None):
    """
    The cost and its gradient with respect to the pixels as ONE compiled function of scipy's flat float64 vector.

    The network runs in float32 (as for Adam); only the input and the results are converted, inside the function.

    Arguments:
    cost -- callable returning (J, J_content, J_style) for an image, e.g. a StyleTransferCost
    shape -- the image's shape (1, n_H, n_W, 3)
    jit_compile -- compile with XLA, as the Adam step

    Returns:
    cost_and_gradient -- tf.function(x) of a float64 vector of n_H * n_W * 3 pixels, returning float64 tensors
                         J, J_content, J_style (scalars) and grad (flat, the gradient of J)
    """
    shape = tuple(int(n) for n in shape)

    def cost_and_gradient(x):
        image = tf.reshape(tf.cast(x, tf.float32), shape)
        with tf.GradientTape() as tape:
            tape.watch(image)
            J, J_content, J_style = cost(image)
        grad = tape.gradient(J, image)
        as64 = [tf.cast(value, tf.float64) for value in (J, J_content, J_style)]
        return (*as64, tf.reshape(tf.cast(grad, tf.float64), [-1]))

    signature = [tf.TensorSpec([int(np.prod(shape))], tf.float64)]
    return tf.function(cost_and_gradient, input_signature=signature, jit_compile=resolve_jit_compile(jit_compile))


class LBFGS:
    """scipy's L-BFGS-B on the pixels of one image (Gatys et al.'s optimiser), the pixels kept inside box bounds.

    Every evaluation of the cost is counted, and the image with the lowest cost evaluated so far is kept (as
    `best_image`, `best_cost`): that is the image a run writes, as for Adam.
    """

    def __init__(self, cost_and_gradient, shape, bounds=None):
        """
        Arguments:
        cost_and_gradient -- from compile_cost_and_gradient
        shape -- the image's shape (1, n_H, n_W, 3)
        bounds -- None, or (low, high), arrays broadcastable to the image (e.g. per channel, (1, 1, 1, 3))
        """
        self.cost_and_gradient = cost_and_gradient
        self.shape = tuple(int(n) for n in shape)
        self.bounds = None
        if bounds is not None:
            low, high = (np.broadcast_to(np.asarray(b, np.float64), self.shape).ravel() for b in bounds)
            self.bounds = scipy.optimize.Bounds(low, high)
        self.evaluations = 0
        self.iterations = 0
        self.best_image = None
        self.best_cost = np.inf
        self.message = None
        self._last = None

    def value_and_gradient(self, x):
        """
        What scipy minimises: the cost and its gradient at a flat float64 image.

        Arguments:
        x -- float64 vector of the pixels

        Returns:
        J -- float, the total cost
        grad -- float64 vector, dJ/dx
        """
        J, J_content, J_style, grad = (value.numpy() for value in self.cost_and_gradient(x))
        self.evaluations += 1
        if not np.isfinite(J):
            raise FloatingPointError(f"the cost became {J} at L-BFGS evaluation {self.evaluations}")
        if J < self.best_cost:
            self.best_cost = float(J)
            self.best_image = x.astype(np.float32).reshape(self.shape)
        self._last = (x.copy(), float(J), float(J_content), float(J_style))
        return float(J), grad

    def _costs_at(self, x):
        """(J, J_content, J_style) of an iterate: the last evaluation's, which is where L-BFGS-B ends an iteration."""
        if self._last is None or not np.array_equal(self._last[0], x):
            self.value_and_gradient(x)
        return self._last[1:]

    def minimize(self, initial_image, iterations, max_evaluations=None, callback=None):
        """
        Runs L-BFGS-B for `iterations` iterations from an image.

        Convergence tests are off (ftol = gtol = 0), so a run does every iteration asked for, as Gatys et al. and
        jcjohnson/neural-style do. When L-BFGS-B stops before that (its line search found no lower cost), it is
        restarted from where it stopped, with a fresh memory; a restart that makes no progress ends the run.

        Arguments:
        initial_image -- array of shape (1, n_H, n_W, 3); clipped into the bounds
        iterations -- number of L-BFGS iterations (scipy's maxiter)
        max_evaluations -- cap on the cost evaluations of this call (scipy's maxfun); None: lbfgs_max_evaluations
        callback -- None, or callback(entry, image) after every iteration: entry a dict with iteration (counted
                    from 0 over this object's life), J, J_content, J_style (the costs of the new iterate) and
                    evaluations (counted likewise); image the iterate, float32 (1, n_H, n_W, 3)

        Returns:
        image -- the lowest-cost image evaluated so far, float32 (1, n_H, n_W, 3)
        """
        if max_evaluations is None:
            max_evaluations = lbfgs_max_evaluations(iterations)
        x = np.asarray(initial_image, np.float64).ravel()
        if self.bounds is not None:
            x = np.clip(x, self.bounds.lb, self.bounds.ub)
        first_iteration, first_evaluation = self.iterations, self.evaluations

        def on_iteration(intermediate_result):
            J, J_content, J_style = self._costs_at(intermediate_result.x)
            entry = {
                "iteration": self.iterations,
                "J": J,
                "J_content": J_content,
                "J_style": J_style,
                "evaluations": self.evaluations,
            }
            self.iterations += 1
            if callback is not None:
                callback(entry, intermediate_result.x.astype(np.float32).reshape(self.shape))

        while True:
            done = self.iterations - first_iteration
            evaluations_left = max_evaluations - (self.evaluations - first_evaluation)
            if done >= iterations or evaluations_left <= 0:
                break
            result = scipy.optimize.minimize(
                self.value_and_gradient,
                x,
                jac=True,
                method="L-BFGS-B",
                bounds=self.bounds,
                callback=on_iteration,
                options={"maxiter": iterations - done, "maxfun": evaluations_left, "ftol": 0.0, "gtol": 0.0},
            )
            self.message = str(result.message)
            if self.iterations - first_iteration == done:
                break
            x = result.x
        if self.best_image is None:
            self.value_and_gradient(x)
        return self.best_image
