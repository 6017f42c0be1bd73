//! Hostile input: the binary: one line on stderr and in the hook log, the documented exit code.

use super::*;

pub(super) fn run_hook_binary(
    state: &[u8],
    out: &Path,
    log: &Path,
    run_dir: &Path,
) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_seccomp-recorder"))
        .args(["hook", "--output-dir"])
        .arg(out)
        .arg("prestart")
        .env("SECCOMP_RECORDER_LOG_FILE", log)
        .env("SECCOMP_RECORDER_RUN_DIR", run_dir)
        .env("SECCOMP_RECORDER_BPF_DIR", run_dir.join("bpf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the hook");
    let mut stdin = child.stdin.take().expect("stdin");
    // The hook may stop reading early (1 MiB limit): a broken pipe is fine.
    let _ = stdin.write_all(state);
    drop(stdin);
    child.wait_with_output().expect("hook output")
}

proptest! {
    #![proptest_config(Config { cases: (cases() / 4).max(16), ..config() })]

    /// What an operator sees of a refused container start: exactly one line on stderr
    /// and one in the hook log, even when the hostile value holds line breaks, and the
    /// exit code of its category. (The state has no pid: nothing reaches the kernel.)
    #[e2e_macros::test]
    fn the_hook_binary_prints_one_line_and_the_documented_code(
        anns in prop::collection::hash_map(annotation_key(), annotation_value(), 1..4),
        raw in prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 0..512)),
        forged in prop::option::weighted(0.5, (
            prop::sample::select(vec![annotations::FORMAT, annotations::ERRNO, annotations::ARGS,
                annotations::RUNTIME, annotations::TRACE_SYSCALL, annotations::OUTPUT]),
            "[ -~]{0,20}",
            prop::sample::select(vec!["\n", "\r\n", "\u{1b}[2K\r", "\n\n"]),
            "[ -~]{1,40}",
        )),
    ) {
        let mut anns = anns;
        if let Some((key, before, brk, after)) = forged {
            // A value that tries to forge a log line: "...\nINFO profile written".
            anns.insert(key.to_owned(), format!("{before}{brk}{after}"));
        }
        let p = planted();
        let log = p.out.parent().expect("tmp").join("hook.log");
        let run_dir = p.out.parent().expect("tmp").join("run");
        let state = match &raw {
            Some(bytes) => bytes.clone(),
            None => {
                let st = serde_json::json!({"id": "ctr", "status": "created", "annotations": anns});
                serde_json::to_vec(&st).expect("json")
            }
        };
        let o = run_hook_binary(&state, &p.out, &log, &run_dir);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        match o.status.code() {
            Some(0) => prop_assert!(stderr.is_empty(), "{stderr}"),
            Some(code) => {
                prop_assert!(code == 66 || code == 74, "exit {code}: {stderr}");
                prop_assert_eq!(stderr.lines().count(), 1, "stderr: {:?}", stderr);
                prop_assert!(stderr.starts_with("seccomp-recorder: "), "{}", stderr);
                prop_assert_eq!(logged.lines().filter(|l| l.contains("ERROR")).count(), 1, "log: {:?}", logged);
                prop_assert_eq!(logged.lines().count(), 1, "log: {:?}", logged);
            }
            None => prop_assert!(false, "the hook died of a signal: {stderr}"),
        }
        prop_assert_eq!(entries(&p.out), BTreeSet::from(["file.json".to_owned(), "link".to_owned()]));
        prop_assert!(entries(&p.outside).is_empty());
        prop_assert!(!run_dir.exists(), "the run directory was created");
    }
}
