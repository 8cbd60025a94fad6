"""What every staff page's template may show."""

UNDO_KEY = "lemniscus.undo"


def offer_undo(request, *, text: str, url: str, fields: dict) -> None:
    """Show `text` with a "Rückgängig" button on the next page: it posts `fields` to
    `url` (the previous values; the view there checks them like any change)."""
    request.session[UNDO_KEY] = {"text": text, "url": url, "fields": fields}


def undo(request) -> dict:
    """The change the next page offers to take back (shown once)."""
    session = getattr(request, "session", None)
    if session is None or UNDO_KEY not in session:
        return {}
    return {"undo": session.pop(UNDO_KEY)}
