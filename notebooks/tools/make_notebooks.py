"""Writes the example notebooks from source (run from the repo root: python notebooks/tools/make_notebooks.py).

Edit here, not in the .ipynb files, so the notebooks stay reviewable as code."""
import nbformat as nbf
from nbformat.v4 import new_notebook, new_markdown_cell as md, new_code_cell as code

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}
SETUP = code("# Use your DLI settings (env vars or ~/.config/dli-magic/config.toml);\n"
             "# with none, a local DLI emulator with demo jobs starts in this kernel.\n"
             "from dli_magic.local import ensure_service\n"
             "print(ensure_service())")

def save(path, cells):
    nb = new_notebook(cells=cells, metadata=KERNEL)
    nbf.write(nb, path)

save("notebooks/quickstart.ipynb", [
    md("# dli-magic quickstart\n\nRun Data Lake Insight Flink jobs from a notebook: list them, start a batch "
       "(with or without savepoints), wait for them, see failures as rows, preview a request, and use the "
       "plain Python API.\n\nNothing secret goes on a magic line: credentials come from environment "
       "variables, the profile file `~/.config/dli-magic/config.toml` or `%dli_login`."),
    SETUP,
    code("%load_ext dli_magic"),
    md("Where every setting comes from (secrets show as `***`):"),
    code("%dli_config"),
    md("## The job list\n`%dli_jobs` pages through the whole list; `--status`, `--name` and `--type` filter it."),
    code("jobs = %dli_jobs\njobs"),
    code("idle = jobs[~jobs.status.isin(['job_running', 'job_submitting', 'job_canceling', 'job_savepointing'])]\n"
         "has_sp = idle.has_savepoint.fillna(False)\n"
         "batch = idle[~has_sp].job_id.head(3).tolist()\n"
         "with_savepoint = idle[has_sp].job_id.head(2).tolist()\n"
         "batch, with_savepoint"),
    md("## Run a batch\nOne row per job, in the order asked. `$name` passes a Python list, range or "
       "`job_id` column; ids can also be typed as `131 130`, `131,130` or `130-138`."),
    code("df = %dli_run $batch\ndf"),
    md("## Resume from savepoints, and wait\n`--wait` polls the job list (one request per 100 jobs) until "
       "each job has left `job_submitting`; Ctrl-C stops waiting, never the jobs."),
    code("resumed = %dli_run $with_savepoint --resume-savepoint --wait --timeout 120\nresumed"),
    md("## A failure is a row, not an exception\nA job that is already running and an id that does not exist:"),
    code("failures = %dli_run {batch[0]} 999999\nfailures"),
    md("Add `--strict` to raise instead (for scheduled notebooks)."),
    md("## Preview without sending\n`--dry-run` validates everything and shows the exact request, secrets "
       "redacted; nothing is sent."),
    code("%dli_run {batch[1]} {batch[2]} --resume-savepoint --dry-run"),
    md("## The plain Python API\nThe same calls without IPython, e.g. in a script or a scheduler:"),
    code("import dli_magic\n\n"
         "stopped = dli_magic.stop_jobs(batch, trigger_savepoint=True, wait=True, timeout=120)\n"
         "stopped[['job_id', 'name', 'is_success', 'status']]"),
    code("result = dli_magic.run_jobs(batch, resume_savepoint=True, wait=True, timeout=120)\n"
         "result.attrs['endpoint'], result.attrs['attempts']"),
    code("result", metadata={"tags": ["result"]}),
])

save("notebooks/panel.ipynb", [
    md("# The job panel\n\nPick jobs from the live list, tick *Resume from savepoint*, press **Run** and "
       "inspect the result. The panel works in JupyterLab, Notebook 7 and VS Code (core widgets only)."),
    SETUP,
    code("%load_ext dli_magic"),
    code("panel = %dli_panel\npanel"),
    md("`panel.result` holds the DataFrame of the last Run or Stop (same columns as `%dli_run`), "
       "`panel.last_error` the last error, and every press is recorded in `%dli_history`."),
])

save("notebooks/run-analysis.ipynb", [
    md("# Analysing run history\n\nEvery `%dli_run`, `%dli_stop` and panel run is recorded (one row per "
       "job) in a local SQLite file. This notebook looks at success rates by job and over time, and at the "
       "failure messages."),
    SETUP,
    code("%load_ext dli_magic\nimport dli_magic\nimport pandas as pd"),
    md("On a fresh machine the history is empty, so against the local emulator we first make some: "
       "a few batches, some of which hit jobs that are already running or do not exist."),
    code("from dli_magic import local\n\n"
         "if local.started_here() and len(dli_magic.history()) < 20:\n"
         "    job_ids = dli_magic.list_jobs().job_id.head(6).tolist()\n"
         "    for round_no in range(4):\n"
         "        # Every other round also asks for a job that does not exist.\n"
         "        extra = [990_000 + round_no] if round_no % 2 else []\n"
         "        dli_magic.run_jobs(job_ids[round_no % 3:] + extra, wait=True, timeout=60)\n"
         "        dli_magic.stop_jobs(job_ids[: 2 + round_no], wait=True, timeout=60)"),
    code("hist = %dli_history\nhist.tail()"),
    md("## Success rate by job"),
    code("hist['ok'] = hist.is_success.fillna(False).astype(int)\n"
         "by_job = (hist.groupby(['job_id', 'name'], dropna=False)\n"
         "              .agg(calls=('ok', 'size'), accepted=('ok', 'sum'))\n"
         "              .assign(success_rate=lambda d: d.accepted / d.calls)\n"
         "              .sort_values('success_rate'))\n"
         "by_job"),
    md("## Over time\nOne point per run (a `%dli_run`, `%dli_stop` or panel press), in the order they happened."),
    code("import matplotlib.pyplot as plt\n\n"
         "runs = (hist.groupby('run_id')\n"
         "            .agg(started=('started', 'first'), action=('action', 'first'), jobs=('ok', 'size'), accepted=('ok', 'sum'))\n"
         "            .sort_values('started'))\n"
         "runs['success_rate'] = runs.accepted / runs.jobs\n"
         "fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))\n"
         "by_job['success_rate'].plot.barh(ax=left, xlim=(0, 1), title='Success rate by job')\n"
         "for action, part in runs.groupby('action'):\n"
         "    right.plot(part.started, part.success_rate, marker='o', label=action)\n"
         "right.set(title='Success rate per run', ylim=(-0.05, 1.05))\n"
         "right.legend()\n"
         "fig.autofmt_xdate()\n"
         "plt.show()"),
    md("## Why calls failed"),
    code("failures = hist[hist.is_success.eq(False).fillna(False)]\n"
         "failures.message.str.replace(r'\\d+', 'N', regex=True).value_counts().head(10)"),
])
