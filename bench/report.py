#!/usr/bin/env python3
"""Turns what bench/driver.py measured (host.json, vm.json) into OUT.json, OUT.md and OUT.png;
exits 1 when a method failed or disagreed, a measurement is missing, or a file was not written."""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METHODS = {"bare": "bare BPF pass", "scan": "Scan, 1 client", "scan64": "Scan, 64 clients (all replies)",
           "debugfs": "debugfs bufinfo", "fdinfo": "/proc/*/fdinfo walk"}
TARGET_N, TARGET_M = 10_000, 1_000
MIB = 1024


def load(path, failures, where):
    try:
        with open(path) as source:
            data = json.load(source)
    except (OSError, TypeError, ValueError) as error:
        failures.append(f"{where}: no results ({error})")
        return {}
    failures += [f"{where}: {failure}" for failure in data.get("failures", [])]
    return data


def duration(nsec):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if nsec >= scale:
            return f"{nsec / scale:.3g} {unit}"
    return f"{nsec:.0f} ns"


def spread(stats):
    return f"{duration(stats['p10'])} – {duration(stats['p90'])}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def target_cell(cells):
    """The cell the targets name (N = 10,000, M = 1,000), or the largest there is (--quick)."""
    exact = [c for c in cells if (c["n"], c["m"]) == (TARGET_N, TARGET_M)]
    return exact[0] if exact else max(cells, key=lambda c: (c["n"], c["m"]))


def targets(vm, host):
    """(target, measured, met, shortfall) for each target of the issue."""
    rows = []
    cells = vm.get("cells", [])
    if cells:
        cell = target_cell(cells)
        at = f"N = {cell['n']:,}, M = {cell['m']:,}"
        bare, scan = cell["bare"]["nsec"]["median"], cell["scan"]["nsec"]["median"]
        reply = scan - cell["scan"]["decode_nsec"]["median"]
        ratio = reply / bare
        rows.append((f"Scan end to end, the client's decode apart, within 1.5× of the bare pass ({at})",
                     f"{ratio:.1f}× ({duration(reply)} vs {duration(bare)}; with the decode {scan / bare:.1f}×)",
                     ratio <= 1.5, f"{ratio / 1.5:.1f}× too slow: {duration(reply - 1.5 * bare)} over"))
        same_n = sorted((c for c in cells if c["n"] == cell["n"] and c is not cell), key=lambda c: -c["m"])
        for method, wanted in (("debugfs", 20), ("fdinfo", 40)):
            times = cell[method]["nsec"]["median"] / scan
            others = ", ".join(f"{c[method]['nsec']['median'] / c['scan']['nsec']['median']:.1f}× at M = {c['m']:,}"
                               for c in same_n)
            rows.append((f"Scan at least {wanted}× faster than {METHODS[method]} ({at})",
                         f"{times:.1f}×" + (f" ({others})" if others else ""), times >= wanted,
                         f"{wanted / times:.1f}× short of {wanted}×"))
        most = max(c["scan64"]["passes"]["max"] for c in cells)
        worst = max(cells, key=lambda c: c["scan64"]["passes"]["max"])
        rows.append(("64 concurrent Scans served by at most 3 passes (every N and M, every round)",
                     f"at most {most} passes (N = {worst['n']:,}, M = {worst['m']:,}; median "
                     f"{worst['scan64']['passes']['median']:g})", most <= 3, f"{most - 3} passes too many"))
    for where, data in (("host", host), ("VM", vm.get("services", [{}])[0] if vm.get("services") else {})):
        if "idle_kib" in data:
            rss = data["idle_kib"] / MIB
            rows.append((f"idle RSS under 16 MiB ({where})", f"{rss:.1f} MiB", rss < 16, f"{rss - 16:.1f} MiB over"))
    big = vm.get("largest")
    if big:
        at = f"N = {big['n']:,}, M = {big['m']:,}"
        exact = all(big[key]["agrees"] for key in ("scan", "list", "details"))
        rows.append((f"Scan, List and details complete and exact ({at})",
                     f"List in {big['list']['replies']['max']:g} replies of {big['list']['buffers']['max']:,} buffers",
                     exact, "an answer differs from the truth"))
        first, last = big["watch"]["first_tenth_median"], big["watch"]["last_tenth_median"]
        rows.append((f"Watch of {big['m']:,} names in calls of {big['watch']['per_call']:,}: time linear in the names",
                     f"last tenth of the calls {duration(last)}, first tenth {duration(first)} ({last / first:.2f}×)",
                     last <= 1.5 * first, f"the last calls cost {last / first:.1f}× the first"))
        none, many = big["status_unwatched"]["nsec"]["median"], big["status_watched"]["nsec"]["median"]
        rows.append((f"Status costs no per-name work ({big['m']:,} names watched vs none)",
                     f"{duration(many)} vs {duration(none)} ({many / none:.2f}×)", many <= 1.5 * none,
                     f"{many / none:.1f}× slower with the names"))
    if "startup_nsec" in host:
        startup = host["startup_nsec"]["median"]
        rows.append(("start-up to serving under 200 ms (host)", duration(startup), startup < 200e6,
                     f"{duration(startup - 200e6)} over"))
    return rows


