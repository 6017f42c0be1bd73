//! Compiling an OCI seccomp profile into a libseccomp filter and loading it: what
//! `seccomp-recorder enforce` applies to a command (see [`crate::cli::enforce`]).
//!
//! The profile is compiled with libseccomp, the library crun and runc use, with their
//! semantics:
//!
//! - `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`; `SCMP_ACT_ERRNO` without `errnoRet`
//!   returns EPERM; `SCMP_ACT_TRACE` without `errnoRet` uses 1 (EPERM) as trace message.
//! - A rule whose action equals the default action is skipped (libseccomp refuses it).
//! - A rule whose `args` name the same argument index twice becomes one rule per
//!   condition (the conditions are OR-ed); otherwise the conditions are AND-ed.
//!   `SCMP_CMP_MASKED_EQ` takes the mask in `value` and the expected value in `valueTwo`.
//! - A syscall name that libseccomp knows but that is no syscall on some of the
//!   filter's architectures is skipped on those architectures only, as runc and crun do
//!   (`newfstatat` on `SCMP_ARCH_X86`); if it is a syscall on none of them, the name
//!   matches nothing and is skipped altogether (podman's default profile denies
//!   `pciconfig_iobase`, which x86 does not have). See [`CompiledFilter::skipped`].
//! - Unlike runc (and like crun), no `-ENOSYS` stub is prepended for syscalls newer
//!   than the profile: those get the default action.
//!
//! Everything else is applied exactly or refused with an error naming the rule:
//! `SCMP_ACT_NOTIFY` and `listenerPath` (no seccomp agent here), an `errnoRet` on an
//! action that takes none (the runtime spec says runtimes must fail), errno values above
//! 4095 (the kernel would clamp them), argument indexes above 5, a non-zero `valueTwo`
//! on an operator that ignores it, `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (only
//! meaningful with notify), names that are not in libseccomp's tables at all (runc and
//! crun ignore them with a warning, so the runtime could not apply them either: a
//! misspelt name or a syscall newer than libseccomp), and rules that contradict each
//! other in a way libseccomp would resolve silently (an unconditional rule and another
//! rule for the same syscall with a different action: libseccomp keeps one of them).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use libseccomp::error::SeccompError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{
    Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile_file::{LoadedProfile, Location, RuleRef};

/// A syscall name that the filter does not cover on some (or all) of its architectures
/// because it is no syscall there (runc and crun skip those the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedName {
    /// The rule naming it.
    pub rule: RuleRef,
    /// The syscall name.
    pub name: String,
    /// The architectures it is unknown on, as `SCMP_ARCH_*` names.
    pub arches: Vec<String>,
}

/// A profile compiled into a libseccomp filter, ready to [`load`](Self::load).
pub struct CompiledFilter {
    filter: ScmpFilterContext,
    skipped: Vec<SkippedName>,
    execve_errno: Option<i32>,
}

impl fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("skipped", &self.skipped)
            .field("execve_errno", &self.execve_errno)
            .finish_non_exhaustive()
    }
}

impl CompiledFilter {
    /// Names skipped on some or all architectures because they are no syscall there.
    /// (A name libseccomp does not know at all is an error, not a skip.)
    pub fn skipped(&self) -> &[SkippedName] {
        &self.skipped
    }

    /// The errno a native `execve` gets, when the profile denies it unconditionally
    /// with `SCMP_ACT_ERRNO` (then no command can be started under it).
    pub fn execve_errno(&self) -> Option<i32> {
        self.execve_errno
    }

    /// Writes libseccomp's human-readable pseudo filter code (PFC) to `fd` (the tests
    /// read what was compiled).
    #[cfg(test)]
    pub fn export_pfc<F: std::os::fd::AsFd>(&self, fd: F) -> Result<(), SeccompError> {
        self.filter.export_pfc(fd)
    }

    /// Loads the filter into the calling thread: irreversible. The thread must have
    /// no_new_privs set or CAP_SYS_ADMIN; libseccomp does not set no_new_privs itself.
    pub fn load(&self) -> Result<(), SeccompError> {
        self.filter.load()
    }
}

