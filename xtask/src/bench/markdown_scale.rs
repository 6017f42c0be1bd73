//! The markdown sections of the scale and loss runs.

use super::loss::{Loss, CONCURRENT, CONCURRENT_CALLS, THREADS};
use super::scale::{flatness, floor_ratio, steady, DepthRun, DEPTHS, LEVELS, SCALE_ROUNDS};
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
        "Steady CPU ns per getppid ({n} calls per sample, {} samples per cell; the 5th \
         percentile of the cell's pooled chunk rates, as in the per-syscall rounds), \
         with N recordings active while the loop runs; the levels are visited in ABBA \
         order (ascending, descending, ...), one sample per visit, so that a drift of the \
         machine's speed does not read as growth with N. Outside: N background recordings, \
         the loop in a never-recorded sibling cgroup at the recorded cgroups' depth. \
         Inside: N − 1 background recordings and the loop's own (each inside count \
         checked: exactly {n} getppid). \"×floor\" is the added cost over bare as a \
         multiple of the empty program's, measured at the start of the same depth's block \
         (goals: outside ≤ {OUTSIDE_GOAL}×, inside ≤ {INSIDE_GOAL}×). Depths {DEPTHS:?}, \
         levels {LEVELS:?}.\n",
        SCALE_ROUNDS
    );
    let _ = writeln!(
        s,
        "| depth (seen) | N | outside ns | outside ×floor | inside ns | inside ×floor | \
         maps memlock | record RSS (median / max) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for run in runs {
        let (bare, floor) = (steady(&run.bare), steady(&run.floor));
        for l in &run.levels {
            let (o, i) = (steady(&l.outside), steady(&l.inside));
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
        let bare = steady(&run.bare);
        for (place, pick) in [
            (
                "outside",
                (|l: &super::scale::LevelRun| steady(&l.outside)) as fn(&_) -> f64,
            ),
            ("inside", |l: &super::scale::LevelRun| steady(&l.inside)),
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

/// The flatness goal: at every depth, outside and inside, the added cost with 256
/// recordings stays within 0.1 × the floor's added cost of the added cost with 1 (the
/// width of the outside goal's band), so N recordings cost what one does.
pub(super) fn scale_goal(runs: &[DepthRun]) -> Goal {
    let mut worst: Option<(f64, f64, usize, &str)> = None;
    for run in runs {
        let (bare, floor) = (steady(&run.bare), steady(&run.floor));
        let (Some(first), Some(last)) = (run.levels.first(), run.levels.last()) else {
            continue;
        };
        for (place, a, b) in [
            ("outside", steady(&first.outside), steady(&last.outside)),
            ("inside", steady(&first.inside), steady(&last.inside)),
        ] {
            let growth = b - a;
            let allowed = 0.1 * (floor - bare);
            if worst.is_none_or(|(g, al, _, _)| growth - allowed > g - al) {
                worst = Some((growth, allowed, run.depth, place));
            }
        }
    }
    let what = format!(
        "flat in the number of recordings: added cost at N = {} minus at N = {} ≤ 0.1 × \
         the floor's added cost, every depth, outside and inside",
        LEVELS[LEVELS.len() - 1],
        LEVELS[0]
    );
    match worst {
        None => Goal {
            what,
            measured: "no scale figures".to_owned(),
            verdict: "MISS (not measured)".to_owned(),
            pass: false,
        },
        Some((growth, allowed, depth, place)) => Goal {
            what,
            measured: format!(
                "largest: {growth:+.1} ns (depth {depth}, {place}; allowed {allowed:.1} ns)"
            ),
            verdict: verdict(growth <= allowed, growth - allowed, "ns/call"),
            pass: growth <= allowed,
        },
    }
}

/// The loss goals: the many-thread run and every concurrent recording counted exactly.
pub(super) fn loss_goals(l: &Loss) -> [Goal; 2] {
    let threads = l.threads_counted == l.threads_made;
    let exact_recordings = l
        .concurrent_counted
        .iter()
        .filter(|&&c| c == CONCURRENT_CALLS)
        .count();
    let all = l.exact();
    let pass_fail = |ok: bool| if ok { "PASS" } else { "MISS" }.to_owned();
    [
        Goal {
            what: format!(
                "{} getppid calls from {THREADS} threads on every CPU counted exactly",
                l.threads_made
            ),
            measured: format!("counted {}", l.threads_counted),
            verdict: pass_fail(threads),
            pass: threads,
        },
        Goal {
            what: format!("{CONCURRENT} recordings at once, each count exact"),
            measured: format!("{exact_recordings} of {CONCURRENT} exact"),
            verdict: pass_fail(all),
            pass: all,
        },
    ]
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