# What the profiles of this design (bench/METHOD.md, "Findings") say would close a missed target;
# the tables of the same report show whether the profile still says so.
CLOSERS = {
    "Scan end to end": "the service's own time per Scan grows with M, not N (the rest column): at M = 1,000 it is "
                       "about 1 ms natively (the host rows), about 20 ms under TCG. Replies are written straight to "
                       "bytes (JSONWriter), so what is left is per name and per reply: a dictionary lookup of every "
                       "watch's stats per waiter (`BufferMonitor.outcome`), each name's bytes escaped again for every "
                       "reply, and three thread hops per call (event loop, the session's task, the monitor's "
                       "thread and back: natively a `Status` round trip is ~130 µs, of which the hops are most). "
                       "Encoding each watch's name once when it is watched, reading stats by slot, and running "
                       "sessions on their channel's event loop are the next steps.",
    "debugfs": "the same per-name cost: the pass itself is 22–27× below debugfs at every N (the bare-pass column), "
               "so closing the Scan target closes this one.",
    "fdinfo": "the same per-name cost: the pass is ~200× below the walk, so closing the Scan target closes this one.",
    "64 concurrent": "a pass about to start waits, at most as long as the last pass took, for every call read off "
                     "its socket and not yet at the monitor (counted from the moment its bytes are framed). Under "
                     "TCG a call takes ~1 ms (release) from its bytes to the monitor, and at small N the last pass "
                     "is shorter than the time 64 calls take to get there on the CPU the pass leaves: the rule "
                     "that a gathered call never waits longer than a pass then leaves some calls for the next one. "
                     "Cheaper calls (fewer thread hops, above) widen what one window gathers.",
    "idle RSS": "the ring buffer is no longer mapped while idle (36.6 MiB before, 2026-12-04). What remains is "
                "file-backed pages of the Swift runtime and the binary (libswiftCore 4.7 MiB, the binary 5.3 MiB, "
                "FoundationEssentials 1.9 MiB, _StringProcessing and _RegexParser 0.9 MiB, libc and libstdc++ "
                "2 MiB, libdispatch and _Concurrency 0.8 MiB), shared with other Swift processes; anonymous "
                "memory is ~2 MiB. Not linking Foundation (pulled in by dependencies) and the implicit "
                "_StringProcessing would take ~3 MiB off; the rest is the runtime.",
}


def closer(target):
    return next((text for key, text in CLOSERS.items() if key in target), "")


def cell_rows(cells):
    rows = []
    for cell in cells:
        bare = cell["bare"]["nsec"]["median"]
        for method, label in METHODS.items():
            stats = cell[method]["nsec"]
            extra = f", passes {cell[method]['passes']['min']}–{cell[method]['passes']['max']}" \
                if method == "scan64" else ""
            rows.append((f"{cell['n']:,}", f"{cell['m']:,}", label + extra, duration(stats["median"]), spread(stats),
                         stats["samples"], f"{stats['median'] / bare:.1f}×",
                         "yes" if cell[method]["agrees"] else "**NO**"))
    return rows


def summary_rows(cells):
    rows = []
    for cell in cells:
        bare = cell["bare"]["nsec"]["median"]
        row = [f"{cell['n']:,}", f"{cell['m']:,}", duration(bare)]
        for method in ("scan", "scan64", "debugfs", "fdinfo"):
            median = cell[method]["nsec"]["median"]
            row.append(f"{duration(median)} ({median / bare:.0f}×)" if median / bare >= 10 else
                       f"{duration(median)} ({median / bare:.1f}×)")
        row.append(f"{cell['scan64']['passes']['median']:g} ({cell['scan64']['passes']['max']})")
        rows.append(row)
    return rows


