"""Text normalisation shared by search, matching and the bridge."""

import unicodedata

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def clean(value: str | None) -> str:
    """NFC-normalised and trimmed; `None` becomes the empty string."""
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value)).strip()


def fold(value: str | None) -> str:
    """The search form of a name: case folded, ä/ö/ü → ae/oe/ue, ß → ss, other
    diacritics removed ("Müller" and "MUELLER" fold alike, "Zoë" to "zoe")."""
    text = clean(value).casefold().translate(_UMLAUTS)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
