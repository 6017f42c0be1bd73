//! Audit mode: run a workload under the LOG twin of a profile, then read what the
//! kernel logged.
//!
//! - `seccomp-recorder audit-profile IN -o OUT` writes the twin (see [`twin`]): the
//!   same profile whose denials are `SCMP_ACT_LOG`. Without `--format` it keeps the
//!   input's own format and every field; with `--format oci|docker|spo` the profile
//!   is read as the toolkit reads it (an `archMap` resolved for this host) and
//!   written in that format. A SeccompProfile resource keeps its name: `kubectl
//!   apply` then replaces the enforcing profile of that name, which is how the twin
//!   reaches the pods that reference it (`--format spo --name` gives another).
//! - `seccomp-recorder audit-report --since TIME` reads the kernel's seccomp audit
//!   records ([`records`]) from `/dev/kmsg` or auditd's log ([`source`]) and prints
//!   what would have been denied ([`report`]), with `check`'s exit codes: 0 nothing,
//!   1 something, 2 an error. `--propose OUT --baseline PROFILE` also writes the
//!   baseline with those calls allowed ([`seccomp_profile::propose`]), minus the
//!   calls `--policy` never allows, which make the exit code 3.
//!
//! The kernel's records are rate-limited and lossy (docs/design.md, "Audit mode"):
//! the report says so when it sees that records were dropped. `record` counts every
//! call exactly.

mod clock;
pub mod source;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::container::engine::{self, Engine, EngineError};
use crate::fs::atomic::{write_atomic, WriteError};
use crate::kernel::cgroup::{cgroup2_path_from_proc, Cgroup2, CgroupError};
use seccomp_profile::evidence::{self, EvidenceError, InputKind};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::{self, Format, FormatError};
use seccomp_profile::profile_file::HostFacts;
use seccomp_profile::syscalls::Arch;

use self::source::{SourceChoice, SourceError};
use seccomp_profile::audit::report::{self, Limits, ProcessFacts, Selection};
use seccomp_profile::audit::time::WallTime;
use seccomp_profile::audit::{time, twin};

/// Arguments of `audit-profile`.
#[derive(clap::Args, Debug)]
pub struct AuditProfileArgs {
    /// The profile (OCI, podman/Docker with archMap, or a SeccompProfile resource).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Write the twin here (atomically); `-` writes to stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT", required = true)]
    pub output: PathBuf,
    /// Output format [default: the input's own, every field kept].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// `metadata.name` of the SeccompProfile resource with `--format spo` [default:
    /// OUT's file name without extension].
    #[arg(long, value_name = "NAME", requires = "format")]
    pub name: Option<String>,
}

/// Output formats of `audit-report`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// Lines for people, in a stable order.
    Text,
    /// `{"ok", "new": [{arch, name, nr, count, first: {pid, comm, exe, time,
    /// serial}}], "denied": [... "action"], "source", "since", "records",
    /// "warnings", "proposal": {output, baseline, added: [{arch, name}], held_back:
    /// [{arch, name, reason, policy}], unnamed}}` (`proposal` with --propose).
    Json,
}