SUMMARY_HEADER = ["N", "M", "bare pass", "Scan", "64 Scans", "debugfs", "fdinfo walk", "passes for 64: median (max)"]


def scan_breakdown(cells):
    return [(f"{c['n']:,}", f"{c['m']:,}", duration(c["scan"]["nsec"]["median"]),
             duration(c["scan"]["pass_nsec"]["median"]), duration(c["scan"]["decode_nsec"]["median"]),
             duration(c["scan"]["nsec"]["median"] - c["scan"]["pass_nsec"]["median"] - c["scan"]["decode_nsec"]["median"]))
            for c in cells]


def subscribe_rows(where, rows, n=""):
    return [(where, n, f"{r['m']:,}", r["subscribers"], duration(r["cpu_nsec_per_pass"]["median"]),
             spread(r["cpu_nsec_per_pass"]), f"{r['passes']} in {r['seconds']:g} s") for r in rows]


def memory_rows(host, services):
    rows = []
    for where, data in [("host", host)] + [(f"VM, N = {s['n']:,}", s) for s in services]:
        if "idle_kib" not in data:
            continue
        connections = next(key for key in data if key.startswith("connections_"))
        rows.append((where, f"{data['idle_kib'] / MIB:.1f}", f"{data['idle_anon_kib'] / MIB:.1f}",
                     f"{data['watched_1000_kib'] / MIB:.1f}",
                     f"{data[connections] / MIB:.1f} ({connections.split('_')[1]})",
                     duration(data["startup_nsec"]["median"] if isinstance(data["startup_nsec"], dict)
                              else data["startup_nsec"])))
    return rows


