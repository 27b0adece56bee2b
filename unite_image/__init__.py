"""unite_image: UNITE on ImageFolder images (class folders, the ImageNet layout), class-conditional sampling.

    from unite_image import load, generate_images
    cfg, model, classes, step = load("runs/image")   # EMA weights
"""
from unite_core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["ImageBatch", "ImageFolder", "center_crop"], "unite_image.data"),
    **dict.fromkeys(["ImageConfig", "build_model", "generate_images", "load", "train"], "unite_image.run"),
    **dict.fromkeys(["patchify", "unpatchify"], "unite_image.patches"),
    "build_demo": "unite_image.demo",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
