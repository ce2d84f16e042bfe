"""The benchmark report: a Markdown table for stdout and the README, and a PNG chart (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONTENDERS = ("imgqueue", "sharp", "pyvips", "imgqueue (Pillow)")
BYTES_TARGET = 1.10


def _f(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = [f"imgqueue benchmarks, {r['started']}{' (quick)' if r['quick'] else ''}",
             f"machine: {env.get('cpu')}, {env.get('cpus')} CPUs; Python {env['python']}, Pillow {env['pillow']}, "
             f"libvips {env.get('libvips') or '–'}, rq {env.get('rq') or '–'}",
             f"photos: {r['photos']['source']} ({r['photos']['count']}: {r['photos']['by_format']})", ""]
    if "resize" in r:
        lines += _resize_tables(r["resize"])
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
    if "resize" in r and "srcset" in r["resize"]:
        lines += _srcset_table(r["resize"]["srcset"], r["e2e"].get("srcset") if "e2e" in r else None)
    if "e2e" in r:
        lines += _e2e_tables(r["e2e"])
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
    if "housekeeping" in r:
        lines += ["### 6. Housekeeping: Redis commands per second by idle workers (default intervals)", "",
                  "| workers | commands/s | scripts/s |", "|---|---|---|"]
        lines += [f"| {n} | {_f(row['commands_per_s'])} | {_f(row['scripts_per_s'])} |"
                  for n, row in r["housekeeping"].items()]
        lines.append("")
    if "fair" in r:
        f = r["fair"]
        lines += [f"### 7. Fair share: tenant A queues {f['a_jobs']} jobs, then B {f['b_jobs']} "
                  f"({f['workers']} worker processes, one job-time {f['job_time'] * 1000:.1f} ms)", "",
                  "| B's jobs | seconds to all done | extra job-times |", "|---|---|---|",
                  f"| alone | {_f(f['b_alone'], 3)} | – |",
                  f"| after A's import (fair share) | {_f(f['b_after_a'], 3)} | {_f(f['b_extra_job_times'])} |",
                  f"| after A's import, as one tenant (FIFO) | {_f(f['b_fifo'], 3)} | "
                  f"{_f((f['b_fifo'] - f['b_alone']) / f['job_time'], 0)} |", "",
                  f"A's import: {_f(f['a_alone'], 2)} s alone, {_f(f['a_with_b'], 2)} s with B's jobs served "
                  f"in between ({f['a_change'] * 100:+.1f} %).", ""]
    lines.append(f"total time {r.get('seconds', 0):.0f} s")
    return "\n".join(lines)


def _srcset_table(one: dict[str, Any], e2e: dict[str, Any] | None) -> list[str]:
    widths = ", ".join(str(w) for w in one["widths"])
    lines = [f"### 1b. A srcset per upload ({widths} wide, fit inside, WebP; {one['photos']} photos; one core)", "",
             "| contender | sets/s | bytes | SSIM |", "|---|---|---|---|"]
    for name, row in one["by_contender"].items():
        lines.append(f"| {name} | {_f(row['sets_per_s'], 2)} | {row['bytes']} | {_f(row['ssim'], 4)} |")
    t = one["targets"]
    lines += ["", f"imgqueue's set against sharp's clone(): {_f(one.get('vs_sharp_clone'), 2)} (target ≥ "
                  f"{t['vs_sharp_clone']}), against four jobs: {_f(one['vs_four_jobs'], 2)} (≥ {t['vs_four_jobs']}); "
                  f"bytes against sharp's {_f(one.get('bytes_vs_sharp'), 3)} (≤ {t['bytes_vs_sharp']})"]
    if e2e and "ratio" in e2e:
        rows = e2e["by_contender"]
        lines += ["", "Through the API (one upload per set against the demo's four uploads): " + ", ".join(
            f"{name} {_f(row['sets_per_s'], 2)} sets/s" for name, row in rows.items())
            + f"; ratio {_f(e2e['ratio'], 2)} (target ≥ {e2e['target']}), with one worker process "
            f"{_f(e2e.get('ratio_one_process'), 2)}"]
    return [*lines, ""]


def _resize_tables(res: dict[str, Any]) -> list[str]:
    sharp = res.get("sharp")
    lines = [f"### 1. Resize + encode on one core ({res['pinning']}"
             + (f"; sharp {sharp['sharp']}, its libvips {sharp['libvips']})" if sharp else
                f"; sharp left out: {res.get('sharp_unavailable')})"), "",
             "| task | format | imgqueue img/s | sharp img/s | vs sharp (≥ 1.0) | pyvips img/s | vs pyvips (≥ 1.0) "
             "| Pillow engine img/s |", "|---|---|---|---|---|---|---|---|"]
    quality = ["", "Output quality against a Lanczos reference (PSNR dB / SSIM) and size (bytes against "
               f"sharp's, target ≤ {BYTES_TARGET:.2f}):", "",
               "| task | format | imgqueue | sharp | pyvips | Pillow engine | imgqueue bytes vs sharp |",
               "|---|---|---|---|---|---|---|"]
    for task, data in res["tasks"].items():
        for fmt, row in data["by_format"].items():
            ours = row["imgqueue"]
            rate = {name: row[name]["images_per_s"] if name in row else None for name in CONTENDERS}
            lines.append(f"| {task} | {fmt} | {_f(rate['imgqueue'])} | {_f(rate['sharp'])} | "
                         f"{_f(ours.get('speed_vs_sharp'), 2)} | {_f(rate['pyvips'])} | "
                         f"{_f(ours.get('speed_vs_pyvips'), 2)} | {_f(rate['imgqueue (Pillow)'])} |")
            scores = [f"{_f(row[n]['psnr'])} / {_f(row[n]['ssim'], 3)}" if n in row else "–" for n in CONTENDERS]
            quality.append(f"| {task} | {fmt} | {scores[0]} | {scores[1]} | {scores[2]} | {scores[3]} | "
                           f"{_f(ours.get('bytes_vs_sharp'), 2)} |")
    return [*lines, *quality, ""]


def _e2e_tables(e: dict[str, Any]) -> list[str]:
    lines = [f"### 3. End to end ({e['images']} images, upload → done, the same client and watcher; medians of "
             f"{e['rounds']} alternating rounds)", ""]
    if "sharp_unavailable" in e:
        lines += [f"sharp left out: {e['sharp_unavailable']}", ""]
    lines += ["| contender | images/s | seconds | failed |", "|---|---|---|---|"]
    for name, row in e["by_contender"].items():
        lines.append(f"| {name} | {_f(row['images_per_s'], 2)} | {_f(row['seconds'])} | {row['failed']} |")
    lines += ["", "CPU per image (ms, from /proc over each round; the client is the benchmark's own uploader and "
              "watcher; `api` is gunicorn or Express, `workers` the worker processes or the Node workers):", "",
              "| contender | client | api | redis | workers | total |", "|---|---|---|---|---|---|"]
    for name, row in e["by_contender"].items():
        ms = row.get("cpu_ms", {})
        lines.append(f"| {name} | " + " | ".join(_f(ms.get(part), 1) for part in
                                                 ("client", "api", "redis", "workers", "total")) + " |")
    lines += ["", *_outside_libvips(e.get("libvips_alone", {})), *_redis_calls(e["by_contender"]), ""]
    for key, what in (("default", "one worker each, default settings"), ("equal", "equal CPU")):
        ratio = e.get("ratios", {}).get(key)
        if ratio:
            lines.append(f"- {what}: {ratio['imgqueue']} ÷ {ratio['sharp']} = **{ratio['ratio']:.2f}** "
                         f"(target ≥ {ratio['target']})")
    if "layouts" in e:
        lines += ["", "Worker layouts (processes × libvips threads per process), same photos, alternating:", "",
                  "| layout | images/s |", "|---|---|"]
        lines += [f"| {name} | {_f(row['images_per_s'], 2)} |" for name, row in e["layouts"].items()]
    if "storage" in e:
        st = e["storage"]
        lines += ["", f"Files in an object store (rclone serve s3 on loopback) next to local folders, "
                  f"{st['workers']} worker, {st['images']} images, alternating: local "
                  f"{_f(st['local_images_per_s'], 2)} img/s, S3 {_f(st['s3_images_per_s'], 2)} img/s "
                  f"(ratio {_f(st['ratio'], 2)})"]
    return [*lines, ""]


def _outside_libvips(alone: dict[str, Any]) -> list[str]:
    if "cpu_ms" not in alone:
        return [f"libvips alone: {alone.get('unavailable', 'not measured')}", ""]
    return [f"libvips alone on the same photos (one process, a worker process's threads): {_f(alone['cpu_ms'], 1)} ms "
            f"per image, against the workers' {_f(alone['workers_cpu_ms'], 1)}: the workers spend "
            f"**{_f(100 * (alone['outside_share'] or 0), 1)} %** outside libvips (target ≤ 5 %)", ""]


def _redis_calls(rows: dict[str, Any]) -> list[str]:
    lines = ["Redis commands per job (INFO commandstats over each round; those scripts call included; `mget` is the "
             "benchmark's watcher):", "", "| contender | total | scripts | most called |", "|---|---|---|---|"]
    for name, row in rows.items():
        calls = dict(row.get("redis_calls", {}))
        total, scripts = calls.pop("total", None), calls.pop("scripts", None)
        top = ", ".join(f"{cmd} {_f(n, 2)}" for cmd, n in list(calls.items())[:6])
        lines.append(f"| {name} | {_f(total, 1)} | {_f(scripts, 2)} | {top} |")
    return lines


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
        rows = r["resize"]["tasks"].get("cover", {}).get("by_format", {})
        fmts = list(rows)
        names = [n for n in CONTENDERS if any(n in rows[f] for f in fmts)]
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            values = [rows[f][name]["images_per_s"] if name in rows[f] else 0 for f in fmts]
            ax.bar([x + i * width for x in range(len(fmts))], values, width, label=name)
        ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(fmts))], fmts)
        ax.set_ylabel("images/s on one core")
        ax.set_title("Resize: cover 300x300, same format, q80")
        ax.legend()
    if "e2e" in r:
        ax = axes[1]
        rows = r["e2e"]["by_contender"]
        ax.barh(list(rows), [v["images_per_s"] for v in rows.values()], color="#2563eb")
        ax.set_xlabel("images/s, upload → done")
        ax.set_title("End to end")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
