"""The jemalloc re-exec: on when the library is installed, off when opted out, never a loop."""

import os
import subprocess
import sys

import pytest

from legonn.allocator import MARKER, find_jemalloc, reexec_with_jemalloc

PROBE = "import os; print(os.environ.get('LD_PRELOAD', ''), os.environ.get('LEGONN_JEMALLOC', ''))"


def run_probe(env_extra: dict) -> str:
    """A child that asks to re-exec itself under jemalloc, then reports its environment."""
    code = ("import sys; from legonn.allocator import reexec_with_jemalloc; "
            f"reexec_with_jemalloc([sys.executable, '-c', {PROBE!r}]); {PROBE}")
    env = {k: v for k, v in os.environ.items() if k not in (MARKER, "LD_PRELOAD", "MALLOC_CONF")} | env_extra
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60).stdout.strip()


@pytest.mark.skipif(find_jemalloc() is None, reason="libjemalloc2 is not installed here")
def test_reexec_preloads_jemalloc_once():
    preload, marker = run_probe({}).split()
    assert preload == find_jemalloc() and marker == "active"


def test_opt_out_keeps_the_system_allocator():
    assert run_probe({MARKER: "0"}) == "0"


def test_no_reexec_when_already_active(monkeypatch):
    monkeypatch.setenv(MARKER, "active")
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("re-executed twice"))
    reexec_with_jemalloc()


@pytest.mark.skipif(find_jemalloc() is None, reason="libjemalloc2 is not installed here")
def test_release_free_memory_hands_freed_pages_back_under_jemalloc():
    """Under the re-exec (decay off), freed memory stays resident until release_free_memory() purges it."""
    code = ("import sys; from legonn.allocator import reexec_with_jemalloc\n"
            "reexec_with_jemalloc([sys.executable, '-c', sys.argv[1]])\n")
    probe = ("import torch\nfrom legonn.allocator import release_free_memory\n"
             "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
             "x = [torch.ones(2**22) for _ in range(64)]\n"  # 1 GiB in 16 MiB blocks
             "del x\nkept = rss()\nok = release_free_memory()\nprint(ok, round(kept), round(rss()))\n")
    env = {k: v for k, v in os.environ.items() if k not in (MARKER, "LD_PRELOAD", "MALLOC_CONF")}
    out = subprocess.run([sys.executable, "-c", code, probe], capture_output=True, text=True, env=env, timeout=60)
    ok, kept, after = out.stdout.split()
    assert ok == "True", out.stderr
    assert float(kept) - float(after) > 800, (kept, after)  # MiB: the freed GiB was resident, then returned


def test_release_free_memory_is_a_no_op_without_jemalloc(monkeypatch):
    from legonn.allocator import release_free_memory

    monkeypatch.setenv(MARKER, "0")
    assert release_free_memory() is False
