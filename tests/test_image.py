"""What the Dockerfile builds, built and run the way the image runs it, without a container engine.

No engine runs where the suite runs, so `docker build` itself is not tried here (hadolint lints the file in the
test command). What is tried is what the image is made of: the wheel its build stage makes from exactly the files
it copies, installed on its own (no checkout beside it), started with the image's environment and command, and
asked by the image's own health check."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dockerfile_parse import DockerfileParser

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "image-token"
TIMEOUT = 60.0

pytestmark = pytest.mark.xdist_group("image")  # one wheel, built once, for the tests that share it


def _parser() -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO((ROOT / "Dockerfile").read_bytes()))


def _instructions() -> list[dict[str, str]]:
    return _parser().structure


def _stages() -> list[list[dict[str, str]]]:
    stages: list[list[dict[str, str]]] = []
    for ins in _instructions():
        if ins["instruction"] == "FROM":
            stages.append([])
        elif stages and ins["instruction"] != "COMMENT":
            stages[-1].append(ins)
    return stages


def _build_copies() -> list[str]:
    """The sources the build stage copies from the context, in order."""
    return [src for ins in _stages()[0] if ins["instruction"] == "COPY" for src in ins["value"].split()[:-1]]


def _image_env() -> dict[str, str]:
    """The final stage's ENV, as the image's processes see it."""
    return dict(_parser().envs)


def _exec_form(instruction: str) -> list[str]:
    """The JSON (exec) form of the final stage's `instruction` (CMD, or HEALTHCHECK's CMD)."""
    value = next(i["value"] for i in _stages()[-1] if i["instruction"] == instruction)
    return json.loads(value[value.index("[") :])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage's second step: the project's wheel from the files it copies, and nothing else."""
    context = tmp_path_factory.mktemp("context")
    for name in _build_copies():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, context / name)
    return _wheel(context, tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a folder of its own (the image's virtual environment holds it and its
    dependencies; here the dependencies come from the suite's environment, the package from this folder)."""
    target = tmp_path_factory.mktemp("site")
    done = _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def _wheel(context: Path, out: Path) -> Path:
    """The project's wheel built from `context` into `out` (offline, with the suite's hatchling): its one file."""
    built = _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(out), str(context))
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("webhook_sim-*.whl")
    return found


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--quiet"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _env(site: Path, data: Path, port: int, **overrides: str) -> dict[str, str]:
    """The image's environment on this machine: its ENV, with the store in `data` (the image's /data), the port
    given, and loopback for 0.0.0.0 (the suite talks to 127.0.0.1 only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_SIM_", "PYTHON"))}
    image = _image_env()
    image["WEBHOOK_SIM_DB"] = image["WEBHOOK_SIM_DB"].replace("/data/", f"{data}/")
    image["WEBHOOK_SIM_HOST"] = "127.0.0.1"
    image["WEBHOOK_SIM_PORT"] = str(port)
    image["PATH"] = f"{site / 'bin'}:{env['PATH']}"
    return {**env, **image, "PYTHONPATH": str(site), **overrides}


def _health(env: dict[str, str]) -> int:
    """The image's HEALTHCHECK command, run as the image runs it; its exit status."""
    argv = _exec_form("HEALTHCHECK")
    assert argv[0] == "python", argv
    return subprocess.run([sys.executable, *argv[1:]], env=env, timeout=TIMEOUT, capture_output=True).returncode


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str], Path]]:
    data = tmp_path / "data"
    data.mkdir()
    env = _env(installed, data, free_port(), WEBHOOK_SIM_TOKEN=TOKEN)
    cmd = _exec_form("CMD")
    assert cmd[0] == "webhook-sim", cmd
    log = (tmp_path / "serve.log").open("wb")
    # The console script pip wrote into the target folder, in the image's WORKDIR (the data volume).
    proc = subprocess.Popen([str(installed / "bin" / cmd[0]), *cmd[1:]], cwd=data, env=env, stdout=log, stderr=log)
    try:
        yield proc, env, data
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_the_image_wheel_holds_the_package_and_its_scenarios_alone(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"simulator", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}, tops
    scenarios = {Path(n).name for n in names if n.startswith("simulator/_builtin_scenarios/")}
    assert scenarios == {p.name for p in (ROOT / "scenarios").glob("*.yaml")}
    assert any(n.startswith("simulator/api/dashboard/static/") for n in names)
    assert "simulator/py.typed" in names  # PEP 561: a consumer's mypy reads the client's and plugin's types
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "docs/")) or "__pycache__" in n]


