"""The pure image code: fit modes, orientation, formats, colour modes, animation and bad input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from helpers import image_bytes
from imgqueue import imaging, vips
from imgqueue.errors import CorruptImage, InvalidSpec, NotAnImage, TooManyFrames, TooManyPixels, UnsupportedFormat
from imgqueue.imaging import resize_bytes
from imgqueue.spec import Fit, Limits, ResizeSpec
from imgqueue_tester.samples import animated, marked, save_with_orientation


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(("fit", "expected"), [
    (Fit.COVER, (200, 200)),
    (Fit.CONTAIN, (200, 200)),
    (Fit.FILL, (200, 200)),
    (Fit.INSIDE, (200, 100)),
    (Fit.OUTSIDE, (400, 200)),
])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_fit_modes_give_sharps_sizes(fit: Fit, expected: tuple[int, int], fmt: str) -> None:
    out, result = resize_bytes(image_bytes(800, 400, fmt), ResizeSpec(200, 200, fit))
    assert (result.width, result.height) == expected
    assert _open(out).size == expected
    assert result.format == fmt


def test_cover_crops_the_centre() -> None:
    # 300x100: left third red, middle green, right third blue. cover 100x100 keeps the middle.
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 255, 0), (100, 0, 200, 100))
    img.paste((0, 0, 255), (200, 0, 300, 100))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    out, _ = resize_bytes(buf.getvalue(), ResizeSpec(50, 50, Fit.COVER))
    r, g, b = _open(out).convert("RGB").getpixel((25, 25))  # type: ignore[misc]
    assert g > 200 and r < 50 and b < 50


def test_contain_pads_with_the_background() -> None:
    out, _ = resize_bytes(image_bytes(400, 100, "PNG", colour=(0, 0, 0)),
                          ResizeSpec(200, 200, Fit.CONTAIN, background="#ff0000"))
    im = _open(out).convert("RGB")
    assert im.size == (200, 200)
    assert im.getpixel((100, 5)) == (255, 0, 0)  # padding above
    assert im.getpixel((100, 100)) == (0, 0, 0)  # the picture in the middle


@pytest.mark.parametrize(("spec", "expected"), [
    (ResizeSpec(width=200), (200, 100)),
    (ResizeSpec(height=100), (200, 100)),
    (ResizeSpec(2000, 2000, Fit.INSIDE, without_enlargement=True), (800, 400)),
    (ResizeSpec(2000, 2000, Fit.COVER, without_enlargement=True), (800, 400)),
    (ResizeSpec(width=1600, without_enlargement=True), (800, 400)),
    (ResizeSpec(1600, 200, Fit.FILL, without_enlargement=True), (800, 200)),
    (ResizeSpec(2000, 2000, Fit.INSIDE), (2000, 1000)),
])
def test_one_side_and_without_enlargement(spec: ResizeSpec, expected: tuple[int, int]) -> None:
    _, result = resize_bytes(image_bytes(800, 400), spec)
    assert (result.width, result.height) == expected


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_applied_before_resizing(orientation: int, tmp_path: object) -> None:
    path = tmp_path / "o.jpg"  # type: ignore[operator]
    save_with_orientation(marked(400, 200), path, orientation, quality=95)
    out, result = resize_bytes(path.read_bytes(), ResizeSpec(200, 200, Fit.INSIDE))
    im = _open(out).convert("RGB")
    assert (result.width, result.height) == (200, 100)
    r, g, b = im.getpixel((20, 10))  # type: ignore[misc]
    assert r > 200 and b < 60, f"orientation {orientation}: top-left is {(r, g, b)}, expected red"
    assert 0x0112 not in im.getexif(), "metadata must be stripped"


@pytest.mark.parametrize(("src", "target", "mode"), [
    ("PNG", "jpeg", "RGB"), ("JPEG", "webp", "RGB"), ("JPEG", "png", "RGB"), ("WEBP", "jpeg", "RGB"),
    ("GIF", "png", None), ("BMP", "jpeg", "RGB"), ("TIFF", "webp", "RGB"),
])
def test_format_conversion(src: str, target: str, mode: str | None) -> None:
    out, result = resize_bytes(image_bytes(300, 200, src), ResizeSpec(100, 100, format=target))
    im = _open(out)
    assert im.format == imaging.output_formats()[target]
    assert result.format == im.format
    if mode:
        assert im.mode == mode


def test_same_format_by_default_and_unwritable_inputs_become_png() -> None:
    assert resize_bytes(image_bytes(300, 200, "WEBP"), ResizeSpec(50, 50))[1].format == "WEBP"
    assert resize_bytes(image_bytes(300, 200, "BMP"), ResizeSpec(50, 50))[1].format == "PNG"


@pytest.mark.skipif("avif" not in imaging.output_formats(), reason="this Pillow has no AVIF encoder")
def test_avif_output() -> None:
    out, result = resize_bytes(image_bytes(300, 200), ResizeSpec(100, 100, format="avif"))
    assert result.format == "AVIF" and _open(out).size == (100, 100)


def test_jpeg_quality_and_progressive() -> None:
    src = Image.effect_noise((600, 400), 60).convert("RGB")
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=95)
    low, _ = resize_bytes(buf.getvalue(), ResizeSpec(300, 200, quality=20))
    high, _ = resize_bytes(buf.getvalue(), ResizeSpec(300, 200, quality=95))
    assert len(low) < len(high)
    prog, _ = resize_bytes(buf.getvalue(), ResizeSpec(300, 200, progressive=True))
    assert _open(prog).info.get("progressive") or _open(prog).info.get("progression")


def test_alpha_flattened_onto_background_for_jpeg() -> None:
    data = image_bytes(200, 200, "PNG", mode="RGBA", colour=(0, 255, 0, 0))  # fully transparent
    out, _ = resize_bytes(data, ResizeSpec(50, 50, format="jpeg", background="#ff0000"))
    r, g, b = _open(out).getpixel((25, 25))  # type: ignore[misc]
    assert r > 240 and g < 20 and b < 20
    kept, _ = resize_bytes(data, ResizeSpec(50, 50, format="png"))
    assert _open(kept).mode == "RGBA"


def test_palette_16bit_and_cmyk_inputs() -> None:
    pal = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).convert("P").save(pal, "PNG")
    assert resize_bytes(pal.getvalue(), ResizeSpec(100, 100))[1].width == 100

    grey16 = io.BytesIO()
    Image.new("I;16", (300, 200), 40000).save(grey16, "PNG")
    out, _ = resize_bytes(grey16.getvalue(), ResizeSpec(100, 100))
    value = _open(out).convert("L").getpixel((50, 50))
    assert 150 <= value <= 160, f"16-bit 40000 should map to about 156, got {value}"  # type: ignore[operator]

    cmyk = image_bytes(300, 200, "JPEG", mode="CMYK", colour=(0, 255, 255, 0))  # red in CMYK
    out, _ = resize_bytes(cmyk, ResizeSpec(100, 100, format="png"))
    r, g, b = _open(out).convert("RGB").getpixel((50, 50))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_icc_profile_kept() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buf, "JPEG", icc_profile=icc)
    out, _ = resize_bytes(buf.getvalue(), ResizeSpec(100, 100, format="webp"))
    assert _open(out).info.get("icc_profile") == icc


@pytest.mark.parametrize("target", ["gif", "webp"])
def test_animation_keeps_every_frame(target: str) -> None:
    frames = animated(200, 100, 5)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out, result = resize_bytes(buf.getvalue(), ResizeSpec(100, 50, format=target))
    im = _open(out)
    assert result.frames == 5 and getattr(im, "n_frames", 1) == 5
    assert im.size == (100, 50)


def test_animation_to_still_format_takes_first_frame() -> None:
    frames = animated(200, 100, 5)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    _, result = resize_bytes(buf.getvalue(), ResizeSpec(100, 50, format="jpeg"))
    assert result.frames == 1


def test_not_an_image() -> None:
    with pytest.raises(NotAnImage):
        resize_bytes(b"hello, I am a text file\n" * 10, ResizeSpec(100, 100))
    with pytest.raises(NotAnImage):
        imaging.probe(b"")


def test_corrupt_image() -> None:
    data = image_bytes(400, 300, "PNG")
    with pytest.raises(CorruptImage):
        resize_bytes(data[: len(data) // 2], ResizeSpec(100, 100))
    jpeg = bytearray(image_bytes(400, 300, "JPEG"))
    jpeg[200:] = b"\x00" * (len(jpeg) - 200)
    with pytest.raises(CorruptImage):
        resize_bytes(bytes(jpeg[:400]), ResizeSpec(100, 100))


def test_too_many_pixels_checked_before_decoding() -> None:
    with pytest.raises(TooManyPixels, match="more than the limit"):
        imaging.probe(image_bytes(1000, 1000, "PNG"), Limits(max_pixels=999_999))


def test_decompression_bomb_warning_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(TooManyPixels):
        resize_bytes(image_bytes(200, 200, "PNG"), ResizeSpec(10, 10), Limits(max_pixels=10**9))


def test_unsupported_format() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "PCX")
    with pytest.raises(UnsupportedFormat):
        imaging.probe(buf.getvalue())


def test_too_many_frames() -> None:
    frames = animated(50, 50, 6)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(TooManyFrames):
        imaging.probe(buf.getvalue(), Limits(max_frames=5))


@pytest.mark.parametrize("spec", [
    ResizeSpec(), ResizeSpec(0, 10), ResizeSpec(10, 99999), ResizeSpec(10, 10, quality=101),
    ResizeSpec(10, 10, format="bmp"), ResizeSpec(10, 10, background="not-a-colour"),
])
def test_invalid_specs(spec: ResizeSpec) -> None:
    with pytest.raises(InvalidSpec):
        spec.validate()


def test_spec_round_trips() -> None:
    spec = ResizeSpec(10, None, Fit.OUTSIDE, "webp", 70, True, True, "#000")
    assert ResizeSpec.from_dict(spec.to_dict()) == spec


def test_jpeg_shrink_on_load_keeps_quality() -> None:
    """The draft (DCT-scaled) path must give the same picture as a full decode, near enough."""
    src = image_bytes(3000, 2000, "JPEG", colour=(200, 50, 50))
    out, _ = resize_bytes(src, ResizeSpec(300, 200))
    r, g, b = _open(out).getpixel((150, 100))  # type: ignore[misc]
    assert abs(r - 200) < 6 and abs(g - 50) < 6 and abs(b - 50) < 6


vips_only = pytest.mark.skipif(not vips.available(), reason="pyvips is not installed")


@vips_only
@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB"), ("JPEG", "RGB")])
@pytest.mark.parametrize("fit", [Fit.COVER, Fit.INSIDE, Fit.CONTAIN])
def test_vips_engine_gives_the_same_image(fmt: str, mode: str, fit: Fit) -> None:
    """The libvips engine only decodes and shrinks: sizes, mode and pixels match the Pillow engine's."""
    from imgqueue_tester.samples import picture

    buf = io.BytesIO()
    picture(2400, 1500, seed=3, mode=mode).save(buf, fmt, **({} if fmt == "PNG" else {"quality": 95}))
    spec = ResizeSpec(240, 200, fit, format="png")
    pil_out, pil_res = resize_bytes(buf.getvalue(), spec)
    vips_out, vips_res = resize_bytes(buf.getvalue(), spec, engine="vips")
    assert (vips_res.width, vips_res.height, vips_res.format) == (pil_res.width, pil_res.height, pil_res.format)
    a, b = _open(pil_out), _open(vips_out)
    assert a.mode == b.mode
    from PIL import ImageChops, ImageStat

    diff = ImageStat.Stat(ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))).mean
    assert max(diff) < 6, f"mean channel difference {diff}"


@vips_only
def test_vips_engine_reports_bad_input_like_pillow() -> None:
    data = image_bytes(800, 600, "PNG")
    with pytest.raises(CorruptImage):
        resize_bytes(data[: len(data) // 2], ResizeSpec(100, 100), engine="vips")
    with pytest.raises(NotAnImage):
        resize_bytes(b"text" * 100, ResizeSpec(100, 100), engine="vips")
