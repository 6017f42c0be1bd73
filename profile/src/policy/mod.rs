//! Guardrails: a never-allow policy (`check --policy`, `validate --policy`).
//!
//! A recorded profile allows what the workload did, including what it should never
//! have done. A policy lists the calls a profile must never allow, each with the
//! reason; a profile that lets one through (unconditionally, by its default action, or
//! with an argument rule that lets the risky values through) violates it.
//!
//! The file (JSON, unknown fields refused):
//!
//! ```json
//! {
//!   "description": "optional text",
//!   "neverAllow": [
//!     {"names": ["ptrace"], "reason": "reads other processes' memory"},
//!     {"names": ["clone"], "reason": "new namespaces",
//!      "args": {"index": 0, "anyBits": "0x7e020000"}}
//!   ]
//! }
//! ```
//!
//! `names`: syscall names some architecture's table knows. `reason`: one line, printed
//! with each violation. `args` (optional): the call is risky only when argument
//! `index` (0-5) has any of `anyBits` set (a number or a `0x` string); a profile that
//! allows the call only through argument rules violates the entry only when some
//! value those rules let through has such a bit. The shipped policy (`--policy
//! default`, [`DEFAULT`]) lists what Docker's default profile blocks.
//!
//! Layout: parsing here, the evaluation against a profile in `eval`, the text output
//! in `render`.

mod eval;
mod render;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::{Categorized, Category};
use crate::syscalls::Arch;

pub use eval::{attach_first_use, evaluate, Allowance, Violation};
pub use render::render_text;

/// The shipped policy's text (`--policy default`).
pub const DEFAULT: &str = include_str!("default.json");

/// What `--policy default` selects.
pub const DEFAULT_NAME: &str = "default";

/// The exit code of `check` and `validate` when a profile violates the policy (0 ok,
/// 1 new syscalls / problems, 2 error): [`crate::exit::POLICY_VIOLATION`].
pub const EXIT_CODE: u8 = crate::exit::POLICY_VIOLATION;

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not JSON of the policy's shape.
    #[error("policy {source_name}: {detail}")]
    Json {
        /// `default` or the path.
        source_name: String,
        /// serde's message with line and column.
        detail: String,
    },
    /// JSON of the right shape with a wrong value.
    #[error("policy {source_name}: {at}: {what}")]
    Invalid {
        /// `default` or the path.
        source_name: String,
        /// Where: `neverAllow[3].names[0]`.
        at: String,
        /// What is wrong.
        what: String,
    },
}

impl Categorized for PolicyError {
    fn category(&self) -> Category {
        match self {
            PolicyError::Read { .. } => Category::Io,
            PolicyError::Json { .. } | PolicyError::Invalid { .. } => Category::BadInput,
        }
    }
}

/// An argument condition of an entry: risky when `arg[index] & any_bits != 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RiskyBits {
    /// Argument index, 0-5.
    pub index: u32,
    /// The bits that make a value risky.
    pub any_bits: u64,
}

/// One never-allow entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The syscall names.
    pub names: Vec<String>,
    /// Why they must never be allowed (one line).
    pub reason: String,
    /// Risky only for these argument values; `None`: whatever the arguments.
    pub args: Option<RiskyBits>,
}

/// A parsed, checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `default` or the file's path, for messages.
    pub source: String,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyFile {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    never_allow: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    names: Vec<String>,
    reason: String,
    #[serde(default)]
    args: Option<ArgsFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ArgsFile {
    index: u32,
    any_bits: Bits,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Bits {
    Number(u64),
    Text(String),
}

/// Whether some architecture's table has `name`.
fn known(name: &str) -> bool {
    Arch::ALL.iter().any(|a| a.number_of(name).is_some())
}

impl Policy {
    /// Parses policy text; `source` names it in errors (`default` or a path).
    pub fn parse(text: &str, source: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = serde_json::from_str(text).map_err(|e| PolicyError::Json {
            source_name: source.to_owned(),
            detail: e.to_string(),
        })?;
        let invalid = |at: String, what: String| PolicyError::Invalid {
            source_name: source.to_owned(),
            at,
            what,
        };
        if file.never_allow.is_empty() {
            return Err(invalid(
                "neverAllow".into(),
                "no entries: a policy that forbids nothing checks nothing".into(),
            ));
        }
        let mut entries = Vec::with_capacity(file.never_allow.len());
        for (i, e) in file.never_allow.into_iter().enumerate() {
            let at = format!("neverAllow[{i}]");
            if e.names.is_empty() {
                return Err(invalid(format!("{at}.names"), "no names".into()));
            }
            for (j, n) in e.names.iter().enumerate() {
                if !known(n) {
                    return Err(invalid(
                        format!("{at}.names[{j}]"),
                        format!("unknown syscall {n:?} (no architecture's table has it)"),
                    ));
                }
            }
            if e.reason.trim().is_empty() || e.reason.contains('\n') {
                return Err(invalid(
                    format!("{at}.reason"),
                    "must be one non-empty line".into(),
                ));
            }
            let args = match e.args {
                None => None,
                Some(a) => {
                    if a.index > 5 {
                        return Err(invalid(
                            format!("{at}.args.index"),
                            format!("{} is not an argument index (0-5)", a.index),
                        ));
                    }
                    let any_bits = match a.any_bits {
                        Bits::Number(n) => Some(n),
                        Bits::Text(t) => parse_bits(&t),
                    }
                    .filter(|b| *b != 0)
                    .ok_or_else(|| {
                        invalid(
                            format!("{at}.args.anyBits"),
                            "expected a non-zero number or \"0x...\" string".into(),
                        )
                    })?;
                    Some(RiskyBits {
                        index: a.index,
                        any_bits,
                    })
                }
            };
            entries.push(Entry {
                names: e.names,
                reason: e.reason,
                args,
            });
        }
        Ok(Policy {
            source: source.to_owned(),
            entries,
        })
    }

    /// The shipped policy.
    pub fn default_policy() -> Result<Policy, PolicyError> {
        Policy::parse(DEFAULT, DEFAULT_NAME)
    }

    /// `default` (the shipped policy) or a policy file.
    pub fn load(spec: &str) -> Result<Policy, PolicyError> {
        if spec == DEFAULT_NAME {
            return Policy::default_policy();
        }
        let path = Path::new(spec);
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::parse(&text, spec)
    }

    /// The entry of `name`, if the policy lists it.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.names.iter().any(|n| n == name))
    }
}

fn parse_bits(t: &str) -> Option<u64> {
    let t = t.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// The result of checking one profile against a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    /// `default` or the policy file.
    pub policy: String,
    /// The never-allow calls the profile lets through, in policy order.
    pub violations: Vec<Violation>,
}
