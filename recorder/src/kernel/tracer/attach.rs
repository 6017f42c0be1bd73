//! Where the program sees syscalls: `fentry` on the kernel's syscall dispatchers
//! (`x64_sys_call`, `ia32_sys_call`, `x32_sys_call`), or the raw tracepoint
//! `sys_enter`. Chosen when the program is loaded (`SECCOMP_RECORDER_ATTACH`), kept
//! while it stays pinned.
//!
//! Enabling `sys_enter` sends every syscall of every task on the host through the
//! tracepoint slow path (`syscall_trace_enter`) as long as it is attached; an `fentry`
//! program costs one trampoline call on the dispatcher and nothing else. Both see a
//! call after seccomp and ptrace decided. `fentry` sees only numbers the kernel
//! implements (the dispatcher is not called for others, which fail with ENOSYS before
//! any filter of ours could matter).

use aya::programs::{FEntry, ProgramInfo};
use aya_obj::btf::{Btf as AyaBtf, BtfType, Func, FuncLinkage};

use super::*;
use crate::kernel::btf::Dispatchers;

/// The environment variable that picks the attach point at load time.
pub const ATTACH_ENV: &str = "SECCOMP_RECORDER_ATTACH";

/// Where the program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachPoint {
    /// `fentry` on the syscall dispatchers.
    Fentry,
    /// The raw tracepoint `sys_enter`.
    Tracepoint,
}

impl AttachPoint {
    /// How reports and `--stats` name it.
    pub fn describe(self) -> &'static str {
        match self {
            AttachPoint::Fentry => "fentry",
            AttachPoint::Tracepoint => "tracepoint",
        }
    }
}

/// What `SECCOMP_RECORDER_ATTACH` asks for. Unset, it is the tracepoint: the `fentry`
/// path could not be exercised on the machines this was developed on (their kernel
/// refuses `fentry` programs and all function tracing), so it is opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachChoice {
    /// `fentry` where the kernel has the dispatchers and takes the program, else the
    /// tracepoint.
    Auto,
    /// This one or an error.
    Only(AttachPoint),
}

impl Default for AttachChoice {
    fn default() -> Self {
        AttachChoice::Only(AttachPoint::Tracepoint)
    }
}

impl AttachChoice {
    /// Parses `auto`, `fentry` or `tracepoint` (empty: the default).
    pub fn parse(s: &str) -> Result<Self, TracerError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(AttachChoice::default()),
            "auto" => Ok(AttachChoice::Auto),
            "fentry" => Ok(AttachChoice::Only(AttachPoint::Fentry)),
            "tracepoint" => Ok(AttachChoice::Only(AttachPoint::Tracepoint)),
            _ => Err(TracerError::BadAttach(s.to_owned())),
        }
    }

    /// The choice in the environment.
    pub fn from_env() -> Result<Self, TracerError> {
        match std::env::var(ATTACH_ENV) {
            Ok(v) => Self::parse(&v),
            Err(std::env::VarError::NotPresent) => Ok(AttachChoice::default()),
            Err(std::env::VarError::NotUnicode(v)) => {
                Err(TracerError::BadAttach(v.to_string_lossy().into_owned()))
            }
        }
    }
}

/// One `fentry` program to load: its name in the object, the kernel function, that
/// function's BTF id, and its pin.
struct FentryTarget {
    program: &'static str,
    function: &'static str,
    btf_id: u32,
    pin: &'static str,
}

