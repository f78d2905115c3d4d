"""Benchmark poster rendering; prints figures, asserts nothing.

.venv/bin/python bench/posters.py            # full run (10,000 posters for memory)
.venv/bin/python bench/posters.py --quick    # a quick look
"""

import argparse
import io
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from qr.bulk import write_pdf, write_png_zip
from qr.chunks import default_workers
from qr.codes import poster_url, qr_matrix
from qr.fonts import find_cjk_font, load_ttfont
from qr.layout import PosterInfo
from qr.pdf import qr_path

BASE_URL = "https://ks.example.cn"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
_TRADES = ["水果店", "海鲜批发", "瓷砖卫浴", "粮油副食", "五金建材", "服装城", "家电维修", "烟酒茶行"]
_MARKETS = ["万博装饰市场", "长治农贸批发市场", "鑫隆海鲜城", "城南综合市场"]


class Sink(io.RawIOBase):
    """A write-only stream that only counts bytes."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.count += len(data)
        return len(data)

    def stream(self) -> BinaryIO:
        """Return self typed as the binary stream the writers take."""
        return cast(BinaryIO, self)


def posters(count: int, seed: int = 1) -> Iterator[PosterInfo]:
    """Yield believable posters, generated lazily so the input costs no memory."""
    rng = random.Random(seed)
    for number in range(count):
        code = f"{number:04X}{rng.randrange(16**6):06X}"
        market = rng.choice(_MARKETS)
        name = f"{rng.choice(_SURNAMES)}记{rng.choice(_TRADES)}{number % 97}号"
        yield PosterInfo(
            url=poster_url(BASE_URL, code),
            poster_code=code,
            merchant_name=name,
            market_name=market,
            station_name=f"{market}消费维权服务站",
            station_phone="0355-2021234",
        )


def baseline(count: int) -> float:
    """Return posters/s for a minimal page: same QR drawing, same font, one process."""
    font_name = load_ttfont(find_cjk_font()).fontName
    start = time.perf_counter()
    for info in posters(count):
        canvas = Canvas(io.BytesIO(), pagesize=A4, pageCompression=1, invariant=1)
        canvas.setFont(font_name, 12)
        canvas.drawString(72, 72, f"扫码投诉 {info.url}")
        canvas.saveState()
        canvas.translate(100, 700)
        canvas.scale(10, -10)
        canvas.addLiteral(qr_path(qr_matrix(info.url)))
        canvas.restoreState()
        canvas.showPage()
        canvas.save()
    return count / (time.perf_counter() - start)


def timed(job: Callable[[], int], repeat: int = 1) -> tuple[int, float]:
    """Run job repeat times; return its count and the best posters per second."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        count = job()
        best = max(best, count / (time.perf_counter() - start))
    return count, best


def cpu_ms(job: Callable[[], int]) -> float:
    """Return the CPU time per poster of a job run in this process, in ms."""
    start = time.process_time()
    count = job()
    return (time.process_time() - start) * 1000 / count


def _tree(root: int) -> list[int]:
    """Return a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """Return (RSS, PSS) of a process in KiB; PSS splits shared pages among sharers."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    fields = {line.split(":")[0]: line.split()[1] for line in text.splitlines()[1:]}
    return int(fields.get("Rss", 0)), int(fields.get("Pss", 0))