/// Why a profile cannot be applied exactly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// `SCMP_ACT_NOTIFY` needs a seccomp agent.
    #[error("{0}: SCMP_ACT_NOTIFY needs a seccomp agent listening on listenerPath, which enforce does not provide")]
    Notify(Location),
    /// `listenerPath` needs a seccomp agent.
    #[error("listenerPath '{}' needs a seccomp agent, which enforce does not provide", .0.display())]
    ListenerPath(PathBuf),
    /// `errnoRet`/`defaultErrnoRet` on an action that returns no errno.
    #[error("{at}: errnoRet {value} is given but {action} returns no errno (the runtime spec requires runtimes to fail here)")]
    ErrnoRetNotAllowed {
        /// Where.
        at: Location,
        /// The action.
        action: LinuxSeccompAction,
        /// The value given.
        value: u32,
    },
    /// An errno or trace message too large to be applied as written.
    #[error("{at}: errnoRet {value} is out of range for {action} (at most {max})")]
    ErrnoRetOutOfRange {
        /// Where.
        at: Location,
        /// The action.
        action: LinuxSeccompAction,
        /// The value given.
        value: u32,
        /// The largest value applied exactly.
        max: u32,
    },
    /// An argument index above 5.
    #[error("{rule}: argument index {index} does not exist (syscalls have arguments 0 to 5)")]
    ArgIndex {
        /// The rule.
        rule: RuleRef,
        /// The index given.
        index: usize,
    },
    /// A non-zero `valueTwo` on an operator that ignores it.
    #[error("{rule}: valueTwo {value_two} is ignored by {op} (only SCMP_CMP_MASKED_EQ uses it)")]
    ValueTwoIgnored {
        /// The rule.
        rule: RuleRef,
        /// The operator.
        op: LinuxSeccompOperator,
        /// The value given.
        value_two: u64,
    },
    /// A filter flag enforce cannot apply.
    #[error("flag {flag} is not supported: {reason}")]
    UnsupportedFlag {
        /// The flag.
        flag: LinuxSeccompFilterFlag,
        /// Why.
        reason: String,
    },
    /// An architecture libseccomp does not know.
    #[error("architecture {0} is not known to libseccomp")]
    UnknownArch(String),
    /// A syscall name that is not in libseccomp's tables.
    #[error("{rule}: syscall '{name}' is unknown to libseccomp {version} (filter architectures: {arches}); crun and runc use libseccomp and could not apply it either")]
    UnknownSyscall {
        /// The rule.
        rule: RuleRef,
        /// The name.
        name: String,
        /// The filter's architectures, comma-separated.
        arches: String,
        /// The libseccomp version.
        version: String,
    },
    /// Two rules for one syscall that libseccomp would reconcile silently.
    #[error("{0}")]
    Conflict(Box<RuleConflict>),
    /// libseccomp refused a rule.
    #[error("{rule}: libseccomp refused the rule for '{name}'")]
    Rejected {
        /// The rule.
        rule: RuleRef,
        /// The syscall name.
        name: String,
        /// libseccomp's error.
        #[source]
        source: SeccompError,
    },
    /// libseccomp failed to set up the filter.
    #[error("libseccomp failed to {operation}")]
    Libseccomp {
        /// What was being done.
        operation: &'static str,
        /// libseccomp's error.
        #[source]
        source: SeccompError,
    },
}

/// Two rules for one syscall with different actions, where libseccomp would silently
/// keep only one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConflict {
    /// The syscall name.
    pub name: String,
    /// The earlier rule.
    pub first: RuleRef,
    /// Its action, e.g. `SCMP_ACT_ERRNO(38)`.
    pub action_first: String,
    /// The later rule.
    pub second: RuleRef,
    /// Its action.
    pub action_second: String,
}

impl fmt::Display for RuleConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} for '{}' conflicts with {} in {}; libseccomp would silently keep only one of them",
            self.second, self.action_second, self.name, self.action_first, self.first
        )
    }
}

