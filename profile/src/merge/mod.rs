//! One profile that allows what every input allows or used (`seccomp-recorder merge
//! -o OUT IN...`).
//!
//! Inputs are profiles (OCI, podman/Docker with archMap, SeccompProfile resources) and
//! recordings (stats files, reports); see [`crate::evidence`]. The result:
//!
//! - architectures: the union (a profile without `architectures` and a recording add
//!   the native one, as `record` lists it); none at all if no input lists any;
//! - unconditional allow rules: one rule with the union of their names and of the names
//!   the recordings used;
//! - allow rules with argument conditions: kept once each (names already allowed
//!   unconditionally removed);
//! - rules with any other action: kept when every profile input has the identical rule,
//!   refused otherwise (a union of allow-lists cannot say what such a rule meant for
//!   the inputs that lack it), and refused when another input allows one of its names;
//! - `defaultAction` and `defaultErrnoRet`: the inputs' own when they agree; a conflict
//!   is refused unless `--default-from N` or `--default-action`/`--default-errno` says
//!   what wins. Recordings have none: with only recordings the default is
//!   `SCMP_ACT_ERRNO` with ENOSYS, as `record` writes;
//! - `flags`, `listenerPath`, `listenerMetadata`: must agree;
//! - with `portable`, the variants of every allowed call ([`crate::portable`]);
//! - the explicit ENOSYS rule for clone3 (see [`profile::ENOSYS_FALLBACKS`]) is not
//!   taken from the inputs but made for the result when it does not allow clone3.
//!
//! The output is deterministic: rules, names and architectures are sorted, so the same
//! inputs in any order give byte-identical output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSyscall};

use crate::arch::to_oci;
use crate::evidence::{self, ArchKey, Content, EvidenceError, Input, InputKind};
use crate::exit::{Categorized, Category};
use crate::formats::{self, Format, FormatError};
use crate::profile::{self, DefaultErrno};
use crate::profile_file::{HostFacts, RuleRef};
use crate::rule::canonical_rule;
use crate::runtime::Runtime;
use crate::syscalls::Arch;

/// Why inputs could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// An input could not be read or understood.
    #[error(transparent)]
    Input(#[from] EvidenceError),
    /// `--default-from` names no input.
    #[error("--default-from {n}: the inputs are numbered 1 to {count}")]
    DefaultFromOutOfRange {
        /// The number given.
        n: usize,
        /// How many inputs there are.
        count: usize,
    },
    /// `--default-from` names a recording.
    #[error("--default-from {n}: {} is a {kind}, which has no default action", path.display())]
    DefaultFromNotProfile {
        /// The number given.
        n: usize,
        /// The input.
        path: PathBuf,
        /// What it is.
        kind: InputKind,
    },
    /// `--default-errno` with a default action that returns no errno.
    #[error("--default-errno needs a default action that returns one (SCMP_ACT_ERRNO or SCMP_ACT_TRACE), not {0}")]
    ErrnoWithoutErrnoAction(LinuxSeccompAction),
    /// The inputs' defaults disagree and nothing says which wins.
    #[error("inputs disagree on {field} ({values}); choose with --default-from N, or --default-action ACTION and --default-errno ERRNO")]
    ConflictingDefault {
        /// `defaultAction` or `defaultErrnoRet`.
        field: &'static str,
        /// `file: value` for each input, in argument order.
        values: String,
    },
    /// The inputs disagree on a setting that has no union.
    #[error("inputs disagree on {field} ({values}); merge only profiles that agree")]
    Conflicting {
        /// `flags`, `listenerPath` or `listenerMetadata`.
        field: &'static str,
        /// `file: value` for each input, in argument order.
        values: String,
    },
    /// A rule with an action other than allow that not every profile input has.
    #[error("{}: {rule} with action {action} is not in {}; merge unites allow rules only, rules with other actions must be identical in every input", path.display(), other.display())]
    RuleNotEverywhere {
        /// The file with the rule.
        path: PathBuf,
        /// The rule.
        rule: RuleRef,
        /// Its action.
        action: LinuxSeccompAction,
        /// An input without it.
        other: PathBuf,
    },
    /// A rule with an action other than allow for a name that an input allows.
    #[error("{}: {rule} gives '{name}' {action}, but {} allows it", path.display(), allowed_by.display())]
    Contradiction {
        /// The file with the rule.
        path: PathBuf,
        /// The rule.
        rule: RuleRef,
        /// Its action.
        action: LinuxSeccompAction,
        /// The name.
        name: String,
        /// The input that allows it.
        allowed_by: PathBuf,
    },
    /// The result cannot be written in the format asked for.
    #[error("cannot write the merged profile in the {format} format")]
    Format {
        /// The format.
        format: Format,
        /// Why not.
        #[source]
        source: FormatError,
    },
}