/// Arguments of `audit-report`.
#[derive(clap::Args, Debug)]
pub struct AuditReportArgs {
    /// Only records made since then: an RFC 3339 time (`2026-12-02T15:00:00Z`), a
    /// duration ago (`10m`, `2h`, `1d`) or a unix timestamp.
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// Only this process (repeatable: any of them). Matches records of processes
    /// that are gone too.
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Only processes with this name (repeatable: any of them; the kernel keeps 15
    /// characters). Matches records of processes that are gone too.
    #[arg(long = "comm", value_name = "NAME")]
    pub comms: Vec<String>,
    /// Only processes of this running container (its init's cgroup and below),
    /// found through podman, docker or the CRI. Only processes that still run can be
    /// placed in a cgroup: find the others with --pid or --comm.
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// The engine that knows --container [default: the first that does].
    #[arg(long, value_enum, requires = "container")]
    pub engine: Option<Engine>,
    /// The CRI socket for --container [default: $CONTAINER_RUNTIME_ENDPOINT, else
    /// containerd's, CRI-O's, cri-dockerd's].
    #[arg(long, value_name = "ENDPOINT", requires = "container")]
    pub cri_endpoint: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Where the records are: `auto` (/dev/kmsg, or auditd's log when an audit
    /// daemon receives them), `kmsg`, or a file (audit.log, or saved dmesg /
    /// journalctl -k output).
    #[arg(long, value_name = "auto|kmsg|FILE", default_value = "auto")]
    pub source: SourceChoice,
    /// Write a proposed profile here (atomically, OCI format): the --baseline merged
    /// with what the run would have been denied, minus the calls --policy never
    /// allows (reported instead; exit 3).
    #[arg(long, value_name = "OUT", requires = "baseline")]
    pub propose: Option<PathBuf>,
    /// The profile the LOG twin was made from (the one to propose a change to).
    #[arg(long, value_name = "PROFILE", requires = "propose")]
    pub baseline: Option<PathBuf>,
    /// The never-allow policy of --propose: `default` (the shipped list) or a file.
    #[arg(
        long,
        value_name = "POLICY",
        requires = "propose",
        default_value = "default"
    )]
    pub policy: String,
}