def test_the_dependency_layer_builds_from_the_project_file_alone(tmp_path: Path) -> None:
    """The build stage's first step makes the dependencies' wheels from pyproject.toml and an empty package, so
    that a change to the sources does not rebuild them. Its dependencies come from a registry the suite does not
    reach; that the stub project itself builds is what can break here."""
    run = next(i["value"] for i in _stages()[0] if i["instruction"] == "RUN")
    assert "pip wheel --wheel-dir /wheels/deps ." in run and "touch simulator/__init__.py" in run, run
    assert "rm /wheels/deps/webhook_sim-*.whl" in run, "the empty package's wheel must not reach the image"
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "simulator").mkdir()
    (tmp_path / "simulator" / "__init__.py").touch()
    _wheel(tmp_path, tmp_path / "wheels")


def test_the_image_serves_from_its_wheel_and_its_health_check_asks_its_port(
    served: tuple[subprocess.Popen[bytes], dict[str, str], Path], installed: Path
) -> None:
    proc, env, data = served
    where = subprocess.run(
        [sys.executable, "-c", "import simulator; print(simulator.__file__)"],
        env=env,
        cwd=data,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr

    deadline = time.monotonic() + TIMEOUT
    while _health(env) != 0:
        assert proc.poll() is None, "serve exited"
        assert time.monotonic() < deadline, "the health check never passed"
        time.sleep(0.1)
    assert (data / "webhook-sim.db").exists()  # the store is on the data volume

    base = f"http://127.0.0.1:{env['WEBHOOK_SIM_PORT']}"
    with (
        Receiver() as receiver,
        httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as api,
    ):
        names = {s["name"] for s in api.get("/scenarios").json()["data"]}
        assert names == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}
        run = api.post(
            "/runs",
            json={"scenario": "basistheory-token-intent-conversion", "speed": 0, "seed": 7, "target": receiver.url},
        )
        assert run.status_code == 202, run.text

        def completed() -> bool:
            return api.get(f"/runs/{run.json()['id']}").json()["status"] == "completed"

        eventually(completed, timeout=TIMEOUT, what="the run from the installed wheel")
        done = api.get(f"/runs/{run.json()['id']}").json()  # the answer to POST shows the run as it began
        assert done["events"] > 0 and done["counts"] == {"succeeded": done["events"]}, done
        assert len(receiver.requests) == done["events"]
        assert api.get("/").status_code == 200  # the dashboard's page, from the wheel's static files

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    assert _health(env) != 0  # nothing answers on the port any more: the check fails


def test_the_image_refuses_to_serve_beyond_loopback_without_a_token(installed: Path, tmp_path: Path) -> None:
    env = _env(installed, tmp_path, free_port())
    env["WEBHOOK_SIM_HOST"] = _image_env()["WEBHOOK_SIM_HOST"]  # the image's own: 0.0.0.0
    assert env["WEBHOOK_SIM_HOST"] == "0.0.0.0"
    done = subprocess.run(
        [str(installed / "bin" / "webhook-sim"), *_exec_form("CMD")[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "WEBHOOK_SIM_TOKEN" in done.stderr


def test_the_image_installs_the_dependencies_in_a_layer_the_sources_do_not_change() -> None:
    """In the final stage the dependencies' wheels are copied and installed before the project's wheel is even
    copied, so a change to the sources leaves that layer (and what a registry holds of it) as it was; the build
    stage makes the project's wheel into a folder of its own, after the dependencies' layer."""
    build, final = _stages()[0], _stages()[-1]
    build_runs = [i["value"] for i in build if i["instruction"] == "RUN"]
    assert len(build_runs) == 2 and "--no-deps --wheel-dir /wheels/app ." in build_runs[1], build_runs
    steps = [(i["instruction"], i["value"]) for i in final if i["instruction"] in ("COPY", "RUN")]
    copies = [value for ins, value in steps if ins == "COPY"]
    assert copies == ["--from=build /wheels/deps /tmp/deps", "--from=build /wheels/app /tmp/app"], copies
    deps_at = steps.index(("COPY", copies[0]))
    app_at = steps.index(("COPY", copies[1]))
    install_deps = steps[deps_at + 1][1]
    assert deps_at < app_at and steps[deps_at + 1][0] == "RUN", steps
    assert "pip install --no-index /tmp/deps/*.whl" in install_deps and "/tmp/app" not in install_deps
    assert "pip install --no-index --no-deps /tmp/app/*.whl" in steps[app_at + 1][1], steps
