//! Markdown for reviewers (`check --format markdown`, `diff --format markdown`): a
//! pull-request comment or a CI job summary (`>> $GITHUB_STEP_SUMMARY`), pure.
//!
//! What a reviewer has to decide comes first: the verdict with its exit code, the new
//! calls with architecture, count and the first process that made them, the risky
//! calls (a never-allow policy's violations, with the reason), the variants of calls
//! already allowed (another libc's siblings, [`crate::portable`]). What needs no
//! decision (names nobody used) is folded away.

use crate::check::{exit_code as check_exit_code, CheckReport, Finding};
use crate::diff::{exit_code as diff_exit_code, ProfileDiff};
use crate::evidence::describe_first;
use crate::policy::PolicyReport;

/// `text` safe inside a table cell: pipes escaped, no line breaks, no HTML.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// `text` as inline code (names and paths), or escaped text when it holds a backtick.
fn code(text: &str) -> String {
    if text.contains('`') || text.contains('\n') {
        cell(text)
    } else {
        format!("`{}`", text.replace('|', "\\|"))
    }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!(
        "|{}\n",
        header
            .iter()
            .map(|h| if h.ends_with("calls") {
                "---:|"
            } else {
                "---|"
            })
            .collect::<String>()
    ));
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out.push('\n');
}

fn arch_cell(f: &Finding) -> String {
    f.arch.unwrap_or("any").to_owned()
}

fn syscall_cell(f: &Finding) -> String {
    let what = match (&f.name, f.nr) {
        (Some(name), _) => code(name),
        (None, Some(nr)) => format!("nr {nr} (no name in our tables)"),
        (None, None) => "?".to_owned(),
    };
    match &f.args {
        Some(args) => format!(
            "{what} with {}",
            cell(&crate::arg_check::describe_args(args))
        ),
        None => what,
    }
}

fn count_cell(f: &Finding) -> String {
    f.count.map_or_else(|| "–".to_owned(), |c| c.to_string())
}

fn first_cell(f: &Finding) -> String {
    match (&f.first, f.needed_by_runtime) {
        (Some(first), _) => cell(&describe_first(first)),
        (None, Some(rt)) => cell(&format!("the runtime ({rt}), before the workload starts")),
        (None, None) => "–".to_owned(),
    }
}

fn policy_section(out: &mut String, p: &PolicyReport, profile: &str) {
    if p.violations.is_empty() {
        out.push_str(&format!(
            "Policy {}: ok, {} allows none of the calls it never allows.\n\n",
            code(&p.policy),
            code(profile)
        ));
        return;
    }
    out.push_str(&format!(
        "### Risky: {} allows {} call(s) policy {} never allows\n\n",
        code(profile),
        p.violations.len(),
        code(&p.policy)
    ));
    let rows: Vec<Vec<String>> = p
        .violations
        .iter()
        .map(|v| {
            let mut how = v.allowed.phrase().to_owned();
            if !v.rules.is_empty() {
                let rules: Vec<String> = v.rules.iter().map(|i| format!("syscalls[{i}]")).collect();
                how.push_str(&format!(" by {}", rules.join(", ")));
            }
            vec![
                code(&v.name),
                cell(&v.arches.join(", ")),
                cell(&how),
                v.first
                    .as_ref()
                    .map_or_else(|| "–".to_owned(), |f| cell(&describe_first(f))),
                cell(&v.reason),
            ]
        })
        .collect();
    table(
        out,
        &[
            "syscall",
            "arch",
            "how",
            "first process",
            "never allowed because",
        ],
        &rows,
    );
}

