"""A module of the app that fails when imported."""


def load() -> int:
    return int("not a number")  # ValueError, line 5


LIMIT = load()
