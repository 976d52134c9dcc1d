"""Where the emulator's routes start: the DLI API (the contract's prefix) and the admin routes."""

from __future__ import annotations

from ..contract import API_PREFIX

DLI_PATH_START = API_PREFIX.split("{", 1)[0]  # the part before the project id: "/v1.0/"
ADMIN_PATH_START = "/_emulator"