impl Categorized for CompileError {
    fn category(&self) -> Category {
        match self {
            CompileError::UnknownSyscall { .. } => Category::UnknownSyscall,
            CompileError::UnknownArch(_) => Category::UnknownArch,
            CompileError::Libseccomp { .. } => Category::Internal,
            _ => Category::BadInput,
        }
    }
}

/// The largest errno the kernel returns as is (`MAX_ERRNO`); larger ones are clamped.
const MAX_ERRNO: u32 = 4095;

/// Translates a runtime-spec action (with its `errnoRet`) to a libseccomp action.
pub fn translate_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    at: &Location,
) -> Result<ScmpAction, CompileError> {
    let no_errno = |a: ScmpAction| match errno_ret {
        None => Ok(a),
        Some(value) => Err(CompileError::ErrnoRetNotAllowed {
            at: at.clone(),
            action,
            value,
        }),
    };
    let bounded = |max: u32| {
        let value = errno_ret.unwrap_or(libc::EPERM as u32);
        if value > max {
            return Err(CompileError::ErrnoRetOutOfRange {
                at: at.clone(),
                action,
                value,
                max,
            });
        }
        Ok(value)
    };
    match action {
        LinuxSeccompAction::ScmpActAllow => no_errno(ScmpAction::Allow),
        LinuxSeccompAction::ScmpActLog => no_errno(ScmpAction::Log),
        LinuxSeccompAction::ScmpActTrap => no_errno(ScmpAction::Trap),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            no_errno(ScmpAction::KillThread)
        }
        LinuxSeccompAction::ScmpActKillProcess => no_errno(ScmpAction::KillProcess),
        LinuxSeccompAction::ScmpActErrno => {
            // Bounded by MAX_ERRNO, so the cast is lossless.
            bounded(MAX_ERRNO).map(|e| ScmpAction::Errno(e as i32))
        }
        LinuxSeccompAction::ScmpActTrace => {
            bounded(u32::from(u16::MAX)).map(|m| ScmpAction::Trace(m as u16))
        }
        LinuxSeccompAction::ScmpActNotify => Err(CompileError::Notify(at.clone())),
    }
}

/// Translates a runtime-spec architecture to a libseccomp one.
pub fn translate_arch(arch: OciArch) -> Result<ScmpArch, CompileError> {
    // Both spell them SCMP_ARCH_*.
    let name = arch.to_string();
    ScmpArch::from_str(&name).map_err(|_| CompileError::UnknownArch(name))
}

/// Translates one runtime-spec argument condition to a libseccomp comparison.
pub fn translate_arg(
    arg: &LinuxSeccompArg,
    rule: &RuleRef,
) -> Result<ScmpArgCompare, CompileError> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i <= 5)
        .ok_or_else(|| CompileError::ArgIndex {
            rule: rule.clone(),
            index: arg.index(),
        })?;
    let value_two = arg.value_two().unwrap_or(0);
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(arg.value()),
                value_two,
            ))
        }
    };
    if value_two != 0 {
        return Err(CompileError::ValueTwoIgnored {
            rule: rule.clone(),
            op: arg.op(),
            value_two,
        });
    }
    Ok(ScmpArgCompare::new(index, op, arg.value()))
}

/// Compiles a loaded profile; rules are named by their position in the file.
pub fn compile_loaded(profile: &LoadedProfile) -> Result<CompiledFilter, CompileError> {
    compile_with(&profile.seccomp, |i| {
        profile.rule_origins.get(i).copied().unwrap_or(i)
    })
}

/// One rule's claim on a syscall, to find contradictions.
struct Claim {
    rule: RuleRef,
    action: ScmpAction,
    conditional: bool,
    added: bool,
}

