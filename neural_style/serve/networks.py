"""The networks a server paints with, loaded once and kept warm: the bundled ones (the arbitrary-style network and
the 26-style one) and the .keras networks of --models DIR, with each style's thumbnail (the demo photo through it,
made once and kept in memory)."""

import dataclasses
import io
import threading
from pathlib import Path

import numpy as np

from ..checks import OptionError, warn

# A thumbnail's longer side, in pixels.
THUMBNAIL_SIDE = 128


@dataclasses.dataclass
class Entry:
    """A network the server offers: its name, kind ("arbitrary", "bundled", "trained"), style count and source."""

    name: str
    kind: str
    styles: int | None
    target: str  # the bundled network's name, or the .keras file's path


def list_networks(models=None):
    """
    The networks a server offers, without building them.

    Arguments:
    models -- None, or a folder whose .keras files (`neural-style train`'s) are offered as "trained" networks (a
              file that is not such a network is left out, with a warning line)

    Returns:
    entries -- list of Entry, the bundled ones first, then the folder's files by name; OptionError (one line) when
               models is not a folder
    """
    from ..fast import bundled

    entries = []
    for name in bundled.BUNDLED:
        meta = bundled.bundled_meta(name)
        arbitrary = meta.get("kind") == "arbitrary"
        entries.append(
            Entry(name, "arbitrary" if arbitrary else "bundled", None if arbitrary else meta["styles"], name)
        )
    if models is not None:
        folder = Path(models)
        if not folder.is_dir():
            raise OptionError(f"models {models}: not a folder; give the folder of your .keras networks", "models")
        from ..fast.model_file import read_arguments

        for path in sorted(folder.glob("*.keras")):
            if not path.is_file() or path.stem in bundled.BUNDLED:
                continue
            try:
                styles = int(read_arguments(path).get("styles", 1))
            except OptionError as error:  # one damaged file must not keep the server from starting
                warn(f"{path.name}: left out ({' '.join(str(error).split())})")
                continue
            entries.append(Entry(path.stem, "trained", styles, str(path)))
    return entries


