"""The compose stack for real: scaling workers, killing them, restarting Redis, stopping workers, and the
tester container. Every test starts its own project and tears it down, volumes included."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgqueue_client import Client
from imgqueue_client.statuses import PROCESSING
from imgqueue_dev.compose import ComposeStack, bridge_gateway, compose_project, docker
from imgqueue_dev.procs import free_port
from imgqueue_dev.swarm import single_node_swarm, swarm_stack
from imgqueue_dev.waiting import Deadline, wait_until
from imgqueue_tester.samples import generate

from .conftest import FAST

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SIZE = {"width": "200", "height": "150"}  # cover: every output is exactly 200x150


@pytest.fixture
def photos(tmp_path: Path) -> Callable[[int], list[Path]]:
    def make(count: int) -> list[Path]:
        return generate(tmp_path / f"photos{count}", count, seed=count, max_side=1200)

    return make


def upload_all(stack: ComposeStack, paths: list[Path], timeout: float = 120) -> list[str]:
    deadline = Deadline(timeout, "every upload to be acknowledged")
    ids = [stack.upload(p, deadline, **SIZE) for p in paths]
    assert all(ids), "every upload must be acknowledged"
    return [i for i in ids if i]


def assert_all_done_and_whole(stack: ComposeStack, records: list[dict[str, Any]], count: int) -> None:
    assert len(records) == count, f"{count - len(records)} jobs lost"
    failed = [(r["filename"], r["error"]) for r in records if r["status"] != "done"]
    assert not failed, failed
    outputs = stack.outputs()
    for record in records:
        name = Path(record["output_path"]).name
        assert name in outputs, f"output of {record['id']} missing"
        assert outputs[name] == [200, 150, record["output_bytes"]], (name, outputs[name])
    visible = [n for n in outputs if not n.startswith(".")]
    assert len(visible) == count
    broken = {n: v for n, v in outputs.items() if isinstance(v, str)}
    assert not {n: v for n, v in broken.items() if not n.startswith(".")}, broken


def worker_hosts(records: list[dict[str, Any]]) -> set[str]:
    return {r["worker"].split(".")[0] for r in records}


def test_three_workers_share_thirty_images(make_stack: Callable[..., Any], photos: Callable[[int], list[Path]]) -> None:
    with make_stack(workers=3) as stack:
        assert len(stack.containers("worker")) == 3
        ids = upload_all(stack, photos(30))
        records = stack.wait_finished(ids)
        assert_all_done_and_whole(stack, records, 30)
        assert len(worker_hosts(records)) >= 2, "work should be spread over the worker containers"


def test_sigkilled_worker_container_loses_nothing(make_stack: Callable[..., Any],
                                                  photos: Callable[[int], list[Path]]) -> None:
    with make_stack(workers=3) as stack:
        ids = upload_all(stack, photos(60))

        def busy() -> tuple[str, str] | None:
            for record in stack.jobs(ids):
                if record["status"] == PROCESSING and record["worker"]:
                    # The worker id starts with the container's hostname, which is its short id.
                    return str(record["worker"].split(".")[0]), str(record["id"])
            return None

        victim, job_id = wait_until(busy, 60, "a worker to be busy", interval=0.2)
        docker("kill", victim)  # SIGKILL, mid-job
        killed_at = time.time()
        records = stack.wait_finished(ids)
        assert_all_done_and_whole(stack, records, 60)
        caught = next(r for r in records if r["id"] == job_id)
        # Either the kill caught it mid-job (then its whole worker vanished: it was recovered and re-run, not
        # counted against the job as a poison sign) or it had just finished.
        assert (caught["vanished"] >= 1 and caught["lost"] == 0) or caught["finished_at"] <= killed_at, caught


def test_scaling_down_and_up_while_jobs_run(make_stack: Callable[..., Any],
                                            photos: Callable[[int], list[Path]]) -> None:
    with make_stack(workers=3) as stack:
        ids = upload_all(stack, photos(60))
        stack.compose("up", "-d", "--no-recreate", "--scale", "worker=1", "worker")
        assert len(stack.containers("worker")) == 1
        stack.compose("up", "-d", "--no-recreate", "--scale", "worker=3", "worker")
        records = stack.wait_finished(ids)
        assert_all_done_and_whole(stack, records, 60)
        assert all(r["lost"] == 0 and r["vanished"] == 0 for r in records), \
            "scaling down stops workers gracefully: no job is lost"


def test_redis_restart_loses_no_acknowledged_job(make_stack: Callable[..., Any],
                                                 photos: Callable[[int], list[Path]]) -> None:
    with make_stack(workers=2) as stack:
        paths = photos(40)
        deadline = Deadline(180, "every upload to be acknowledged")
        ids = [stack.upload(p, deadline, **SIZE) for p in paths[:20]]
        redis = stack.containers("redis")[0]["ID"]
        docker("restart", "-t", "10", redis)
        ids += [stack.upload(p, deadline, **SIZE) for p in paths[20:]]  # the API reconnects by itself
        acknowledged = [i for i in ids if i]
        assert len(acknowledged) == 40
        records = stack.wait_finished(acknowledged)
        assert_all_done_and_whole(stack, records, 40)
        assert stack.client.ready()
        alive = [w for w in stack.client.stats()["workers"] if w["alive"]]
        assert len(alive) == 2, "both workers reconnected and kept their heartbeat"


def test_compose_stop_worker_finishes_or_requeues(make_stack: Callable[..., Any], tmp_path: Path) -> None:
    big = generate(tmp_path / "big", 8, seed=11, max_side=3000, min_side=2500)
    with make_stack(workers=2) as stack:
        ids = upload_all(stack, big)
        wait_until(lambda: any(r["status"] == PROCESSING for r in stack.jobs(ids)), 60, "a job in progress", 0.2)
        stack.compose("stop", "worker")  # SIGTERM, then the grace period
        statuses = {r["status"] for r in stack.jobs(ids)}
        assert "processing" not in statuses, f"a stopped worker left a job stuck: {statuses}"
        assert all(w["alive"] is False for w in stack.client.stats()["workers"])
        stack.compose("start", "worker")
        records = stack.wait_finished(ids)
        assert all(r["status"] == "done" for r in records)
        assert all(r["lost"] == 0 for r in records)


def run_tester(stack: ComposeStack, *args: str, mount: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the tester container; its exit code is read from the container (as `make test-upload` does),
    since `compose run` reports 0 whatever the container returned on Docker 20.10."""
    volume = ["-v", f"{mount}:/samples:ro"] if mount else []
    name = f"{stack.project}-tester-{time.monotonic_ns()}"
    run = stack.compose("--profile", "test", "run", "--name", name, "--no-deps", *volume, "tester",
                            "--api", "http://api:8000", "--timeout", "120", *args, timeout=200, check=False)
    code = int(docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip())
    docker("rm", "-f", name, check=False)
    return subprocess.CompletedProcess(run.args, code, run.stdout, run.stderr)


