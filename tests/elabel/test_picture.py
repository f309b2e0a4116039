"""The rendered PNG decodes back to the same token with zxing-cpp; bad pictures are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from elabel.claims import LabelClaims
from elabel.errors import PictureError
from elabel.keys import HubLabelKey
from elabel.label_text import sign_label
from elabel.picture import render_label, token_from_png


def test_a_rendered_label_decodes_back_to_the_same_token(
    hub_key: HubLabelKey, claims: LabelClaims, tmp_path: Path
) -> None:
    token = sign_label(claims, hub_key)
    rendered = render_label(token, claims)
    path = tmp_path / "label.png"
    path.write_bytes(rendered.png)
    assert token_from_png(path) == token


def test_a_scaled_down_label_still_decodes(hub_key: HubLabelKey, claims: LabelClaims, tmp_path: Path) -> None:
    token = sign_label(claims, hub_key)
    path = tmp_path / "label.png"
    path.write_bytes(render_label(token, claims).png)
    with Image.open(path) as image:
        image.resize((image.width * 2 // 3, image.height * 2 // 3)).save(tmp_path / "small.png")
    assert token_from_png(tmp_path / "small.png") == token


def test_without_a_cjk_font_it_falls_back_and_says_so(
    hub_key: HubLabelKey, claims: LabelClaims, tmp_path: Path
) -> None:
    rendered = render_label(sign_label(claims, hub_key), claims, cjk_fonts=(str(tmp_path / "none.ttc"),))
    assert not rendered.cjk_font


def test_pictures_without_a_label_are_named(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    with pytest.raises(PictureError, match=r"blank\.png: no QR code"):
        token_from_png(blank)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(PictureError, match=r"notes\.png: not a readable image"):
        token_from_png(text)
    with pytest.raises(PictureError, match="no such file"):
        token_from_png(tmp_path / "missing.png")