fn compile_with(
    profile: &LinuxSeccomp,
    origin: impl Fn(usize) -> usize,
) -> Result<CompiledFilter, CompileError> {
    let lib = |operation| move |source| CompileError::Libseccomp { operation, source };
    if let Some(path) = profile.listener_path() {
        return Err(CompileError::ListenerPath(path.clone()));
    }
    let default = translate_action(
        profile.default_action(),
        profile.default_errno_ret(),
        &Location::Default,
    )?;
    let mut filter = ScmpFilterContext::new(default).map_err(lib("create a filter"))?;
    // We set no_new_privs ourselves (or deliberately not); runc does the same.
    filter
        .set_ctl_nnp(false)
        .map_err(lib("leave no_new_privs to the caller"))?;
    // Report the kernel's own errno when loading fails; only affects error values.
    let _ = filter.set_api_sysrawrc(true);

    let mut arches: Vec<(String, ScmpArch)> =
        vec![(seccomp_profile::arch::native_label(), ScmpArch::native())];
    for arch in profile.architectures().iter().flatten() {
        let scmp = translate_arch(*arch)?;
        if scmp == ScmpArch::Native || arches.iter().any(|(_, a)| *a == scmp) {
            continue;
        }
        filter.add_arch(scmp).map_err(lib("add an architecture"))?;
        arches.push((arch.to_string(), scmp));
    }

    for flag in profile.flags().iter().flatten() {
        let unsupported = |reason: String| CompileError::UnsupportedFlag {
            flag: *flag,
            reason,
        };
        let result = match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => filter.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => filter.set_ctl_ssb(true),
            // Exact: after execve the command has one thread, ours.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => filter.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(unsupported(
                    "it only applies to SCMP_ACT_NOTIFY, which enforce does not support".into(),
                ))
            }
        };
        result.map_err(|e| unsupported(format!("libseccomp cannot set it: {e}")))?;
    }

    let rules = profile.syscalls().as_deref().unwrap_or_default();
    // Binary-tree dispatch when there are many names, as runc 1.2+ does (more than 32
    // syscall entries); speed only. Counting rules instead left a recorded profile
    // (few rules, many names) linear: 66 instructions for `personality` vs 16
    // (docs/enforced-cost.md).
    let names: usize = rules.iter().map(|r| r.names().len()).sum();
    if names > 32 {
        let _ = filter.set_ctl_optimize(2);
    }
    let mut claims: HashMap<String, Vec<Claim>> = HashMap::new();
    let mut skipped = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let rule_ref = RuleRef {
            index: origin(i),
            names: rule.names().clone(),
        };
        let at = Location::Rule(rule_ref.clone());
        let action = translate_action(rule.action(), rule.errno_ret(), &at)?;
        let args = rule.args().as_deref().unwrap_or_default();
        let conditions = args
            .iter()
            .map(|a| translate_arg(a, &rule_ref))
            .collect::<Result<Vec<_>, _>>()?;
        // runc and crun: when an index repeats, one rule per condition (OR-ed).
        let or_conditions = args
            .iter()
            .enumerate()
            .any(|(i, a)| args[..i].iter().any(|b| b.index() == a.index()));
        // libseccomp refuses rules with the default action; they change nothing.
        let added = action != default;
        for name in rule.names() {
            let Some(syscall) = resolve_name(name, &arches, &rule_ref, &mut skipped)? else {
                continue;
            };
            let claim = Claim {
                rule: rule_ref.clone(),
                action,
                conditional: !conditions.is_empty(),
                added,
            };
            let earlier = claims.entry(name.clone()).or_default();
            if let Some(other) = earlier.iter().find(|c| c.contradicts(&claim)) {
                return Err(CompileError::Conflict(Box::new(RuleConflict {
                    name: name.clone(),
                    first: other.rule.clone(),
                    action_first: describe(other.action),
                    second: rule_ref.clone(),
                    action_second: describe(action),
                })));
            }
            earlier.push(claim);
            if added {
                add_rule(&mut filter, action, syscall, &conditions, or_conditions).map_err(
                    |source| CompileError::Rejected {
                        rule: rule_ref.clone(),
                        name: name.clone(),
                        source,
                    },
                )?;
            }
        }
    }

    let execve_errno = match verdict(claims.get("execve").map(Vec::as_slice), default) {
        Some(ScmpAction::Errno(e)) => Some(e),
        _ => None,
    };
    Ok(CompiledFilter {
        filter,
        skipped,
        execve_errno,
    })
}

