//! The node agent's side of the maps: watched cgroups, spare slots, and the claims the
//! program makes on its own when a task below a watch makes its first syscall in a
//! cgroup nobody records yet (see `recorder-ebpf`'s `claim`). User space then decides:
//! promote the claim to an ordinary recording, or ignore the cgroup.

use std::path::Path;

use recorder_ebpf::{
    cgroup_bucket, counter_row, watch_slot, CgroupEntry, SlotState, ABI_COUNT, CGROUP_PROBES,
    CGROUP_TOMBSTONE, CLAIM_MADE, CLAIM_MISSED, MAX_RECORDINGS, MAX_WATCH_DEPTH, NR_PER_ROW,
    SLOT_ARMED, SLOT_NONE, SLOT_WATCHING, START_AT_FILTER_OR_EXEC,
};

use super::slots::members_of;
use super::{config_for, map_err, StateLock, Tracer, TracerError};
use crate::kernel::cgroup::CgroupId;

/// A claim the program made: the cgroup (its id) and the slot counting it, or `None`
/// when the agent ignores that cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The claimed cgroup's id.
    pub cgroup: u64,
    /// Its slot; `None`: ignored (the program counts nothing for it).
    pub slot: Option<u32>,
}

/// A spare slot, armed like a container's at prestart: counting starts at the
/// runtime's filter load or the workload's exec.
/// A spare records argument values from the first syscall: the agent learns only
/// later whether the pod asks for argument rules, and uses them only then. (The slot
/// state is the program's to update once armed: it is not rewritten to turn them off.)
fn spare_state() -> SlotState {
    SlotState {
        state: SLOT_ARMED,
        start_mode: START_AT_FILTER_OR_EXEC,
        agent: 1,
        record_args: 1,
        ..SlotState::default()
    }
}

impl Tracer {
    /// Writes table entry `entry` into `bucket` (from `free_bucket`), in two steps so
    /// that the program never sees the id with a stale slot.
    pub(super) fn put_entry(&mut self, bucket: u32, entry: CgroupEntry) -> Result<(), TracerError> {
        let current = self
            .cgroups
            .get(&bucket, 0)
            .map_err(map_err("cannot read cgroup table"))?;
        let mut first = CgroupEntry {
            cgroup_id: 0,
            ..entry
        };
        if current.cgroup_id == CGROUP_TOMBSTONE {
            first.cgroup_id = CGROUP_TOMBSTONE;
        }
        self.cgroups
            .set(bucket, first, 0)
            .map_err(map_err("cannot write cgroup table"))?;
        self.cgroups
            .set(bucket, entry, 0)
            .map_err(map_err("cannot write cgroup table"))
    }

    /// The first free slot, given the slots in use.
    fn free_slot(active: &[(u32, SlotState)]) -> Result<u32, TracerError> {
        (0..MAX_RECORDINGS)
            .find(|s| !active.iter().any(|(a, _)| a == s))
            .ok_or(TracerError::NoFreeSlot)
    }

    /// Watches cgroup `dir` (id `cgroup`, at `level`): a task whose cgroup `depth`
    /// levels below it is not recorded gets a spare slot on its first syscall there.
    /// Returns the watch's own slot (it holds the level; release it to unwatch).
    pub fn watch(
        &mut self,
        (dir, cgroup): (&Path, CgroupId),
        level: u32,
        depth: u32,
    ) -> Result<u32, TracerError> {
        if depth == 0 || depth > MAX_WATCH_DEPTH {
            return Err(TracerError::WatchDepth(depth));
        }
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        let active = self.active()?;
        if active.iter().any(|(_, s)| s.cgroup_id == cgroup.0) {
            return Err(TracerError::AlreadyRecorded(cgroup.0));
        }
        let slot = Self::free_slot(&active)?;
        let mut members = members_of(&active);
        members.push((slot, Some(level)));
        self.config
            .set(0, config_for(&members)?, 0)
            .map_err(map_err("cannot write config"))?;
        let state = SlotState {
            state: SLOT_WATCHING,
            cgroup_id: cgroup.0,
            level,
            agent: 1,
            ..SlotState::default()
        };
        self.slots
            .set(slot, state, 0)
            .map_err(map_err("cannot write slot state"))?;
        self.put_entry(
            self.free_bucket(cgroup.0)?,
            CgroupEntry {
                cgroup_id: cgroup.0,
                slot: watch_slot(depth),
                level,
            },
        )?;
        self.bump_epoch()?;
        self.attach()?;
        tracing::debug!(slot, cgroup = cgroup.0, dir = %dir.display(), level, depth, "watching");
        Ok(slot)
    }

    /// Spare slots waiting in the queue (agent slots without a cgroup).
    pub fn spares(&self) -> Result<Vec<u32>, TracerError> {
        Ok(self
            .active()?
            .into_iter()
            .filter(|(_, s)| s.agent != 0 && s.cgroup_id == 0 && s.state != SLOT_WATCHING)
            .map(|(n, _)| n)
            .collect())
    }

