//! Statistics of the benchmarks: percentiles, medians, and the goals of the per-syscall loop.

use super::*;

/// One goal of the per-syscall loop, judged.
pub(super) struct Goal {
    pub(super) what: String,
    pub(super) measured: String,
    pub(super) verdict: String,
    pub(super) pass: bool,
}

/// The per-syscall loop's figures of one configuration, pooled over its samples.
pub(super) struct LoopStats<'a> {
    pub(super) samples: &'a [(Config, Vec<LoopSample>)],
}

impl LoopStats<'_> {
    pub(super) fn of(&self, c: Config) -> &[LoopSample] {
        self.samples
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }

    /// Every chunk rate of `c`.
    pub(super) fn pooled(&self, c: Config) -> Vec<f64> {
        self.of(c)
            .iter()
            .flat_map(|x| x.rates.iter().copied())
            .collect()
    }

    /// Steady cost: the low percentile of every chunk rate of `c`.
    pub(super) fn steady(&self, c: Config) -> f64 {
        percentile(&self.pooled(c), STEADY_PERCENTILE)
    }

    /// Steady cost added over bare.
    pub(super) fn added(&self, c: Config) -> f64 {
        self.steady(c) - self.steady(Config::Bare)
    }

    pub(super) fn slice_medians(&self, c: Config) -> Vec<f64> {
        self.of(c).iter().map(|x| median(&x.rates)).collect()
    }

    /// Paired: per slice, median chunk rate minus bare's; the median over the slices.
    pub(super) fn paired_added(&self, c: Config) -> f64 {
        let (a, b) = (self.slice_medians(c), self.slice_medians(Config::Bare));
        median(&a.iter().zip(&b).map(|(x, y)| x - y).collect::<Vec<_>>())
    }

    /// Paired ratio: per slice, added cost over the floor's; the median over the slices.
    pub(super) fn paired_ratio(&self, c: Config) -> f64 {
        let (a, b, f) = (
            self.slice_medians(c),
            self.slice_medians(Config::Bare),
            self.slice_medians(Config::Floor),
        );
        let ratios: Vec<f64> = a
            .iter()
            .zip(&b)
            .zip(&f)
            .map(|((x, y), z)| (x - y) / (z - y))
            .collect();
        median(&ratios)
    }
}

/// The per-syscall goals (inside ≤ 1.3 × the floor's added cost, outside ≤ 1.1 ×,
/// nothing recorded ≈ 0), judged on the steady figures.
pub(super) fn loop_goals(samples: &[(Config, Vec<LoopSample>)]) -> Vec<Goal> {
    let st = LoopStats { samples };
    let floor_added = st.added(Config::Floor);
    let mut goals = Vec::new();
    for (config, what, limit) in [
        (Config::Inside, "inside a recorded cgroup", 1.3),
        (
            Config::Outside,
            "outside it, task in the root cgroup (a recording active elsewhere)",
            1.1,
        ),
        (
            Config::OutsideOther,
            "outside it, task in another cgroup at the recorded level (a recording active elsewhere)",
            1.1,
        ),
    ] {
        let a = st.added(config);
        let ratio = a / floor_added;
        let pass = ratio <= limit;
        goals.push(Goal {
            what: format!("{what}: added cost ≤ {limit} × the floor's"),
            measured: format!(
                "+{a:.1} ns vs floor +{floor_added:.1} ns = {ratio:.2}× (paired: {:.2}×)",
                st.paired_ratio(config)
            ),
            verdict: verdict(pass, a - limit * floor_added, "ns/call"),
            pass,
        });
    }
    let bare = st.steady(Config::Bare);
    let idle_added = st.added(Config::Idle);
    let pass = idle_added.abs() <= IDLE_TOLERANCE * bare;
    goals.push(Goal {
        what: "nothing recorded: zero added cost (program pinned, no link in any sample)"
            .to_owned(),
        measured: format!(
            "{idle_added:+.1} ns ({:+.1} % of bare; noise tolerance ±{:.0} %; paired {:+.1} ns)",
            100.0 * idle_added / bare,
            100.0 * IDLE_TOLERANCE,
            st.paired_added(Config::Idle)
        ),
        verdict: if pass {
            "PASS".to_owned()
        } else {
            format!("MISS ({idle_added:+.1} ns/call)")
        },
        pass,
    });
    goals
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

pub(crate) fn median(v: &[f64]) -> f64 {
    let s = sorted(v);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile (`q` in 0..=1).
pub(crate) fn percentile(v: &[f64], q: f64) -> f64 {
    let s = sorted(v);
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = (q * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

pub(crate) fn p90(v: &[f64]) -> f64 {
    percentile(v, 0.9)
}

pub(crate) fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

pub(crate) fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// "PASS", or by how much the goal was missed.
pub(super) fn verdict(pass: bool, over: f64, unit: &str) -> String {
    if pass {
        "PASS".to_owned()
    } else {
        format!("MISS by {over:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(p90(&(1..=10).map(f64::from).collect::<Vec<_>>()), 9.0);
        assert_eq!(p90(&[5.0]), 5.0);
        assert!(median(&[]).is_nan());
    }
}