/// The `fentry` programs this host needs (one per syscall ABI it has), or why it
/// cannot use them.
fn fentry_targets(abis: &HostAbis, d: Dispatchers) -> Result<Vec<FentryTarget>, String> {
    let Some(names) = btf::Dispatchers::names(std::env::consts::ARCH) else {
        return Err(format!(
            "{} dispatches syscalls through no function an fentry program can attach to",
            std::env::consts::ARCH
        ));
    };
    let [native_fn, compat_fn, x32_fn] = names;
    let Some(native) = d.native else {
        return Err(format!(
            "the kernel has no {native_fn} (kernels before the 2024 branch-history mitigation dispatch through a table)"
        ));
    };
    let mut targets = Vec::new();
    // Compat and x32 first: the main program's pin (last) means "fully loaded".
    for (has_abi, id, function, program, pin) in [
        (
            abis.compat.is_some(),
            d.compat,
            compat_fn,
            "fentry_compat",
            pins::PROGRAM_COMPAT,
        ),
        (
            abis.x32.is_some(),
            d.x32,
            x32_fn,
            "fentry_x32",
            pins::PROGRAM_X32,
        ),
    ] {
        // A kernel without the dispatcher has no such ABI compiled in: its calls fail
        // with ENOSYS before any dispatch, and the tracepoint would count them for
        // nothing.
        let (true, Some(btf_id)) = (has_abi, id) else {
            continue;
        };
        targets.push(FentryTarget {
            program,
            function,
            btf_id,
            pin,
        });
    }
    targets.push(FentryTarget {
        program: "fentry_native",
        function: native_fn,
        btf_id: native,
        pin: pins::PROGRAM,
    });
    Ok(targets)
}

/// A BTF holding only `funcs` (id, name) at their ids in the kernel's BTF: aya looks
/// an `fentry` target up by name in a `Btf` and passes on nothing but its id, and
/// parsing the whole vmlinux BTF for it would cost ~25 ms on every cold load.
pub(super) fn btf_naming(funcs: &[(u32, &str)]) -> AyaBtf {
    let mut btf = AyaBtf::new();
    let mut sorted = funcs.to_vec();
    sorted.sort_unstable();
    let mut next = 1u32;
    for (id, name) in sorted {
        while next < id {
            btf.add_type(BtfType::Unknown);
            next += 1;
        }
        if next == id {
            let name_offset = btf.add_string(name);
            btf.add_type(BtfType::Func(Func::new(
                name_offset,
                0,
                FuncLinkage::Global,
            )));
            next += 1;
        }
    }
    btf
}

/// The innermost cause of `e` (the kernel's errno, typically).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Loads the `fentry` programs of `targets` and pins them (the main one last).
fn load_fentry(
    ebpf: &mut aya::Ebpf,
    dir: &Path,
    targets: &[FentryTarget],
) -> Result<(), TracerError> {
    let names: Vec<(u32, &str)> = targets.iter().map(|t| (t.btf_id, t.function)).collect();
    let btf = btf_naming(&names);
    for t in targets {
        let program: &mut FEntry = ebpf
            .program_mut(t.program)
            .ok_or_else(|| TracerError::Program {
                what: "program missing from the eBPF object",
                source: Box::new(ProgramError::NotLoaded),
            })?
            .try_into()
            .map_err(prog_err("not an fentry program"))?;
        program.load(t.function, &btf).map_err(|e| {
            TracerError::FentryUnavailable(format!(
                "the kernel refused an fentry program on {} ({})",
                t.function,
                root_cause(&e)
            ))
        })?;
        let path = dir.join(t.pin);
        program
            .pin(&path)
            .map_err(pin_err("cannot pin program at", &path))?;
    }
    Ok(())
}

/// Loads and pins the syscall program(s) at the point `choice` allows; the main
/// program's pin comes last.
pub(super) fn load_syscall_programs(
    ebpf: &mut aya::Ebpf,
    dir: &Path,
    abis: &HostAbis,
    dispatchers: Dispatchers,
    choice: AttachChoice,
) -> Result<AttachPoint, TracerError> {
    if choice != AttachChoice::Only(AttachPoint::Tracepoint) {
        let tried = fentry_targets(abis, dispatchers)
            .map_err(TracerError::FentryUnavailable)
            .and_then(|targets| load_fentry(ebpf, dir, &targets));
        match tried {
            Ok(()) => return Ok(AttachPoint::Fentry),
            Err(e) if choice == AttachChoice::Auto => {
                tracing::debug!(error = %loader::error_chain(&e), "fentry not available; using the sys_enter tracepoint");
                for pin in [pins::PROGRAM_COMPAT, pins::PROGRAM_X32] {
                    let _ = fs::remove_file(dir.join(pin));
                }
            }
            Err(e) => return Err(e),
        }
    }
    let path = dir.join(pins::PROGRAM);
    loader::load_raw_tracepoint(ebpf, "sys_enter")?
        .pin(&path)
        .map_err(pin_err("cannot pin program at", &path))?;
    Ok(AttachPoint::Tracepoint)
}

