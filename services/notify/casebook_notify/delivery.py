"""Sending reminders and alerts out: e-mail over SMTP, SMS and webhooks over HTTP. Each
message carries its stable id as idempotency key (Message-ID, Idempotency-Key header) so a
receiver can drop a repeat."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any


class DeliveryError(Exception):
    """Sending failed. `permanent` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def send_email(
    host: str, port: int, sender: str, to: str, subject: str, body: str, message_id: str
) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}@casebook>"
    message.set_content(body)
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        # 4xx answers ("try again later", greylisting) are temporary; only 5xx are final.
        codes = [code for code, _ in error.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        raise DeliveryError("recipient refused", permanent=permanent) from error
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(f"SMTP {error.smtp_code}", permanent=error.smtp_code >= 500) from error
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"SMTP unreachable: {type(error).__name__}", permanent=False) from error


def post_json(url: str, body: dict[str, Any], idempotency_key: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - the URL is operator configuration
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as error:
        # Client errors will not get better by retrying, except throttling and timeouts.
        permanent = 400 <= error.code < 500 and error.code not in (408, 429)
        raise DeliveryError(f"HTTP {error.code}", permanent=permanent) from error
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"HTTP unreachable: {type(error).__name__}", permanent=False) from error
