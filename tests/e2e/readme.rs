//! The README's commands stay true: every `seccomp-recorder …` line in its shell blocks
//! parses with today's command line (no removed option, no renamed command), and every
//! `cargo xtask …` names a task that exists. The commands themselves run as written, in
//! order, on the installed package in `dist::walkthrough`.

use std::path::Path;

use clap::Parser;
use seccomp_recorder::cli::Cli;

/// The shell lines of the README's ```sh blocks: continuations joined, comments and a
/// leading `sudo` removed.
pub(crate) fn shell_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim_end();
        if code.trim_start().starts_with('#') {
            continue;
        }
        if let Some(head) = code.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(code);
        let full = pending.trim().to_owned();
        pending.clear();
        if !full.is_empty() {
            lines.push(full);
        }
    }
    lines
}

/// Splits a command line into words (the README uses no quotes).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[e2e_macros::test]
fn every_readme_command_parses_and_every_xtask_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(readme.lines().count() <= 200, "README.md is over 200 lines");
    let xtask = std::fs::read_to_string(root.join("xtask/src/main.rs")).expect("xtask");
    let mut ours = 0;
    let mut tasks = 0;
    for line in shell_lines(&readme) {
        // One line may chain commands with `&&`.
        for part in line.split("&&") {
            let w = words(part);
            let w: Vec<&str> = w.into_iter().skip_while(|w| *w == "sudo").collect();
            let Some(first) = w.first() else { continue };
            if first.ends_with("seccomp-recorder") {
                ours += 1;
                if let Err(e) = Cli::try_parse_from(&w) {
                    // --version prints and "fails" with DisplayVersion: that is a pass.
                    assert_eq!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayVersion,
                        "README: `{}` does not parse: {e}",
                        part.trim()
                    );
                }
            } else if w.len() >= 3 && w[0] == "cargo" && w[1] == "xtask" {
                tasks += 1;
                // clap's kebab-case of the Task variant.
                let variant: String = w[2]
                    .split('-')
                    .map(|p| {
                        let mut c = p.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                assert!(
                    xtask.contains(&format!("    {variant},"))
                        || xtask.contains(&format!("    {variant} {{")),
                    "README: `cargo xtask {}` is not a task of xtask/src/main.rs",
                    w[2]
                );
            }
        }
    }
    assert!(
        ours >= 7,
        "only {ours} seccomp-recorder commands found in README.md"
    );
    assert!(
        tasks >= 4,
        "only {tasks} cargo xtask commands found in README.md"
    );
}

#[e2e_macros::test]
fn shell_lines_join_continuations_and_drop_comments() {
    let md =
        "text\n```sh\n# a comment\nsudo a --x \\\n    --y   # note\nb\n```\n```yaml\nc: d\n```\n";
    assert_eq!(shell_lines(md), ["sudo a --x      --y", "b"]);
}