def memory(kind: str, count: int, workers: int) -> tuple[float, float, float, float]:
    """Run a bulk job in a child process and watch the memory of its process tree.

    Returns the job process's own peak RSS, the tree's peak RSS sum and PSS sum (MiB,
    sampled every 50 ms), and the job's posters/s.
    """
    command = [sys.executable, __file__, "--child", kind, str(count), "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            usage = [_memory_kib(pid) for pid in _tree(process.pid)]
            peaks[0] = max(peaks[0], sum(rss for rss, _ in usage))
            peaks[1] = max(peaks[1], sum(pss for _, pss in usage))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = process.communicate()
    done.set()
    sampler.join()
    rate, own_kib = output.split()
    return int(own_kib) / 1024, peaks[0] / 1024, peaks[1] / 1024, float(rate)


def child(kind: str, count: int, workers: int) -> None:
    """Write a bulk PDF or PNG ZIP; print posters/s and this process's peak RSS in KiB."""
    write = write_pdf if kind == "pdf" else write_png_zip
    _, rate = timed(lambda: write(posters(count), "A4", Sink().stream(), workers=workers))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through exec.
    status = Path("/proc/self/status").read_text()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    print(f"{rate:.1f} {peak}")


def pdf_figures(counts: dict[str, int], workers: int, repeat: int) -> None:
    """Print the baseline, bulk PDF speed, CPU cost, size and memory."""
    base = max(baseline(counts["baseline"]) for _ in range(repeat))
    print(f"baseline  minimal reportlab page, same QR and font, 1 process: {base:6.1f} posters/s")
    count, rate = timed(
        lambda: write_pdf(posters(counts["pdf"]), "A4", Sink().stream(), workers=workers), repeat
    )
    print(
        f"bulk PDF  A4, {count} posters, {workers} workers: {rate:6.1f} posters/s"
        f" = {rate / base:.2f}x baseline"
    )
    cost = cpu_ms(lambda: write_pdf(posters(300), "A4", Sink().stream(), workers=1))
    print(
        f"          CPU {cost:.2f} ms/poster in one process:"
        f" {workers} idle cores could do {workers * 1000 / cost:.0f}/s"
    )
    sink = Sink()
    count = write_pdf(posters(counts["size"]), "A4", sink.stream(), workers=workers)
    print(
        f"PDF size  {count} posters: {sink.count / count / 1024:.2f} KiB/page, {sink.count / 2**20:.1f} MiB"
    )
    print_memory("pdf", counts["rss"], workers)


def print_memory(kind: str, count: int, workers: int) -> None:
    """Print the memory a bulk job takes, run in a child process."""
    own, rss, pss, rate = memory(kind, count, workers)
    print(
        f"memory    {kind.upper()} {count} posters ({rate:.0f}/s): job process peak RSS {own:.0f} MiB;"
        f" with fork server and workers: peak RSS sum {rss:.0f} MiB, PSS sum {pss:.0f} MiB"
    )


def png_figures(count: int, workers: int, repeat: int) -> None:
    """Print the bulk PNG speed and CPU cost."""
    done, rate = timed(lambda: write_png_zip(posters(count), "A4", Sink().stream(), workers=workers), repeat)
    print(f"bulk PNG  A4 300 dpi ZIP, {done} posters, {workers} workers: {rate:6.1f} posters/s")
    cost = cpu_ms(lambda: write_png_zip(posters(40), "A4", Sink().stream(), workers=1))
    print(
        f"          CPU {cost:.2f} ms/poster in one process:"
        f" {workers} idle cores could do {workers * 1000 / cost:.0f}/s"
    )
    print_memory("png", count, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts for a quick look")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--repeat", type=int, default=1, help="best of this many speed runs")
    parser.add_argument("--baseline", type=int, help="posters in the baseline run")
    parser.add_argument("--pdf", type=int, help="posters in the PDF speed run")
    parser.add_argument("--size", type=int, help="posters in the PDF size run")
    parser.add_argument("--rss", type=int, help="posters in the memory run")
    parser.add_argument("--png", type=int, help="posters in the PNG speed run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.workers)
        return
    counts = {
        "baseline": args.baseline or (100 if args.quick else 500),
        "pdf": args.pdf or (500 if args.quick else 3000),
        "size": args.size or 1000,
        "rss": args.rss or (1000 if args.quick else 10_000),
        "png": args.png or (100 if args.quick else 600),
    }
    print(f"CPUs {os.cpu_count()}, workers {args.workers}, load average {os.getloadavg()}")
    pdf_figures(counts, args.workers, args.repeat)
    png_figures(counts["png"], args.workers, args.repeat)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
