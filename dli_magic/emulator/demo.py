"""``--demo``: a realistic set of jobs (names, types, statuses, savepoints, behaviours) in the default project."""

from __future__ import annotations

from .behaviours import CRASH_LOOP, FAIL, RESUME_FAIL, SAVEPOINT_FAIL, SUBMIT_FAIL
from .store import JobStore

DEMO_BUCKET = "dli-demo"
# Jobs that act up, to show what health checks and restarts find (the others are healthy).
DEMO_BEHAVIOURS = {
    142: {"kind": SUBMIT_FAIL, "reason": "Submit failed: the queue dli_dev has no free CUs."},
    155: {"kind": SAVEPOINT_FAIL},
    171: {"kind": CRASH_LOOP, "after": 20, "every": 15,
          "reason": "Job is running with exception: TaskManager lost; restarting."},
    219: {"kind": RESUME_FAIL},
    230: {"kind": FAIL, "after": 30},
}

_DAY_MS = 86_400_000
# Statuses of a job that never ran: no start_time, duration 0.
_NEVER_STARTED = frozenset({"job_init", "job_submit_fail"})

# (job_id, name, job_type, status, queue, has_savepoint, age in days, user)
DEMO_JOBS = (
    (130, "orders_enrichment", "flink_sql_job", "job_running", "dli_prod", False, 12.0, None),
    (131, "clickstream_sessionize", "flink_opensource_sql_job", "job_cancel_success", "dli_prod", True, 11.5, None),
    (137, "payments_fraud_score", "flink_jar_job", "job_running", "dli_prod", True, 9.0, "ops_anna"),
    (138, "inventory_cdc_sync", "flink_opensource_sql_job", "job_init", "dli_dev", False, 8.2, None),
    (142, "sensor_anomaly_detect", "flink_sql_job", "job_submit_fail", "dli_dev", False, 7.0, "ops_anna"),
    (155, "ad_impressions_rollup", "flink_opensource_sql_job", "job_finish", "dli_prod", False, 6.1, None),
    (160, "user_profile_updater", "flink_jar_job", "job_cancel_success", "dli_dev", False, 5.0, "dev_kai"),
    (171, "logistics_eta_stream", "flink_opensource_sql_job", "job_running_exception", "dli_prod", True, 4.0, None),
    (188, "kafka_to_obs_archive", "flink_sql_job", "job_idle", "dli_dev", False, 3.0, "dev_kai"),
    (204, "billing_events_dedup", "flink_opensource_sql_job", "job_init", "dli_prod", False, 2.0, None),
    (219, "iot_window_agg", "flink_jar_job", "job_arrearage_stopped", "dli_dev", True, 1.0, None),
    (230, "search_query_trends", "flink_opensource_sql_job", "job_cancel_fail", "dli_prod", False, 0.5, "ops_anna"),
)

_SQL = (
    "CREATE SOURCE STREAM src (id BIGINT, payload STRING) WITH (type = \"kafka\");\n"
    "INSERT INTO sink SELECT id, payload FROM src;"
)


LOAD_QUEUES = ("dli_prod", "dli_dev", "dli_batch")
LOAD_TYPES = ("flink_opensource_sql_job", "flink_sql_job", "flink_jar_job")
MAX_LOAD_JOBS = 1_000_000


def seed_load(store: JobStore, project_id: str, count: int, now_ms: int, default_user: str) -> list[int]:
    """``--jobs N``: N plain jobs that were never run (job_init, so any of them can be run), one a
    minute apart back from now, across three queues and types, with env/shard tags."""
    jobs = (
        dict(
            name=f"load_job_{i:06d}",
            job_type=LOAD_TYPES[i % len(LOAD_TYPES)],
            status="job_init",
            queue_name=LOAD_QUEUES[i % len(LOAD_QUEUES)],
            user_name=default_user,
            create_time=now_ms - (count - i) * 60_000,
            desc="Load test job",
            sql_body=None if i % len(LOAD_TYPES) == 2 else _SQL,
            tags=[{"key": "env", "value": "prod" if i % 2 else "dev"}, {"key": "shard", "value": str(i % 10)}],
        )
        for i in range(count)
    )
    return store.create_many(project_id, jobs)


def seed_demo(store: JobStore, project_id: str, now_ms: int, default_user: str) -> list[int]:
    ids = []
    for job_id, name, job_type, status, queue, savepoint, age_days, user in DEMO_JOBS:
        created = now_ms - int(age_days * _DAY_MS)
        started = None if status in _NEVER_STARTED else created + 60_000
        fields = dict(
            job_id=job_id,
            name=name,
            job_type=job_type,
            status=status,
            queue_name=queue,
            user_name=user or default_user,
            create_time=created,
            start_time=started,
            has_savepoint=savepoint,
            savepoint_path=f"obs://dli-demo/savepoints/{name}/sp-{job_id}" if savepoint else None,
            desc=f"Demo job {name.replace('_', ' ')}",
            sql_body=None if job_type == "flink_jar_job" else _SQL,
            main_class="com.example.flink.Main" if job_type == "flink_jar_job" else None,
            tags=[{"key": "env", "value": "prod" if queue == "dli_prod" else "dev"},
                  {"key": "team", "value": "data" if job_id % 2 else "platform"}],
            restart_times=1 if status == "job_running_exception" else 0,
            # stopped jobs ran for a while (running ones get their duration from the clock)
            duration=int(age_days * 3_600_000) if started else 0,
            job_config={"obs_bucket": DEMO_BUCKET, "cu_number": 4 if queue == "dli_prod" else 2,
                        "parallel_number": 2 if queue == "dli_prod" else 1,
                        "checkpoint_enabled": queue == "dli_prod", "checkpoint_interval": 30},
        )
        if status == "job_submit_fail":
            fields["status_desc"] = "Submit failed: the queue dli_dev has no free CUs."
        if status == "job_running_exception":
            fields["status_desc"] = "Job is running with exception: TaskManager lost; restarting."
        ids.append(store.create(project_id, fields, DEMO_BEHAVIOURS.get(job_id)))
    return ids
