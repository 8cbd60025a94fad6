from django.db import IntegrityError, transaction


def atomic_with_race_retry(func, /, *args, **kwargs):
    """Run `func` in a transaction; if it loses a race on a unique constraint (twenty
    identical requests at once), run it once more in a new transaction, where it
    finds the winner's row. Inside an outer transaction the first try runs in a
    savepoint; PostgreSQL's READ COMMITTED lets the second see the winner's commit."""
    try:
        with transaction.atomic():
            return func(*args, **kwargs)
    except IntegrityError:
        with transaction.atomic():
            return func(*args, **kwargs)
