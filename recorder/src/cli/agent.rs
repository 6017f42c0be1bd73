//! `seccomp-recorder agent`: the node agent's command line (see
//! [`crate::session::agent`]).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::container::cri::{self, CriError};
use crate::kernel::tracer::TracerPaths;
use crate::session::agent::{self, AgentConfig, AgentError, Command, WatchSpec};
use seccomp_profile::formats::Format;
use seccomp_profile::profile::DefaultErrno;
use seccomp_profile::report;

/// Arguments of `agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Where recordings (`recordings/<ns>/<workload>/<container>/<id>.json`) and merged
    /// profiles (`profiles/<ns>/<workload>/<container>.json`, with `.coverage.json`) go.
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,
    /// The CRI socket [default: $CONTAINER_RUNTIME_ENDPOINT, else containerd's, CRI-O's,
    /// cri-dockerd's].
    #[arg(long, value_name = "ENDPOINT")]
    pub cri_endpoint: Option<String>,
    /// A cgroup to watch, relative to the cgroup2 root, and how many levels below it
    /// the containers' cgroups are (repeatable) [default: the kubelet's QoS cgroups,
    /// kubepods/besteffort:2 and the like, for both cgroup drivers].
    #[arg(long = "watch", value_name = "PATH[:DEPTH]", value_parser = parse_watch)]
    pub watches: Vec<WatchSpec>,
    /// Profile format.
    #[arg(long, value_enum, default_value_t = Format::default())]
    pub format: Format,
    /// Errno that denied syscalls return under the profiles.
    #[arg(long, value_enum, default_value_t = DefaultErrno::default(), value_name = "ERRNO")]
    pub default_errno: DefaultErrno,
    /// Spare kernel slots kept ready for new containers (each new container below a
    /// watch takes one on its first syscall, until the agent decides about it).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=128))]
    pub spares: u16,
    /// How often new containers and ended ones are looked at (e.g. 20ms).
    #[arg(long, default_value = "20ms", value_parser = report::parse_duration)]
    pub poll: Duration,
    /// Also write the running recordings this often (long-running containers; SIGHUP
    /// does it at once).
    #[arg(long, value_name = "DURATION", value_parser = report::parse_duration)]
    pub flush_every: Option<Duration>,
}

/// `PATH[:DEPTH]` of `--watch`.
fn parse_watch(s: &str) -> Result<WatchSpec, String> {
    let (path, depth) = match s.rsplit_once(':') {
        Some((p, d)) => (
            p,
            d.parse::<u32>()
                .map_err(|_| format!("depth '{d}' is not a number"))?,
        ),
        None => (s, 2),
    };
    if !(1..=recorder_ebpf::MAX_WATCH_DEPTH).contains(&depth) {
        return Err(format!(
            "depth {depth} is out of range (1 to {})",
            recorder_ebpf::MAX_WATCH_DEPTH
        ));
    }
    let path = path.trim_matches('/');
    if path.is_empty()
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!("'{s}' is not a cgroup path below the root"));
    }
    Ok(WatchSpec {
        path: path.to_owned(),
        depth,
    })
}

/// Errors of `agent`.
#[derive(Debug, thiserror::Error)]
pub enum AgentCliError {
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The CRI endpoint given is not usable.
    #[error(transparent)]
    Endpoint(#[from] CriError),
}

impl seccomp_profile::exit::Categorized for AgentCliError {
    fn category(&self) -> seccomp_profile::exit::Category {
        match self {
            AgentCliError::Agent(e) => e.category(),
            AgentCliError::Endpoint(e) => e.category(),
        }
    }
}

/// Runs the agent until SIGTERM or SIGINT; SIGHUP writes the running recordings.
pub fn run(args: &AgentArgs) -> Result<(), AgentCliError> {
    let config = AgentConfig {
        output_dir: args.output_dir.clone(),
        cri: cri::choose_endpoint(args.cri_endpoint.as_deref())?,
        watches: if args.watches.is_empty() {
            agent::default_watches()
        } else {
            args.watches.clone()
        },
        format: args.format,
        errno: args.default_errno,
        spares: usize::from(args.spares),
        poll: args.poll.max(Duration::from_millis(1)),
        flush_every: args.flush_every,
        resolve_timeout: Duration::from_secs(60),
    };
    let (tx, rx) = mpsc::channel();
    // Blocked before anything is registered: a signal always ends in written files.
    let mut set = nix::sys::signal::SigSet::empty();
    for s in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        set.add(s);
    }
    let _ = set.thread_block();
    std::thread::spawn(move || loop {
        let cmd = match set.wait() {
            Ok(nix::sys::signal::Signal::SIGHUP) => Command::Flush,
            Ok(_) => Command::Stop,
            Err(_) => continue,
        };
        if tx.send(cmd).is_err() || cmd == Command::Stop {
            break;
        }
    });
    eprintln!(
        "seccomp-recorder agent: recording the containers of pods annotated {}: \"true\" into {}",
        cri::workload::RECORD_ANNOTATION,
        args.output_dir.display()
    );
    agent::run(&TracerPaths::from_env(), config, &rx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_specs() {
        assert_eq!(
            parse_watch("kubepods/besteffort"),
            Ok(WatchSpec {
                path: "kubepods/besteffort".into(),
                depth: 2
            })
        );
        assert_eq!(
            parse_watch("/k8s.io:1").map(|w| (w.path, w.depth)),
            Ok(("k8s.io".into(), 1))
        );
        for bad in ["", "/", "a/../b", "a:0", "a:9", "a:x", "a//b"] {
            assert!(parse_watch(bad).is_err(), "{bad}");
        }
    }
}