impl Claim {
    /// Two claims contradict each other when they disagree and libseccomp would
    /// silently keep one: both unconditional, or an unconditional rule (which wins
    /// over every conditional one) and another rule that is really added.
    fn contradicts(&self, other: &Claim) -> bool {
        if self.action == other.action {
            return false;
        }
        match (self.conditional, other.conditional) {
            (false, false) => true,
            (true, true) => false,
            _ => self.added && other.added,
        }
    }
}

/// What the filter does with an unconditional call, when the rules say so plainly.
fn verdict(claims: Option<&[Claim]>, default: ScmpAction) -> Option<ScmpAction> {
    let claims = claims.unwrap_or_default();
    if let Some(c) = claims.iter().find(|c| !c.conditional) {
        return Some(c.action);
    }
    if claims.iter().any(|c| c.added) {
        return None;
    }
    Some(default)
}

/// An action as a profile writes it: `SCMP_ACT_ERRNO(38)`.
fn describe(action: ScmpAction) -> String {
    match action {
        ScmpAction::Allow => "SCMP_ACT_ALLOW".into(),
        ScmpAction::Log => "SCMP_ACT_LOG".into(),
        ScmpAction::Trap => "SCMP_ACT_TRAP".into(),
        ScmpAction::KillThread => "SCMP_ACT_KILL_THREAD".into(),
        ScmpAction::KillProcess => "SCMP_ACT_KILL_PROCESS".into(),
        ScmpAction::Notify => "SCMP_ACT_NOTIFY".into(),
        ScmpAction::Errno(e) => format!("SCMP_ACT_ERRNO({e})"),
        ScmpAction::Trace(m) => format!("SCMP_ACT_TRACE({m})"),
        other => format!("{other:?}"),
    }
}

/// Resolves `name` the way runc does (native number, translated per architecture by
/// libseccomp), after checking on which of the filter's architectures it exists.
///
/// `None`: libseccomp knows the name but it is a syscall on none of the filter's
/// architectures (podman's default profile names `pciconfig_iobase` on x86_64, for
/// example); the rule cannot match there, and runtimes load it as a no-op. It is
/// recorded in `skipped` with every architecture.
fn resolve_name(
    name: &str,
    arches: &[(String, ScmpArch)],
    rule: &RuleRef,
    skipped: &mut Vec<SkippedName>,
) -> Result<Option<ScmpSyscall>, CompileError> {
    let unknown = || CompileError::UnknownSyscall {
        rule: rule.clone(),
        name: name.to_owned(),
        arches: arches
            .iter()
            .map(|(label, _)| label.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        version: ScmpVersion::current()
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "(unknown version)".into()),
    };
    // Err: not in libseccomp's tables. A negative pseudo number: a name libseccomp
    // knows, but not a syscall on that architecture.
    let syscall = ScmpSyscall::from_name(name).map_err(|_| unknown())?;
    let missing: Vec<String> = arches
        .iter()
        .filter(|(_, arch)| {
            ScmpSyscall::from_name_by_arch(name, *arch).map_or(true, |s| s.as_raw_syscall() < 0)
        })
        .map(|(label, _)| label.clone())
        .collect();
    let nowhere = missing.len() == arches.len();
    if !missing.is_empty() {
        skipped.push(SkippedName {
            rule: rule.clone(),
            name: name.to_owned(),
            arches: missing,
        });
    }
    Ok((!nowhere).then_some(syscall))
}

fn add_rule(
    filter: &mut ScmpFilterContext,
    action: ScmpAction,
    syscall: ScmpSyscall,
    conditions: &[ScmpArgCompare],
    or_conditions: bool,
) -> Result<(), SeccompError> {
    if or_conditions {
        for c in conditions {
            filter.add_rule_conditional(action, syscall, std::slice::from_ref(c))?;
        }
    } else {
        filter.add_rule_conditional(action, syscall, conditions)?;
    }
    Ok(())
}

/// Applies the profile in `args.profile` to this process and executes `args.command`.
///
#[cfg(test)]
mod tests;
