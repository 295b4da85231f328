"""The Dockerfile and compose files against the code they deploy, without a Docker engine.

`docker-compose config` (Debian's docker-compose, installed by scripts/test.sh) validates and merges the
compose files; the merged services are then checked against the real CLI, the app's routes, the settings
class and the test command's torch pin. No image is built or run here.
"""

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

import app.cli
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
COMPOSE_GPU = ROOT / "compose.gpu.yaml"
SQLITE_DEFAULT = "sqlite:////var/lib/d2l-playground/runs.sqlite3"
ENV_NAME = re.compile(r"\bPLAYGROUND_[A-Z0-9_]+\b")
LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost):(\d+)(/[^'\"\s]*)")


# ---------------------------------------------------------------- helpers


POSTGRES_URL = "postgresql+psycopg://playground:playground@postgres:5432/playground"
CONFIGS = {  # name: (compose files, profiles, PLAYGROUND_ variables set)
    "base": ((COMPOSE,), (), {}),
    "gpu": ((COMPOSE, COMPOSE_GPU), (), {}),
    "postgres": ((COMPOSE,), ("postgres",), {"PLAYGROUND_DATABASE_URL": POSTGRES_URL}),
}


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    """Each merged configuration as `docker-compose config` prints it (the three run at once)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing: scripts/test.sh installs Debian's docker-compose")
        pytest.skip("docker-compose is not installed (scripts/test.sh installs it)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYGROUND_", "COMPOSE_"))}
    running = {}
    for name, (files, profiles, variables) in CONFIGS.items():
        args = [
            exe,
            *(w for f in files for w in ("-f", str(f))),
            *(w for p in profiles for w in ("--profile", p)),
        ]
        args.append("config")
        running[name] = (
            args,
            subprocess.Popen(
                args,
                cwd=ROOT,
                env={**clean, **variables},
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
        )
    result = {}
    for name, (args, process) in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"{' '.join(args)} failed:\n{err}"
        result[name] = yaml.safe_load(out)
    return result


@pytest.fixture(scope="module")
def base(configs) -> dict:
    return configs["base"]


@pytest.fixture(scope="module")
def gpu(configs) -> dict:
    return configs["gpu"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            instruction, _, rest = line.partition(" ")
            logical.append((instruction.upper(), rest.strip()))
    return logical


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, in order (what precedes the first FROM is left out)."""
    result: list[list[tuple[str, str]]] = []
    for instruction, rest in dockerfile_instructions():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, rest))
    return result


def exec_form(rest: str) -> list[str]:
    """A CMD/RUN argument list: JSON exec form, else a shell line split like a shell would."""
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def check_command(argv: list[str]):
    """argv must run our console script with a real subcommand and only that subcommand's options."""
    scripts = console_scripts()
    assert argv[0] in scripts, f"{argv[0]!r} is not a console script of pyproject.toml ({sorted(scripts)})"
    assert scripts[argv[0]] == "app.cli:app", "the tests inspect app.cli.app: the script must be it"
    command = typer.main.get_command(app.cli.app)  # typer's own click: groups are told by .commands
    words = list(argv[1:])
    path = [argv[0]]
    while hasattr(command, "commands"):
        assert words, f"{' '.join(path)} needs a subcommand: one of {sorted(command.commands)}"
        word = words.pop(0)
        assert word in command.commands, f"{' '.join(path)} has no subcommand {word!r}"
        command, path = command.commands[word], [*path, word]
    options = {opt: param for param in command.params for opt in param.opts if opt.startswith("-")}
    while words:
        word = words.pop(0)
        if not word.startswith("-"):
            continue  # a positional argument
        name, has_value, _ = word.partition("=")
        assert name in options, f"`{' '.join(path)}` has no option {name} (it has {sorted(options)})"
        param = options[name]
        if not has_value and not getattr(param, "is_flag", False):
            assert words, f"{name} needs a value"
            words.pop(0)
    return command