impl Categorized for MergeError {
    fn category(&self) -> Category {
        match self {
            MergeError::Input(e) => e.category(),
            MergeError::DefaultFromOutOfRange { .. }
            | MergeError::DefaultFromNotProfile { .. }
            | MergeError::ErrnoWithoutErrnoAction(_) => Category::Usage,
            MergeError::ConflictingDefault { .. }
            | MergeError::Conflicting { .. }
            | MergeError::RuleNotEverywhere { .. }
            | MergeError::Contradiction { .. } => Category::BadInput,
            MergeError::Format { source, .. } => source.category(),
        }
    }
}

/// How the result's defaults are chosen when the inputs disagree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultChoice {
    /// Take both from this input (0-based).
    pub from: Option<usize>,
    /// This defaultAction.
    pub action: Option<LinuxSeccompAction>,
    /// This defaultErrnoRet.
    pub errno: Option<u32>,
}

/// A merged profile.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The profile.
    pub profile: LinuxSeccomp,
    /// Recorded numbers no table names (input, architecture, number): they cannot be
    /// allowed by name.
    pub unnamed: Vec<(PathBuf, Arch, u64)>,
}

/// Whether `defaultErrnoRet` means something with this default action.
fn takes_errno(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
}

fn profile_of(input: &Input) -> Option<&LinuxSeccomp> {
    input
        .variants()
        .and_then(|v| v.first())
        .map(|v| &v.loaded.seccomp)
}

fn show_errno(e: Option<u32>) -> String {
    e.map_or_else(|| "not set".to_owned(), |n| n.to_string())
}

