//! `seccomp-recorder syscalls NAME|NUMBER`: look up syscall names and numbers per
//! architecture, like `ausyscall` or `scmp_sys_resolver`.
//!
//! A number resolves to its name, a name to its number; `--all-arches` answers for
//! every architecture that has the name (or number). x32 numbers include the x32 bit
//! (`0x40000000`), as the kernel and libseccomp use them.

use std::io::Write;

use serde::Serialize;

use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::syscalls::{Arch, SyscallError};

/// Arguments of the `syscalls` subcommand.
#[derive(clap::Args, Debug)]
pub struct SyscallsArgs {
    /// A syscall name (`openat`) or number (`257`, `0x101`).
    #[arg(value_name = "NAME|NUMBER")]
    pub query: String,

    /// The architecture to look in: x86_64, x86, x32, aarch64, arm, riscv64 or an
    /// SCMP_ARCH_* name [default: this machine's].
    #[arg(long, short = 'a', value_name = "ARCH", conflicts_with = "all_arches")]
    pub arch: Option<String>,

    /// Answer for every architecture that knows the name or number.
    #[arg(long)]
    pub all_arches: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = SyscallsFormat::Text)]
    pub format: SyscallsFormat,
}

/// Output formats of the `syscalls` subcommand.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallsFormat {
    /// One `ARCH NAME NUMBER` line per match, e.g. `x86_64 getppid 110`.
    Text,
    /// A JSON array of `{"arch": "SCMP_ARCH_X86_64", "name": "getppid", "nr": 110}`.
    Json,
}

/// Errors of the `syscalls` subcommand.
#[derive(Debug, thiserror::Error)]
pub enum SyscallsError {
    /// A lookup on one architecture failed.
    #[error(transparent)]
    Lookup(#[from] SyscallError),
    /// `--all-arches` found the name or number on no architecture.
    #[error("'{query}' is not a syscall on any known architecture")]
    NotOnAnyArch {
        /// The name or number asked for.
        query: String,
    },
    /// No `--arch` was given and this machine's architecture has no table.
    #[error("no syscall table for this machine's architecture ({machine}); pass --arch")]
    NoNativeArch {
        /// The machine architecture, as Rust names it.
        machine: &'static str,
    },
    /// Writing the answer failed (e.g. a closed pipe).
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
}

impl Categorized for SyscallsError {
    fn category(&self) -> Category {
        match self {
            SyscallsError::Lookup(err) => err.category(),
            SyscallsError::NotOnAnyArch { .. } => Category::UnknownSyscall,
            SyscallsError::NoNativeArch { .. } => Category::UnknownArch,
            SyscallsError::Write(_) => Category::Io,
        }
    }
}

/// One answer: a syscall on one architecture. Field order is the JSON order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Entry<'a> {
    arch: &'static str,
    #[serde(skip)]
    short_arch: &'static str,
    name: &'a str,
    nr: u64,
}

