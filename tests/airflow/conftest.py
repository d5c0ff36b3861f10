"""Airflow settings for the DAG tests (scripts/airflow.sh exports the same ones).

They must be in the environment before `airflow` is imported, hence here."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("FRAUD_STACK_DIR", Path.home() / ".cache/fraud-stack"))
os.environ.setdefault("AIRFLOW_HOME", str(STATE / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "airflow/dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