/// The markdown of a check of the recordings against `baseline` (pure).
pub fn render_check(report: &CheckReport, baseline: &str) -> String {
    let mut out = format!("## seccomp check: {}\n\n", code(baseline));
    let exit = check_exit_code(report);
    let verdict = match exit {
        0 => format!(
            "**ok**: every recorded syscall is allowed by {}.",
            code(baseline)
        ),
        1 => format!(
            "**FAIL** (exit 1): {} new syscall(s){}.",
            report.new.len(),
            if report.variants.is_empty() {
                String::new()
            } else {
                format!(" and {} variant(s)", report.variants.len())
            }
        ),
        4 => format!(
            "**FAIL** (exit 4): nothing new, but {} variant(s) of calls the baseline allows.",
            report.variants.len()
        ),
        code => format!(
            "**FAIL** (exit {code}): the baseline allows calls the policy never allows{}.",
            if report.new.is_empty() {
                String::new()
            } else {
                format!("; {} new syscall(s)", report.new.len())
            }
        ),
    };
    out.push_str(&verdict);
    out.push_str("\n\n");
    if !report.new.is_empty() {
        out.push_str("### New: not allowed by the baseline\n\n");
        let rows: Vec<Vec<String>> = report
            .new
            .iter()
            .map(|f| vec![arch_cell(f), syscall_cell(f), count_cell(f), first_cell(f)])
            .collect();
        table(
            &mut out,
            &["arch", "syscall", "calls", "first process"],
            &rows,
        );
    }
    if let Some(p) = &report.policy {
        policy_section(&mut out, p, baseline);
    }
    if !report.variants.is_empty() {
        out.push_str("### Variants of calls the baseline allows\n\n");
        out.push_str(
            "Another libc or runtime makes these instead of a call the baseline allows (not new behaviour; the baseline still denies them). `seccomp-recorder merge --portable` allows them.\n\n",
        );
        let rows: Vec<Vec<String>> = report
            .variants
            .iter()
            .map(|f| {
                let of: Vec<String> = f.variant_of.iter().flatten().map(|n| code(n)).collect();
                vec![
                    arch_cell(f),
                    syscall_cell(f),
                    of.join(", "),
                    count_cell(f),
                    first_cell(f),
                ]
            })
            .collect();
        table(
            &mut out,
            &["arch", "syscall", "variant of", "calls", "first process"],
            &rows,
        );
    }
    if !report.conditional.is_empty() {
        out.push_str("### Allowed only for some arguments\n\n");
        out.push_str("The counts cannot show which values were used.\n\n");
        let rows: Vec<Vec<String>> = report
            .conditional
            .iter()
            .map(|f| vec![arch_cell(f), syscall_cell(f), count_cell(f), first_cell(f)])
            .collect();
        table(
            &mut out,
            &["arch", "syscall", "calls", "first process"],
            &rows,
        );
    }
    if !report.unused.is_empty() {
        let names: Vec<String> = report.unused.iter().map(|n| code(n)).collect();
        out.push_str(&format!(
            "<details><summary>{} name(s) the baseline allows that no run used</summary>\n\n{}\n\n</details>\n",
            report.unused.len(),
            names.join(" ")
        ));
    }
    out
}

/// The markdown of what changes from profile `a` to profile `b` (pure).
pub fn render_diff(d: &ProfileDiff, a: &str, b: &str) -> String {
    let mut out = format!("## seccomp profile diff: {} → {}\n\n", code(a), code(b));
    let exit = diff_exit_code(d);
    if d.identical {
        out.push_str("**identical**: both profiles do the same.\n\n");
    } else {
        let added: usize = d.syscalls.iter().map(|s| s.names.added.len()).sum();
        let removed: usize = d.syscalls.iter().map(|s| s.names.removed.len()).sum();
        out.push_str(&format!(
            "**different** (exit {exit}): {added} allowed name(s) added, {removed} removed (per architecture).\n\n"
        ));
    }
    let mut settings = Vec::new();
    if let Some(c) = &d.default_action {
        settings.push(vec!["defaultAction".to_owned(), code(&c.from), code(&c.to)]);
    }
    if let Some(c) = &d.default_errno_ret {
        let show = |v: &Option<u32>| v.map_or_else(|| "not set".to_owned(), |n| n.to_string());
        settings.push(vec![
            "defaultErrnoRet".to_owned(),
            show(&c.from),
            show(&c.to),
        ]);
    }
    for (what, delta) in [
        ("architecture", &d.architectures),
        ("flag", &d.flags),
        ("rule", &d.rules),
        ("name on no covered architecture", &d.unresolved),
    ] {
        for x in &delta.added {
            settings.push(vec![what.to_owned(), "–".to_owned(), code(x)]);
        }
        for x in &delta.removed {
            settings.push(vec![what.to_owned(), code(x), "–".to_owned()]);
        }
    }
    if !settings.is_empty() {
        out.push_str("### Settings and rules\n\n");
        table(&mut out, &["what", "in A", "in B"], &settings);
    }
    if !d.syscalls.is_empty() {
        out.push_str("### Allowed syscalls\n\n");
        let rows: Vec<Vec<String>> =
            d.syscalls
                .iter()
                .flat_map(|s| {
                    let variant = |name: &String| {
                        d.variants
                            .iter()
                            .find(|v| v.arch == s.arch && &v.name == name)
                            .map(|v| {
                                let of: Vec<String> =
                                    v.variant_of.iter().map(|n| code(n)).collect();
                                format!("variant of {}", of.join(", "))
                            })
                            .unwrap_or_default()
                    };
                    let risky = |name: &String| {
                        d.policy
                            .as_ref()
                            .and_then(|p| p.violations.iter().find(|v| &v.name == name))
                            .map(|v| format!("**risky**: {}", cell(&v.reason)))
                    };
                    s.names
                        .added
                        .iter()
                        .map(|n| {
                            let note = risky(n).unwrap_or_else(|| variant(n));
                            vec![cell(&s.arch), "added".to_owned(), code(n), note]
                        })
                        .chain(s.names.removed.iter().map(|n| {
                            vec![cell(&s.arch), "removed".to_owned(), code(n), String::new()]
                        }))
                        .collect::<Vec<_>>()
                })
                .collect();
        table(&mut out, &["arch", "change", "syscall", "note"], &rows);
    }
    if let Some(p) = &d.policy {
        policy_section(&mut out, p, b);
    }
    out
}

#[cfg(test)]
mod tests;
