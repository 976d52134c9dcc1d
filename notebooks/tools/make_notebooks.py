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
    code("%load_ext dli_magic\n"
         "import pandas as pd\n"
         "# Show whole messages (pandas cuts cells at 50 characters) and keep wide tables in one block.\n"
         "pd.set_option(\"display.max_colwidth\", 200)\n"
         "pd.set_option(\"display.width\", 320)"),
    md("Where every setting comes from (secrets show as `***`):"),
    code("%dli_config"),
    md("## The job list\n`%dli_jobs` pages through the whole list; `--status`, `--name` and `--type` filter it."),
    code("jobs = %dli_jobs\njobs"),
    md("## Pick jobs\nThe rest of this notebook **starts and stops jobs**. It picks idle ones itself only on the "
       "local emulator; against a real DLI, put the ids of jobs you own in the cell below."),
    code("from dli_magic.local import is_local_emulator\n\n"
         "if is_local_emulator():\n"
         "    idle = jobs[~jobs.status.isin(['job_running', 'job_submitting', 'job_canceling', 'job_savepointing'])]\n"
         "    has_sp = idle.has_savepoint.fillna(False)\n"
         "    batch = idle[~has_sp].job_id.head(3).tolist()\n"
         "    with_savepoint = idle[has_sp].job_id.head(2).tolist()\n"
         "else:\n"
         "    # A real DLI: put job ids you own here (three idle jobs, and one or two with a savepoint).\n"
         "    batch = []\n"
         "    with_savepoint = []\n"
         "assert len(batch) >= 3 and with_savepoint, (\n"
         "    'This quickstart starts and stops jobs, so it picks them itself only on the local DLI emulator. '\n"
         "    'Put the ids of jobs you own in batch (3 idle jobs) and with_savepoint (1-2 jobs with a savepoint) '\n"
         "    'in this cell, then run it again.')\n"
         "batch, with_savepoint"),
    md("## Run a batch, and check that it really runs\nOne row per job, in the order asked. `$name` passes a "
       "Python list, range or `job_id` column; ids can also be typed as `131 130`, `131,130` or `130-138`.\n\n"
       "`--wait --stable 30` waits until the jobs are running, then watches them for 30 seconds: a job that "
       "leaves `job_running`, restarts, or whose Flink state is not `RUNNING` at the end is **unhealthy** "
       "(`healthy` column, the reason in `message`, the service's own words in `status_desc`)."),
    code("df = %dli_run $batch --wait --stable 30\ndf"),
    md("## One job in detail\n`%dli_job` shows everything about one job: its status and why, times, restarts, "
       "savepoint, queue, CUs, checkpoints, the SQL and Flink's own state. Here, the least healthy job of "
       "the batch:"),
    code("worst = df.sort_values('healthy', na_position='first').job_id.iloc[0]\n%dli_job {worst}"),
    md("## Resume from savepoints, and wait\n`--wait` reads the statuses until each job has left "
       "`job_submitting` (each round lists only the jobs still submitting); Ctrl-C stops waiting, never the jobs."),
    code("resumed = %dli_run $with_savepoint --resume-savepoint --wait --timeout 120\nresumed"),
    md("## A failure is a row, not an exception\nA job that is already running and an id that does not exist:"),
    code("running = df[df.status == 'job_running'].job_id.iloc[0]\nfailures = %dli_run {running} 999999\nfailures"),
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
    md("# The job console\n\nThe project's Flink jobs in a live table: sort by a column, type in *Search* "
       "to filter, pick rows with click, shift-click (a range) or ctrl/cmd-click. The table refreshes "
       "every 10 s while it is on screen (*Pause*, *every*), and keeps your selection, search and sort.\n\n"
       "The buttons act on the selected jobs their status allows and say how many: **Run** (tick *Resume "
       "from savepoint*), **Stop** (tick *Trigger savepoint*), **Restart** with a savepoint. More than 20 "
       "jobs take a second click. One selected job shows its details beside the table. It works in "
       "JupyterLab, Notebook 7 and VS Code, offline."),
    SETUP,
    code("%load_ext dli_magic"),
    code("panel = %dli_panel\npanel"),
    md("`panel.result` holds the DataFrame of the last action (same columns as `%dli_run`), "
       "`panel.selected_ids` the selection, `panel.last_error` the last error, and every action is "
       "recorded in `%dli_history`. `dli_magic.panel(refresh_interval=30)` refreshes less often."),
])

