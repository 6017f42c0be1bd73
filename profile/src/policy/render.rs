//! The text output of a policy check (pure).

use super::PolicyReport;
use crate::evidence::describe_first;

/// The lines of a policy check of `profile`: each violation with its architectures,
/// rules, first process (when known) and reason, then an ok or FAIL line.
pub fn render_text(report: &PolicyReport, profile: &str) -> String {
    let mut out = String::new();
    if report.violations.is_empty() {
        out.push_str(&format!(
            "policy {}: ok: {profile} allows none of the calls it never allows\n",
            report.policy
        ));
        return out;
    }
    out.push_str(&format!(
        "policy {}: {profile} allows {} call(s) the policy never allows:\n",
        report.policy,
        report.violations.len()
    ));
    for v in &report.violations {
        let mut line = format!(
            "  {} ({}): {}",
            v.name,
            v.arches.join(", "),
            v.allowed.phrase()
        );
        if !v.rules.is_empty() {
            let rules: Vec<String> = v.rules.iter().map(|i| format!("syscalls[{i}]")).collect();
            line.push_str(&format!(" by {}", rules.join(", ")));
        }
        match &v.first {
            Some(first) => line.push_str(&format!("; first called by {}", describe_first(first))),
            None => line.push_str("; no report names who called it"),
        }
        out.push_str(&line);
        out.push('\n');
        out.push_str(&format!("    never allowed: {}\n", v.reason));
        if let Some(hint) = &v.hint {
            out.push_str(&format!("    hint: {hint}\n"));
        }
    }
    out.push_str(&format!(
        "FAIL: {profile} violates policy {} (exit {})\n",
        report.policy,
        super::EXIT_CODE
    ));
    out
}
