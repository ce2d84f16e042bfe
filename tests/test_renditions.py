"""Sets of outputs from one decode (issue 18), image by image, with each engine that takes the input:
every variant's geometry for every fit, smart crop and the focal point, placeholders, sRGB and stripped
metadata (no GPS ever leaves), the whole set's budget."""

from __future__ import annotations

import base64
import io

import blurhash
import pytest
import thash
from PIL import Image, ImageDraw

from helpers import image_bytes
from imgqueue import imaging, vips
from imgqueue.errors import InvalidSpec, OutputTooLarge
from imgqueue.geometry import compute_geometry
from imgqueue.placeholders import Placeholder
from imgqueue.spec import Fit, Limits, ResizeSpec, parse_spec
from imgqueue.variants import Presets, parse_variants

vips_only = pytest.mark.skipif(not vips.available(), reason="pyvips is not installed")


@pytest.fixture(params=["pillow", pytest.param("vips", marks=vips_only)])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def photo(width: int = 800, height: int = 400, fmt: str = "JPEG") -> bytes:
    """A picture with detail across it (a gradient and stripes), so every crop and resize shows."""
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    for x in range(0, width, 8):
        draw.rectangle((x, 0, x + 3, height), fill=(x * 255 // width, 90, 255 - x * 255 // width))
    out = io.BytesIO()
    im.save(out, fmt, quality=92)
    return out.getvalue()


def test_every_variant_of_every_fit_has_its_geometry(engine: str) -> None:
    data = photo()
    specs = [ResizeSpec(w, h, fit=fit, format=fmt) for fit in Fit for (w, h) in ((300, 300), (200, 120))
             for fmt in ("webp", "png")] + [ResizeSpec(width=250, format="jpeg"), ResizeSpec(height=90)]
    result = imaging.render_set(data, specs, Limits(max_variants=40), engine)
    assert result.engine == engine and len(result.outputs) == len(specs)
    for spec, made in zip(specs, result.outputs, strict=True):
        geo = compute_geometry(800, 400, spec)
        im = _open(made.data)
        assert im.size == geo.canvas == (made.width, made.height), spec
        single, _ = imaging.resize_bytes(data, spec, engine=engine)
        assert _open(single).size == im.size, "a set's output is the size its spec alone would make"


def test_a_set_looks_like_its_outputs_made_one_at_a_time(engine: str) -> None:
    """Derived from one decode (each smaller output from a larger one), yet the same picture."""
    data = photo(1600, 1000)
    specs = [ResizeSpec(width=w, fit=Fit.INSIDE, format="png") for w in (1200, 640, 320)]
    made = imaging.render_set(data, specs, engine=engine).outputs
    for spec, out in zip(specs, made, strict=True):
        alone, _ = imaging.resize_bytes(data, spec, engine=engine)
        a, b = _open(out.data).convert("RGB"), _open(alone).convert("RGB")
        diff = sum(abs(p - q) for p, q in zip(a.tobytes(), b.tobytes(), strict=True))
        assert diff / (a.width * a.height * 3) < 4, f"mean difference per channel for {spec.width}"


def _bright_square_on_the_right() -> bytes:
    """A dark, flat picture with a bright, detailed, skin-coloured square near its right edge."""
    im = Image.new("RGB", (600, 200), (20, 22, 25))
    draw = ImageDraw.Draw(im)
    for i in range(0, 80, 8):
        draw.rectangle((500 + i, 60, 503 + i, 140), fill=(235, 180, 150))
        draw.rectangle((504 + i, 60, 507 + i, 140), fill=(250, 60, 40))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def _has_the_square(data: bytes) -> bool:
    rgb = _open(data).convert("RGB").tobytes()
    return any(r > 180 and b < 170 for r, b in zip(rgb[0::3], rgb[2::3], strict=True))


@pytest.mark.parametrize("crop", ["attention", "entropy"])
def test_smart_crop_keeps_an_off_centre_subject_the_centre_cuts(crop: str, engine: str) -> None:
    data = _bright_square_on_the_right()
    centre = imaging.render_set(data, [ResizeSpec(200, 200)], engine=engine).outputs[0]
    smart = imaging.render_set(data, [parse_spec({"width": 200, "height": 200, "crop": crop})], engine=engine)
    assert not _has_the_square(centre.data), "the middle of the picture is dark"
    assert _has_the_square(smart.outputs[0].data), f"{crop} found the square"


def test_the_focal_point_moves_the_crop(engine: str) -> None:
    data = _bright_square_on_the_right()
    right = imaging.render_set(data, [parse_spec({"width": 200, "height": 200, "fx": "0.9", "fy": "0.5"})],
                               engine=engine).outputs[0]
    left = imaging.render_set(data, [parse_spec({"width": 200, "height": 200, "fx": "0", "fy": "0.5"})],
                              engine=engine).outputs[0]
    assert _has_the_square(right.data) and not _has_the_square(left.data)


def test_placeholders_decode_to_the_source_aspect(engine: str) -> None:
    im = Image.new("RGB", (600, 300), (220, 30, 30))
    im.paste((30, 30, 220), (300, 0, 600, 300))  # red left half, blue right half
    out = io.BytesIO()
    im.save(out, "PNG")
    square = [ResizeSpec(100, 100)]  # an output of another aspect: the placeholder is the whole picture's
    blur = imaging.render_set(out.getvalue(), square, engine=engine, placeholder=Placeholder.BLURHASH)
    decoded = blurhash.decode(blur.placeholder, 60, 30)  # rows of [r, g, b], at the source's aspect
    left, right = decoded[15][5], decoded[15][55]
    assert left[0] > left[2] and right[2] > right[0], (left, right)
    thumb = imaging.render_set(out.getvalue(), square, engine=engine, placeholder=Placeholder.THUMBHASH)
    assert len(base64.b64decode(thumb.placeholder)) < 40
    width, height, _ = thash.thumb_hash_to_rgba(base64.b64decode(thumb.placeholder))
    assert 1.7 < width / height < 2.3, "a thumbhash carries the source's aspect"


def test_gps_and_other_metadata_never_leave(engine: str) -> None:
    exif = Image.Exif()
    exif[0x010F] = "a camera maker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}  # GPSInfo
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 120, 140)).save(buf, "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(buf.getvalue())).getexif().get_ifd(0x8825), "the input has a GPS position"
    specs = [ResizeSpec(200, 150, format=fmt) for fmt in ("jpeg", "png", "webp")]
    for result in (imaging.render_set(buf.getvalue(), specs, engine=engine),
                   imaging.render_set(buf.getvalue(), specs[:1], engine=engine)):
        for made in result.outputs:
            im = _open(made.data)
            assert not im.getexif() and b"a camera maker" not in made.data, made.format
            assert 0x8825 not in im.getexif() and not im.info.get("exif")


def test_a_set_over_the_pixel_budget_is_refused_whole() -> None:
    data = image_bytes(4000, 3000)
    specs = [ResizeSpec(width=w, fit=Fit.INSIDE) for w in (4000, 3000, 2000)]  # 12 + 6.75 + 3 MP
    with pytest.raises(OutputTooLarge, match="3 outputs"):
        imaging.render_set(data, specs, Limits(max_output_pixels=16_800_000))


def test_variants_are_named_counted_and_inherit_the_form() -> None:
    got = parse_variants('[{"name": "w320", "width": 320}, {"name": "sq", "width": 100, "height": 100}]',
                         {"format": "webp", "fit": "inside"})
    assert [(v.name, v.spec.width, v.spec.format, v.spec.fit) for v in got] == \
        [("w320", 320, "webp", Fit.INSIDE), ("sq", 100, "webp", Fit.INSIDE)]
    twice = '[{"name": "a", "width": 1}, {"name": "a", "width": 2}]'
    for bad, says in (('[{"name": "A!"}]', "name must be"), (twice, "twice"),
                      ('[{"name": "a", "widht": 3}]', "unknown field 'widht'"), ("{}", "JSON array"),
                      ("not json", "must be JSON"), ('[{"name": "a", "width": 99999}]', r"variants\[0\] \(a\)")):
        with pytest.raises(InvalidSpec, match=says):
            parse_variants(bad, {})
    with pytest.raises(InvalidSpec, match="limit of 2"):
        parse_variants('[{"name": "a", "width": 1}, {"name": "b", "width": 1}, {"name": "c", "width": 1}]', {},
                       Limits(max_variants=2))


def test_presets_are_checked_when_read() -> None:
    presets = Presets.parse('{"card": [{"name": "w320", "width": 320}]}', True, Limits(), {"jpeg", "webp"})
    assert presets.only and presets.get("card")[0].spec.width == 320
    with pytest.raises(InvalidSpec, match="preset 'bad'"):
        Presets.parse('{"bad": [{"name": "x", "format": "tiff"}]}', False, Limits(), {"jpeg"})
    with pytest.raises(InvalidSpec, match="card"):
        presets.get("nope")