impl<'a> Entry<'a> {
    fn new(arch: Arch, name: &'a str, nr: u64) -> Self {
        Entry {
            arch: arch.scmp_name(),
            short_arch: arch.short_name(),
            name,
            nr,
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
enum Query<'a> {
    Name(&'a str),
    Number(u64),
}

impl<'a> Query<'a> {
    /// A number in decimal or `0x` hex, else a name.
    fn parse(input: &'a str) -> Self {
        let number = match input
            .strip_prefix("0x")
            .or_else(|| input.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            // from_str would take a leading '+'; syscall names never start with one.
            None if input.starts_with(|c: char| c.is_ascii_digit()) => input.parse().ok(),
            None => None,
        };
        number.map_or(Query::Name(input), Query::Number)
    }

    fn lookup(self, arch: Arch) -> Result<Entry<'a>, SyscallError> {
        match self {
            Query::Name(name) => arch.resolve(name).map(|nr| Entry::new(arch, name, nr)),
            Query::Number(nr) => arch
                .name_of(nr)
                .map(|name| Entry::new(arch, name, nr))
                .ok_or(SyscallError::UnknownNumber { nr, arch }),
        }
    }
}

/// Runs `seccomp-recorder syscalls`, writing the answer to `out`.
///
/// Errors are returned, not printed: the binary maps them to a message and exit code.
pub fn run(args: &SyscallsArgs, out: &mut dyn Write) -> Result<(), SyscallsError> {
    let query = Query::parse(&args.query);
    let entries = if args.all_arches {
        let found: Vec<Entry<'_>> = Arch::ALL
            .iter()
            .filter_map(|&arch| query.lookup(arch).ok())
            .collect();
        if found.is_empty() {
            return Err(SyscallsError::NotOnAnyArch {
                query: args.query.clone(),
            });
        }
        found
    } else {
        let arch = match &args.arch {
            Some(arch) => arch.parse::<Arch>()?,
            None => Arch::native().ok_or(SyscallsError::NoNativeArch {
                machine: std::env::consts::ARCH,
            })?,
        };
        vec![query.lookup(arch)?]
    };
    write_entries(&entries, args.format, out).map_err(SyscallsError::Write)
}

fn write_entries(
    entries: &[Entry<'_>],
    format: SyscallsFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        SyscallsFormat::Text => {
            for entry in entries {
                writeln!(out, "{} {} {}", entry.short_arch, entry.name, entry.nr)?;
            }
        }
        SyscallsFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, entries)?;
            writeln!(out)?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        query: &str,
        arch: Option<&str>,
        all_arches: bool,
        format: SyscallsFormat,
    ) -> SyscallsArgs {
        SyscallsArgs {
            query: query.to_owned(),
            arch: arch.map(str::to_owned),
            all_arches,
            format,
        }
    }

    fn text(query: &str, arch: Option<&str>, all_arches: bool) -> Result<String, SyscallsError> {
        let mut out = Vec::new();
        run(
            &args(query, arch, all_arches, SyscallsFormat::Text),
            &mut out,
        )?;
        Ok(String::from_utf8(out).expect("utf-8 output"))
    }

    #[test]
    fn name_to_number() {
        assert_eq!(
            text("getppid", Some("x86_64"), false).unwrap(),
            "x86_64 getppid 110\n"
        );
        assert_eq!(
            text("getppid", Some("SCMP_ARCH_AARCH64"), false).unwrap(),
            "aarch64 getppid 173\n"
        );
        assert_eq!(
            text("rt_sigaction", Some("x32"), false).unwrap(),
            "x32 rt_sigaction 1073742336\n"
        );
    }

    #[test]
    fn number_to_name_decimal_and_hex() {
        assert_eq!(
            text("110", Some("x86_64"), false).unwrap(),
            "x86_64 getppid 110\n"
        );
        assert_eq!(
            text("0x6e", Some("amd64"), false).unwrap(),
            "x86_64 getppid 110\n"
        );
        assert_eq!(
            text("0X6E", Some("x86_64"), false).unwrap(),
            "x86_64 getppid 110\n"
        );
        assert_eq!(
            text("0x40000200", Some("x32"), false).unwrap(),
            "x32 rt_sigaction 1073742336\n"
        );
        assert_eq!(text("64", Some("i386"), false).unwrap(), "x86 getppid 64\n");
    }

    #[test]
    fn default_arch_is_native() {
        let Some(native) = Arch::native() else { return };
        let nr = native.number_of("close").expect("close exists");
        let expected = format!("{} close {nr}\n", native.short_name());
        assert_eq!(text("close", None, false).unwrap(), expected);
        assert_eq!(text(&nr.to_string(), None, false).unwrap(), expected);
    }

    #[test]
    fn all_arches_lists_every_arch_with_the_name() {
        let out = text("getppid", None, true).unwrap();
        assert_eq!(
            out,
            "x86_64 getppid 110\nx86 getppid 64\nx32 getppid 1073741934\n\
             aarch64 getppid 173\narm getppid 64\nriscv64 getppid 173\n"
        );
        // `open` does not exist on the asm-generic arches.
        let out = text("open", None, true).unwrap();
        assert_eq!(
            out,
            "x86_64 open 2\nx86 open 5\nx32 open 1073741826\narm open 5\n"
        );
    }

    #[test]
    fn all_arches_with_a_number() {
        let out = text("0", None, true).unwrap();
        assert_eq!(
            out,
            "x86_64 read 0\nx86 restart_syscall 0\naarch64 io_setup 0\n\
             arm restart_syscall 0\nriscv64 io_setup 0\n"
        );
    }

    #[test]
    fn json_is_a_stable_array() {
        let mut out = Vec::new();
        run(
            &args("getppid", Some("x86_64"), false, SyscallsFormat::Json),
            &mut out,
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value,
            serde_json::json!([{"arch": "SCMP_ARCH_X86_64", "name": "getppid", "nr": 110}])
        );
        let out = String::from_utf8(out).unwrap();
        let (arch, name, nr) = (
            out.find("\"arch\"").unwrap(),
            out.find("\"name\"").unwrap(),
            out.find("\"nr\"").unwrap(),
        );
        assert!(arch < name && name < nr, "field order: {out}");
        assert!(out.ends_with("]\n"));

        let mut out = Vec::new();
        run(&args("open", None, true, SyscallsFormat::Json), &mut out).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let arches: Vec<&str> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["arch"].as_str().unwrap())
            .collect();
        assert_eq!(
            arches,
            [
                "SCMP_ARCH_X86_64",
                "SCMP_ARCH_X86",
                "SCMP_ARCH_X32",
                "SCMP_ARCH_ARM"
            ]
        );
    }