save("notebooks/run-analysis.ipynb", [
    md("# Analysing run history\n\nEvery `%dli_run`, `%dli_stop` and panel run is recorded (one row per "
       "job) in a local SQLite file. This notebook looks at the share of run and stop requests the service "
       "accepted, by job and over time, and at the failure messages. It analyses only the runs against the "
       "endpoint and project this notebook is connected to."),
    SETUP,
    code("%load_ext dli_magic\nimport dli_magic\nimport pandas as pd\n"
         "pd.set_option(\"display.max_colwidth\", 200)  # whole messages\n"
         "pd.set_option(\"display.width\", 320)\n\n"
         "client = dli_magic.connect()  # the endpoint and project to analyse\n\n"
         "def this_service(hist):\n"
         "    \"\"\"Only the runs against the current endpoint and project.\"\"\"\n"
         "    same = (hist.endpoint == client.endpoint) & (hist.project_id == client.project_id)\n"
         "    return hist[same.fillna(False)].copy()\n\n"
         "client.endpoint, client.project_id"),
    md("On a fresh machine the history is empty, so on the local emulator (and only there: this starts and "
       "stops jobs) we first make some: a few batches, some of which hit jobs that are already running or "
       "do not exist."),
    code("from dli_magic import local\n\n"
         "if local.is_local_emulator() and len(this_service(dli_magic.history())) < 20:\n"
         "    job_ids = dli_magic.list_jobs().job_id.head(6).tolist()\n"
         "    for round_no in range(4):\n"
         "        # Every other round also asks for a job that does not exist.\n"
         "        extra = [990_000 + round_no] if round_no % 2 else []\n"
         "        dli_magic.run_jobs(job_ids[round_no % 3:] + extra, wait=True, timeout=60)\n"
         "        dli_magic.stop_jobs(job_ids[: 2 + round_no], wait=True, timeout=60)"),
    code("hist = %dli_history\nhist = this_service(hist)\n"
         "hist[['started', 'action', 'job_id', 'name', 'is_success', 'message', 'status']].tail()"),
    md("## Accepted requests by job\nThe share of run and stop requests for each job that the service accepted."),
    code("hist['ok'] = hist.is_success.fillna(False).astype(int)\n"
         "hist['job'] = hist.name.fillna('unknown job') + ' (' + hist.job_id.astype(str) + ')'\n"
         "by_job = (hist.groupby('job')\n"
         "              .agg(requests=('ok', 'size'), accepted=('ok', 'sum'))\n"
         "              .assign(share_accepted=lambda d: d.accepted / d.requests)\n"
         "              .sort_values(['share_accepted', 'requests']))\n"
         "by_job"),
    md("## Over time\nOne point per call (a `%dli_run`, `%dli_stop` or panel press), in the order they happened."),
    code("import matplotlib.pyplot as plt\n"
         "from matplotlib.dates import DateFormatter\n"
         "from matplotlib.ticker import PercentFormatter\n\n"
         "runs = (hist.groupby('run_id')\n"
         "            .agg(started=('started', 'first'), action=('action', 'first'), jobs=('ok', 'size'), accepted=('ok', 'sum'))\n"
         "            .sort_values('started'))\n"
         "runs['started'] = pd.to_datetime(runs.started)\n"
         "runs['share_accepted'] = runs.accepted / runs.jobs\n\n"
         "fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(3.5, 0.4 * len(by_job) + 1.5)),\n"
         "                                  gridspec_kw={'width_ratios': [1, 1.2]})\n"
         "bars = left.barh(by_job.index, by_job.share_accepted, color='tab:blue')\n"
         "left.bar_label(bars, labels=[f'{a} of {n}' for a, n in zip(by_job.accepted, by_job.requests)], padding=3)\n"
         "left.set(title='By job', xlabel='share of run/stop requests accepted', xlim=(0, 1))\n"
         "left.xaxis.set_major_formatter(PercentFormatter(1.0))\n"
         "for action, part in runs.groupby('action'):\n"
         "    right.plot(part.started, part.share_accepted, marker='o', label=f'{action} calls')\n"
         "right.set(title='Per call, over time', xlabel='time the call started (UTC)',\n"
         "          ylabel='share of requests accepted', ylim=(-0.05, 1.05))\n"
         "right.yaxis.set_major_formatter(PercentFormatter(1.0))\n"
         "right.xaxis.set_major_formatter(DateFormatter('%H:%M:%S'))\n"
         "right.tick_params(axis='x', labelrotation=30)  # only the time axis is tilted\n"
         "right.legend()\n"
         "fig.suptitle('Share of run/stop requests accepted')\n"
         "fig.tight_layout()\n"
         "plt.show()"),
    md("## Why calls failed\nThe most common failure messages, with job ids replaced by `N` (error codes such "
       "as `DLI.16001` are kept)."),
    code("failures = hist[hist.is_success.eq(False).fillna(False)]\n"
         "failures.message.str.replace(r'(?<![.\\d])\\d+', 'N', regex=True).value_counts().head(10)"),
])