def option_value(argv: list[str], name: str) -> str | None:
    for i, word in enumerate(argv):
        if word == name:
            return argv[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def argv_of(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def built_here(config: dict) -> dict[str, dict]:
    """The services whose image comes from this repository's Dockerfile."""
    found = {}
    for name, service in config["services"].items():
        if "build" in service:
            build = service["build"]
            context = Path(build["context"] if isinstance(build, dict) else build)
            dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            assert (context / dockerfile).resolve() == DOCKERFILE, f"{name} builds from another Dockerfile"
            found[name] = service
    return found


def published_ports(service: dict) -> list[tuple[int, int]]:
    """(published, target) pairs, from docker-compose's long form or the short "host:container" one."""
    pairs = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.append((int(port.get("published") or 0), int(port["target"])))
        else:
            host, _, target = str(port).rpartition(":")
            pairs.append((int(host.rpartition(":")[2] or 0), int(target.split("/")[0])))
    return pairs


@functools.cache
def app_routes() -> frozenset[str]:
    """Paths the app serves: its own routes and those of included routers (FastAPI >= 0.165 wraps them)."""
    from app.main import create_app  # builds the routes; the lifespan (pool, store) is not started

    paths, routes = set(), list(create_app(Settings(_env_file=None)).routes)
    while routes:
        route = routes.pop()
        if hasattr(route, "path"):
            paths.add(route.path)
        elif hasattr(route, "original_router"):
            routes += route.original_router.routes
    assert "/healthz" in paths, "the route listing lost the app's own routes"
    return frozenset(paths)


def healthcheck_url(test: list[str] | str) -> tuple[int, str]:
    text = test if isinstance(test, str) else " ".join(test)
    match = LOCAL_URL.search(text)
    assert match, f"no http://127.0.0.1:PORT/path in the healthcheck {text!r}"
    return int(match.group(1)), urlsplit(match.group(0)).path


def settings_for(service: dict, monkeypatch) -> Settings:
    """The settings a container of this service would read from its environment."""
    for name in list(os.environ):
        if name.startswith("PLAYGROUND_"):
            monkeypatch.delenv(name)
    for name, value in (service.get("environment") or {}).items():
        monkeypatch.setenv(name, str(value))
    return Settings(_env_file=None)


# ---------------------------------------------------------------- compose files


def test_both_configurations_validate_and_build_web_and_worker_from_the_dockerfile(base, gpu):
    for config in (base, gpu):
        assert set(built_here(config)) == {"web", "worker"}
        assert {"redis", "postgres"} <= set(config["services"])


def test_every_command_is_our_cli_with_real_subcommands_and_options(base, gpu):
    for config in (base, gpu):
        for name, service in built_here(config).items():
            assert "command" in service, f"{name} relies on the image's CMD; compose names each role"
            check_command(argv_of(service))
    assert argv_of(base["services"]["web"])[1] == "serve"
    assert argv_of(base["services"]["worker"])[1] == "worker"


def test_the_cli_check_itself_refuses_what_does_not_exist():
    with pytest.raises(AssertionError, match="no subcommand"):
        check_command(["d2l-playground", "serv"])
    with pytest.raises(AssertionError, match="no option --workers"):
        check_command(["d2l-playground", "worker", "--workers", "2"])
    with pytest.raises(AssertionError, match="console script"):
        check_command(["uvicorn", "app.main:app"])


def test_web_publishes_the_port_it_listens_on_and_listens_on_all_interfaces(base):
    web = base["services"]["web"]
    argv = argv_of(web)
    port = int(option_value(argv, "--port"))
    assert option_value(argv, "--host") == "0.0.0.0"
    assert [target for _, target in published_ports(web)] == [port]


def test_web_healthcheck_probes_a_real_route_on_its_port(base):
    web = base["services"]["web"]
    port, path = healthcheck_url(web["healthcheck"]["test"])
    assert port == int(option_value(argv_of(web), "--port"))
    assert path in app_routes(), f"the web healthcheck probes {path}, which the app does not serve"
    assert path in {"/healthz", "/readyz"}


def test_workers_can_be_scaled(base, gpu):
    for config in (base, gpu):
        worker = config["services"]["worker"]
        assert "container_name" not in worker, "a fixed container name forbids --scale worker=N"
        assert not worker.get("ports"), "published host ports collide when workers are scaled"
        # The image's HEALTHCHECK probes serve's HTTP port, which a worker does not open.
        assert worker["healthcheck"].get("disable") or worker["healthcheck"]["test"] == ["NONE"]
    # docker-compose 1.29 disables on any `disable:` key; Compose v2 reads its value.
    assert yaml.safe_load(COMPOSE.read_text())["services"]["worker"]["healthcheck"] == {"disable": True}


def test_web_and_workers_share_the_broker_and_the_run_store(base, monkeypatch):
    services = base["services"]
    web, worker = settings_for(services["web"], monkeypatch), settings_for(services["worker"], monkeypatch)
    assert web.broker_url == worker.broker_url == "redis://redis:6379/0"
    assert urlsplit(web.broker_url).hostname in services
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    # Default store: one SQLite file on a named volume mounted by web and every worker.
    assert web.run_store_url() == worker.run_store_url() == SQLITE_DEFAULT
    folder = str(Path(SQLITE_DEFAULT.removeprefix("sqlite:///")).parent)
    mounts = {}
    for name in ("web", "worker"):
        volumes = [str(v).split(":") for v in services[name]["volumes"]]
        mounts[name] = {source for source, target, *_ in volumes if target == folder}
        assert mounts[name], f"{name} keeps {folder} in its container layer: mount a volume there"
    assert mounts["web"] == mounts["worker"]
    assert mounts["web"] <= set(base["volumes"]), "the run store volume must be a named volume"


def test_the_postgres_profile_and_url(configs):
    config = configs["postgres"]
    postgres = config["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"], "postgres must start only with --profile postgres"
    for name in ("web", "worker"):
        assert config["services"][name]["environment"]["PLAYGROUND_DATABASE_URL"] == POSTGRES_URL
    parts = urlsplit(POSTGRES_URL)
    assert parts.hostname in config["services"]
    assert (parts.username, parts.password, parts.path.lstrip("/")) == (
        postgres["environment"]["POSTGRES_USER"],
        postgres["environment"]["POSTGRES_PASSWORD"],
        postgres["environment"]["POSTGRES_DB"],
    )
    from sqlalchemy.engine import make_url

    assert make_url(POSTGRES_URL).get_dialect().driver == "psycopg"


def test_the_gpu_override_reserves_nvidia_gpus_for_the_workers_only(base, gpu, monkeypatch):
    def gpu_devices(service: dict) -> list[dict]:
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        return [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", [])]

    assert {name for name, s in gpu["services"].items() if gpu_devices(s)} == {"worker"}
    assert not any(gpu_devices(s) for s in base["services"].values())
    worker, web = gpu["services"]["worker"], gpu["services"]["web"]
    assert (
        worker["build"]["args"]["TORCH_INDEX_URL"]
        != base["services"]["worker"]["build"]["args"]["TORCH_INDEX_URL"]
    ), "the GPU workers must build the CUDA variant"
    assert worker["image"] != web["image"], "CPU and CUDA builds must not share an image tag"
    assert settings_for(web, monkeypatch).gpu_queue is True
    assert settings_for(worker, monkeypatch).queues_to_consume() == ["gpu", "cpu"]
    assert settings_for(base["services"]["web"], monkeypatch).gpu_queue is False
    assert settings_for(base["services"]["worker"], monkeypatch).queues_to_consume() == ["cpu"]


def test_every_playground_variable_is_a_setting():
    known = {f"PLAYGROUND_{name.upper()}" for name in Settings.model_fields}
    used = {}
    for path in (DOCKERFILE, COMPOSE, COMPOSE_GPU):
        for name in ENV_NAME.findall(path.read_text()):
            used.setdefault(name, path.name)
    assert used, "the deploy files set no PLAYGROUND_ variable at all?"
    unknown = {name: where for name, where in used.items() if name not in known}
    assert not unknown, f"not fields of app.settings.Settings: {unknown}"


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_pins_the_torch_the_tests_install():
    test_pins = set(
        re.findall(r"pip install[^\n]*\btorch==([\w.+]+)", (ROOT / "scripts/test.sh").read_text())
    )
    assert len(test_pins) == 1, f"scripts/test.sh should pin one torch version, found {test_pins}"
    runs = [rest for instruction, rest in dockerfile_instructions() if instruction == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    torch_pins = {pin for run in installs for pin in re.findall(r"\btorch==([\w.+]+)", run)}
    assert torch_pins == test_pins
    # torch alone first (from the index the build argument picks), then the project, editable.
    torch_at = next(i for i, run in enumerate(installs) if "torch==" in run)
    project_at = next(i for i, run in enumerate(installs) if re.search(r"-e \.(\s|$)", run))
    assert torch_at < project_at
    assert "--index-url" in installs[torch_at] and "$TORCH_INDEX_URL" in installs[torch_at]
    args = {rest.split("=")[0] for instruction, rest in dockerfile_instructions() if instruction == "ARG"}
    assert "TORCH_INDEX_URL" in args


def test_the_editable_install_keeps_templates_and_static_where_the_app_looks():
    from app.web.templating import STATIC_DIR, TEMPLATES_DIR

    build, runtime = stages()[0], stages()[-1]
    copied = {exec_form(rest)[0].rstrip("/") for instruction, rest in build if instruction == "COPY"}
    for folder in (TEMPLATES_DIR, STATIC_DIR):
        assert folder.parent == ROOT, "the app now looks elsewhere: update the Dockerfile"
        assert folder.name in copied, f"the image lacks {folder.name}/"
    needed = ["pyproject.toml", "README.md", "app", TEMPLATES_DIR.name, STATIC_DIR.name]
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [(n, p) for n in needed for p in ignored if fnmatch(n, p)], ".dockerignore drops a needed file"
    # The runtime stage keeps the source where the editable install points.
    workdir = [rest for instruction, rest in build if instruction == "WORKDIR"][-1]
    copies = [exec_form(rest) for instruction, rest in runtime if instruction == "COPY"]
    assert ["--from=build", workdir, workdir] in copies
    assert ["--from=build", "/opt/venv", "/opt/venv"] in copies


def test_dockerfile_runs_as_a_non_root_user():
    users = [rest for instruction, rest in stages()[-1] if instruction == "USER"]
    assert users, "the runtime stage has no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_healthcheck_and_cmd_match_the_app():
    instructions = stages()[-1]
    healthchecks = [rest for instruction, rest in instructions if instruction == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "NONE" not in healthchecks[0]
    cmd = exec_form(next(rest for instruction, rest in reversed(instructions) if instruction == "CMD"))
    assert check_command(cmd).name == "serve"
    port, path = healthcheck_url(healthchecks[0])
    assert path in app_routes(), f"the image's HEALTHCHECK probes {path}, which the app does not serve"
    assert port == int(option_value(cmd, "--port"))
    assert option_value(cmd, "--host") == "0.0.0.0"
    exposed = {int(p.split("/")[0]) for i, rest in instructions if i == "EXPOSE" for p in rest.split()}
    assert port in exposed


def test_fashion_mnist_is_fetched_at_build_time_unless_a_build_argument_says_no(tmp_path):
    runtime = stages()[-1]
    args = {
        rest.split("=")[0]: rest.partition("=")[2] for instruction, rest in runtime if instruction == "ARG"
    }
    fetches = [rest for instruction, rest in runtime if instruction == "RUN" and "data fetch" in rest]
    assert len(fetches) == 1
    command = re.search(r"d2l-playground data fetch [\w-]+", fetches[0]).group(0).split()
    assert check_command(command).name == "fetch"
    env = " ".join(rest for instruction, rest in runtime if instruction == "ENV")
    assert "PLAYGROUND_DATA_DIR=" in env, "the dataset must land in a fixed data directory"

    # Run the RUN line as the build would (build arguments are its environment), with a stand-in CLI.
    calls = tmp_path / "calls"
    stand_in = tmp_path / "d2l-playground"
    stand_in.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stand_in.chmod(0o755)

    def fetched(build_args: dict[str, str]) -> bool:
        calls.unlink(missing_ok=True)
        env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **build_args}
        subprocess.run(["sh", "-ec", fetches[0]], env=env, check=True, capture_output=True, timeout=10)
        return calls.exists() and calls.read_text().split() == command[1:]

    assert fetched(args), "the default build does not fetch Fashion-MNIST"
    skips = [name for name in args if not fetched({**args, name: "0"})]
    assert skips, f"no build argument ({sorted(args)}) set to 0 skips the download"
