"""Helpers for the emulator's own tests: a thin HTTP helper over requests (real HTTP, no mocks), and an
emulator whose clock runs at real speed."""

from __future__ import annotations

import pytest
import requests

from dli_magic.emulator.testing import SENTINEL_TOKEN


class Api:
    """Calls one emulator's DLI routes with a given auth header set."""

    def __init__(self, emu, headers=None, project_id=None):
        self.emu = emu
        self.session = requests.Session()
        self.headers = {"X-Auth-Token": SENTINEL_TOKEN} if headers is None else headers
        self.project_id = project_id or emu.project_id

    def url(self, tail, project_id=None):
        return f"{self.emu.url}/v1.0/{project_id or self.project_id}/streaming/{tail}"

    def call(self, method, tail, project_id=None, headers=None, **kwargs):
        hdrs = dict(self.headers if headers is None else headers)
        return self.session.request(method, self.url(tail, project_id), headers=hdrs, timeout=10, **kwargs)

    def get(self, tail, **kw):
        return self.call("GET", tail, **kw)

    def post(self, tail, **kw):
        return self.call("POST", tail, **kw)

    def delete(self, tail, **kw):
        return self.call("DELETE", tail, **kw)

    def status(self, job_id):
        return self.emu.get_job(job_id)["status"]


@pytest.fixture
def api(emulator):
    return Api(emulator)


@pytest.fixture
def make_api():
    return Api


@pytest.fixture
def emu(emulator_factory):
    """An emulator accepting the token "t", its clock at speed 1: a behaviour's seconds are seconds, so
    the tests read like the docs."""
    return emulator_factory(token="t", speed=1.0)


@pytest.fixture
def emu_api(emu, make_api):
    """Api on ``emu`` with the token "t"."""
    return make_api(emu, headers={"X-Auth-Token": "t"})