def test_tester_container_exit_codes(make_stack: Callable[..., Any], tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    generate(folder, 3, seed=5, max_side=500)
    (folder / "notes.jpg").write_text("this is not an image")
    os.chmod(folder, 0o755)
    for p in folder.iterdir():
        os.chmod(p, 0o644)
    with make_stack(workers=1) as stack:
        happy = run_tester(stack, "--generate", "8")
        assert happy.returncode == 0, happy.stdout + happy.stderr
        assert "8 images: 8 done, 0 failed" in happy.stdout
        sad = run_tester(stack, "--images", "/samples", mount=folder)
        assert sad.returncode == 1, sad.stdout + sad.stderr
        assert "3 done, 1 failed" in sad.stdout and "not_an_image" in sad.stdout


def test_plain_docker_compose_up_scale_resolves_the_local_images(photos: Callable[[int], list[Path]]) -> None:
    """The design's own command as a user types it: no make, no --env-file. Compose reads the base-image
    choice `make images` wrote into .env, so on a machine without a registry it pulls nothing. (The
    project name and port come from the environment only so that this test cannot clash with a stack
    already running.)"""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "COMPOSE_PROJECT_NAME": f"iqplain{time.monotonic_ns() % 10**8}",
           "API_PORT": str(free_port())}

    def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", *args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)

    try:
        up = compose("up", "-d", "--wait", "--scale", "worker=2")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "pull" not in (up.stdout + up.stderr).lower(), up.stdout + up.stderr
        workers = compose("ps", "--status", "running", "-q", "worker").stdout.split()
        assert len(workers) == 2, compose("ps").stdout
        client = Client(f"http://127.0.0.1:{env['API_PORT']}")
        ids = [client.submit(p, 200, 150)["jobId"] for p in photos(6)]
        records = client.wait_all(ids, timeout=120)
        assert [r["status"] for r in records] == ["done"] * 6
    finally:
        compose("down", "--volumes", "--remove-orphans", "--timeout", "30", timeout=180)


