"""Packages whose public names are loaded when first used (PEP 562's module __getattr__), so that importing the
package, or the command line's modules inside it, does not load TensorFlow before any work needs it."""

import importlib
import sys


def lazy_exports(package, exports):
    """
    The module-level __getattr__ and __dir__ of a package whose public names live in its submodules.

    Arguments:
    package -- the package's __name__ (the package must be in sys.modules, as it is while its __init__ runs)
    exports -- {submodule: (name, ...)}: where each public name is defined

    Returns:
    __getattr__ -- loads a public name (or a submodule) when first asked for, and keeps it in the package
    __dir__ -- the package's names, the ones not yet loaded included
    """
    namespace = sys.modules[package].__dict__
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name in module_of:
            value = getattr(importlib.import_module(f".{module_of[name]}", package), name)
        else:
            try:
                value = importlib.import_module(f".{name}", package)
            except ModuleNotFoundError as error:
                if error.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(module_of))

    return __getattr__, __dir__


def public_names(exports):
    """
    A package's __all__, from the same table lazy_exports takes, so that the two cannot disagree.

    Arguments:
    exports -- {submodule: (name, ...)}

    Returns:
    names -- the public names, sorted
    """
    return sorted(name for names in exports.values() for name in names)
