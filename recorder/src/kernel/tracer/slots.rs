//! Pure helpers of the recording slots: config rows, cgroup buckets, first uses.

use super::*;

pub(super) fn slot_used(config: &Config, slot: u32) -> bool {
    let (word, bit) = ((slot / 64) as usize, slot % 64);
    config
        .used
        .get(word)
        .is_some_and(|w| w & (1u64 << bit) != 0)
}

/// The program's configuration for the slots in use, given as (slot, cgroup level)
/// pairs; a slot without a cgroup yet (a spare of the agent) has no level (pure).
pub fn config_for(members: &[(u32, Option<u32>)]) -> Result<Config, TracerError> {
    let levels: Vec<u32> = members.iter().filter_map(|(_, l)| *l).collect();
    let mut config = config_for_levels(&levels)?;
    for (slot, _) in members {
        if let Some(w) = config.used.get_mut((*slot / 64) as usize) {
            *w |= 1u64 << (slot % 64);
        }
    }
    Ok(config)
}

/// The program's configuration for a set of recorded cgroup levels (pure).
pub fn config_for_levels(levels: &[u32]) -> Result<Config, TracerError> {
    let mut distinct: Vec<u32> = levels.to_vec();
    distinct.sort_unstable_by(|a, b| b.cmp(a));
    distinct.dedup();
    if distinct.len() > MAX_LEVELS {
        return Err(TracerError::TooManyLevels);
    }
    let mut config = Config::default();
    for (i, l) in distinct.iter().enumerate() {
        config.levels[i] = *l;
    }
    config.level_count = distinct.len() as u32;
    Ok(config)
}

/// The (slot, level) members of [`config_for`] for these slots in use: a slot whose
/// cgroup is not known yet (cgroup id 0: a spare) adds no level.
pub(super) fn members_of(active: &[(u32, SlotState)]) -> Vec<(u32, Option<u32>)> {
    active
        .iter()
        .map(|(n, s)| (*n, (s.cgroup_id != 0).then_some(s.level)))
        .collect()
}

pub(super) fn first_call(f: &FirstUse, started_ns: u64) -> FirstCall {
    let end = f.comm.iter().position(|&b| b == 0).unwrap_or(f.comm.len());
    FirstCall {
        after_ns: f.time_ns.saturating_sub(started_ns),
        pid: f.tgid,
        tid: f.tid,
        comm: String::from_utf8_lossy(&f.comm[..end]).into_owned(),
    }
}

/// CLOCK_MONOTONIC in nanoseconds (what `bpf_ktime_get_ns` returns).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}