def markdown(result):
    vm, host, cells = result["vm"], result["host"], result["vm"].get("cells", [])
    machine, guest = host.get("machine", {}), vm.get("machine", {})
    lines = [f"# dmabufd benchmark, {result['date']}", "",
             f"{'Smoke run (--quick)' if result['quick'] else 'Full run'} of `bench/run` with the {result['build']} "
             f"build ({result['bin_dir']}), {result['seconds'] / 60:.1f} min in all. "
             "[bench/METHOD.md](../METHOD.md) says what each method does and what is timed.", "",
             f"- Host: {machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs, "
             f"{machine.get('memory_mib', 0) / 1024:.0f} GiB, Linux {machine.get('kernel', '?')}, no KVM.",
             f"- VM (every buffer measurement): qemu TCG ({guest.get('cpu', '?')}), {guest.get('cpus', '?')} vCPUs, "
             f"{guest.get('memory_mib', 0) / 1024:.1f} GiB, Linux {guest.get('kernel', '?')}; one-page udmabufs "
             f"named bench-(i mod 2000), watched names bench-0 … bench-(M-1); Python {guest.get('python', '?')} "
             "clients. TCG inflates everything, user space (the service, Python) more than the BPF pass.", ""]
    if result["failures"]:
        lines += ["## FAILED", ""] + [f"- {failure}" for failure in result["failures"]] + [""]
    rows = targets(vm, host)
    lines += ["## Targets", ""] + table(["target", "measured", "met"], [
        (target, measured, "yes" if met else f"**no**: {shortfall}") for target, measured, met, shortfall in rows])
    missed = {target.split(" (")[0]: closer(target) for target, _, met, _ in rows if not met and closer(target)}
    if missed:
        lines += ["", "What would close the missed targets (from the profiles; bench/METHOD.md has the findings):", ""] + [f"- {t}: {c}" for t, c in missed.items()]
    lines += ["", "## Time per answer (VM, real buffers): medians, × the bare pass", ""] + \
        table(SUMMARY_HEADER, summary_rows(cells))
    lines += ["", "## Every measurement (VM)", ""] + \
        table(["N", "M", "method", "median", "p10 – p90", "samples", "× bare", "answer = truth"], cell_rows(cells))
    lines += ["", "## Where Scan's time goes (VM): pass as the service timed it, Python's decode, the rest "
              "(service and socket)", ""] + table(["N", "M", "Scan", "pass", "decode", "rest"], scan_breakdown(cells))
    if host.get("scan"):
        host_cells = [{"n": 0, "m": int(m), "scan": s} for m, s in host["scan"].items()]
        lines += ["", "The same on the host, natively (its kernel exports no buffers: the pass sees none):", ""] + \
            table(["N", "M", "Scan", "pass", "decode", "rest"], scan_breakdown(host_cells))
    if host.get("profile"):
        profile = host["profile"]
        lines += ["", f"Profile of dmabufd on the host while one client Scans with M = {profile['m']:,} names back to "
                  "back (perf, self time):", ""] + table(["%", "where", "symbol"], [
                      (f"{s['percent']:.1f}", s["dso"], f"`{s['symbol'][:90]}`") for s in profile["symbols"]])
    sub = [row for s in vm.get("services", []) for row in subscribe_rows("VM", s["subscribe"], f"{s['n']:,}")]
    sub += subscribe_rows("host", host.get("subscribe", []), "0")
    lines += ["", "## Subscribe: the service's CPU time per pass while idle subscribers wait (interval 100 ms)", ""] + \
        table(["where", "N", "names each", "subscribers", "CPU per pass", "p10 – p90", "passes"], sub)
    lines += ["", "## Memory (VmRSS, MiB) and start-up to serving (median)", ""] + \
        table(["where", "idle", "idle, anonymous", "1,000 watched names", "connections", "start-up"],
              memory_rows(host, vm.get("services", [])))
    if vm.get("largest"):
        big = vm["largest"]
        scan = big["scan"]
        lines += ["", f"## The largest host (VM): N = {big['n']:,} buffers sharing their pages, M = {big['m']:,} "
                  "watched names, default settings but `--capacity`", ""] + \
            table(["what", "median", "p10 – p90", "samples", "answer = truth"], [
                ("making the buffers (fixture)", f"{big['create_seconds']:.1f} s", "", 1, ""),
                (f"Watch, {big['watch']['calls']} calls of {big['watch']['per_call']:,} names",
                 duration(big["watch"]["nsec"]["median"]), spread(big["watch"]["nsec"]), big["watch"]["calls"], ""),
                ("Status, nothing watched", duration(big["status_unwatched"]["nsec"]["median"]),
                 spread(big["status_unwatched"]["nsec"]), big["status_unwatched"]["nsec"]["samples"], ""),
                (f"Status, {big['m']:,} names watched", duration(big["status_watched"]["nsec"]["median"]),
                 spread(big["status_watched"]["nsec"]), big["status_watched"]["nsec"]["samples"], ""),
                (f"Scan (pass {duration(scan['pass_nsec']['median'])}, client's decode "
                 f"{duration(scan['decode_nsec']['median'])})", duration(scan["nsec"]["median"]), spread(scan["nsec"]),
                 scan["nsec"]["samples"], "yes" if scan["agrees"] else "**NO**"),
                (f"List with more ({big['list']['replies']['max']:g} replies), joined and decoded",
                 duration(big["list"]["nsec"]["median"]), spread(big["list"]["nsec"]), big["list"]["nsec"]["samples"],
                 "yes" if big["list"]["agrees"] else "**NO**"),
                ("Scan with details (one reply), decoded", duration(big["details"]["nsec"]["median"]),
                 spread(big["details"]["nsec"]), big["details"]["nsec"]["samples"],
                 "yes" if big["details"]["agrees"] else "**NO**"),
            ])
        lines += ["", f"Memory of that service (VmRSS): {big['idle_kib'] / MIB:.1f} MiB idle at this N, "
                  f"{big['after_kib'] / MIB:.1f} MiB after the listings, peak {big['peak_kib'] / MIB:.1f} MiB."]
    if vm.get("attribution"):
        lines += ["", "## Who holds it: Processes() end to end against a C walk of /proc (VM)", "",
                  "Each buffer is held by two processes: this benchmark (all of them) and one of the `sleep` "
                  "processes it started (a slice each, by fd). `bench/procwalk.c` reads every "
                  "`/proc/PID/fdinfo/FD` and `/proc/PID/maps` of the guest and computes the same answer.", ""] + \
            table(["N", "processes", "Processes()", "p10 – p90", "C /proc walk", "p10 – p90", "walk ÷ Processes",
                   "answers = truth"],
                  [(f"{r['n']:,}", r["processes"], duration(r["ours"]["nsec"]["median"]), spread(r["ours"]["nsec"]),
                    duration(r["procwalk"]["nsec"]["median"]), spread(r["procwalk"]["nsec"]),
                    f"{r['procwalk']['nsec']['median'] / r['ours']['nsec']['median']:.1f}×",
                    "yes" if r["ours"]["agrees"] and r["procwalk"]["agrees"] else "**no**")
                   for r in vm["attribution"]])
    if host.get("metrics"):
        lines += ["", "## Metrics: GET /metrics on the host, natively, every scrape reusing one pass", ""] + \
            table(["watched names", "text", "median", "p10 – p90", "samples", "answer = truth"],
                  [(f"{r['m']:,}", f"{r['bytes'] / 1024:,.0f} KiB", duration(r["nsec"]["median"]), spread(r["nsec"]),
                    r["nsec"]["samples"], "yes" if r["agrees"] else "**no**") for r in host["metrics"]])
    if "small_ring_idle_kib" in host:
        lines += ["", f"Idle with `--ring-bytes 4096` (host): {host['small_ring_idle_kib'] / MIB:.1f} MiB. "
                  "Largest mappings when idle (host, KiB): " +
                  ", ".join(f"{name} {kib:,}" for name, kib in host.get("idle_mappings_kib", {}).items()) + "."]
    return "\n".join(lines) + "\n"


