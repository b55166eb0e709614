"""``multipart/form-data`` parsing with the standard library's email parser."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.parser import BytesParser


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field of a form; ``filename`` is set for file fields."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str = "text/plain"

    @property
    def text(self) -> str:
        """The field's value as text."""
        return self.data.decode("utf-8", errors="replace")


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """Parse a multipart body; the first field of each name wins. Raises ``ValueError``."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in (
        content_type.lower()
    ):
        raise ValueError("expected multipart/form-data with a boundary")
    # The email parser wants a whole MIME message: synthesize its header.
    head = f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    fields: dict[str, FormPart] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = FormPart(
            name=name,
            data=data,
            filename=part.get_filename(),
            content_type=part.get_content_type(),
        )
    return fields
