//! The markdown sections of the scale and loss runs.

use super::loss::{Loss, CONCURRENT, CONCURRENT_CALLS, THREADS};
use super::scale::{flatness, floor_ratio, DepthRun, DEPTHS, LEVELS};
use super::*;

/// Ratio goals of issue #11: outside ≤ 1.1× and inside ≤ 1.3× the floor's added cost.
const OUTSIDE_GOAL: f64 = 1.1;
const INSIDE_GOAL: f64 = 1.3;

/// `## Scale` section.
pub(super) fn scale_section(runs: &[DepthRun], n: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Scale: many recordings at once, deep cgroups\n");
    let _ = writeln!(
        s,
        "Steady CPU ns per getppid ({n} calls per sample, {} samples per cell, median), \
         with N recordings active while the loop runs. Outside: N background recordings, \
         the loop in a never-recorded sibling cgroup at the recorded cgroups' depth. \
         Inside: N − 1 background recordings and the loop's own (each inside count \
         checked: exactly {n} getppid). \"×floor\" is the added cost over bare as a \
         multiple of the empty program's, measured at the start of the same depth's block \
         (goals: outside ≤ {OUTSIDE_GOAL}×, inside ≤ {INSIDE_GOAL}×). Depths {DEPTHS:?}, \
         levels {LEVELS:?}.\n",
        runs.first()
            .and_then(|r| r.levels.first())
            .map_or(0, |l| l.outside.len())
    );
    let _ = writeln!(
        s,
        "| depth (seen) | N | outside ns | outside ×floor | inside ns | inside ×floor | \
         maps memlock | record RSS (median / max) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for run in runs {
        let (bare, floor) = (median(&run.bare), median(&run.floor));
        for l in &run.levels {
            let (o, i) = (median(&l.outside), median(&l.inside));
            let rss: Vec<f64> = l
                .rss_kib
                .iter()
                .chain(&l.inside_peak_kib)
                .map(|&k| k as f64)
                .collect();
            let _ = writeln!(
                s,
                "| {} ({}) | {} | {o:.1} | {:.2}× | {i:.1} | {:.2}× | {} | {:.1} / {:.1} MiB |",
                run.depth,
                run.seen_depth
                    .map_or_else(|| "?".to_owned(), |d| d.to_string()),
                l.recordings,
                floor_ratio(o, bare, floor),
                floor_ratio(i, bare, floor),
                l.memlock.map_or_else(
                    || "unknown".to_owned(),
                    |(b, maps)| format!("{:.1} MiB in {maps} maps", b as f64 / 1048576.0)
                ),
                median(&rss) / 1024.0,
                max(&rss) / 1024.0,
            );
        }
        let _ = writeln!(
            s,
            "| depth {} references | | bare {bare:.1} | floor {floor:.1} (+{:.1}) | | | | |",
            run.depth,
            floor - bare
        );
    }
    let _ = writeln!(
        s,
        "\nFlatness in N (added ns over bare, from N = 1 to N = 256):\n"
    );
    for run in runs {
        let bare = median(&run.bare);
        for (place, pick) in [
            (
                "outside",
                (|l: &super::scale::LevelRun| median(&l.outside)) as fn(&_) -> f64,
            ),
            ("inside", |l: &super::scale::LevelRun| median(&l.inside)),
        ] {
            let added: Vec<f64> = run.levels.iter().map(|l| pick(l) - bare).collect();
            let (spread, ratio) = flatness(&added);
            let _ = writeln!(
                s,
                "- depth {}, {place}: {} ns; spread {spread:.1} ns, largest / smallest {ratio:.2}",
                run.depth,
                added
                    .iter()
                    .map(|a| format!("{a:.1}"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            );
        }
    }
    let _ = writeln!(
        s,
        "\nThe memlock column sums `bytes_memlock` of the maps our three programs use \
         (bpftool): the maps are preallocated, so the figure is the same at every N; per \
         recording it is the total / 256 slots. \"record RSS\" is VmRSS of each background \
         `record` while it records and the peak RSS (wait4) of each `record` that recorded \
         the loop.\n"
    );
    s
}

/// `## Loss` section.
pub(super) fn loss_section(l: &Loss) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Loss: exact counts under load\n");
    let exact = |ok: bool| if ok { "exact" } else { "NOT EXACT" };
    let _ = writeln!(
        s,
        "- {THREADS} threads on every CPU (pinned round-robin), {} getppid calls in all: \
         counted {} ({}); wall {:.2} s bare, {:.2} s recorded ({:.2}×).",
        l.threads_made,
        l.threads_counted,
        exact(l.threads_counted == l.threads_made),
        l.threads_bare_s,
        l.threads_recorded_s,
        l.threads_recorded_s / l.threads_bare_s
    );
    let wrong = l
        .concurrent_counted
        .iter()
        .filter(|&&c| c != CONCURRENT_CALLS)
        .count();
    let _ = writeln!(
        s,
        "- {CONCURRENT} recordings at once, each of its own {CONCURRENT_CALLS}-call loop: \
         {} of {CONCURRENT} finished, {wrong} miscounted ({}), {:.1} s in all.\n",
        l.concurrent_counted.len(),
        exact(l.exact()),
        l.concurrent_s
    );
    s
}