class Networks:
    """
    The networks, built once (thread-safe) and kept: the transform and, for the arbitrary-style network, its style
    predictor; the thumbnails of their styles.
    """

    def __init__(self, entries, lite=False):
        """
        Arguments:
        entries -- list_networks' list
        lite -- run the bundled networks through LiteRT where their .tflite files give the Keras network's pictures
                (bundled.lite_check: "exact"; converted once into the models folder on first use, as `apply` does)
        """
        self.entries = {entry.name: entry for entry in entries}
        self.use_lite = lite
        self._built = {}
        self._lite = {}
        self._thumbnails = {}
        self._lock = threading.Lock()

    def build(self, name):
        """
        A network, built on first use.

        Arguments:
        name -- an entry's name

        Returns:
        transform, predictor -- the TransformNet and the StylePredictor (None but for the arbitrary-style network);
                                OptionError (one line) for an unknown name or a .keras file that is not a network
        """
        entry = self.entries.get(name)
        if entry is None:
            known = ", ".join(self.entries)
            raise OptionError(
                f"model {name!r} is not one of this server's networks ({known}); see /api/models", "model"
            )
        with self._lock:
            if name not in self._built:
                if entry.kind == "trained":
                    from ..fast.apply import load_fast_model

                    self._built[name] = (load_fast_model(entry.target), None)
                else:
                    from ..fast import bundled

                    network = bundled.load_bundled(entry.target)
                    self._built[name] = (network.transform, network.predictor)
                if entry.styles is None and self._built[name][1] is None:
                    entry.styles = int(self._built[name][0].styles)
            return self._built[name]

    def lite(self, name):
        """
        A bundled network's LiteRT interpreters, where load_all made them.

        Arguments:
        name -- an entry's name

        Returns:
        lite -- None (the Keras route), or dict: transform and predictor (interpreters; predictor None for a network of
                its own styles), check (bundled.lite_check's: min_side, rounding), lock (an interpreter runs one
                picture at a time)
        """
        return self._lite.get(name)

    def _load_lite(self, entry):
        """The LiteRT interpreters of a bundled network, its files converted first where they are not yet; None
        (with a warning line) where they cannot be made or do not give the Keras network's pictures."""
        from ..fast import bundled, lite

        try:
            check = bundled.lite_check(entry.target)
            if check is None:
                import sys

                folder = bundled.lite_files(entry.target)["transform"].parent
                print(f"{entry.name}: converting it for LiteRT, once, into {folder}", file=sys.stderr, flush=True)
                from ..fast.export import convert_bundled

                check = convert_bundled(entry.target)
        except Exception as error:  # an unwritable models folder, a full disk, the converter's many errors
            warn(f"{entry.name}: LiteRT files could not be made ({' '.join(str(error).split())[:160]}); Keras paints")
            return None
        if not check or not check.get("exact"):
            return None
        files = bundled.lite_files(entry.target)
        predictor = lite.interpreter(files["predictor"]) if "predictor" in files else None
        return {"transform": lite.interpreter(files["transform"]), "predictor": predictor, "check": check,
                "lock": threading.Lock()}  # fmt: skip

    def load_all(self):
        """
        Builds every network and runs each once on a small picture (tracing its compiled pass), so that the first
        request is as quick as the rest; a .keras file that cannot be read is dropped with a warning line.

        Returns:
        None
        """
        from ..fast.apply import stylize_picture

        warm = np.full((64, 64, 3), 127.0, np.float32)
        for name in list(self.entries):
            try:
                transform, predictor = self.build(name)
            except OptionError as error:
                warn(f"{name}: left out ({error})")
                del self.entries[name]
                continue
            entry = self.entries[name]
            if self.use_lite and entry.kind != "trained":
                self._lite[name] = self._load_lite(entry)
                if self._lite[name] is not None:
                    from .pictures import run_lite, style_vector

                    vector = style_vector(predictor, self._lite[name], warm, 256) if predictor is not None else None
                    run_lite(self._lite[name], warm, vector)
            if predictor is not None:
                from ..fast import arbitrary

                vector = arbitrary.style_vector(predictor, warm, arbitrary.STYLE_SIZE)
                stylize_picture(transform, warm, style_weights=vector)
                # A region's per-pixel vectors take the other compiled pass (weights of rank 4): traced now too.
                stylize_picture(transform, warm, style_weights=np.broadcast_to(vector, warm.shape[:2] + vector.shape))
            else:
                stylize_picture(transform, warm)

    def catalogue(self):
        """
        The networks as /api/models lists them.

        Returns:
        networks -- list of dicts: name, kind, styles (index, name, thumbnail URL; [] for the arbitrary network)
        """
        listed = []
        for entry in self.entries.values():
            styles = []
            if entry.kind != "arbitrary" and (entry.styles or 0) > 1:
                styles = [
                    {
                        "index": index,
                        "name": f"style {index}",
                        "thumbnail": f"/api/models/{entry.name}/styles/{index}/thumbnail",
                    }
                    for index in range(entry.styles)
                ]
            listed.append({"name": entry.name, "kind": entry.kind, "styles": styles})
        return listed

    def thumbnail(self, name, index):
        """
        A style's thumbnail: the demo photo through it, THUMBNAIL_SIDE pixels on its longer side, made once.

        Arguments:
        name -- a bundled or trained network's name
        index -- the style's index

        Returns:
        png -- bytes; OptionError for an unknown network or style
        """
        from ..fast.style_choice import style_weights

        key = (name, index)
        if key not in self._thumbnails:
            transform, predictor = self.build(name)
            if predictor is not None:
                raise OptionError(f"model {name} paints any painting: it has no styles of its own", "model")
            weights = style_weights(transform.styles, index)
            from ..fast.apply import stylize_picture

            picture = stylize_picture(transform, demo_photo(THUMBNAIL_SIDE), style_weights=weights)
            self._thumbnails[key] = png_bytes(picture)
        return self._thumbnails[key]


def demo_photo(side):
    """
    The demo's photo (Tübingen), its longer side resized to `side`.

    Arguments:
    side -- pixels

    Returns:
    pixels -- float32 (h, w, 3) in 0..255
    """
    from PIL import Image

    path = Path(__file__).parent.parent / "demo" / "tubingen.jpg"
    with Image.open(path) as picture:
        picture = picture.convert("RGB")
        scale = side / max(picture.size)
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
        return np.asarray(picture, np.float32)


def png_bytes(pixels):
    """
    A picture as PNG bytes (8 bits a channel, rounded).

    Arguments:
    pixels -- (H, W, 3) in 0..255

    Returns:
    png -- bytes
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.rint(np.clip(pixels, 0, 255)).astype(np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
