//! Attaching the program (to `sys_enter` or the syscall dispatchers, and its cache
//! keepers) while recordings are active, detaching it after the last.

use super::*;

impl Tracer {
    /// Makes every CPU's task cache stale: the next call on each CPU looks the task up
    /// again. Called after every change of the config or the cgroup table.
    pub(super) fn bump_epoch(&mut self) -> Result<(), TracerError> {
        let now = self
            .epoch
            .get(&EPOCH_USER, 0)
            .map_err(map_err("cannot read epoch"))?;
        self.epoch
            .set(EPOCH_USER, now.wrapping_add(1), 0)
            .map_err(map_err("cannot write epoch"))
    }

    /// Attaches the cache keepers (`sched_switch`, `cgroup_attach_task`), makes the
    /// caches stale, then attaches `sys_enter`: the cache is only ever used while it is
    /// kept. Each step is skipped when already done (its link is pinned).
    pub(super) fn attach(&mut self) -> Result<(), TracerError> {
        for (prog, tracepoint, link) in [
            (pins::PROGRAM_SWITCH, "sched_switch", pins::LINK_SWITCH),
            (
                pins::PROGRAM_MIGRATE,
                "cgroup_attach_task",
                pins::LINK_MIGRATE,
            ),
        ] {
            self.attach_one(prog, tracepoint, link)?;
        }
        // Entries filled while the keepers were detached are stale from here on.
        self.bump_epoch()?;
        match self.attach_point()? {
            AttachPoint::Tracepoint => self.attach_one(pins::PROGRAM, "sys_enter", pins::LINK),
            AttachPoint::Fentry => {
                // The main link last: it is what "attached" means.
                for (prog, link) in [
                    (pins::PROGRAM_COMPAT, pins::LINK_COMPAT),
                    (pins::PROGRAM_X32, pins::LINK_X32),
                    (pins::PROGRAM, pins::LINK),
                ] {
                    if prog == pins::PROGRAM || self.dir.join(prog).exists() {
                        self.attach_fentry(prog, link)?;
                    }
                }
                Ok(())
            }
        }
    }

    pub(super) fn attach_one(
        &self,
        prog: &str,
        tracepoint: &str,
        link: &str,
    ) -> Result<(), TracerError> {
        self.pin_new_link(link, || {
            let mut program = RawTracePoint::from_pin(self.dir.join(prog))
                .map_err(prog_err("cannot open pinned program"))?;
            let id = program
                .attach(tracepoint)
                .map_err(prog_err("cannot attach to a raw tracepoint"))?;
            Ok(program
                .take_link(id)
                .map_err(prog_err("cannot take link"))?
                .into())
        })?;
        tracing::debug!(tracepoint, "attached");
        Ok(())
    }

    /// Unless `link` is pinned already (attached), attaches with `attach` and pins the
    /// link it returns at `link`.
    pub(super) fn pin_new_link(
        &self,
        link: &str,
        attach: impl FnOnce() -> Result<FdLink, TracerError>,
    ) -> Result<(), TracerError> {
        let link_path = self.dir.join(link);
        if link_path.exists() {
            return Ok(());
        }
        attach()?
            .pin(&link_path)
            .map_err(pin_err("cannot pin link at", &link_path))?;
        Ok(())
    }

    /// Detaches the syscall program(s) first, then the cache keepers.
    pub(super) fn detach(&mut self) -> Result<(), TracerError> {
        for link in [
            pins::LINK,
            pins::LINK_COMPAT,
            pins::LINK_X32,
            pins::LINK_SWITCH,
            pins::LINK_MIGRATE,
        ] {
            self.detach_one(link)?;
        }
        Ok(())
    }

    pub(super) fn detach_one(&self, link: &str) -> Result<(), TracerError> {
        let link_path = self.dir.join(link);
        if !link_path.exists() {
            return Ok(());
        }
        let pinned = PinnedLink::from_pin(&link_path)
            .map_err(pin_err("cannot open pinned link", &link_path))?;
        let fd_link = pinned
            .unpin()
            .map_err(io_err("cannot unpin link", &link_path))?;
        drop(fd_link);
        tracing::debug!(link, "detached");
        Ok(())
    }
}
