//! `seccomp-recorder record`: its command line, and the profile on stdout when no
//! file is given. The recording is [`crate::session::record`].

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::container::engine::Engine;
use crate::session::record::{self, RecordError, RecordOptions};
use seccomp_profile::formats::Format;
use seccomp_profile::profile::DefaultErrno;
use seccomp_profile::report;
use seccomp_profile::runtime::Runtime;

/// Arguments of `record`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("steady").args(["steady_after", "steady_marker"])))]
pub struct RecordArgs {
    /// Write the profile here (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write exact per-syscall counts here (JSON).
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Write the evidence here (JSON): per syscall the exact count, the first process
    /// (pid, comm) that made it and when, in ms after the start.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Errno that denied syscalls return under the profile.
    #[arg(long, value_enum, default_value_t = DefaultErrno::default(), value_name = "ERRNO")]
    pub default_errno: DefaultErrno,
    /// Profile format: OCI runtime-spec JSON, podman/Docker file (archMap), or a
    /// Security Profiles Operator SeccompProfile object.
    #[arg(long, value_enum, default_value_t = Format::default())]
    pub format: Format,
    /// Object name for `--format spo` (default: the output file's stem, or the command).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Split the recording this long after the start (e.g. 500ms, 2s): the syscalls
    /// made after it go into a second, tighter profile (--steady-output).
    #[arg(long, value_name = "DURATION", value_parser = report::parse_duration, requires = "steady_output")]
    pub steady_after: Option<Duration>,
    /// Split the recording when this file appears (the workload creates it when it is
    /// ready, e.g. a server after start-up).
    #[arg(
        long,
        value_name = "PATH",
        requires = "steady_output",
        conflicts_with = "steady_after"
    )]
    pub steady_marker: Option<PathBuf>,
    /// Where the steady-phase profile goes (needs --steady-after or --steady-marker).
    #[arg(long, value_name = "FILE", requires = "steady")]
    pub steady_output: Option<PathBuf>,
    /// The OCI runtime the profile is for: its start-up calls (made through the
    /// container's filter before the workload's execve) are added to the profile.
    /// `any` adds every known runtime's, `none` nothing (for `enforce` only).
    /// [default: any]
    #[arg(long, value_enum, value_name = "RUNTIME")]
    pub runtime: Option<Runtime>,
    /// Record an existing cgroup v2 (and its descendants) instead of running CMD: a
    /// directory of the cgroup2 tree or a path as /proc/PID/cgroup shows it. Until
    /// Ctrl-C / SIGTERM, --duration, or until the cgroup has no process left.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["command", "container", "pod"])]
    pub cgroup: Option<PathBuf>,
    /// Record a running container, found by id or name through podman, docker or the
    /// CRI (whichever knows it); its cgroup is recorded as with --cgroup. With --pod:
    /// the name of the pod's container to record (default: every container).
    #[arg(long, value_name = "ID|NAME", conflicts_with = "command")]
    pub container: Option<String>,
    /// Ask only this engine about --container.
    #[arg(long, value_enum, requires = "container", conflicts_with = "pod")]
    pub engine: Option<Engine>,
    /// Record a Kubernetes pod, found by name through the node's CRI (containerd,
    /// CRI-O): the pod's cgroup (every container), or one container with --container
    /// NAME. Until the pod is gone, Ctrl-C / SIGTERM, or --duration.
    #[arg(long, value_name = "NAME", conflicts_with = "command")]
    pub pod: Option<String>,
    /// The namespace of --pod (needed when the name is used in several namespaces).
    #[arg(long, short = 'n', value_name = "NS", requires = "pod")]
    pub namespace: Option<String>,
    /// The CRI socket (unix:///run/containerd/containerd.sock) [default:
    /// $CONTAINER_RUNTIME_ENDPOINT, else containerd's, CRI-O's, cri-dockerd's].
    #[arg(long, value_name = "ENDPOINT")]
    pub cri_endpoint: Option<String>,
    /// Also record the deciding argument values of socket (family, type), clone
    /// (namespace flags), unshare, setns, personality, prctl, ioctl and socketpair, and
    /// allow those syscalls only with the values seen (SCMP_CMP_EQ / MASKED_EQ rules).
    #[arg(long)]
    pub args: bool,
    /// Also allow the variants of each recorded call that another libc or runtime
    /// may make instead (newfstatat/stat/statx, openat/open, pipe2/pipe, clone/fork,
    /// ...; clone only without namespace flags, never clone3): see docs/ci.md.
    #[arg(long)]
    pub portable: bool,
    /// Stop recording a cgroup or container after this long (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = report::parse_duration)]
    pub duration: Option<Duration>,
    /// The command to record, with its arguments.
    #[arg(
        required_unless_present_any = ["cgroup", "container", "pod"],
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

impl RecordArgs {
    /// The options the recording takes.
    fn into_options(self) -> RecordOptions {
        RecordOptions {
            output: self.output,
            stats: self.stats,
            report: self.report,
            default_errno: self.default_errno,
            format: self.format,
            name: self.name,
            steady_after: self.steady_after,
            steady_marker: self.steady_marker,
            steady_output: self.steady_output,
            runtime: self.runtime,
            cgroup: self.cgroup,
            container: self.container,
            engine: self.engine,
            pod: self.pod,
            namespace: self.namespace,
            cri_endpoint: self.cri_endpoint,
            args: self.args,
            portable: self.portable,
            duration: self.duration,
            command: self.command,
        }
    }
}

/// Runs `record`: the exit code to leave with.
pub fn run(args: RecordArgs, out: &mut dyn Write) -> Result<u8, RecordError> {
    let outcome = record::run(&args.into_options())?;
    if let Some(profile) = outcome.profile {
        out.write_all(profile.as_bytes())
            .and_then(|_| out.flush())
            .map_err(RecordError::Stdout)?;
    }
    Ok(outcome.exit_code)
}
