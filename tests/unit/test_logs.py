"""No secret reaches a log record, whichever logger writes it and however."""

from __future__ import annotations

import logging

from elyune_adapters import logs

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def test_every_logger_masks_tokens_signatures_keys_and_passwords(caplog):
    logs.install()
    logs.install()  # idempotent
    caplog.set_level(logging.DEBUG)
    some_sdk = logging.getLogger("some.sdk.transport")
    some_sdk.debug("GET %s", "https://api.example.com/v1?key=AIzaSECRETKEY&alt=json")
    some_sdk.info("headers: {'Authorization': 'Token dg-SECRET-KEY'}")
    some_sdk.warning("retrying with Bearer %s", TOKEN)
    logging.getLogger("aiohttp.server").error(
        "bad request line %r", b"PUT /api/v1/storage/k?op=put&sig=SIGSECRET\x7f HTTP/1.1"
    )
    try:
        raise ValueError(f'body {{"password": "hunter2hunter2", "refresh": "{TOKEN}"}}')
    except ValueError:
        logging.getLogger("elyune.http").exception("crashed")
    logging.getLogger("x").info("created whsec_SECRETwebhookKEY for %s", "alice")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for secret in (
        "AIzaSECRETKEY",
        "dg-SECRET-KEY",
        TOKEN,
        "SIGSECRET",
        "hunter2",
        "SECRETwebhook",
    ):
        assert secret not in text, secret
    assert "crashed" in text and "ValueError" in text  # the rest of the record stays
    assert "alice" in text and "retrying with Bearer [redacted]" in text
