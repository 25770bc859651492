"""What may reach an e-mail header. Every value the notifier writes into a header (the subject and the parts
it is made of, display names, addresses, the Message-ID) goes through this module.

Why it is needed beyond "no line breaks": Python's e-mail library decodes RFC 2047 encoded words when a header
value is set (`=?utf-8?q?x=0D=0ABcc=3A_evil=40x?=` becomes "x", CR, LF, "Bcc: evil@x") and, before CPython
3.11.10 / 3.12.5 (CVE-2024-6923), writes the decoded CR/LF back out raw when folding: a plan number or an
agency name written as such a word added real headers (Reply-To, Bcc) or ended the headers early. So:

- control characters (C0, C1, DEL, U+2028/U+2029 and the other line and paragraph separators) become spaces,
  and the value is folded to one line;
- the two-character opener of an encoded word, `=?`, is broken (`= ?`), so no decoder sees a word to decode;
- addresses are built from a validated local part and domain, never parsed from a string.

This does not depend on the interpreter being patched; a patched one is still recommended (docs/security.md).
"""

from __future__ import annotations

import re
import unicodedata
from email.headerregistry import Address

# Longer than any subject or name we write; a header value past it is cut rather than folded forever.
MAX_HEADER_CHARS = 900

# fullmatch, not match with "$": "$" also matches before a final line break.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_MESSAGE_ID_LEFT = re.compile(r"[A-Za-z0-9._-]{1,128}")


class UnsafeHeader(ValueError):
    """A value that cannot be written into a header as it is (an address that is not one plain address)."""


def _is_break_or_control(char: str) -> bool:
    # Cc: C0, DEL and C1 (NUL, CR, LF, NEL …); Zl/Zp: U+2028/U+2029. Cf (zero-width and direction marks) is left:
    # it cannot end a line, and Vietnamese text in some editors carries it.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def header_text(value: object) -> str:
    """`value` as safe header text: one line, no control characters, no encoded word, at most MAX_HEADER_CHARS."""
    text = "".join(" " if _is_break_or_control(c) else c for c in ("" if value is None else str(value)))
    text = " ".join(text.split())
    while "=?" in text:  # a loop, since "==??" becomes "= =? ?" after one pass
        text = text.replace("=?", "= ?")
    return text[:MAX_HEADER_CHARS].rstrip()


def mail_address(name: object, address: str) -> Address:
    """A header address from a display name (made safe) and an address that must be one plain
    `local@domain`: ASCII, no quoting, no comments, no list. Raises UnsafeHeader otherwise."""
    if not isinstance(address, str) or address.count("@") != 1:
        raise UnsafeHeader(f"not a single e-mail address: {address!r}")
    local, domain = address.split("@")
    if not _LOCAL_PART.fullmatch(local) or "=?" in local or len(local) > 64:
        raise UnsafeHeader(f"the local part of {address!r} is not a plain ASCII one")
    if not _DOMAIN.fullmatch(domain) or len(domain) > 253:
        raise UnsafeHeader(f"the domain of {address!r} is not a plain host name")
    return Address(display_name=header_text(name), username=local, domain=domain)


def message_id(left: str, domain: str) -> str:
    """`<left@domain>` from an identifier we issued and the configured domain, both checked."""
    if not _MESSAGE_ID_LEFT.fullmatch(left) or not _DOMAIN.fullmatch(domain):
        raise UnsafeHeader(f"not a Message-ID: <{left!r}@{domain!r}>")
    return f"<{left}@{domain}>"