def test_redis_and_containers_are_locked_down(make_stack: Callable[..., Any]) -> None:
    with make_stack(workers=1) as stack:
        redis_id = stack.containers("redis")[0]["ID"]
        unauthenticated = docker("exec", redis_id, "redis-cli", "ping", check=False)
        assert "NOAUTH" in unauthenticated.stdout + unauthenticated.stderr, "Redis must ask for its password"

        def redis_cli(*args: str) -> list[str]:
            auth = 'REDISCLI_AUTH="$(cat /run/secrets/redis_password)" redis-cli '
            return docker("exec", redis_id, "sh", "-c", auth + " ".join(args)).stdout.split()

        assert redis_cli("config", "get", "maxmemory-policy")[-1] == "noeviction"
        assert int(redis_cli("config", "get", "maxmemory")[-1]) > 0
        password = (stack.root / "secrets" / "redis_password").read_text().strip()
        for service in ("redis", "api", "worker"):
            cid = stack.containers(service)[0]["ID"]
            host = json.loads(docker("inspect", "-f", "{{json .HostConfig}}", cid).stdout)
            assert host["ReadonlyRootfs"] is True, service
            assert host["Memory"] > 0 and (host["PidsLimit"] or 0) > 0, service
            assert password not in docker("inspect", cid).stdout, f"{service}: the password shows in docker inspect"
            processes = docker("exec", cid, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
            assert password not in processes, f"{service}: the password is on a command line"


def test_workers_on_another_host_reach_the_hub_through_published_ports_only(
        tmp_path: Path, photos: Callable[[int], list[Path]]) -> None:
    """Two "hosts": project A (Redis, API, object store; no workers) publishes Redis and the store; project
    B (workers only, no volume, its own network) reaches them only through those ports, as a second
    machine would. A worker container of B is killed mid-run: every job still ends done, outputs whole."""
    root = Path(__file__).resolve().parents[2]
    gateway = bridge_gateway()  # published there, the ports reach containers and nothing beyond this host
    redis_port, store_port = free_port(), free_port()
    hub_files = ("docker-compose.yml", "docker-compose.s3.yml", "docker-compose.hub.yml")
    with compose_project(root, tmp_path, 0, hub_files, **FAST, REDIS_BIND=gateway, REDIS_PORT=str(redis_port),
                         OBJECTSTORE_BIND=gateway, OBJECTSTORE_PORT=str(store_port)) as hub, \
         compose_project(root, tmp_path, 2, ("docker-compose.workers.yml",), **FAST,
                         REDIS_URL=f"redis://host.docker.internal:{redis_port}/0", STORAGE_URL="s3://imgqueue/",
                         AWS_ENDPOINT_URL=f"http://host.docker.internal:{store_port}") as remote:
        workers = remote.containers("worker")
        assert len(workers) == 2
        for worker in workers:
            mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", worker["ID"]).stdout)
            volumes = [m for m in mounts if m["Destination"] != "/run/secrets/redis_password"]
            assert volumes == [], f"a remote worker needs no volume, only Redis' password: {mounts}"
        ids = upload_all(hub, photos(60))
        victim = wait_until(lambda: next((r["worker"].split(".")[0] for r in hub.jobs(ids)
                                          if r["status"] == PROCESSING and r["worker"]), None),
                            60, "a remote worker to be busy", 0.2)
        docker("kill", str(victim))
        records = hub.wait_finished(ids)
        assert [r["status"] for r in records] == ["done"] * 60, [r["error"] for r in records if r["error"]]
        for record in records:
            image = Image.open(io.BytesIO(hub.client.session.get(f"{hub.url}/jobs/{record['id']}/result",
                                                                 timeout=10).content))
            image.load()
            assert image.size == (200, 150) and record["output_path"].startswith("s3://imgqueue/output/")
        assert {r["worker"].split(".")[0] for r in records} <= {w["ID"][:12] for w in workers}


@pytest.mark.timeout(900)
def test_a_swarm_stack_deploys_scales_runs_jobs_and_leaves_the_engine_as_it_was(
        tmp_path: Path, photos: Callable[[int], list[Path]]) -> None:
    root = Path(__file__).resolve().parents[2]
    before = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    admin = "swarm-admin-token-0123456789"
    with single_node_swarm(), swarm_stack(root, tmp_path, 1, **FAST, AUTH_MODE="token",
                                          API_TOKENS=f"ops:admin:{admin}", ALLOWED_HOSTS="127.0.0.1") as stack:
        stack.scale("worker", 2)
        assert stack.services()[f"{stack.name}_worker"] == "2/2"
        wait_until(lambda: stack.client.stats()["counts"]["workers"] >= 2, 60, "two live workers", 1.0)
        ids = [str(stack.client.submit(p, 200, 150)["jobId"]) for p in photos(12)]
        records = stack.client.wait_all(ids, timeout=180)
        assert [r["status"] for r in records] == ["done"] * 12
        assert len({r["worker"].split(".")[0] for r in records}) == 2, "both worker tasks did work"
    assert docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
    assert docker("network", "ls", "--format", "{{.Name}}").stdout.split() == before
