from tests.zipper.conftest import doctolib_token, plugin  # noqa: F401 - shared fixtures
