//! Reading a guest's console (pure): the guest prints `SR-` lines, the host decides, so
//! that a guest that dies half-way (qemu still exits 0) fails on the host.

use std::collections::BTreeMap;

use serde_json::Value;

/// One step the guest ran.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Step {
    /// Its exit code.
    pub rc: i32,
    /// Guest uptime at its start and end (seconds).
    pub span: (f64, f64),
    /// Its output (stdout and stderr).
    pub out: Vec<String>,
}

impl Step {
    /// Whether a line of its output contains `text`.
    pub fn says(&self, text: &str) -> bool {
        self.out.iter().any(|l| l.contains(text))
    }
}

/// What the console showed.
#[derive(Debug, Default)]
pub struct Console {
    /// `uname -r`, `uname -m`, CPUs (from the start line).
    pub started: Option<String>,
    /// The end line was printed: every step ran.
    pub ended: bool,
    /// Steps by name.
    pub steps: BTreeMap<String, Step>,
    /// Files the guest printed, by name.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Parses the console text (kernel lines and anything else are ignored).
pub fn parse(text: &str) -> Console {
    let mut c = Console::default();
    for line in text.lines() {
        let line = line.trim_end();
        // The firmware's screen escapes may share the first line of /init's output.
        let line = match line.find("SR-GUEST-START ") {
            Some(at) => &line[at..],
            None => line,
        };
        if let Some(rest) = line.strip_prefix("SR-GUEST-START ") {
            c.started = Some(rest.to_owned());
        } else if line == "SR-GUEST-END" {
            c.ended = true;
        } else if let Some(rest) = line.strip_prefix("SR-STEP ") {
            let mut words = rest.split_whitespace();
            let Some(name) = words.next() else { continue };
            let mut step = Step::default();
            for w in words {
                match w.split_once('=') {
                    Some(("rc", v)) => step.rc = v.parse().unwrap_or(-1),
                    Some(("start", v)) => step.span.0 = v.parse().unwrap_or(0.0),
                    Some(("end", v)) => step.span.1 = v.parse().unwrap_or(0.0),
                    _ => {}
                }
            }
            c.steps.insert(name.to_owned(), step);
        } else if let Some(rest) = line.strip_prefix("SR-OUT ") {
            if let Some((name, out)) = rest.split_once(": ") {
                if let Some(s) = c.steps.get_mut(name) {
                    s.out.push(out.to_owned());
                }
            }
        } else if let Some(rest) = line.strip_prefix("SR-FILE ") {
            if let Some((name, b64)) = rest.split_once(' ') {
                if let Some(data) = base64_decode(b64.trim()) {
                    c.files.insert(name.to_owned(), data);
                }
            }
        }
    }
    c
}

/// Standard base64 (with padding), `None` on anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

/// What held and what did not, one line each.
#[derive(Debug, Default)]
pub struct Checks {
    /// What held.
    pub passed: Vec<String>,
    /// What did not.
    pub failed: Vec<String>,
}

impl Checks {
    /// Files `what` under passed or failed.
    pub fn check(&mut self, ok: bool, what: String) {
        if ok {
            self.passed.push(what);
        } else {
            self.failed.push(what);
        }
    }
}

/// Steps' exit codes and outputs, as the judges ask for them.
impl Console {
    /// The step's exit code was 0.
    pub fn ok(&self, name: &str) -> bool {
        self.steps.get(name).is_some_and(|s| s.rc == 0)
    }

    /// The step failed and said `mode: Function not implemented` (denied, ENOSYS).
    pub fn denied(&self, name: &str, mode: &str) -> bool {
        self.steps
            .get(name)
            .is_some_and(|s| s.rc != 0 && s.says(&format!("{mode}: {ENOSYS}")))
    }
}

/// strerror(ENOSYS): what a program denied by a recorded profile prints.
pub const ENOSYS: &str = "Function not implemented";

/// A file the guest printed, as JSON.
pub fn json(c: &Console, name: &str) -> Option<Value> {
    serde_json::from_slice(c.files.get(name)?).ok()
}

/// Calls of `name` on `arch` in a stats or report file.
pub fn count(stats: &Value, arch: &str, name: &str) -> u64 {
    stats["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["arch"] == arch && l["name"] == name)
        .filter_map(|l| l["count"].as_u64())
        .sum()
}

/// The profile's `architectures`.
pub fn architectures(profile: &Value) -> Vec<String> {
    profile["architectures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

/// Every name the profile's rules list.
pub fn names(profile: &Value) -> Vec<String> {
    profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// The values of argument `index` the rules for `name` allow (`SCMP_CMP_EQ`).
pub fn rule_values(profile: &Value, name: &str, index: u64) -> Vec<u64> {
    let mut v: Vec<u64> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["names"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x == name))
        })
        .flat_map(|r| r["args"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["index"] == index && a["op"] == "SCMP_CMP_EQ")
        .filter_map(|a| a["value"].as_u64())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The (arg0, arg1) values a report recorded for `name` on `arch`.
pub fn report_args(report: &Value, arch: &str, name: &str) -> Vec<(u64, u64)> {
    report["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["arch"] == arch && v["name"] == name)
        .map(|v| {
            let at = |i: u64| {
                v["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["index"] == i)
                    .and_then(|a| a["value"].as_u64())
                    .unwrap_or(u64::MAX)
            };
            (at(0), at(1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_is_found_behind_the_firmwares_escapes() {
        let c = parse(
            "\u{1b}c\u{1b}[?7l\u{1b}[2JSR-GUEST-START 6.1.0-57-amd64 x86_64 cpus=2\nSR-GUEST-END\n",
        );
        assert_eq!(c.started.as_deref(), Some("6.1.0-57-amd64 x86_64 cpus=2"));
        assert!(c.ended);
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode("a*=="), None);
        assert_eq!(base64_decode("abc"), None);
    }

    #[test]
    fn counts_and_rules_are_read_per_arch() {
        let stats: Value = serde_json::from_str(
            r#"{"syscalls":[{"arch":"SCMP_ARCH_ARM","nr":64,"name":"getppid","count":7},
                            {"arch":"SCMP_ARCH_AARCH64","nr":173,"name":"getppid","count":1}]}"#,
        )
        .unwrap();
        assert_eq!(count(&stats, "SCMP_ARCH_ARM", "getppid"), 7);
        let p: Value = serde_json::from_str(
            r#"{"architectures":["SCMP_ARCH_AARCH64"],"syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        assert_eq!(rule_values(&p, "socket", 0), [1, 2]);
        assert_eq!(names(&p), ["read", "socket", "socket"]);
        let r: Value = serde_json::from_str(
            r#"{"syscalls":[],"args":[{"arch":"SCMP_ARCH_ARM","name":"socket","args":[{"index":0,"value":2},{"index":1,"value":2}],"count":1}]}"#,
        )
        .unwrap();
        assert_eq!(report_args(&r, "SCMP_ARCH_ARM", "socket"), [(2, 2)]);
    }
}
