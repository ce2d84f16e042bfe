"""The pure image code: fit modes, orientation, formats, colour modes, animation and bad input, for each
engine (``engine``: Pillow, and libvips where pyvips is installed; an input libvips does not take must
come out of Pillow whichever engine was asked for)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from helpers import image_bytes, vips_only, wide_gamut_profile
from imgqueue import imaging, vips
from imgqueue.errors import CorruptImage, InvalidSpec, NotAnImage, TooManyFrames, TooManyPixels, UnsupportedFormat
from imgqueue.imaging import resize_bytes
from imgqueue.spec import Fit, Limits, ResizeSpec
from imgqueue_tester.samples import animated, marked, save_with_orientation


@pytest.fixture(params=["pillow", pytest.param("vips", marks=vips_only)])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
def test_fit_modes_give_sharps_sizes(fit: Fit, expected: tuple[int, int], fmt: str, engine: str) -> None:
    out, result = resize_bytes(image_bytes(800, 400, fmt), ResizeSpec(200, 200, fit), engine=engine)
    assert result.engine == engine
    assert (result.width, result.height) == expected
    assert _open(out).size == expected
    assert result.format == fmt


def test_cover_crops_the_centre(engine: str) -> None:
    # 300x100: left third red, middle green, right third blue. cover 100x100 keeps the middle.
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 255, 0), (100, 0, 200, 100))
    img.paste((0, 0, 255), (200, 0, 300, 100))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    out, _ = resize_bytes(buf.getvalue(), ResizeSpec(50, 50, Fit.COVER), engine=engine)
    r, g, b = _open(out).convert("RGB").getpixel((25, 25))  # type: ignore[misc]
    assert g > 200 and r < 50 and b < 50


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_contain_pads_with_the_background(mode: str, engine: str) -> None:
    out, _ = resize_bytes(image_bytes(400, 100, "PNG", mode=mode, colour=(0, 0, 0, 255)[:len(mode)]),
                          ResizeSpec(200, 200, Fit.CONTAIN, background="#ff0000", format="png"), engine=engine)
    im = _open(out).convert("RGB")
    assert im.size == (200, 200)
    assert im.getpixel((100, 5)) == ((255, 0, 0) if mode != "L" else (85, 85, 85))  # padding above
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
def test_one_side_and_without_enlargement(spec: ResizeSpec, expected: tuple[int, int], engine: str) -> None:
    _, result = resize_bytes(image_bytes(800, 400), spec, engine=engine)
    assert (result.width, result.height) == expected


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_applied_before_resizing(orientation: int, tmp_path: object, engine: str) -> None:
    path = tmp_path / "o.jpg"  # type: ignore[operator]
    save_with_orientation(marked(400, 200), path, orientation, quality=95)
    out, result = resize_bytes(path.read_bytes(), ResizeSpec(200, 200, Fit.INSIDE), engine=engine)
    im = _open(out).convert("RGB")
    assert (result.width, result.height) == (200, 100)
    r, g, b = im.getpixel((20, 10))  # type: ignore[misc]
    assert r > 200 and b < 60, f"orientation {orientation}: top-left is {(r, g, b)}, expected red"
    assert 0x0112 not in im.getexif(), "metadata must be stripped"


@pytest.mark.parametrize(("src", "target", "mode"), [
    ("PNG", "jpeg", "RGB"), ("JPEG", "webp", "RGB"), ("JPEG", "png", "RGB"), ("WEBP", "jpeg", "RGB"),
    ("GIF", "png", None), ("BMP", "jpeg", "RGB"), ("TIFF", "webp", "RGB"),
])
def test_format_conversion(src: str, target: str, mode: str | None, engine: str) -> None:
    out, result = resize_bytes(image_bytes(300, 200, src), ResizeSpec(100, 100, format=target), engine=engine)
    im = _open(out)
    assert im.format == imaging.output_formats()[target]
    assert result.format == im.format
    if mode:
        assert im.mode == mode


def test_same_format_by_default_and_unwritable_inputs_become_png(engine: str) -> None:
    assert resize_bytes(image_bytes(300, 200, "WEBP"), ResizeSpec(50, 50), engine=engine)[1].format == "WEBP"
    assert resize_bytes(image_bytes(300, 200, "BMP"), ResizeSpec(50, 50), engine=engine)[1].format == "PNG"


@pytest.mark.skipif("avif" not in imaging.output_formats(), reason="this Pillow has no AVIF encoder")
def test_avif_output() -> None:
    out, result = resize_bytes(image_bytes(300, 200), ResizeSpec(100, 100, format="avif"))
    assert result.format == "AVIF" and _open(out).size == (100, 100)


def test_jpeg_quality_and_progressive(engine: str) -> None:
    src = Image.effect_noise((600, 400), 60).convert("RGB")
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=95)
    low, _ = resize_bytes(buf.getvalue(), ResizeSpec(300, 200, quality=20), engine=engine)
    high, _ = resize_bytes(buf.getvalue(), ResizeSpec(300, 200, quality=95), engine=engine)
    assert len(low) < len(high)
    prog, _ = resize_bytes(buf.getvalue(), ResizeSpec(300, 200, progressive=True), engine=engine)
    assert _open(prog).info.get("progressive") or _open(prog).info.get("progression")


@pytest.mark.parametrize("src", ["PNG", "WEBP"])
def test_alpha_flattened_onto_background_for_jpeg(src: str, engine: str) -> None:
    data = image_bytes(200, 200, src, mode="RGBA", colour=(0, 255, 0, 0))  # fully transparent
    out, result = resize_bytes(data, ResizeSpec(50, 50, format="jpeg", background="#ff0000"), engine=engine)
    assert result.engine == engine
    r, g, b = _open(out).getpixel((25, 25))  # type: ignore[misc]
    assert r > 240 and g < 20 and b < 20
    kept, _ = resize_bytes(data, ResizeSpec(50, 50, format="png"), engine=engine)
    assert _open(kept).mode == "RGBA"
    assert _open(kept).getpixel((25, 25))[3] == 0  # type: ignore[index]


def test_grey_with_alpha_stays_grey(engine: str) -> None:
    data = image_bytes(200, 200, "PNG", mode="LA", colour=(90, 128))
    out, result = resize_bytes(data, ResizeSpec(50, 50), engine=engine)
    im = _open(out)
    assert result.engine == engine and im.mode == "LA"
    value, alpha = im.getpixel((25, 25))  # type: ignore[misc]
    assert abs(value - 90) <= 2 and abs(alpha - 128) <= 2


def test_palette_16bit_and_cmyk_inputs(engine: str) -> None:
    pal = io.BytesIO()
    Image.new("RGB", (300, 200), (0, 204, 51)).convert("P").save(pal, "PNG")  # a web palette colour
    out, result = resize_bytes(pal.getvalue(), ResizeSpec(100, 100), engine=engine)
    assert result.width == 100 and result.engine == engine
    assert _open(out).convert("RGB").getpixel((50, 50)) == (0, 204, 51)

    grey16 = io.BytesIO()
    Image.new("I;16", (300, 200), 40000).save(grey16, "PNG")
    out, result = resize_bytes(grey16.getvalue(), ResizeSpec(100, 100), engine=engine)
    assert result.engine == "pillow"
    value = _open(out).convert("L").getpixel((50, 50))
    assert 150 <= value <= 160, f"16-bit 40000 should map to about 156, got {value}"  # type: ignore[operator]

    cmyk = image_bytes(300, 200, "JPEG", mode="CMYK", colour=(0, 255, 255, 0))  # red in CMYK
    out, result = resize_bytes(cmyk, ResizeSpec(100, 100, format="png"), engine=engine)
    assert result.engine == "pillow"
    r, g, b = _open(out).convert("RGB").getpixel((50, 50))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("target", ["webp", "jpeg", "png"])
def test_pixels_become_srgb_through_the_embedded_profile(target: str, engine: str) -> None:
    """By default (sharp's), the profile is applied and dropped: a profile whose red and blue primaries
    are swapped turns a red pixel blue in sRGB, and no profile is written."""
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 60, 40)).save(buf, "JPEG", quality=95, icc_profile=wide_gamut_profile())
    for spec in (ResizeSpec(100, 100, format=target), ResizeSpec(100, 100, format=target, fx=0.2, fy=0.5)):
        out, result = resize_bytes(buf.getvalue(), spec, engine=engine)  # the second: the set path
        im = _open(out)
        assert result.engine == engine and not im.info.get("icc_profile")
        r, g, b = im.convert("RGB").getpixel((50, 50))  # type: ignore[misc]
        assert b > 150 and r < 100, (r, g, b)


@pytest.mark.parametrize("target", ["webp", "jpeg", "png"])
def test_keep_icc_keeps_the_profile_unconverted(target: str, engine: str) -> None:
    """With keep_icc the profile travels with the pixels, unconverted (as before sRGB became the default)."""
    icc = wide_gamut_profile()
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 60, 40)).save(buf, "JPEG", quality=95, icc_profile=icc)
    out, result = resize_bytes(buf.getvalue(), ResizeSpec(100, 100, format=target, keep_icc=True), engine=engine)
    im = _open(out)
    assert result.engine == engine and im.info.get("icc_profile") == icc
    r, g, b = im.convert("RGB").getpixel((50, 50))  # type: ignore[misc]
    assert abs(r - 200) <= 4 and abs(g - 60) <= 4 and abs(b - 40) <= 4


def test_metadata_other_than_icc_is_dropped(engine: str) -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "a camera maker"  # Make
    Image.new("RGB", (300, 200), "white").save(buf, "JPEG", exif=exif, comment=b"a comment")
    out, _ = resize_bytes(buf.getvalue(), ResizeSpec(100, 100), engine=engine)
    assert b"a camera maker" not in out and b"a comment" not in out


@pytest.mark.parametrize("target", ["gif", "webp"])
def test_animation_keeps_every_frame(target: str, engine: str) -> None:
    frames = animated(200, 100, 5)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out, result = resize_bytes(buf.getvalue(), ResizeSpec(100, 50, format=target), engine=engine)
    assert result.engine == "pillow"
    im = _open(out)
    assert result.frames == 5 and getattr(im, "n_frames", 1) == 5
    assert im.size == (100, 50)


def test_animation_to_still_format_takes_first_frame(engine: str) -> None:
    frames = animated(200, 100, 5)
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:])
    _, result = resize_bytes(buf.getvalue(), ResizeSpec(100, 50, format="jpeg"), engine=engine)
    assert result.frames == 1


def test_not_an_image(engine: str) -> None:
    with pytest.raises(NotAnImage):
        resize_bytes(b"hello, I am a text file\n" * 10, ResizeSpec(100, 100), engine=engine)
    with pytest.raises(NotAnImage):
        imaging.probe(b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_image_is_corrupt(fmt: str, engine: str) -> None:
    from imgqueue_tester.samples import picture

    buf = io.BytesIO()
    picture(800, 600, seed=2).save(buf, fmt)
    data = buf.getvalue()
    with pytest.raises(CorruptImage):
        resize_bytes(data[: len(data) // 2], ResizeSpec(100, 100), engine=engine)


def test_corrupt_image(engine: str) -> None:
    jpeg = bytearray(image_bytes(400, 300, "JPEG"))
    jpeg[200:] = b"\x00" * (len(jpeg) - 200)
    with pytest.raises(CorruptImage):
        resize_bytes(bytes(jpeg[:400]), ResizeSpec(100, 100), engine=engine)


def test_too_many_pixels_checked_before_decoding() -> None:
    with pytest.raises(TooManyPixels, match="more than the limit"):
        imaging.probe(image_bytes(1000, 1000, "PNG"), Limits(max_pixels=999_999))


def test_decompression_bomb_warning_is_an_error(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(TooManyPixels):
        resize_bytes(image_bytes(200, 200, "PNG"), ResizeSpec(10, 10), Limits(max_pixels=10**9), engine=engine)


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


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_shrink_on_load_keeps_quality(fmt: str, engine: str) -> None:
    """The reduced-scale decoding must give the same picture as a full decode, near enough."""
    src = image_bytes(3000, 2000, fmt, colour=(200, 50, 50))
    out, _ = resize_bytes(src, ResizeSpec(300, 200, format="png"), engine=engine)
    r, g, b = _open(out).getpixel((150, 100))  # type: ignore[misc]
    assert abs(r - 200) < 6 and abs(g - 50) < 6 and abs(b - 50) < 6


@vips_only
@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "L"), ("WEBP", "RGB"),
                                           ("WEBP", "RGBA"), ("JPEG", "RGB"), ("JPEG", "L")])
@pytest.mark.parametrize("fit", list(Fit))
def test_engines_agree(fmt: str, mode: str, fit: Fit) -> None:
    """libvips and Pillow make the same image: sizes, mode, and pixels within a small mean difference."""
    from PIL import ImageChops, ImageStat

    from imgqueue_tester.samples import picture

    buf = io.BytesIO()
    picture(2400, 1500, seed=3, mode=mode).save(buf, fmt, **({} if fmt == "PNG" else {"quality": 95}))
    spec = ResizeSpec(240, 200, fit, format="png")
    pil_out, pil_res = resize_bytes(buf.getvalue(), spec, engine="pillow")
    vips_out, vips_res = resize_bytes(buf.getvalue(), spec, engine="vips")
    assert (vips_res.engine, pil_res.engine) == ("vips", "pillow")
    assert (vips_res.width, vips_res.height, vips_res.format) == (pil_res.width, pil_res.height, pil_res.format)
    a, b = _open(pil_out), _open(vips_out)
    assert a.mode == b.mode
    diff = ImageStat.Stat(ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))).mean
    assert max(diff) < 4, f"mean channel difference {diff}"


@pytest.mark.parametrize(("fmt", "mode", "target", "frames", "expected"), [
    ("JPEG", "RGB", "JPEG", 1, "vips"), ("PNG", "P", "WEBP", 1, "vips"), ("WEBP", "RGBA", "PNG", 1, "vips"),
    ("JPEG", "CMYK", "JPEG", 1, "pillow"), ("PNG", "I;16", "PNG", 1, "pillow"), ("GIF", "P", "GIF", 1, "pillow"),
    ("TIFF", "RGB", "PNG", 1, "pillow"), ("WEBP", "RGB", "WEBP", 3, "pillow"), ("JPEG", "RGB", "AVIF", 1, "pillow"),
])
def test_engine_is_chosen_per_image(fmt: str, mode: str, target: str, frames: int, expected: str) -> None:
    from imgqueue.probe import ImageInfo

    info = ImageInfo(fmt, 100, 100, frames, mode)
    assert imaging.engine_for("auto", info, target) == (expected if vips.available() else "pillow")
    assert imaging.engine_for("pillow", info, target) == "pillow"


@vips_only
def test_libvips_errors_become_image_errors() -> None:
    data = image_bytes(800, 600, "PNG")
    with pytest.raises(CorruptImage):
        resize_bytes(data[: len(data) // 2], ResizeSpec(100, 100), engine="vips")
    with pytest.raises(NotAnImage):
        resize_bytes(b"text" * 100, ResizeSpec(100, 100), engine="vips")


@vips_only
def test_libvips_takes_only_the_loaders_imgqueue_routes_to_it() -> None:
    """A second line behind Pillow: libvips' untrusted loaders and every loader but JPEG, PNG and WebP are
    blocked, so no bytes can reach another libvips loader (a TIFF, a GIF, a PDF...)."""
    pyvips = vips._pyvips()
    for fmt in ("GIF", "TIFF", "BMP"):
        buf = io.BytesIO()
        Image.new("RGB", (32, 24), (10, 20, 30)).save(buf, fmt)
        with pytest.raises(pyvips.Error):
            pyvips.Image.thumbnail_buffer(buf.getvalue(), 16)
    for fmt in ("JPEG", "PNG", "WEBP"):
        buf = io.BytesIO()
        Image.new("RGB", (32, 24), (10, 20, 30)).save(buf, fmt)
        assert pyvips.Image.thumbnail_buffer(buf.getvalue(), 16).width == 16


def _webp(kind: str) -> bytes:
    mode = "RGBA" if "alpha" in kind else "RGB"
    frames = [Image.effect_noise((37, 23), 40 + 20 * i).convert(mode) for i in range(3 if kind == "animated" else 1)]
    options: dict[str, object] = {"lossless": "lossless" in kind, "quality": 80}
    if kind == "exif rotated":
        exif = Image.Exif()
        exif[0x0112] = 6
        options["exif"] = exif.tobytes()
    if kind == "icc":
        options["icc_profile"] = wide_gamut_profile()
    if kind == "animated":
        options.update(save_all=True, append_images=frames[1:], duration=80)
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", **options)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["lossy", "lossless", "lossy alpha", "lossless alpha", "animated",
                                  "exif rotated", "icc"])
def test_a_webp_is_read_from_its_header_as_pillow_reads_it(kind: str) -> None:
    data = _webp(kind)
    info = imaging.probe(data)
    with Image.open(io.BytesIO(data)) as im:
        turn = int(im.getexif().get(0x0112, 1))
        size = im.size[::-1] if turn in (5, 6, 7, 8) else im.size
        pillow = ("WEBP", *size, getattr(im, "n_frames", 1), im.mode, turn)
    assert (info.format, info.width, info.height, info.frames, info.mode, info.orientation) == pillow


def test_a_webp_cut_short_or_with_a_picture_off_its_canvas_is_refused_from_its_header() -> None:
    data = _webp("icc")  # VP8X, ICCP, VP8
    with pytest.raises(CorruptImage):
        imaging.probe(data[: len(data) - 10])
    body = bytearray(data)
    at = body.index(b"VP8X") + 12
    body[at:at + 3] = (35).to_bytes(3, "little")  # a canvas one pixel narrower than the picture (37 - 1 - 1)
    with pytest.raises(CorruptImage):
        imaging.probe(bytes(body))