def plot(cells, path):
    ms = sorted({c["m"] for c in cells})
    figure, axes = plt.subplots(1, len(ms), figsize=(max(7, 5 * len(ms)), 4.5), sharey=True, squeeze=False)
    for axis, m in zip(axes[0], ms):
        row = sorted((c for c in cells if c["m"] == m), key=lambda c: c["n"])
        ns = [c["n"] for c in row]
        for method, label in METHODS.items():
            stats = [c[method]["nsec"] for c in row]
            medians = [s["median"] / 1e6 for s in stats]
            errors = [[(s["median"] - s["p10"]) / 1e6 for s in stats], [(s["p90"] - s["median"]) / 1e6 for s in stats]]
            axis.errorbar(ns, medians, yerr=errors, marker="o", capsize=3, label=label)
        axis.set(xscale="log", yscale="log", xlabel="N (buffers)", title=f"M = {m:,} watched names")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("time per answer, ms (median, p10–p90)")
    axes[0][0].legend(fontsize=8)
    figure.suptitle("Time to count M names over N DMA-BUFs (VM, qemu TCG)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--vm")
    parser.add_argument("--bin-dir")
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--date")
    parser.add_argument("--out", required=True, help="path without extension: OUT.json, OUT.md, OUT.png")
    parser.add_argument("--again", action="store_true", help="render OUT.md and OUT.png again from OUT.json")
    args = parser.parse_args()
    if args.again:
        with open(args.out + ".json") as source:
            return write(json.load(source), args.out)
    failures = []
    host, vm = load(args.host, failures, "host"), load(args.vm, failures, "VM")
    cells = vm.get("cells", [])
    quick = vm.get("config", {}).get("ns") == [100]
    wanted = {(n, m) for n in vm.get("config", {}).get("ns", []) for m in vm.get("config", {}).get("ms", [])}
    if not wanted or {(c["n"], c["m"]) for c in cells} != wanted:
        failures.append("VM: not every N and M was measured")
    failures += [f"N={c['n']} M={c['m']}: {METHODS[m]} disagrees with the truth" for c in cells for m in METHODS
                 if not c[m]["agrees"]]
    failures += [f"attribution N={r['n']}: {method} disagrees with the truth" for r in vm.get("attribution", [])
                 for method in ("ours", "procwalk") if not r[method]["agrees"]]
    if not vm.get("attribution"):
        failures.append("VM: attribution was not measured")
    if not vm.get("largest"):
        failures.append("VM: the largest host was not measured")
    else:
        failures += [f"largest: {what} disagrees with the truth" for what in ("scan", "list", "details")
                     if not vm["largest"][what]["agrees"]]
    result = {"date": args.date, "quick": quick, "bin_dir": args.bin_dir, "seconds": args.seconds,
              "build": "release" if "release" in args.bin_dir else "debug", "failures": failures,
              "host": host, "vm": vm}
    with open(args.out + ".json", "w") as out:
        json.dump(result, out, indent=1)
    return write(result, args.out)


def write(result, out_path):
    """OUT.md and OUT.png from the merged result; 1 when it failed or a file is missing."""
    failures, cells = result["failures"], result["vm"].get("cells", [])
    with open(out_path + ".md", "w") as out:
        out.write(markdown(result))
    if cells:
        plot(cells, out_path + ".png")
    missing = [out_path + ext for ext in (".json", ".md", ".png") if not os.path.getsize(out_path + ext)] \
        if os.path.exists(out_path + ".png") else [out_path + ".png"]
    print(f"bench: wrote {out_path}.json, .md, .png" + (f"; FAILED: {failures + missing}" if failures or missing
                                                         else ""), file=sys.stderr)
    return 1 if failures or missing else 0


if __name__ == "__main__":
    sys.exit(main())