impl Tracer {
    /// Where the pinned program sees syscalls.
    pub fn attach_point(&self) -> Result<AttachPoint, TracerError> {
        let info = ProgramInfo::from_pin(self.dir.join(pins::PROGRAM))
            .map_err(prog_err("cannot read the pinned program"))?;
        Ok(match info.name_as_str() {
            Some(n) if n.starts_with("fentry") => AttachPoint::Fentry,
            _ => AttachPoint::Tracepoint,
        })
    }

    /// Says so when the pinned program is not at the attach point asked for (the
    /// choice applies when the program is loaded: after `seccomp-recorder unload`).
    pub(super) fn warn_if_not(&self, choice: AttachChoice) {
        let AttachChoice::Only(wanted) = choice else {
            return;
        };
        if std::env::var_os(ATTACH_ENV).is_none() {
            return;
        }
        if let Ok(pinned) = self.attach_point() {
            if pinned != wanted {
                tracing::warn!(
                    pinned = pinned.describe(),
                    asked = wanted.describe(),
                    "the pinned program is attached elsewhere than {ATTACH_ENV} asks; it applies once nothing records and `seccomp-recorder unload` ran"
                );
            }
        }
    }

    /// Attaches the pinned `fentry` program `prog`, pinning its link at `link`.
    pub(super) fn attach_fentry(&self, prog: &str, link: &str) -> Result<(), TracerError> {
        self.pin_new_link(link, || {
            let mut program = FEntry::from_pin(self.dir.join(prog))
                .map_err(prog_err("cannot open pinned program"))?;
            let id = program
                .attach()
                .map_err(prog_err("cannot attach the fentry program"))?;
            Ok(program
                .take_link(id)
                .map_err(prog_err("cannot take link"))?
                .into())
        })?;
        tracing::debug!(prog, "attached (fentry)");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_parsed_and_a_bad_one_named() {
        assert_eq!(
            AttachChoice::parse("").ok(),
            Some(AttachChoice::Only(AttachPoint::Tracepoint))
        );
        assert_eq!(AttachChoice::parse("AUTO").ok(), Some(AttachChoice::Auto));
        assert_eq!(
            AttachChoice::parse("FEntry").ok(),
            Some(AttachChoice::Only(AttachPoint::Fentry))
        );
        assert_eq!(
            AttachChoice::parse(" tracepoint").ok(),
            Some(AttachChoice::Only(AttachPoint::Tracepoint))
        );
        let e = AttachChoice::parse("kprobe").expect_err("bad");
        assert_eq!(
            e.to_string(),
            "SECCOMP_RECORDER_ATTACH is 'kprobe': expected auto, fentry or tracepoint"
        );
        assert_eq!(e.category(), Category::BadInput);
    }

    #[test]
    fn the_naming_btf_has_each_function_at_its_id() {
        let btf = btf_naming(&[(7, "x64_sys_call"), (3, "ia32_sys_call")]);
        use aya_obj::btf::BtfKind;
        assert_eq!(
            btf.id_by_type_name_kind("x64_sys_call", BtfKind::Func).ok(),
            Some(7)
        );
        assert_eq!(
            btf.id_by_type_name_kind("ia32_sys_call", BtfKind::Func)
                .ok(),
            Some(3)
        );
    }

    #[test]
    fn fentry_needs_a_dispatcher_for_every_abi_the_host_runs() {
        let Ok(abis) = HostAbis::host() else { return };
        let none = fentry_targets(&abis, Dispatchers::default());
        assert!(none.is_err());
        let all = Dispatchers {
            native: Some(10),
            compat: Some(11),
            x32: Some(12),
        };
        if btf::Dispatchers::names(std::env::consts::ARCH).is_some() {
            let t = fentry_targets(&abis, all).expect("targets");
            assert_eq!(t.last().map(|t| t.pin), Some(pins::PROGRAM));
            let native_only = Dispatchers {
                native: Some(10),
                ..Dispatchers::default()
            };
            let t = fentry_targets(&abis, native_only).expect("targets");
            assert_eq!(t.len(), 1);
        }
    }
}