    #[test]
    fn unknown_name_is_exit_65() {
        let err = text("no_such_syscall", Some("x86_64"), false).unwrap_err();
        assert!(matches!(
            &err,
            SyscallsError::Lookup(SyscallError::UnknownName { name, arch: Arch::X86_64 }) if name == "no_such_syscall"
        ));
        assert_eq!(err.category().code(), 65);
        assert_eq!(
            err.to_string(),
            "unknown syscall name 'no_such_syscall' on SCMP_ARCH_X86_64"
        );
        // Exists elsewhere, not on aarch64.
        let err = text("open", Some("aarch64"), false).unwrap_err();
        assert_eq!(err.category().code(), 65);
    }

    #[test]
    fn unknown_number_is_exit_65() {
        let err = text("99999", Some("x86_64"), false).unwrap_err();
        assert!(matches!(
            err,
            SyscallsError::Lookup(SyscallError::UnknownNumber {
                nr: 99999,
                arch: Arch::X86_64
            })
        ));
        assert_eq!(err.category().code(), 65);
        // The 64-bit number of rt_sigaction is not an x32 number, with or without the bit.
        for nr in ["13", "0x4000000d"] {
            let err = text(nr, Some("x32"), false).unwrap_err();
            assert_eq!(err.category().code(), 65, "{nr}");
        }
    }

    #[test]
    fn not_on_any_arch_is_exit_65() {
        for query in ["no_such_syscall", "0xffffffff"] {
            let err = text(query, None, true).unwrap_err();
            assert!(matches!(&err, SyscallsError::NotOnAnyArch { query: q } if q == query));
            assert_eq!(err.category().code(), 65);
        }
    }

    #[test]
    fn unknown_arch_is_exit_64() {
        let err = text("read", Some("mips"), false).unwrap_err();
        assert!(matches!(&err, SyscallsError::Lookup(SyscallError::UnknownArch(a)) if a == "mips"));
        assert_eq!(err.category().code(), 64);
        assert!(err.to_string().starts_with("unknown architecture 'mips'"));
    }

    #[test]
    fn malformed_numbers_are_names() {
        // Not numbers, so looked up as names, which do not exist.
        for query in ["0x", "0xzz", "12abc", "99999999999999999999999", "-1", "+5"] {
            let err = text(query, Some("x86_64"), false).unwrap_err();
            assert!(
                matches!(&err, SyscallsError::Lookup(SyscallError::UnknownName { name, .. }) if name == query),
                "{query}: {err:?}"
            );
        }
    }

    #[test]
    fn write_errors_are_io() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = run(
            &args("read", Some("x86_64"), false, SyscallsFormat::Text),
            &mut Closed,
        )
        .unwrap_err();
        assert!(matches!(err, SyscallsError::Write(_)));
        assert_eq!(err.category(), Category::Io);
    }

    #[test]
    fn clap_parses_the_command_line() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            args: SyscallsArgs,
        }
        let cli =
            Cli::try_parse_from(["x", "0x6e", "--arch", "x86_64", "--format", "json"]).unwrap();
        assert_eq!(cli.args.query, "0x6e");
        assert_eq!(cli.args.arch.as_deref(), Some("x86_64"));
        assert_eq!(cli.args.format, SyscallsFormat::Json);
        let cli = Cli::try_parse_from(["x", "read", "--all-arches"]).unwrap();
        assert!(cli.args.all_arches);
        assert_eq!(cli.args.format, SyscallsFormat::Text);
        assert!(Cli::try_parse_from(["x", "read", "--all-arches", "--arch", "x86"]).is_err());
        assert!(Cli::try_parse_from(["x"]).is_err());
    }
}
