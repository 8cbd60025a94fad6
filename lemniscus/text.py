"""Text normalisation shared by search, matching and the bridge."""

import re
import unicodedata

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def clean(value: str | None) -> str:
    """NFC-normalised and trimmed; `None` becomes the empty string."""
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value)).strip()


# A lone UTF-16 surrogate (JSON's "\ud800"): Python keeps it in a str, but it has no
# UTF-8 form, so neither PostgreSQL nor a JSON answer can hold it.
SURROGATES = re.compile("[\ud800-\udfff]")


def storable(value, max_length: int | None = None) -> str:
    """`value` as text PostgreSQL can store: a NUL byte (which a text column refuses)
    and a lone surrogate (which UTF-8 cannot encode) become U+FFFD. For recording what
    a client sent, e.g. a malformed id in the sync log; input that is kept as data is
    validated instead (both are refused)."""
    text = SURROGATES.sub("\ufffd", str(value).replace("\x00", "\ufffd"))
    return text[:max_length] if max_length is not None else text


def unencodable_paths(data, prefix: str = "") -> list[str]:
    """Where in parsed JSON (keys and values, dotted paths as in `errors`) a string
    holds a lone surrogate; the paths themselves made storable."""
    found: list[str] = []
    if isinstance(data, str):
        if SURROGATES.search(data):
            found.append(storable(prefix) or "non_field_errors")
    elif isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if SURROGATES.search(str(key)):
                found.append(storable(path))
            else:
                found.extend(unencodable_paths(value, path))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(unencodable_paths(value, f"{prefix}.{index}" if prefix else str(index)))
    return found


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


# What separates the words of a name: "von Bülow", "Weiß-Özdemir", "O'Brien", "St. Clair".
_NAME_SEPARATORS = re.compile(r"[\s\-'’.,]+")


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_forms(word: str) -> list[str]:
    """The folded forms a word is found by: umlauts as "oe" (fold) and as plain "o",
    so that "dörte", "doerte" and "dorte" all find Dörte; ß is "ss" in both."""
    forms = [fold(word), _without_accents(clean(word).casefold())]
    return [form for index, form in enumerate(forms) if form and form not in forms[:index]]


def name_words(*names: str | None) -> list[str]:
    """Every word of the names, in every folded form (word_forms)."""
    words: list[str] = []
    for name in names:
        for word in _NAME_SEPARATORS.split(clean(name)):
            words += [form for form in word_forms(word) if form not in words]
    return words


def split_name_words(term: str) -> list[str]:
    return [word for word in _NAME_SEPARATORS.split(clean(term)) if word]