/// The one value every input has, or an error listing them all.
fn agreed<'a, T: PartialEq + Clone + 'a>(
    values: impl IntoIterator<Item = (&'a Path, T)>,
    show: impl Fn(&T) -> String,
    conflict: impl FnOnce(String) -> MergeError,
) -> Result<Option<T>, MergeError> {
    let values: Vec<(&Path, T)> = values.into_iter().collect();
    let Some((_, first)) = values.first() else {
        return Ok(None);
    };
    if values.iter().all(|(_, v)| v == first) {
        return Ok(Some(first.clone()));
    }
    Err(conflict(
        values
            .iter()
            .map(|(p, v)| format!("{}: {}", p.display(), show(v)))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

fn defaults(
    inputs: &[Input],
    choice: &DefaultChoice,
) -> Result<(LinuxSeccompAction, Option<u32>), MergeError> {
    if let Some(i) = choice.from {
        let input = inputs.get(i).ok_or(MergeError::DefaultFromOutOfRange {
            n: i + 1,
            count: inputs.len(),
        })?;
        let p = profile_of(input).ok_or_else(|| MergeError::DefaultFromNotProfile {
            n: i + 1,
            path: input.path.clone(),
            kind: input.kind,
        })?;
        return Ok((p.default_action(), p.default_errno_ret()));
    }
    let profiles: Vec<(&Path, &LinuxSeccomp)> = inputs
        .iter()
        .filter_map(|i| Some((i.path.as_path(), profile_of(i)?)))
        .collect();
    let action = match choice.action {
        Some(a) => a,
        None => agreed(
            profiles.iter().map(|(p, s)| (*p, s.default_action())),
            ToString::to_string,
            |values| MergeError::ConflictingDefault {
                field: "defaultAction",
                values,
            },
        )?
        .unwrap_or(LinuxSeccompAction::ScmpActErrno),
    };
    if !takes_errno(action) {
        return match choice.errno {
            Some(_) => Err(MergeError::ErrnoWithoutErrnoAction(action)),
            None => Ok((action, None)),
        };
    }
    if let Some(e) = choice.errno {
        return Ok((action, Some(e)));
    }
    // Only the inputs with this default action say what its errno is.
    let errno = agreed(
        profiles
            .iter()
            .filter(|(_, s)| s.default_action() == action)
            .map(|(p, s)| (*p, s.default_errno_ret())),
        |e| show_errno(*e),
        |values| MergeError::ConflictingDefault {
            field: "defaultErrnoRet",
            values,
        },
    )?;
    Ok(match errno {
        Some(e) => (action, e),
        // Only recordings (or profiles with another action that the flag overrode).
        None if action == LinuxSeccompAction::ScmpActErrno => {
            (action, Some(DefaultErrno::default().number()))
        }
        None => (action, None),
    })
}

/// The settings that have no union.
struct Settings {
    flags: Vec<String>,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
}

/// Settings without a union: every profile input must have the same.
fn settings(inputs: &[Input]) -> Result<Settings, MergeError> {
    let profiles: Vec<(&Path, &LinuxSeccomp)> = inputs
        .iter()
        .filter_map(|i| Some((i.path.as_path(), profile_of(i)?)))
        .collect();
    let flags = agreed(
        profiles.iter().map(|(p, s)| {
            let mut f: Vec<String> = s
                .flags()
                .iter()
                .flatten()
                .map(ToString::to_string)
                .collect();
            f.sort();
            f.dedup();
            (*p, f)
        }),
        |f| format!("[{}]", f.join(", ")),
        |values| MergeError::Conflicting {
            field: "flags",
            values,
        },
    )?;
    let listener = agreed(
        profiles
            .iter()
            .map(|(p, s)| (*p, s.listener_path().clone())),
        |l| {
            l.as_ref()
                .map_or("not set".into(), |p| p.display().to_string())
        },
        |values| MergeError::Conflicting {
            field: "listenerPath",
            values,
        },
    )?;
    let metadata = agreed(
        profiles
            .iter()
            .map(|(p, s)| (*p, s.listener_metadata().clone())),
        |m| m.clone().unwrap_or_else(|| "not set".into()),
        |values| MergeError::Conflicting {
            field: "listenerMetadata",
            values,
        },
    )?;
    Ok(Settings {
        flags: flags.unwrap_or_default(),
        listener_path: listener.flatten(),
        listener_metadata: metadata.flatten(),
    })
}

fn has_args(rule: &LinuxSyscall) -> bool {
    rule.args().as_ref().is_some_and(|a| !a.is_empty())
}

fn sorted_names(rule: &LinuxSyscall) -> LinuxSyscall {
    let mut r = rule.clone();
    let mut names = r.names().clone();
    names.sort();
    names.dedup();
    r.set_names(names);
    r
}

/// A rule with another action than allow, where it was found first.
struct OtherRule {
    rule: LinuxSyscall,
    path: PathBuf,
    at: RuleRef,
}

/// Merges the inputs (pure). `native` is listed when an input does not say which
/// architectures it covers (a profile without `architectures`, a recording).
pub fn merge(
    inputs: &[Input],
    choice: &DefaultChoice,
    native: Option<Arch>,
) -> Result<Merged, MergeError> {
    let (default_action, default_errno) = defaults(inputs, choice)?;
    let Settings {
        flags,
        listener_path,
        listener_metadata,
    } = settings(inputs)?;

    let mut arches: BTreeSet<ArchKey> = BTreeSet::new();
    let mut any_listed = false;
    // name → the first input that allows it unconditionally.
    let mut allowed: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut conditional: Vec<LinuxSyscall> = Vec::new();
    // Per profile input, its other rules by canonical text.
    let mut others: Vec<(PathBuf, BTreeMap<String, OtherRule>)> = Vec::new();
    let mut unnamed = Vec::new();

    for input in inputs {
        match &input.content {
            Content::Recording { calls, unnamed: u } => {
                any_listed = true;
                arches.extend(native.map(|a| ArchKey(to_oci(a))));
                for call in calls {
                    arches.extend(call.arch.map(|a| ArchKey(to_oci(a))));
                    allowed
                        .entry(call.name.clone())
                        .or_insert_with(|| input.path.clone());
                }
                for c in u {
                    arches.insert(ArchKey(to_oci(c.arch)));
                    unnamed.push((input.path.clone(), c.arch, c.nr));
                }
            }
            Content::Profile(variants) => {
                let mut mine: BTreeMap<String, OtherRule> = BTreeMap::new();
                for v in variants {
                    let seccomp = &v.loaded.seccomp;
                    any_listed |= seccomp
                        .architectures()
                        .as_ref()
                        .is_some_and(|a| !a.is_empty());
                    arches.extend(v.arches().into_iter().map(ArchKey));
                    for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
                        let is_allow = rule.action() == LinuxSeccompAction::ScmpActAllow;
                        if is_allow && !has_args(rule) {
                            for name in rule.names() {
                                allowed
                                    .entry(name.clone())
                                    .or_insert_with(|| input.path.clone());
                            }
                        } else if is_allow {
                            conditional.push(rule.clone());
                        } else if profile::is_fallback_rule(rule) {
                            // Ours (ENOSYS for clone3 when not allowed): made anew for
                            // the result below, from what the result allows.
                        } else {
                            mine.entry(canonical_rule(rule))
                                .or_insert_with(|| OtherRule {
                                    rule: sorted_names(rule),
                                    path: input.path.clone(),
                                    at: v.loaded.rule_ref(i).unwrap_or(RuleRef {
                                        index: i,
                                        names: rule.names().clone(),
                                    }),
                                });
                        }
                    }
                }
                others.push((input.path.clone(), mine));
            }
        }
    }

    // Rules with other actions: only those every profile input has.
    for (_, mine) in &others {
        for r in mine.values() {
            if let Some((other, _)) = others
                .iter()
                .find(|(_, theirs)| !theirs.contains_key(&canonical_rule(&r.rule)))
            {
                return Err(MergeError::RuleNotEverywhere {
                    path: r.path.clone(),
                    rule: r.at.clone(),
                    action: r.rule.action(),
                    other: other.clone(),
                });
            }
        }
    }
    let kept_others: Vec<&OtherRule> = others
        .first()
        .map(|(_, mine)| mine.values().collect())
        .unwrap_or_default();
    for r in &kept_others {
        if let Some((name, by)) = r
            .rule
            .names()
            .iter()
            .find_map(|n| allowed.get(n).map(|by| (n, by)))
        {
            return Err(MergeError::Contradiction {
                path: r.path.clone(),
                rule: r.at.clone(),
                action: r.rule.action(),
                name: name.clone(),
                allowed_by: by.clone(),
            });
        }
    }

    let mut rules: Vec<LinuxSyscall> = Vec::new();
    if !allowed.is_empty() {
        let mut rule = LinuxSyscall::default();
        rule.set_names(allowed.keys().cloned().collect());
        rule.set_action(LinuxSeccompAction::ScmpActAllow);
        rules.push(rule);
    }
    // Conditional allow rules: once each, without the names allowed anyway.
    let mut kept_conditional: BTreeMap<String, LinuxSyscall> = BTreeMap::new();
    for rule in conditional {
        let mut r = sorted_names(&rule);
        let names: Vec<String> = r
            .names()
            .iter()
            .filter(|n| !allowed.contains_key(*n))
            .cloned()
            .collect();
        if names.is_empty() {
            continue;
        }
        r.set_names(names);
        kept_conditional.insert(canonical_rule(&r), r);
    }
    rules.extend(kept_conditional.into_values());
    rules.extend(kept_others.into_iter().map(|r| r.rule.clone()));

    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(default_action);
    profile.set_default_errno_ret(default_errno);
    profile.set_architectures(
        any_listed.then(|| arches.into_iter().map(|k| k.0).collect::<Vec<OciArch>>()),
    );
    profile.set_flags(if flags.is_empty() {
        None
    } else {
        Some(
            flags
                .iter()
                .filter_map(|f| crate::vocabulary::parse_flag(f))
                .collect(),
        )
    });
    profile.set_listener_path(listener_path);
    profile.set_listener_metadata(listener_metadata);
    profile.set_syscalls((!rules.is_empty()).then_some(rules));
    unnamed.sort();
    unnamed.dedup();
    Ok(Merged { profile, unnamed })
}

/// What `merge` is asked for.
#[derive(Debug, Clone, Copy)]
pub struct MergeRequest<'a> {
    /// The profiles, stats files or reports, in argument order.
    pub inputs: &'a [PathBuf],
    /// Take the defaults from this input (1-based, as on the command line).
    pub default_from: Option<usize>,
    /// The defaultAction of the result, when the inputs disagree.
    pub default_action: Option<LinuxSeccompAction>,
    /// The defaultErrnoRet of the result, when the inputs disagree.
    pub default_errno: Option<u32>,
    /// The runtime whose start-up calls are allowed too.
    pub runtime: Runtime,
    /// The output format.
    pub format: Format,
    /// `metadata.name` of an SPO resource.
    pub name: &'a str,
    /// Also allow the variants of each allowed call ([`crate::portable`]).
    pub portable: bool,
}

/// Reads the inputs on `host`, merges them, adds the runtime tail and renders the
/// result in the format asked for (numbers no table names are logged as warnings).
pub fn merge_files(req: &MergeRequest<'_>, host: &HostFacts) -> Result<String, MergeError> {
    let inputs = req
        .inputs
        .iter()
        .map(|p| evidence::load(p, host))
        .collect::<Result<Vec<_>, _>>()?;
    let from = match req.default_from {
        Some(0) => {
            return Err(MergeError::DefaultFromOutOfRange {
                n: 0,
                count: inputs.len(),
            })
        }
        n => n.map(|n| n - 1),
    };
    let choice = DefaultChoice {
        from,
        action: req.default_action,
        errno: req.default_errno,
    };
    let merged = merge(&inputs, &choice, host.native_arch)?;
    let mut per_input: BTreeMap<&Path, Vec<(Arch, u64)>> = BTreeMap::new();
    for (path, arch, nr) in &merged.unnamed {
        per_input
            .entry(path.as_path())
            .or_default()
            .push((*arch, *nr));
    }
    for (path, unnamed) in per_input {
        for line in profile::unnamed_warnings(unnamed) {
            tracing::warn!("{}: {line}", path.display());
        }
    }
    let merged_profile = if req.portable {
        crate::portable::add(&merged.profile).profile
    } else {
        merged.profile
    };
    let with_tail = profile::add_runtime_tail(&merged_profile, req.runtime);
    let text =
        formats::render(&with_tail, req.format, req.name).map_err(|source| MergeError::Format {
            format: req.format,
            source,
        })?;
    Ok(text)
}

#[cfg(test)]
mod tests;
