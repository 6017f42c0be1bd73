//! Which OCI runtime started a container, read from /proc at prestart.
//!
//! Runtime-spec hooks are executed by the runtime itself (crun forks them, `runc
//! create` execs them), so the hook's parent process is the runtime. The container
//! init's executable (crun's init is crun; runc's init is `runc init`, often a memfd
//! copy named `runc_cloned`) is the fallback. The runtimes and their tails are in
//! [`seccomp_profile::runtime`].

use seccomp_profile::runtime::Runtime;

/// How the runtime of a container was found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The runtime whose tail is added (`Any` when unknown).
    pub runtime: Runtime,
    /// What it was read from, for the hook log and the report.
    pub signal: String,
}

/// What /proc says about a process, as far as naming its program goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    /// `/proc/PID/exe` (crun 1.8 runs from a copy whose link reads just `/`).
    pub exe: Option<String>,
    /// `/proc/PID/comm` (`crun`, `runc`, `runc:[2:INIT]`).
    pub comm: Option<String>,
    /// The first word of `/proc/PID/cmdline` (`/usr/bin/crun`).
    pub argv0: Option<String>,
}

impl ProcessFacts {
    /// Reads the facts of `pid`; what cannot be read stays `None`.
    pub fn of(pid: i32) -> ProcessFacts {
        let read = |what: &str| std::fs::read(format!("/proc/{pid}/{what}")).ok();
        ProcessFacts {
            exe: std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
            comm: read("comm").map(|b| String::from_utf8_lossy(&b).trim_end().to_owned()),
            argv0: read("cmdline").and_then(|b| {
                b.split(|c| *c == 0)
                    .next()
                    .filter(|w| !w.is_empty())
                    .map(|w| String::from_utf8_lossy(w).into_owned())
            }),
        }
    }

    /// The runtime this process is, with the fact that told (pure).
    pub fn runtime(&self) -> Option<(Runtime, String)> {
        [
            ("exe", &self.exe),
            ("comm", &self.comm),
            ("argv[0]", &self.argv0),
        ]
        .into_iter()
        .find_map(|(what, v)| {
            let v = v.as_deref()?;
            Runtime::recognise(v).map(|rt| (rt, format!("{what} {v}")))
        })
    }

    fn describe(&self) -> String {
        format!(
            "exe {}, comm {}",
            self.exe.as_deref().unwrap_or("?"),
            self.comm.as_deref().unwrap_or("?")
        )
    }
}

/// Decides the runtime from what prestart can see (pure): the hook's parent (the
/// runtime that executes hooks), then the container init. Unknown runtimes get `Any`
/// (the union of every known tail).
pub fn decide(parent: &ProcessFacts, init: &ProcessFacts) -> Detection {
    if let Some((runtime, fact)) = parent.runtime() {
        return Detection {
            runtime,
            signal: format!("hook parent {fact}"),
        };
    }
    if let Some((runtime, fact)) = init.runtime() {
        return Detection {
            runtime,
            signal: format!("container init {fact}"),
        };
    }
    Detection {
        runtime: Runtime::Any,
        signal: format!(
            "unknown runtime (hook parent: {}; container init: {}): the union of all known tails",
            parent.describe(),
            init.describe()
        ),
    }
}

/// Reads both signals for a hook run at prestart: our parent and `init_pid`.
pub fn detect_at_prestart(init_pid: i32) -> Detection {
    // SAFETY: getppid never fails.
    let parent = unsafe { libc::getppid() };
    decide(&ProcessFacts::of(parent), &ProcessFacts::of(init_pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parent_wins_then_init_then_union() {
        let facts = |exe: &str, comm: &str, argv0: &str| ProcessFacts {
            exe: Some(exe.to_owned()),
            comm: Some(comm.to_owned()),
            argv0: Some(argv0.to_owned()),
        };
        // crun 1.8's exe link reads "/": its comm and argv[0] tell.
        let d = decide(
            &facts("/", "crun", "/usr/bin/crun"),
            &ProcessFacts::default(),
        );
        assert_eq!(d.runtime, Runtime::Crun);
        assert_eq!(d.signal, "hook parent comm crun");
        let d = decide(
            &facts("/usr/sbin/runc", "runc", "runc"),
            &facts("/", "crun", "crun"),
        );
        assert_eq!(d.runtime, Runtime::Runc);
        let d = decide(
            &facts("/usr/bin/sh", "sh", "sh"),
            &facts(
                "/memfd:runc_cloned:/proc/self/exe (deleted)",
                "runc:[2:INIT]",
                "runc",
            ),
        );
        assert_eq!(d.runtime, Runtime::Runc);
        assert!(d.signal.starts_with("container init"), "{}", d.signal);
        let d = decide(
            &facts("/usr/bin/youki", "youki", "youki"),
            &ProcessFacts::default(),
        );
        assert_eq!(d.runtime, Runtime::Any);
        assert!(d.signal.contains("unknown runtime"));
    }
}