    /// Prepares spare slots until `want` wait in the queue; returns how many wait.
    pub fn refill_spares(&mut self, want: usize) -> Result<usize, TracerError> {
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        let mut active = self.active()?;
        let mut have = active
            .iter()
            .filter(|(_, s)| s.agent != 0 && s.cgroup_id == 0 && s.state != SLOT_WATCHING)
            .count();
        while have < want {
            let Ok(slot) = Self::free_slot(&active) else {
                break;
            };
            self.clear_slot(slot)?;
            self.slots
                .set(slot, spare_state(), 0)
                .map_err(map_err("cannot write slot state"))?;
            active.push((slot, spare_state()));
            self.config
                .set(0, config_for(&members_of(&active))?, 0)
                .map_err(map_err("cannot write config"))?;
            self.spare
                .push(slot, 0)
                .map_err(map_err("cannot queue a spare slot"))?;
            have += 1;
        }
        Ok(have)
    }

    /// Zeroes a slot's counters and forgets its first uses and argument values.
    fn clear_slot(&mut self, slot: u32) -> Result<(), TracerError> {
        self.forget_records(slot)?;
        for abi in 0..ABI_COUNT {
            self.counts
                .set(counter_row(slot, abi), [0u64; NR_PER_ROW], 0)
                .map_err(map_err("cannot clear counters"))?;
        }
        Ok(())
    }

    /// The claims the program made (live and ignored).
    pub fn claims(&self) -> Result<Vec<Claim>, TracerError> {
        let mut out = Vec::new();
        for item in self.claims.iter() {
            let (cgroup, slot) = item.map_err(map_err("cannot read claims"))?;
            out.push(Claim {
                cgroup,
                slot: (slot != SLOT_NONE).then_some(slot),
            });
        }
        Ok(out)
    }

    /// Claims that found no spare slot (their cgroup's calls were not counted).
    pub fn missed_claims(&self) -> Result<u64, TracerError> {
        self.missed
            .get(&CLAIM_MISSED, 0)
            .map_err(map_err("cannot read the missed-claims counter"))
    }

    /// Claims made so far (it moves whenever there is a new one): one map read.
    pub fn claims_made(&self) -> Result<u64, TracerError> {
        self.missed
            .get(&CLAIM_MADE, 0)
            .map_err(map_err("cannot read the claims counter"))
    }

    /// Makes claim `cgroup` → `slot` an ordinary recording (a table entry at the
    /// cgroup's level): found directly from now on, like a hook's.
    pub fn promote(&mut self, cgroup: u64, slot: u32) -> Result<SlotState, TracerError> {
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        let st = self.slot_in_use(slot, Some(CgroupId(cgroup)))?;
        self.put_entry(
            self.free_bucket(cgroup)?,
            CgroupEntry {
                cgroup_id: cgroup,
                slot,
                level: st.level,
            },
        )?;
        let active = self.active()?;
        self.config
            .set(0, config_for(&members_of(&active))?, 0)
            .map_err(map_err("cannot write config"))?;
        self.bump_epoch()?;
        Ok(st)
    }

    /// The program ignores cgroup `cgroup` from now on; its slot (if it had one)
    /// is cleaned and goes back to the spares. Also what ends a finished claim.
    pub fn ignore(&mut self, cgroup: u64, slot: Option<u32>) -> Result<(), TracerError> {
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        self.claims
            .insert(cgroup, SLOT_NONE, 0)
            .map_err(map_err("cannot write claims"))?;
        // Every CPU's task cache may still name the slot.
        self.bump_epoch()?;
        if let Some(slot) = slot {
            if self.slot_in_use(slot, Some(CgroupId(cgroup))).is_ok() {
                self.remove_entry(cgroup)?;
                self.clear_slot(slot)?;
                self.slots
                    .set(slot, spare_state(), 0)
                    .map_err(map_err("cannot write slot state"))?;
                let active = self.active()?;
                self.config
                    .set(0, config_for(&members_of(&active))?, 0)
                    .map_err(map_err("cannot write config"))?;
                self.bump_epoch()?;
                self.spare
                    .push(slot, 0)
                    .map_err(map_err("cannot queue a spare slot"))?;
            }
        }
        Ok(())
    }

    /// Forgets the claim of a cgroup that is gone.
    pub fn forget_claim(&mut self, cgroup: u64) {
        let _ = self.claims.remove(&cgroup);
    }

    /// Removes cgroup `id` from the table, if there (a tombstone keeps probe chains).
    pub(super) fn remove_entry(&mut self, id: u64) -> Result<(), TracerError> {
        for probe in 0..CGROUP_PROBES {
            let b = cgroup_bucket(id, probe);
            let e = self
                .cgroups
                .get(&b, 0)
                .map_err(map_err("cannot read cgroup table"))?;
            if e.cgroup_id == id {
                let next_empty = probe + 1 >= CGROUP_PROBES || {
                    let n = cgroup_bucket(id, probe + 1);
                    self.cgroups
                        .get(&n, 0)
                        .map(|x| x.cgroup_id == 0)
                        .unwrap_or(false)
                };
                let gone = CgroupEntry {
                    cgroup_id: if next_empty { 0 } else { CGROUP_TOMBSTONE },
                    slot: 0,
                    level: 0,
                };
                return self
                    .cgroups
                    .set(b, gone, 0)
                    .map_err(map_err("cannot write cgroup table"));
            }
            if e.cgroup_id == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Ends the agent's part: spares are taken out of the queue and freed (a watch or
    /// a recording is released with [`release`](Self::release)). Detaches when nothing
    /// is left.
    pub fn drop_spares(&mut self) -> Result<(), TracerError> {
        {
            let _lock = StateLock::acquire(&self.paths.run_dir)?;
            while self.spare.pop(0).is_ok() {}
        }
        for slot in self.spares()? {
            self.release(slot)?;
        }
        Ok(())
    }
}
