"""Benchmark: the VM test host (infra/testhosts/vm.py) under QEMU software emulation.

Prints the image build (or "cached"), then for each size N: N VMs booted at the same moment from
the image (snapshot), the seconds until the slowest answers SSH, one command's round trip over
SSH (sudo included: what each audit probe pays), and QEMU's memory per VM.
Usage: python benchmarks/vm_testhost.py [SIZES...]   (default: 1 2)
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Interface
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra.testhosts import vm


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(image: vm.VmImage, size: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="hatang-vmbench-") as tmp:

        def one(index: int) -> vm.Vm:
            nic = vm.Nic(f"52:54:00:42:00:{index:02x}", net=IPv4Interface(f"10.194.{index}.1/24"))
            return vm.boot(f"bench{index}", image, Path(tmp) / str(index), [nic])

        started = time.monotonic()
        with ThreadPoolExecutor(size) as pool:
            machines = list(pool.map(one, range(size)))
        try:
            booted = time.monotonic() - started
            began = time.monotonic()
            for _ in range(5):
                machines[0].ssh("true")
            round_trip = (time.monotonic() - began) / 5
            memory = max(_rss_mb(m.process.pid) for m in machines)
        finally:
            for machine in machines:
                machine.stop()
    return booted, round_trip, memory


def main(sizes: list[int]) -> None:
    began = time.monotonic()
    cached = vm.VmImage(vm.VM_CACHE / vm.VmRecipe().digest).disk.is_file()
    image = vm.ensure_vm_image()
    print(f"image: {'cached' if cached else f'built in {time.monotonic() - began:.1f} s'} ({image.folder})")
    print(f"{'VMs':>4} {'all SSH up s':>13} {'SSH command s':>14} {'RSS MB/VM':>10}")
    for size in sizes:
        booted, round_trip, memory = measure(image, size)
        print(f"{size:>4} {booted:>13.1f} {round_trip:>14.2f} {memory:>10.0f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 2])