/// Errors of `audit-profile` and `audit-report`.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The input could not be read or understood.
    #[error(transparent)]
    Input(#[from] EvidenceError),
    /// A recording was given instead of a profile.
    #[error("{}: is a {kind}, not a seccomp profile; audit-profile needs the profile (e.g. the committed one, or `merge -o` of the recordings)", path.display())]
    NotAProfile {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: InputKind,
    },
    /// The twin cannot be written in the format asked for.
    #[error("cannot write the twin in the {format} format")]
    Format {
        /// The format.
        format: Format,
        /// Why not.
        #[source]
        source: FormatError,
    },
    /// serde_json failed (not expected).
    #[error("cannot serialize the result")]
    Json(#[source] serde_json::Error),
    /// The output file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Writing to stdout failed.
    #[error("cannot write to stdout")]
    Stdout(#[source] std::io::Error),
    /// `--since` is not a time.
    #[error("--since {0}")]
    Since(String),
    /// The clocks could not be read (not expected).
    #[error("cannot read the clock")]
    Clock(#[source] std::io::Error),
    /// The container could not be found.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The container's cgroup could not be found.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The records could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The policy of `--propose` is unusable.
    #[error(transparent)]
    Policy(#[from] seccomp_profile::policy::PolicyError),
    /// The proposal cannot be made (the baseline has a denial rule for a call the run
    /// made, ...).
    #[error("cannot propose a profile")]
    Propose(#[source] seccomp_profile::merge::MergeError),
    /// The kernel is told not to log `SCMP_ACT_LOG` calls.
    #[error("the kernel does not record SCMP_ACT_LOG calls: kernel.seccomp.actions_logged is '{0}' (add log: sysctl -w kernel.seccomp.actions_logged=\"{0} log\")")]
    LogNotLogged(String),
}

impl Categorized for AuditError {
    fn category(&self) -> Category {
        match self {
            AuditError::Input(e) => e.category(),
            AuditError::NotAProfile { .. } => Category::BadInput,
            AuditError::Format { source, .. } => source.category(),
            AuditError::Json(_) | AuditError::Clock(_) => Category::Internal,
            AuditError::Write(e) => e.category(),
            AuditError::Stdout(_) => Category::Io,
            AuditError::Since(_) => Category::Usage,
            AuditError::Engine(e) => e.category(),
            AuditError::Cgroup(e) => e.category(),
            AuditError::Source(e) => match e.io().kind() {
                std::io::ErrorKind::PermissionDenied => Category::Permission,
                _ => Category::Io,
            },
            AuditError::LogNotLogged(_) => Category::MissingKernelFeature,
            AuditError::Policy(e) => e.category(),
            AuditError::Propose(e) => e.category(),
        }
    }
}

fn pretty(value: &Value) -> Result<String, AuditError> {
    let mut s = serde_json::to_string_pretty(value).map_err(AuditError::Json)?;
    s.push('\n');
    Ok(s)
}

/// Runs `audit-profile`: writes the twin to `args.output` (atomically) or, for `-`,
/// to `out`.
pub fn run_profile(args: &AuditProfileArgs, out: &mut dyn Write) -> Result<(), AuditError> {
    let path = &args.input;
    let text = std::fs::read_to_string(path).map_err(|source| EvidenceError::Read {
        path: path.clone(),
        source,
    })?;
    // Read the way check and merge read it: a profile that would not load is refused.
    let input = evidence::parse(&text, path, &HostFacts::current())?;
    let Some(variants) = input.variants().filter(|_| input.kind.is_profile()) else {
        return Err(AuditError::NotAProfile {
            path: path.clone(),
            kind: input.kind,
        });
    };
    let (rendered, changes) = match args.format {
        None => {
            let doc: Value = serde_json::from_str(&text).map_err(|e| EvidenceError::Syntax {
                path: path.clone(),
                line: e.line(),
                column: e.column(),
                detail: seccomp_profile::profile_file::without_position(&e),
            })?;
            let resource = input.kind == InputKind::SeccompProfileResource;
            let (twin, changes) = twin::twin_document(&doc, resource);
            (pretty(&twin)?, changes)
        }
        Some(format) => {
            // An archMap profile has one resolution per host architecture: this host's.
            let native = Arch::native();
            let variant = variants
                .iter()
                .find(|v| v.native.is_some() && v.native == native)
                .or_else(|| variants.first());
            let Some(variant) = variant else {
                return Err(AuditError::NotAProfile {
                    path: path.clone(),
                    kind: input.kind,
                });
            };
            let (twin, changes) = twin::twin_seccomp(&variant.loaded.seccomp);
            let name = args
                .name
                .clone()
                .unwrap_or_else(|| stem(&args.output, path));
            let text = formats::render(&twin, format, &name)
                .map_err(|source| AuditError::Format { format, source })?;
            (text, changes)
        }
    };
    if !changes.any() {
        tracing::warn!(
            "{}: the profile denies nothing; its twin is the same profile",
            path.display()
        );
    }
    for at in &changes.kept {
        tracing::warn!(
            "{}: {at}: SCMP_ACT_TRACE / SCMP_ACT_NOTIFY kept as it is (a tracer or supervisor decides those calls)",
            path.display()
        );
    }
    if args.output.as_os_str() == "-" {
        out.write_all(rendered.as_bytes())
            .and_then(|_| out.flush())
            .map_err(AuditError::Stdout)?;
    } else {
        write_atomic(&args.output, rendered.as_bytes())?;
    }
    Ok(())
}

/// The SPO resource name by default: OUT's stem, or IN's for stdout.
fn stem(output: &Path, input: &Path) -> String {
    let from = if output.as_os_str() == "-" {
        input
    } else {
        output
    };
    from.file_stem()
        .map_or_else(|| "audit".to_owned(), |s| s.to_string_lossy().into_owned())
}

/// `starttime` (field 22, clock ticks since boot) of a `/proc/PID/stat` text (pure).
pub fn start_ticks(stat: &str) -> Option<u64> {
    // The comm (field 2) may contain spaces and parentheses: count from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// What runs now under `pid`: its cgroup v2 path and start time.
fn process_facts(pid: u32, boot: WallTime, ticks_per_sec: i64) -> Option<ProcessFacts> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = i64::try_from(start_ticks(&stat)?).ok()?;
    Some(ProcessFacts {
        cgroup: cgroup2_path_from_proc(&cgroup)?,
        started: WallTime(boot.unix_ms() + ticks * 1000 / ticks_per_sec.max(1)),
    })
}

fn read_sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/proc/sys").join(name.replace('.', "/")))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Runs `audit-report`, writing the result to `out`.
///
/// Returns the exit code: 0 when no record says a call would have been denied, 1
/// when some do. Every `Err` means the report could not be made; the binary exits
/// with 2 for it, as for `check`.
pub fn run_report(args: &AuditReportArgs, out: &mut dyn Write) -> Result<u8, AuditError> {
    let now = clock::now().map_err(AuditError::Clock)?;
    let since = time::parse_since(&args.since, now).map_err(AuditError::Since)?;
    let boot = clock::boot_time().map_err(AuditError::Clock)?;
    let cgroup = match &args.container {
        Some(id) => {
            let choice = crate::container::cri::choose_endpoint(args.cri_endpoint.as_deref())
                .map_err(EngineError::from)?;
            let found = engine::find(id, args.engine, &choice)?;
            Some(Cgroup2::discover()?.path_of_process(Some(found.pid))?)
        }
        None => None,
    };

    let mut warnings = Vec::new();
    let status = source::audit_status();
    let daemon = match &status {
        Ok(s) => (s.pid != 0).then_some(s.pid),
        // Not asked (no CAP_AUDIT_CONTROL, another user namespace): look for it.
        Err(_) => source::auditd_running().then_some(0),
    };
    let daemon_is = |pid: u32| {
        let who = if pid == 0 {
            "auditd runs".to_owned()
        } else {
            format!("an audit daemon (pid {pid}) is registered")
        };
        format!("{who} and receives the kernel's audit records instead of the kernel log")
    };
    let (source_name, collected) = match (&args.source, daemon) {
        (SourceChoice::File(path), _) => (path.display().to_string(), source::read_file(path, "")?),
        (SourceChoice::Auto, Some(pid)) => {
            let path = Path::new(source::AUDIT_LOG);
            (
                path.display().to_string(),
                source::read_file(
                    path,
                    &format!(": {}; give its log with --source FILE", daemon_is(pid)),
                )?,
            )
        }
        (SourceChoice::Auto | SourceChoice::Kmsg, daemon) => {
            if let Some(pid) = daemon {
                warnings.push(format!(
                    "{}: records are likely missing here; read its log with --source FILE",
                    daemon_is(pid)
                ));
            }
            let path = Path::new(source::KMSG);
            (path.display().to_string(), source::read_kmsg(path, boot)?)
        }
    };
    if !matches!(args.source, SourceChoice::File(_)) {
        if let Some(logged) = read_sysctl("kernel.seccomp.actions_logged") {
            if !logged.split_whitespace().any(|a| a == "log") {
                return Err(AuditError::LogNotLogged(logged));
            }
        }
        if let Ok(s) = &status {
            if s.lost > 0 {
                warnings.push(format!(
                    "the audit subsystem dropped {} record(s) since boot (backlog limit {}, rate limit {}/s); some may be from this window",
                    s.lost, s.backlog_limit, s.rate_limit
                ));
            }
        }
    }
    let limits = Limits {
        printk: read_sysctl("kernel.printk_ratelimit")
            .zip(read_sysctl("kernel.printk_ratelimit_burst"))
            .and_then(|(s, b)| Some((s.parse().ok()?, b.parse().ok()?))),
    };
    warnings.extend(report::completeness_warnings(&collected, since, limits));

    let selection = Selection {
        since,
        pids: args.pids.clone(),
        comms: args.comms.clone(),
        cgroup,
    };
    // SAFETY: sysconf has no preconditions.
    let ticks: i64 = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let mut cache: HashMap<u32, Option<ProcessFacts>> = HashMap::new();
    let mut facts = |pid: u32| {
        cache
            .entry(pid)
            .or_insert_with(|| process_facts(pid, boot, ticks))
            .clone()
    };
    let mut result = report::report(&collected, &selection, &mut facts, &source_name, warnings);
    if let Some(out) = &args.propose {
        result.proposal = Some(write_proposal(args, out, &result)?);
    }
    let text = match args.format {
        AuditFormat::Text => report::render_text(&result),
        AuditFormat::Json => {
            let mut s = serde_json::to_string_pretty(&result).map_err(AuditError::Json)?;
            s.push('\n');
            s
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(AuditError::Stdout)?;
    Ok(report::exit_code(&result))
}

/// Makes the proposal of `--propose` from the report's findings and writes it to
/// `out` atomically (nothing is written when it cannot be made).
fn write_proposal(
    args: &AuditReportArgs,
    out: &Path,
    result: &report::AuditReport,
) -> Result<report::ProposalSummary, AuditError> {
    let host = HostFacts::current();
    // `requires` makes clap insist on --baseline with --propose.
    let baseline_path = args.baseline.clone().unwrap_or_default();
    let policy = seccomp_profile::policy::Policy::load(&args.policy)?;
    let baseline = evidence::load(&baseline_path, &host)?;
    if !baseline.kind.is_profile() {
        return Err(AuditError::NotAProfile {
            path: baseline.path.clone(),
            kind: baseline.kind,
        });
    }
    let denied: Vec<seccomp_profile::propose::Denied> = result
        .new
        .iter()
        .filter_map(|f| {
            Some(seccomp_profile::propose::Denied {
                arch: f.arch.and_then(|a| a.parse::<Arch>().ok()),
                name: f.name?.to_owned(),
            })
        })
        .collect();
    let proposal = seccomp_profile::propose::propose(&baseline, &denied, &policy, host.native_arch)
        .map_err(AuditError::Propose)?;
    let name = stem(out, &baseline_path);
    let text = formats::render(&proposal.profile, Format::Oci, &name).map_err(|source| {
        AuditError::Format {
            format: Format::Oci,
            source,
        }
    })?;
    write_atomic(out, text.as_bytes())?;
    Ok(report::ProposalSummary {
        output: out.display().to_string(),
        baseline: baseline_path.display().to_string(),
        added: proposal.added,
        held_back: proposal.held_back,
        unnamed: result.new.iter().filter(|f| f.name.is_none()).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ticks_skip_odd_comms() {
        let stat = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615";
        assert_eq!(start_ticks(stat), Some(987_654));
        assert_eq!(start_ticks("garbage"), None);
    }

    #[test]
    fn twin_names_default_to_the_output_stem() {
        assert_eq!(
            stem(Path::new("out/web.audit.json"), Path::new("web.json")),
            "web.audit"
        );
        assert_eq!(stem(Path::new("-"), Path::new("dir/web.json")), "web");
    }

    #[test]
    fn recordings_are_refused_as_bad_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = dir.path().join("a.stats.json");
        std::fs::write(
            &stats,
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1}]}"#,
        )
        .expect("write");
        let args = AuditProfileArgs {
            input: stats.clone(),
            output: dir.path().join("out.json"),
            format: None,
            name: None,
        };
        let e = run_profile(&args, &mut Vec::new()).expect_err("refused");
        assert_eq!(e.category(), Category::BadInput);
        assert!(
            e.to_string().starts_with(&format!(
                "{}: is a stats file, not a seccomp profile",
                stats.display()
            )),
            "{e}"
        );
        assert!(!dir.path().join("out.json").exists());
    }

    #[test]
    fn twins_go_to_stdout_or_a_file_in_the_asked_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("web.json");
        std::fs::write(
            &input,
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        )
        .expect("write");
        let mut stdout = Vec::new();
        let args = AuditProfileArgs {
            input: input.clone(),
            output: PathBuf::from("-"),
            format: None,
            name: None,
        };
        run_profile(&args, &mut stdout).expect("twin");
        let twin: Value = serde_json::from_slice(&stdout).expect("json");
        assert_eq!(twin["defaultAction"], "SCMP_ACT_LOG");
        assert!(twin.get("defaultErrnoRet").is_none());
        assert_eq!(twin["syscalls"][1]["action"], "SCMP_ACT_LOG");

        let out = dir.path().join("web.audit.json");
        let args = AuditProfileArgs {
            input,
            output: out.clone(),
            format: Some(Format::Spo),
            name: None,
        };
        run_profile(&args, &mut Vec::new()).expect("twin");
        let spo: Value =
            serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
        assert_eq!(spo["kind"], "SeccompProfile");
        assert_eq!(spo["metadata"]["name"], "web.audit");
        assert_eq!(spo["spec"]["defaultAction"], "SCMP_ACT_LOG");
    }
}
