"""Bad input on the shopper's form: a clear message in the shopper's language, nothing stored."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Complaint
from tests.factories import Factory, complaint_form


@pytest.fixture
def session(detached_session: Session) -> Session:
    """Let each request have its own app context, as in production."""
    return detached_session


@pytest.fixture
def code(factory: Factory) -> str:
    """Return the poster code of a tile shop in a market."""
    return factory.poster_of(factory.make_merchant(name="张记瓷砖")).code


def _stored(session: Session) -> int:
    session.rollback()  # end the factory's read snapshot; see what requests committed
    return session.scalar(select(func.count()).select_from(Complaint)) or 0


def _post(
    client: FlaskClient, code: str, headers: dict[str, str] | None = None, query: str = "", **fields: Any
) -> tuple[int, str]:
    response = client.post(f"/c/{code}{query}", data=complaint_form(**fields), headers=headers)
    return response.status_code, html.unescape(response.get_data(as_text=True))


TYPED = {
    "description": "短",
    "amount": "１２８.５",
    "phone": "0355-2021234",
    "name": "李女士",
    "wish": "exchange",
    "on_site": "y",
    "kind": "complaint",
    "category": "food",
}


def test_validation_error_keeps_every_typed_value(client: FlaskClient, code: str, session: Session) -> None:
    status, page = _post(client, code, **TYPED)
    assert status == 400
    assert "请检查标出的内容" in page
    assert re.search(r">\s*短</textarea>", page)
    assert 'value="１２８.５"' in page
    assert 'value="0355-2021234"' in page
    assert 'value="李女士"' in page
    assert re.search(r'<option (selected value="exchange"|value="exchange" selected)', page)
    assert re.search(r'<option (selected value="food"|value="food" selected)', page)
    assert "checked" in re.search(r'<input[^>]*id="on_site"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert "checked" in re.search(r'<input[^>]*id="kind-0"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert 'aria-invalid="true"' in page
    assert _stored(session) == 0


def test_validation_error_in_english_with_lang(client: FlaskClient, code: str, session: Session) -> None:
    status, page = _post(client, code, query="?lang=en", **TYPED)
    assert status == 400
    assert "Please check the marked fields" in page
    assert "Please write between 10 and 2000 characters." in page
    assert "Enter an 11-digit mainland mobile number." in page
    assert 'action="/c/' in page and '?lang=en"' in page
    assert _stored(session) == 0


def test_validation_error_in_english_with_accept_language(client: FlaskClient, code: str) -> None:
    status, page = _post(client, code, headers={"Accept-Language": "en-US,en;q=0.9"}, **TYPED)
    assert status == 400
    assert "Please check the marked fields" in page
    assert '<html lang="en">' in page


def test_validation_error_in_chinese_by_default(client: FlaskClient, code: str) -> None:
    status, page = _post(client, code, **TYPED)
    assert status == 400
    assert '<html lang="zh-CN">' in page
    assert "请填写 10 到 2000 个字。" in page
    assert "请填写 11 位中国大陆手机号码。" in page
    assert "Please check" not in page


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("description", "一" * 9, False),
        ("description", "一" * 10, True),
        ("description", "一" * 2000, True),
        ("description", "一" * 2001, False),
        ("description", "          ", False),
        ("amount", "", True),
        ("amount", "１２８", True),
        ("amount", "128.50元", True),
        ("amount", "1,280", True),
        ("amount", "-5", False),
        ("amount", "abc", False),
        ("amount", "1.234", False),
        ("amount", "1e9", False),
        ("amount", "NaN", False),
        ("amount", "99999999", False),
        ("wish", "", True),
        ("wish", "apology", True),
        ("wish", "bribe", False),
        ("kind", "praise", False),
        ("category", "weapons", False),
        ("phone", "", False),  # a complaint needs a phone
        ("phone", "138001380001", False),
        ("phone", "0355-2021234", False),
        ("phone", "１３８ ００１３ ８０００", True),
        ("consent", None, False),  # a phone is given, so consent is required
    ],
)
def test_field_rules(
    client: FlaskClient, code: str, session: Session, field: str, value: str, ok: bool
) -> None:
    status, _page = _post(client, code, **{field: value})
    assert status == (303 if ok else 400)
    assert _stored(session) == (1 if ok else 0)


def test_report_may_leave_phone_and_consent_out(client: FlaskClient, code: str, session: Session) -> None:
    status, _ = _post(client, code, kind="report", phone="", name="", consent=None)
    assert status == 303
    assert _stored(session) == 1


def test_a_name_without_consent_is_refused(client: FlaskClient, code: str, session: Session) -> None:
    status, page = _post(client, code, kind="report", phone="", name="王先生", consent=None, query="?lang=en")
    assert status == 400
    assert "Please agree to the privacy notice." in page
    assert _stored(session) == 0


def test_amount_is_stored_in_fen(client: FlaskClient, code: str, session: Session) -> None:
    assert _post(client, code, amount="１,２８０.５元")[0] == 303
    session.rollback()
    assert session.scalars(select(Complaint.amount_fen)).one() == 128050


@pytest.mark.parametrize(
    ("field", "limit"),
    [("description", 2000), ("amount", 20), ("phone", 30), ("name", 60), ("idem", 64), ("website", 200)],
)
def test_every_field_has_a_length_cap(
    client: FlaskClient, code: str, session: Session, field: str, limit: int
) -> None:
    status, _ = _post(client, code, **{field: "1" * (limit + 1)})
    assert status == 400
    assert _stored(session) == 0


def test_seven_photos_are_refused(client: FlaskClient, code: str, session: Session) -> None:
    import io

    from tests.factories import image_bytes

    photos = [(io.BytesIO(image_bytes()), f"p{i}.jpg") for i in range(7)]
    response = client.post(
        f"/c/{code}?lang=en", data={**complaint_form(), "photos": photos}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Send at most 6 photos." in response.get_data(as_text=True)
    assert "Please choose your photos again." in response.get_data(as_text=True)
    assert _stored(session) == 0


def test_honeypot_stores_nothing(client: FlaskClient, code: str, session: Session) -> None:
    status, _ = _post(client, code, website="http://spam.example")
    assert status == 400
    assert _stored(session) == 0


def test_control_characters_are_dropped(client: FlaskClient, code: str, session: Session) -> None:
    # NUL would make PostgreSQL refuse the row; nobody types it, so it is dropped.
    status, _ = _post(
        client, code, description="瓷砖\x00有裂纹，\x1b商家拒绝退换。\n第二行", name="李\x00女士"
    )
    assert status == 303
    session.rollback()
    stored = session.scalars(select(Complaint)).one()
    assert stored.description == "瓷砖有裂纹，商家拒绝退换。\n第二行"
    assert stored.name == "李女士"


def test_request_over_the_size_limit_gets_a_friendly_page(
    app_config: dict[str, Any], factory: Factory, session: Session
) -> None:
    import io

    from portal import create_app

    app = create_app({**app_config, "MAX_CONTENT_LENGTH": 50_000})
    code = factory.poster_of(factory.make_merchant()).code
    big = io.BytesIO(b"\xff\xd8" + b"0" * 100_000)
    response = app.test_client().post(
        f"/c/{code}",
        data={**complaint_form(), "photos": [(big, "big.jpg")]},
        content_type="multipart/form-data",
    )
    app.extensions["kuaisu.engine"].dispose()
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "照片太大" in page and "12315" in page
    assert "Traceback" not in page
    assert "Request Entity Too Large" not in page
    assert _stored(session) == 0


# --- double submits -----------------------------------------------------------------------


def test_same_form_twice_stores_one_case_and_shows_the_same_receipt(
    client: FlaskClient, code: str, session: Session
) -> None:
    form = complaint_form(idem="double-tap-key-0123456789abcdef")
    first = client.post(f"/c/{code}", data=form)
    second = client.post(f"/c/{code}", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _stored(session) == 1


def test_same_key_with_another_phone_is_refused_and_keeps_values(
    client: FlaskClient, code: str, session: Session
) -> None:
    form = complaint_form(idem="reused-key-0123456789abcdef")
    assert client.post(f"/c/{code}", data=form).status_code == 303
    response = client.post(
        f"/c/{code}?lang=en", data={**form, "phone": "13912345678", "description": "另一件事：地板起翘严重。"}
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "This form was already sent" in page
    assert 'value="13912345678"' in page and "另一件事：地板起翘严重。" in page
    assert 'value="reused-key-0123456789abcdef"' not in page  # a fresh key for the next try
    assert _stored(session) == 1


# --- posters that do not work -------------------------------------------------------------


def test_unknown_poster_is_a_friendly_404(client: FlaskClient, factory: Factory) -> None:
    for url in ("/c/ZZZZZZZZZZ", "/c/zzzzzzzzzz", "/c/" + "A" * 40, "/c/%E5%8F%91%E7%A5%A8", "/c/AB.CD"):
        response = client.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == 404, url
        assert "12315" in page and "无法识别此海报" in page


def test_post_to_an_unknown_poster_stores_nothing(client: FlaskClient, session: Session) -> None:
    status, page = _post(client, "ZZZZZZZZZZ")
    assert status == 404
    assert "12315" in page
    assert _stored(session) == 0


def test_revoked_poster_says_so_and_gives_the_station(
    client: FlaskClient, factory: Factory, session: Session
) -> None:
    from portal.register import revoke_and_reissue
    from tests.conftest import NOW

    merchant = factory.make_merchant(name="张记瓷砖")
    old = factory.poster_of(merchant)
    old_code = old.code
    revoke_and_reissue(factory.session, old, reason="海报被复制滥用", now=NOW)
    factory.session.commit()
    response = client.get(f"/c/{old_code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "此海报已失效" in page
    assert "万博装饰市场维权站" in page and "tel:0355-2021234" in page and "12315" in page
    english = client.get(f"/c/{old_code}?lang=en").get_data(as_text=True)
    assert "This poster is no longer valid" in english
    assert _post(client, old_code)[0] == 404
    assert _stored(session) == 0
    new_code = factory.poster_of(merchant).code
    assert client.get(f"/c/{new_code}").status_code == 200

