"""The benchmark report: a Markdown table for stdout and the README, and a PNG chart (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = {"JPEG": 1.0, "PNG": 0.9, "WEBP": 0.9}


def _f(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = [f"imgqueue benchmarks, {r['started']}{' (quick)' if r['quick'] else ''}",
             f"machine: {env.get('cpu')}, {env.get('cpus')} CPUs; Python {env['python']}, Pillow {env['pillow']}, "
             f"libvips {env.get('libvips') or '–'}, rq {env.get('rq') or '–'}",
             f"photos: {r['photos']['source']} ({r['photos']['count']}: {r['photos']['by_format']})", ""]
    if "resize" in r:
        lines += [f"### 1. Resize throughput on one core ({r['resize']['pinning']})", "",
                  "| task | format | imgqueue img/s | libvips img/s | ratio | target | imgqueue+vips img/s | ratio |"
                  " imgqueue MP/s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for task, data in r["resize"]["tasks"].items():
            for fmt, row in data["by_format"].items():
                ours, vips, hybrid = row["imgqueue"], row.get("libvips"), row.get("imgqueue+vips")
                lines.append(
                    f"| {task} | {fmt} | {_f(ours['images_per_s'])} | {_f(vips and vips['images_per_s'])} | "
                    f"{_f(ours.get('ratio_to_libvips'), 2)} | ≥ {TARGETS[fmt]} | "
                    f"{_f(hybrid and hybrid['images_per_s'])} | {_f(hybrid and hybrid.get('ratio_to_libvips'), 2)} | "
                    f"{_f(ours['mp_per_s'])} |")
        lines.append("")
    if "queue" in r:
        q = r["queue"]
        lines += ["### 2. Queue overhead (no-op jobs, one consumer process)", "",
                  f"raw LPUSH+BRPOP: {_f(q['raw_jobs_per_s'], 0)} jobs/s; RQ SimpleWorker: "
                  f"{_f(q.get('rq_jobs_per_s'), 0)} jobs/s; imgqueue bulk enqueue: "
                  f"{_f(q['bulk_enqueue_jobs_per_s'], 0)} jobs/s", "",
                  "| imgqueue worker | jobs/s | ratio to raw (target ≥ 1.0) | ratio to RQ (target ≥ 20) |",
                  "|---|---|---|---|",
                  f"| prefetch 1 (default) | {_f(q['imgqueue_jobs_per_s'], 0)} | {_f(q['ratio_to_raw'], 2)} | "
                  f"{_f(q.get('ratio_to_rq'), 1)} |",
                  f"| prefetch {q['prefetch']} | {_f(q['imgqueue_prefetch_jobs_per_s'], 0)} | "
                  f"{_f(q['prefetch_ratio_to_raw'], 2)} | {_f(q.get('prefetch_ratio_to_rq'), 1)} |", ""]
    if "e2e" in r:
        e = r["e2e"]
        lines += [f"### 3. End to end ({e['images']} images, upload → done, through gunicorn and Redis)", "",
                  "| workers | seconds | images/s | efficiency | target |", "|---|---|---|---|---|"]
        for workers, row in e["by_workers"].items():
            target = "≥ 0.9" if workers == "1" else "≥ 0.85"
            lines.append(f"| {workers} | {_f(row['seconds'])} | {_f(row['images_per_s'], 2)} | "
                         f"{_f(row['efficiency'], 2)} | {target} |")
        lines.append(f"\nefficiency = images/s ÷ (workers × {e['one_core_rate']:.2f}, part 1's one-core rate for "
                     "cover-same)\n")
        if "storage" in e:
            st = e["storage"]
            lines += [f"Files in an object store (rclone serve s3 on loopback) next to local folders, {st['workers']} "
                      f"worker, {st['images']} images, alternating: local {_f(st['local_images_per_s'], 2)} img/s, "
                      f"S3 {_f(st['s3_images_per_s'], 2)} img/s (ratio {_f(st['ratio'], 2)})", ""]
    if "api" in r:
        a = r["api"]
        lines += [f"### 4. API acceptance ({a['image_bytes'] // 1000} KB images, {a['uploads']} uploads)", "",
                  "| clients | uploads/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
        for clients, row in a["by_clients"].items():
            lines.append(f"| {clients} | {_f(row['uploads_per_s'])} | {_f(row['p50_ms'])} | {_f(row['p99_ms'])} | "
                         f"{row['errors']} |")
        lines += ["", "What the admission checks cost (rate limit, queue depth, free disk; same run, alternating):", "",
                  "| clients | uploads/s checks on | checks off | ratio |", "|---|---|---|---|"]
        for clients, row in a.get("checks", {}).items():
            lines.append(f"| {clients} | {_f(row['on'])} | {_f(row['off'])} | {_f(row['ratio'], 2)} |")
        lines.append("")
    if "memory" in r:
        m = r["memory"]
        samples = ", ".join(f"{s['jobs']}: {s['rss_mb']:.0f}" for s in m["rss_samples"])
        lines += ["### 5. Memory of one worker process", "",
                  f"- idle RSS {m['idle_rss_mb']:.0f} MB; peak RSS on the largest image ({m['largest_image']}): "
                  f"{m['peak_rss_largest_mb']:.0f} MB",
                  f"- across {m['long_run_jobs']} jobs: RSS MB after n jobs {samples}; growth {m['growth_mb']:+.1f} MB;"
                  f" peak {m['peak_rss_long_run_mb']:.0f} MB", ""]
    lines.append(f"total time {r.get('seconds', 0):.0f} s")
    return "\n".join(lines)


def chart(r: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if "resize" in r:
        ax = axes[0]
        rows = r["resize"]["tasks"].get("inside-jpeg", {}).get("by_format", {})
        fmts = list(rows)
        engines = [e for e in ("imgqueue", "imgqueue+vips", "libvips") if any(e in rows[f] for f in fmts)]
        width = 0.8 / max(1, len(engines))
        for i, engine in enumerate(engines):
            values = [rows[f][engine]["images_per_s"] if engine in rows[f] else 0 for f in fmts]
            ax.bar([x + i * width for x in range(len(fmts))], values, width, label=engine)
        ax.set_xticks([x + width * (len(engines) - 1) / 2 for x in range(len(fmts))], fmts)
        ax.set_ylabel("images/s on one core")
        ax.set_title("Resize: inside 300x300 → JPEG q80")
        ax.legend()
    if "e2e" in r:
        ax = axes[1]
        rows = r["e2e"]["by_workers"]
        ax.bar(list(rows), [v["images_per_s"] for v in rows.values()], color="#2563eb")
        ax.set_xlabel("worker processes")
        ax.set_ylabel("images/s, upload → done")
        ax.set_title("End to end")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
