"""The label as a picture: a PNG with the token's QR code and the fields a person reads, and the
way back from such a PNG (or a photo of one) to the token, with a real QR decoder (zxing-cpp).

Readable fields use a CJK font when the machine has one (Noto Sans CJK or WenQuanYi at their
usual Debian/Fedora paths); without one they fall back to DejaVu Sans or Pillow's built-in font,
with English captions and the plate's province character written as its province code, and
``RenderedLabel.cjk_font`` says so. The QR code is what a verifier trusts; the text is a courtesy.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from elabel.claims import LabelClaims, LabelType
from elabel.errors import PictureError
from elabel.label_text import PREFIX

_QR = zxingcpp.BarcodeFormat.QRCode
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")

_TITLES = {
    (LabelType.INSPECTION, True): "机动车检验合格标志",
    (LabelType.EXEMPTION, True): "机动车免检标志",
    (LabelType.INSPECTION, False): "Vehicle inspection label",
    (LabelType.EXEMPTION, False): "Vehicle exemption label",
}
_CAPTIONS_CJK = ("号牌", "车辆识别代号", "车辆类型", "有效期至", "自", "发证机关", "编号")
_CAPTIONS_LATIN = ("Plate", "VIN", "Class", "Valid until", "from", "Issuer", "Serial")


@dataclass(frozen=True, slots=True)
class RenderedLabel:
    png: bytes
    font: str  # the font file used, or "Pillow default"
    cjk_font: bool


def find_font(candidates: tuple[str, ...]) -> str | None:
    return next((p for p in candidates if Path(p).is_file()), None)


def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def _plate_text(plate: str, cjk: bool, province: str) -> str:
    if cjk or plate.isascii():
        return plate
    return f"[{province}]" + "".join(c for c in plate if c.isascii())


def render_label(token: str, claims: LabelClaims, *, cjk_fonts: tuple[str, ...] = CJK_FONTS) -> RenderedLabel:
    cjk_path = find_font(cjk_fonts)
    path = cjk_path or find_font(LATIN_FONTS)
    cjk = cjk_path is not None
    qr = segno.make(token, error="m")  # base45 text: alphanumeric mode
    qr_png = io.BytesIO()
    qr.save(qr_png, kind="png", scale=5, border=4)
    qr_png.seek(0)
    code = Image.open(qr_png).convert("RGB")

    width = code.width + 460
    height = max(code.height, 330) + 20
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(code, (10, 10))
    draw = ImageDraw.Draw(canvas)
    title_font, field_font = _font(path, 26), _font(path, 18)
    captions = _CAPTIONS_CJK if cjk else _CAPTIONS_LATIN
    x, y = code.width + 30, 24
    draw.text((x, y), _TITLES[(claims.label_type, cjk)], fill="#0b3d91", font=title_font)
    y += 50
    lines = (
        (captions[0], _plate_text(claims.plate, cjk, claims.issuer_province)),
        (captions[1], claims.vin),
        (captions[2], claims.vehicle_class.value),
        (captions[3], f"{claims.valid_until.isoformat()}  ({captions[4]} {claims.valid_from.isoformat()})"),
        (captions[5], f"hub {claims.issuer_province}"),
        (captions[6], claims.serial),
    )
    for caption, value in lines:
        draw.text((x, y), f"{caption}: {value}", fill="black", font=field_font)
        y += 34
    draw.rectangle((2, 2, width - 3, height - 3), outline="#0b3d91", width=3)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return RenderedLabel(out.getvalue(), path or "Pillow default", cjk)


def token_from_png(path: Path) -> str:
    """The label text in the QR code of the picture at ``path``."""
    try:
        with Image.open(path) as image:
            image.load()
            found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormats(_QR))
    except FileNotFoundError as exc:
        raise PictureError(f"{path}: no such file") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise PictureError(f"{path}: not a readable image ({exc})") from exc
    texts = [barcode.text for barcode in found if barcode.text.startswith(PREFIX)]
    if not texts:
        raise PictureError(f"{path}: no QR code holding a {PREFIX} label was found")
    if len(set(texts)) > 1:
        raise PictureError(f"{path}: {len(set(texts))} different label QR codes in one picture")
    return texts[0]
