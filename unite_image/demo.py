"""An offline demo ImageFolder: random crops of photos that scikit-image ships (public domain / CC0), one class
per photo, so `unite-image train data=demo` runs on a fresh machine with no download."""
import shutil
import tempfile
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def build_demo(root: str | Path, per_class: int = 64, size: int = 64, seed: int = 0) -> Path:
    """root/<photo>/<k>.png: `per_class` random square crops (40-100 % of the short side) resized to `size`."""
    import skimage.data
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}."))
    try:
        for name in PHOTOS:
            photo = getattr(skimage.data, name)()
            (staging / name).mkdir()
            short = min(photo.shape[:2])
            for k in range(per_class):
                side = int(short * rng.uniform(0.4, 1.0))
                top, left = rng.integers(0, photo.shape[0] - side + 1), rng.integers(0, photo.shape[1] - side + 1)
                crop = Image.fromarray(photo[top : top + side, left : left + side]).resize((size, size), Image.BICUBIC)
                crop.save(staging / name / f"{k:03d}.png")
        staging.rename(root)  # the folder appears whole or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
