"""Generate a varied set of sample images: sizes, formats, EXIF orientations, alpha, palette, 16-bit,
CMYK and animation. The tester's default sample set; the tests and benchmarks use it too.

    python -m imgqueue_tester.samples OUT_DIR [--count 50] [--seed 1] [--max-side 2400]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

_ORIENTATION_TAG = 0x0112


def picture(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A photo-like test picture: gradients, shapes and a little noise (so encoders do real work)."""
    rng = random.Random(seed)
    base = Image.merge("RGB", (
        Image.linear_gradient("L").resize((width, height)),
        Image.radial_gradient("L").resize((width, height)),
        Image.linear_gradient("L").rotate(90).resize((width, height)),
    ))
    draw = ImageDraw.Draw(base)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(1, max(2, width // 3)), y0 + rng.randrange(1, max(2, height // 3))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    img = Image.blend(base, noise, 0.12)
    if mode == "RGBA":
        alpha = Image.radial_gradient("L").resize((width, height))
        img.putalpha(alpha.point(lambda v: 255 - v))
    elif mode != "RGB":
        img = img.convert(mode)
    return img


def marked(width: int, height: int) -> Image.Image:
    """Red top-left quadrant, the rest blue: shows where the top-left ended up after orientation."""
    img = Image.new("RGB", (width, height), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    return img


def save_with_orientation(img: Image.Image, path: Path, orientation: int, **opts: object) -> None:
    """Save ``img`` so that a viewer applying EXIF ``orientation`` shows it as ``img``."""
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    stored = img.transpose(inverse[orientation]) if orientation in inverse else img
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    stored.save(path, exif=exif.tobytes(), **opts)  # type: ignore[arg-type]


def animated(width: int, height: int, frames: int, seed: int = 0) -> list[Image.Image]:
    rng = random.Random(seed)
    out = []
    for i in range(frames):
        img = Image.new("RGB", (width, height), (rng.randrange(256), 40, 40))
        ImageDraw.Draw(img).ellipse((i * 10, i * 5, i * 10 + width // 3, i * 5 + height // 3), fill=(250, 250, 0))
        out.append(img)
    return out


def _jpeg(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".jpg")
    save_with_orientation(picture(w, h, seed), path, random.Random(seed).choice([1, 3, 6, 8]), quality=88)
    return path


def _png_alpha(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".png")
    picture(w, h, seed, "RGBA").save(path)
    return path


def _webp(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".webp")
    picture(w, h, seed).save(path, quality=85)
    return path


def _palette_png(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".png")
    picture(w, h, seed).convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
    return path


def _gif(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".gif")
    frames = animated(min(w, 400), min(h, 300), 6, seed)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return path


def _grey16(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".png")
    picture(w, h, seed, "L").convert("I").point(lambda v: v * 257).convert("I;16").save(path)
    return path


def _cmyk(path: Path, w: int, h: int, seed: int) -> Path:
    path = path.with_suffix(".jpg")
    picture(w, h, seed, "CMYK").save(path, quality=88)
    return path


KINDS: list[tuple[str, Callable[[Path, int, int, int], Path]]] = [
    ("jpeg", _jpeg), ("png-alpha", _png_alpha), ("webp", _webp), ("jpeg", _jpeg), ("palette", _palette_png),
    ("gif-animated", _gif), ("grey16", _grey16), ("cmyk", _cmyk),
]


def generate(folder: Path, count: int = 20, seed: int = 1, max_side: int = 2400, min_side: int = 200) -> list[Path]:
    """Write ``count`` images of varied kinds into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        kind, make = KINDS[i % len(KINDS)]
        w, h = rng.randint(min_side, max_side), rng.randint(min_side, max_side)
        paths.append(make(folder / f"sample_{i:03d}_{kind}", w, h, seed * 1000 + i))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imgqueue_tester.samples", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-side", type=int, default=2400)
    args = parser.parse_args(argv)
    paths = generate(args.folder, args.count, args.seed, args.max_side)
    print(f"wrote {len(paths)} images to {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
