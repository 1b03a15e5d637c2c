"""A small client for Flink's REST API (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from pipectl.errors import PipectlError, UnhealthyError


class FlinkRestError(PipectlError):
    pass


class FlinkRest:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                errors = json.loads(detail).get("errors", [])
                detail = errors[0].splitlines()[0] if errors else detail
            except ValueError:
                pass
            raise FlinkRestError(f"Flink REST {method} {path} failed: HTTP {exc.code} {detail}".strip()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise UnhealthyError(
                f"cannot reach the Flink REST API at {self.base} ({getattr(exc, 'reason', exc)})",
                hint="start the stack with 'pipectl local up'",
            ) from None
        return json.loads(raw) if raw else {}

    def get(self, path: str) -> Any:
        """Any GET of the REST API (metrics, backpressure, ...), decoded from JSON."""
        return self._call("GET", path)

    def overview(self) -> dict:
        return self._call("GET", "/overview")

    def jobs(self) -> list[dict]:
        return self._call("GET", "/jobs/overview").get("jobs", [])

    def job(self, job_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}")

    def checkpoints(self, job_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}/checkpoints")

    def exceptions(self, job_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}/exceptions?maxExceptions=5")

    def stop_with_savepoint(self, job_id: str, target_dir: str) -> str:
        body = {"targetDirectory": target_dir, "drain": False, "formatType": "CANONICAL"}
        return self._call("POST", f"/jobs/{job_id}/stop", body)["request-id"]

    def savepoint_status(self, job_id: str, trigger_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}/savepoints/{trigger_id}")

    def cancel(self, job_id: str) -> None:
        self._call("PATCH", f"/jobs/{job_id}?mode=cancel")

    def subtask_metrics(self, job_id: str, vertex_id: str, names: list[str] | None = None) -> list[dict]:
        """Metric ids of a vertex's subtasks, or (with `names`) their min/max/avg/sum."""
        query = f"?get={','.join(names)}" if names else ""
        result: object = self._call("GET", f"/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics{query}")
        return [m for m in result if isinstance(m, dict)] if isinstance(result, list) else []

    def taskmanagers(self) -> list[dict]:
        return self._call("GET", "/taskmanagers").get("taskmanagers", [])
