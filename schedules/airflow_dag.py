"""Airflow example: imgkit's weekly reports, one task per notebook, executed by Papermill.

Copy this file into your Airflow ``dags/`` folder on a worker where imgkit is installed (``make install``
also registers the ``imgkit`` Jupyter kernel) and set ``IMGKIT_ROOT`` to the checkout. Each task calls
:func:`imgkit.reports.run_report`, which runs the notebook through Papermill with the parameters of
``schedules/weekly.yaml`` and writes ``reports/<name>/<timestamp>/`` (executed notebook, HTML, PNG figures)
plus ``reports/index.html``. A failing notebook raises ``ReportError`` naming the cell, which fails the task.

With the Papermill provider installed instead (``apache-airflow-providers-papermill``), the equivalent task is::

    PapermillOperator(
        task_id="model_ratings",
        input_nb=f"{IMGKIT_ROOT}/notebooks/model_ratings.ipynb",
        output_nb=f"{IMGKIT_ROOT}/reports/model_ratings/{{{{ ts_nodash }}}}/model_ratings.ipynb",
        parameters={"bootstrap": 1000},
        kernel_name="imgkit",
    )

but it writes only the notebook (no HTML, figures or index) and does not refuse secret-looking parameters.
API keys come from the worker's environment or an Airflow connection exported as an environment variable;
never pass them as parameters.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from airflow import DAG
from airflow.operators.python import PythonOperator

IMGKIT_ROOT = Path(os.environ.get("IMGKIT_ROOT", Path(__file__).resolve().parents[1]))
REPORTS = (
    "provider_performance",
    "model_ratings",
    "elo_vs_speed",
    "cost_projection",
    "comparison_grid",
    "spend_reconciliation",
)


def run_imgkit_report(name: str) -> str:
    """Execute one report notebook with the weekly parameters; returns the path of its HTML page."""
    from imgkit.reports import run_report

    run = run_report(
        name,
        params_file=IMGKIT_ROOT / "schedules" / "weekly.yaml",
        out_dir=IMGKIT_ROOT / "reports",
        progress=False,
        notebooks_dir=IMGKIT_ROOT / "notebooks",
    )
    return str(run.html)


with DAG(
    dag_id="imgkit_weekly_reports",
    schedule="0 6 * * 1",  # Mondays 06:00, as the cron line in schedules/README.md
    start_date=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    catchup=False,
    tags=["imgkit", "reports"],
) as dag:
    for report in REPORTS:
        PythonOperator(task_id=report, python_callable=run_imgkit_report, op_kwargs={"name": report})
