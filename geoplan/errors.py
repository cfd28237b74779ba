"""User-facing errors.

Every problem with the user's input is raised as :class:`GeoplanError` with a one-line
message that names the file, row or setting and says what to do. The CLI prints the
message (no traceback unless ``-v``) and exits with a non-zero code.
"""

from __future__ import annotations


class GeoplanError(Exception):
    """An error caused by input or configuration, shown to the user as one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(GeoplanError):
    """The configuration file is invalid (unknown key, wrong type, missing file ...)."""


class InputDataError(GeoplanError):
    """An input data file is unreadable or does not hold what the config says."""


class NetworkError(GeoplanError):
    """The walking network cannot be built or is unusable (empty, disconnected ...)."""
