"""Text normalisation shared by search, matching and the bridge."""

import unicodedata

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def clean(value: str | None) -> str:
    """NFC-normalised and trimmed; `None` becomes the empty string."""
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value)).strip()


def storable(value, max_length: int | None = None) -> str:
    """`value` as text PostgreSQL can store: a NUL byte (which a text column refuses)
    becomes U+FFFD. For recording what a client sent, e.g. a malformed id in the sync
    log; input that is kept as data is validated instead (NUL is refused)."""
    text = str(value).replace("\x00", "\ufffd")
    return text[:max_length] if max_length is not None else text


def is_ascii_number(value: str) -> bool:
    """Only 0-9 (str.isdigit also takes "²" and "١", which int() refuses or reads)."""
    return value.isascii() and value.isdigit()


def has_nul(value: str | None) -> bool:
    return value is not None and "\x00" in value


def fold(value: str | None) -> str:
    """The search form of a name: case folded, ä/ö/ü → ae/oe/ue, ß → ss, other
    diacritics removed ("Müller" and "MUELLER" fold alike, "Zoë" to "zoe")."""
    text = clean(value).casefold().translate(_UMLAUTS)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
