"""Keras finds the fast network's classes in a .keras file once neural_style is imported, without `import
neural_style` importing Keras.

keras.models.load_model rebuilds a TransformNet from the name its file records ("neural_style>TransformNet"), which
Keras knows only once neural_style.fast.network has run its @keras.saving.register_keras_serializable decorators.
The package loads TensorFlow only when a name is used, so that module has usually not run when a user loads a file
with Keras alone. The finder here runs it as soon as the top-level `keras` module has finished importing (at once
when Keras is already imported): the registration then costs nothing that Keras does not already cost.
"""

import importlib
import sys
import warnings

# The module whose import registers the classes; named, not imported, until Keras is there.
NETWORK_MODULE = "neural_style.fast.network"


class KerasRegistration:
    """A sys.meta_path finder that finds nothing itself: when `keras` is about to be imported, it asks the other
    finders for its spec and has its loader import NETWORK_MODULE once Keras' own code has run."""

    def find_spec(self, fullname, path=None, target=None):
        """
        The spec the other finders give `keras`, its loader set to register the classes after running it.

        Arguments:
        fullname, path, target -- as importlib.abc.MetaPathFinder.find_spec takes them

        Returns:
        spec -- None for every other module (the next finders decide), else keras' own spec
        """
        if fullname != "keras":
            return None
        spec = None
        for finder in list(sys.meta_path):
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        loader = getattr(spec, "loader", None)
        # Only a loader object of keras' own gets the override (a loader class, or one holding exec_module itself,
        # would lose its method when the override is taken away).
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return spec
        if "exec_module" in getattr(loader, "__dict__", {"exec_module": None}):
            return spec
        run = loader.exec_module

        def exec_module(module):
            # The loader as it was, whatever happens: the override lives for this one import.
            del loader.exec_module
            run(module)
            register()

        loader.exec_module = exec_module
        return spec


def register():
    """
    Imports NETWORK_MODULE, which registers ReflectionPadding2D, InstanceNormalization and TransformNet with Keras;
    the finder is no longer needed after that.

    Returns:
    None; a warning (not an error: the user's own import of Keras must not fail) when the import fails
    """
    uninstall()
    try:
        importlib.import_module(NETWORK_MODULE)
    except Exception as error:  # noqa: BLE001 -- any failure leaves Keras usable, the classes unknown to it
        warnings.warn(
            f"neural_style could not register its network with Keras ({type(error).__name__}: {error}); import "
            f"{NETWORK_MODULE} before keras.models.load_model",
            stacklevel=2,
        )


def install():
    """
    Registers the classes now when Keras is imported already, else puts KerasRegistration first in sys.meta_path
    (once, however often the package is imported).

    Returns:
    None
    """
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, KerasRegistration) for finder in sys.meta_path):
        sys.meta_path.insert(0, KerasRegistration())


def uninstall():
    """
    Takes KerasRegistration out of sys.meta_path.

    Returns:
    None
    """
    # A new list rather than an edit: an import that is searching the old one goes on undisturbed.
    sys.meta_path = [finder for finder in sys.meta_path if not isinstance(finder, KerasRegistration)]
