//! `completions` and `man`: shell completions and manual pages generated from the
//! clap definitions, so they never drift from `--help`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::fs::atomic::{write_atomic, WriteError};
use seccomp_profile::exit::{Categorized, Category};

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash (`source <(seccomp-recorder completions bash)`), zsh, fish,
    /// elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write seccomp-recorder.1 and one page per command (seccomp-recorder-record.1,
    /// ...) into DIR instead of printing the main page (`seccomp-recorder man | man
    /// -l -`).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// Errors of `completions` and `man`.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// stdout failed.
    #[error("cannot write to stdout")]
    Stdout(#[source] io::Error),
    /// A page could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Categorized for GenerateError {
    fn category(&self) -> Category {
        match self {
            GenerateError::Stdout(_) => Category::Io,
            GenerateError::Write(e) => e.category(),
        }
    }
}

/// The completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<(), GenerateError> {
    let mut buf = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut without_hidden_commands(super::Cli::command()),
        "seccomp-recorder",
        &mut buf,
    );
    out.write_all(&buf)
        .and_then(|_| out.flush())
        .map_err(GenerateError::Stdout)
}

/// The program's command without its hidden subcommands (clap_complete offers them
/// otherwise): the same name, version, about text, arguments and visible subcommands.
fn without_hidden_commands(cmd: clap::Command) -> clap::Command {
    let mut out = clap::Command::new("seccomp-recorder")
        .version(super::VERSION)
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(a) = cmd.get_about() {
        out = out.about(a.clone());
    }
    out
}

/// The manual pages: `(file name, roff)` for the program and each visible command.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            walk(sub, pages);
        }
        let man = clap_mangen::Man::new(cmd);
        let mut roff = Vec::new();
        // Rendering into a Vec cannot fail.
        if man.render(&mut roff).is_ok() {
            pages.push((man.get_filename(), roff));
        }
    }
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    // Gives subcommands their display names (seccomp-recorder-record).
    cmd.build();
    let mut pages = Vec::new();
    walk(cmd, &mut pages);
    pages.sort();
    pages
}

/// `man`: the main page on stdout, or every page into a directory (listed on stdout).
pub fn man(args: &ManArgs, out: &mut dyn Write) -> Result<(), GenerateError> {
    let pages = man_pages();
    match &args.output_dir {
        None => {
            let main = pages
                .iter()
                .find(|(name, _)| name == "seccomp-recorder.1")
                .map(|(_, roff)| roff.as_slice())
                .unwrap_or_default();
            out.write_all(main)
                .and_then(|_| out.flush())
                .map_err(GenerateError::Stdout)
        }
        Some(dir) => {
            for (name, roff) in &pages {
                let path = Path::new(dir).join(name);
                write_atomic(&path, roff)?;
                writeln!(out, "{}", path.display()).map_err(GenerateError::Stdout)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "seccomp-recorder.1",
            "seccomp-recorder-record.1",
            "seccomp-recorder-push.1",
            "seccomp-recorder-pull.1",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let record = &pages
            .iter()
            .find(|(n, _)| n == "seccomp-recorder-record.1")
            .expect("record page")
            .1;
        let text = String::from_utf8_lossy(record);
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq"),
            "not roff: {}",
            &text[..40]
        );
        assert!(text.contains("steady\\-after"), "record options missing");
    }

    #[test]
    fn bash_completion_names_the_commands() {
        let mut out = Vec::new();
        completions(
            &CompletionsArgs {
                shell: clap_complete::Shell::Bash,
            },
            &mut out,
        )
        .expect("generate");
        let script = String::from_utf8(out).expect("utf8");
        assert!(
            script.contains(
                "complete -F _seccomp__recorder -o bashdefault -o default seccomp-recorder"
            ),
            "no complete line"
        );
        assert!(script.contains("push") && script.contains("audit-report"));
    }

    #[test]
    fn no_shell_offers_the_hidden_command_and_every_one_offers_the_rest() {
        // The hidden benchmark command is still a command (it parses).
        assert!(super::super::Cli::command()
            .get_subcommands()
            .any(|s| s.get_name() == "floor" && s.is_hide_set()));
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(&CompletionsArgs { shell }, &mut out).expect("generate");
            let script = String::from_utf8(out).expect("utf8");
            assert!(!script.contains("floor"), "{shell}: offers `floor`");
            for visible in super::super::Cli::command()
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
            {
                assert!(
                    script.contains(visible.get_name()),
                    "{shell}: {} missing",
                    visible.get_name()
                );
            }
            assert!(script.contains("version"), "{shell}: --version missing");
        }
    }
}
