"""What a benchmark ran on: the processor, the libraries and their BLAS, the source tree.

Ratios from different machines must never be compared (PyTorch's MKL and oneDNN are much
stronger on Intel than on AMD), so every result file carries this record. Each library is
described by a process of its own, as the timed processes see it:

    python benchmarks/machine.py             # the whole record, as JSON
    python benchmarks/machine.py torch       # one library: version, BLAS, threads
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")
BLAS_ENV = ("OPENBLAS", "OMP_", "MKL", "GOTO", "BLIS", "KMP_", "DNNL", "CHAINRULE_BENCH")
TORCH_CONFIG_WORDS = ("BLAS", "MKL", "oneDNN", "LAPACK", "OpenMP", "CPU capability")


def describe(
    libraries: tuple[str, ...] = ("numpy", "chainrule", "torch"),
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The processor, memory, Python, environment, git state and each library's facts, read
    by processes started with ``env`` (default: this one's), as the timed ones are."""
    env = dict(os.environ) if env is None else env
    return {
        "cpu": cpu(),
        "cores": {
            "logical": os.cpu_count(),
            "available": len(os.sched_getaffinity(0)),
        },
        "memory_bytes": _meminfo("MemTotal"),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "environment": {k: v for k, v in sorted(env.items()) if k.startswith(BLAS_ENV)},
        "git": git(),
        "libraries": libraries_in_children(libraries, env),
    }


def cpu() -> dict[str, Any]:
    """Model, vendor and vector extensions from /proc/cpuinfo, and lscpu's summary."""
    facts: dict[str, Any] = {"model": platform.processor() or platform.machine(), "vendor": ""}
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        first = ""
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in first.splitlines())
    )
    facts["model"] = fields.get("model name", facts["model"])
    facts["vendor"] = fields.get("vendor_id", "")
    for key in ("cpu family", "model", "stepping", "microcode"):
        if key in fields:
            facts[f"cpuinfo {key}"] = fields[key]
    flags = set(fields.get("flags", "").split())
    facts["vector_extensions"] = [flag for flag in CPU_FLAGS if flag in flags]
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        facts["lscpu"] = {
            key.strip(): value.strip()
            for key, _, value in (line.partition(":") for line in out.splitlines())
            if value.strip() and key.strip() != "Flags" and not key.startswith("Vulnerability")
        }
    return facts


def git() -> dict[str, Any]:
    """The commit of the source tree and the files changed since it."""

    def run(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    changed = [line[3:] for line in run("status", "--porcelain").splitlines()]
    return {"commit": run("rev-parse", "HEAD"), "changed_files": changed}


def library_facts(name: str) -> dict[str, Any]:
    """Version, BLAS and threads of one library, read in this process (import it alone)."""
    facts: dict[str, Any] = {}
    if name == "torch":
        from workloads import load_torch

        torch = load_torch()
        config = torch.__config__.show().splitlines()
        facts["version"] = torch.__version__
        facts["config"] = [
            _short(line.strip())
            for line in config
            if any(word in line for word in TORCH_CONFIG_WORDS)
        ]
        facts["threads"] = torch.get_num_threads()
        facts["interop_threads"] = torch.get_num_interop_threads()
        facts["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        facts["mkldnn_enabled"] = torch.backends.mkldnn.is_available()
    elif name == "chainrule":
        import chainrule

        facts["version"] = chainrule.__version__
        facts["path"] = str(Path(chainrule.__file__).parent)
    elif name == "numpy":
        import numpy

        facts["version"] = numpy.__version__
        with contextlib.suppress(TypeError, KeyError):  # show_config's dicts: NumPy ≥ 1.26
            facts["blas"] = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    else:
        raise ValueError(f"unknown library {name!r}")
    try:
        from threadpoolctl import threadpool_info

        facts["threadpools"] = threadpool_info()
    except ImportError:
        facts["threadpools"] = "threadpoolctl is not installed"
    return facts


def libraries_in_children(
    names: tuple[str, ...], env: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """library_facts of each library, each read by a fresh process that imports it alone
    (the processes run side by side: nothing is timed meanwhile)."""
    children = {
        name: subprocess.Popen(
            [sys.executable, str(HERE / "machine.py"), name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    }
    facts = {}
    for name, process in children.items():
        out, err = process.communicate()
        if process.returncode != 0:
            facts[name] = {"error": err.strip().splitlines()[-1:] or ["no output"]}
        else:
            facts[name] = json.loads(out)
    return facts


def summary(machine: dict[str, Any]) -> str:
    """One paragraph for a table's caption: CPU, cores, Python and each library's BLAS."""
    cpu_facts = machine["cpu"]
    parts = [
        f"{cpu_facts['model']} ({cpu_facts['vendor']}; "
        f"{', '.join(cpu_facts['vector_extensions']) or 'no AVX'})",
        f"{machine['cores']['available']} cores",
        f"Python {machine['python']}",
    ]
    libraries = machine["libraries"]
    numpy_facts = libraries.get("numpy", {})
    if "version" in numpy_facts:
        parts.append(f"NumPy {numpy_facts['version']} with {_pools(numpy_facts)}")
    torch_facts = libraries.get("torch", {})
    if "version" in torch_facts:
        parts.append(
            f"PyTorch {torch_facts['version']} ({torch_facts['threads']} threads, "
            f"{torch_facts.get('cpu_capability', '?')}; {_torch_blas(torch_facts)})"
        )
    return "; ".join(parts)


def _pools(facts: dict[str, Any]) -> str:
    pools = facts.get("threadpools")
    if not isinstance(pools, list) or not pools:
        return "an unknown BLAS"
    return ", ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture') or '?'} kernels, "
        f"{p.get('num_threads')} threads)"
        for p in pools
        if p.get("user_api") == "blas"
    )


def _torch_blas(facts: dict[str, Any]) -> str:
    words = []
    for line in facts.get("config", []):
        if line.startswith(("- Intel(R) oneAPI Math Kernel Library", "- Intel(R) Math Kernel")):
            words.append(line.lstrip("- ").split(" for ")[0].replace("Intel(R) ", ""))
        elif line.startswith("- Intel(R) MKL-DNN") or line.startswith("- oneDNN"):
            words.append(line.lstrip("- ").split(" (Git")[0].replace("Intel(R) ", ""))
        elif "BLAS_INFO=" in line:
            words.append("BLAS " + line.split("BLAS_INFO=")[1].split(",")[0])
    return ", ".join(words) or "BLAS unknown"


def _short(line: str) -> str:
    """Build settings keep only the entries about BLAS, LAPACK, MKL, oneDNN and OpenMP."""
    if not line.startswith("- Build settings:"):
        return line
    keep = ("BLAS_INFO", "LAPACK_INFO", "USE_MKL", "USE_MKLDNN", "USE_OPENMP")
    entries = [entry.strip() for entry in line.split(":", 1)[1].split(",")]
    return "- Build settings: " + ", ".join(e for e in entries if e.startswith(keep))


def _meminfo(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main() -> None:
    if len(sys.argv) > 1:
        print(json.dumps(library_facts(sys.argv[1])))
    else:
        print(json.dumps(describe(), indent=1))


if __name__ == "__main__":
    main()
