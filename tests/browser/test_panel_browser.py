"""The panel in a real browser: JupyterLab (and Notebook 7) on 127.0.0.1 with a token, headless Debian
Chromium via Playwright, panel.ipynb run, filter typed, two jobs picked, savepoint ticked, Run clicked,
result rows and the summary seen; screenshots are kept under artifacts/browser/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dli_magic.emulator.testing import SENTINEL_TOKEN

from lab import CHROMIUM, CHROMIUM_ARGS, NOTEBOOK_PATHS, jupyterlab

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"

KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_panel_runs_two_jobs_with_savepoint_in_the_browser(app, emulator, tmp_path):
    if not Path(CHROMIUM).exists():
        # scripts/test installs it; in CI a missing browser is a failure, on a laptop without root a skip.
        message = f"{CHROMIUM} is missing (scripts/test installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    expect = playwright_api.expect
    picked = [
        emulator.create_job(name="browser-orders-etl", status="job_cancel_success", has_savepoint=True),
        emulator.create_job(name="browser-clicks-agg", status="job_init"),
    ]
    emulator.create_job(name="unrelated-job", status="job_init")
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "panel.ipynb", root / "panel.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kernel_env = {
        "DLI_ENDPOINT": emulator.url,
        "DLI_AUTH_TOKEN": SENTINEL_TOKEN,
        "DLI_PROJECT_ID": emulator.project_id,
    }
    log = ARTIFACTS / f"jupyter-{app}.log"
    with jupyterlab(root, tmp_path / "home", log, kernel_env, app=app) as (base, token):
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            try:
                page.goto(f"{base}/{NOTEBOOK_PATHS[app]}/panel.ipynb?token={token}")
                page.wait_for_function(KERNEL_READY, timeout=90_000)
                page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                panel = page.locator(".dli-panel")
                panel.wait_for(timeout=60_000)
                expect(panel.locator(".dli-jobs select option").first).to_be_visible(timeout=30_000)

                panel.locator(".dli-filter input").fill("browser-")
                options = panel.locator(".dli-jobs select option")
                expect(options).to_have_count(2, timeout=15_000)
                panel.locator(".dli-jobs select").select_option(index=[0, 1])
                panel.locator(".dli-savepoint input[type=checkbox]").check()
                run = panel.locator("button.dli-run")
                expect(run).to_be_enabled(timeout=10_000)
                run.click()

                summary = panel.locator(".dli-summary")
                expect(summary).to_contain_text("2 ok", timeout=60_000)
                table = panel.locator(".dli-output table")
                for job_id in picked:
                    expect(table).to_contain_text(str(job_id), timeout=30_000)
                page.screenshot(path=str(ARTIFACTS / f"panel-{app}.png"), full_page=True)
                html = page.content()
            except Exception:
                page.screenshot(path=str(ARTIFACTS / f"panel-{app}-failure.png"), full_page=True)
                raise
            finally:
                browser.close()

    assert SENTINEL_TOKEN not in html
    runs = [e for e in emulator.request_log() if e["method"] == "POST" and e["path"].endswith("/jobs/run")]
    assert len(runs) == 1
    assert sorted(runs[0]["body"]["job_ids"]) == sorted(picked)
    assert runs[0]["body"]["resume_savepoint"] is True
