//! Argument-aware rules: `record --args` and the `seccomp-recorder.io/args` annotation
//! record the deciding argument of socket, clone and friends; the profile allows them
//! only with the values seen. Proven with `enforce`, podman + crun and runc.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::installed::Installed;
use common::podman::PodmanEnv;
use common::runc::RuncEnv;
use common::*;

const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const CLONE_NEW_MASK: u64 = 0x7e02_0080;

fn profile_json(p: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(p).expect("read profile")).expect("profile json")
}

/// The conditional allow rules for `name`: their `args` arrays.
fn arg_rules(profile: &Value, name: &str) -> Vec<Value> {
    profile["syscalls"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| {
            r["action"] == "SCMP_ACT_ALLOW"
                && r["args"].is_array()
                && r["names"]
                    .as_array()
                    .is_some_and(|n| n.contains(&json!(name)))
        })
        .map(|r| r["args"].clone())
        .collect()
}

/// The families (arg 0 EQ values) the socket rules allow.
fn socket_families(profile: &Value) -> Vec<u64> {
    let mut f: Vec<u64> = arg_rules(profile, "socket")
        .iter()
        .filter_map(|args| {
            args.as_array()?
                .iter()
                .find(|a| a["index"] == 0 && a["op"] == "SCMP_CMP_EQ")
                .and_then(|a| a["value"].as_u64())
        })
        .collect();
    f.sort_unstable();
    f.dedup();
    f
}

fn assert_clone_rule_forbids_namespaces(profile: &Value) {
    let clone = arg_rules(profile, "clone");
    assert!(!clone.is_empty(), "no clone argument rule: {profile}");
    for args in &clone {
        assert_eq!(
            args,
            &json!([{"index": 0, "value": CLONE_NEW_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]),
            "{profile}"
        );
    }
    // clone3 hides its flags from seccomp: denied with ENOSYS so glibc uses clone.
    assert!(!allowed_names_of(profile).contains(&"clone3".to_owned()));
    assert!(profile["syscalls"]
        .as_array()
        .expect("rules")
        .iter()
        .any(|r| r["names"] == json!(["clone3"]) && r["errnoRet"] == 38));
}

fn allowed_names_of(profile: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in profile["syscalls"].as_array().cloned().unwrap_or_default() {
        if r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none() {
            for n in r["names"].as_array().cloned().unwrap_or_default() {
                out.push(n.as_str().expect("name").to_owned());
            }
        }
    }
    out
}

#[e2e_macros::test]
fn socket_families_and_clone_flags_are_enforced_by_enforce() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(probe) = argprobe(dir.path()) else {
        return;
    };
    let probe = probe.to_str().expect("utf8");
    let profile = dir.path().join("probe.json");
    let report = dir.path().join("probe.report.json");
    let o = run(&[
        "record",
        "--args",
        "--runtime",
        "none",
        "-o",
        profile.to_str().expect("utf8"),
        "--report",
        report.to_str().expect("utf8"),
        "--",
        probe,
        "unix",
        "inet",
        "thread",
        "fork",
    ]);
    assert!(o.status.success(), "record: {}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("clone3 was called but is not allowed"),
        "{}",
        stderr(&o)
    );
    let doc = profile_json(&profile);
    assert_eq!(socket_families(&doc), [AF_UNIX, AF_INET], "{doc}");
    assert!(!allowed_names_of(&doc).contains(&"socket".to_owned()));
    assert_clone_rule_forbids_namespaces(&doc);
    // The report carries the values seen.
    let rep = profile_json(&report);
    let seen: Vec<&Value> = rep["args"]
        .as_array()
        .expect("args in the report")
        .iter()
        .filter(|a| a["name"] == "socket")
        .collect();
    assert_eq!(seen.len(), 2, "{rep}");
    // validate accepts it.
    let o = run(&["validate", profile.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // check: the run itself is within its profile (clone3 is denied on purpose: glibc
    // uses clone); a run that opens a netlink socket is not, though socket is allowed.
    let o = run(&[
        "check",
        "--runtime",
        "none",
        "--baseline",
        profile.to_str().expect("utf8"),
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let other = dir.path().join("netlink.report.json");
    let o = run(&[
        "record",
        "--args",
        "--runtime",
        "none",
        "-o",
        "/dev/null",
        "--report",
        other.to_str().expect("utf8"),
        "--",
        probe,
        "unix",
        "netlink",
        "thread",
        "fork",
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    let o = run(&[
        "check",
        "--runtime",
        "none",
        "--baseline",
        profile.to_str().expect("utf8"),
        other.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("SCMP_ARCH_X86_64 socket with arg0=0x10, arg1=0x3: 1 call"),
        "{}",
        stdout(&o)
    );

    let p = profile.to_str().expect("utf8");
    let o = run(&[
        "enforce",
        "--profile",
        p,
        "--",
        probe,
        "unix",
        "inet",
        "thread",
        "fork",
    ]);
    assert!(
        o.status.success(),
        "the workload under its profile ({}): {}{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    for denied in ["netlink", "packet", "inet6", "clone-newuser", "clone-newns"] {
        let o = run(&["enforce", "--profile", p, "--", probe, denied]);
        assert!(!o.status.success(), "{denied} ran: {}", stdout(&o));
        assert_eq!(
            stdout(&o).trim(),
            format!("{denied}: Function not implemented"),
            "{denied}"
        );
    }
}

#[e2e_macros::test]
fn podman_recording_with_args_holds_in_podman_and_runc() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let Some(probe) = argprobe(env.dir()) else {
        return;
    };
    env.install(&probe, "bin/argprobe");
    let inst = Installed::new(env.dir(), env.hooks_dir(), "args");
    let workload = ["/bin/argprobe", "unix", "inet", "thread", "fork"];
    // Recorded with podman's defaults (its profile denies clone3 with ENOSYS, so
    // glibc's clone fallback is what the recording sees) and unconfined (clone3 is
    // seen, with its flags read from memory).
    for (tag, extra) in [
        ("default", &[][..]),
        ("unconfined", &["--security-opt", "seccomp=unconfined"][..]),
    ] {
        let out = format!("args-{tag}.json");
        let ann = format!("seccomp-recorder.io/output={out}");
        let mut opts = vec![
            "--annotation",
            ann.as_str(),
            "--annotation",
            "seccomp-recorder.io/args=true",
        ];
        opts.extend_from_slice(extra);
        let o = env.run(&opts, &workload);
        assert!(
            o.status.success(),
            "record {tag}: {}\n{}",
            stderr(&o),
            inst.log()
        );
        let profile = inst.out.join(&out);
        let doc = profile_json(&profile);
        assert_eq!(socket_families(&doc), [AF_UNIX, AF_INET], "{tag}: {doc}");
        assert_clone_rule_forbids_namespaces(&doc);
        let o = run(&["validate", profile.to_str().expect("utf8")]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{tag}: {}{}",
            stdout(&o),
            stderr(&o)
        );

        let sec = format!("seccomp={}", profile.display());
        for nnp in [&[][..], &["--security-opt", "no-new-privileges"][..]] {
            let mut opts = vec!["--security-opt", sec.as_str()];
            opts.extend_from_slice(nnp);
            let o = env.run(&opts, &workload);
            assert!(
                o.status.success(),
                "{tag} {nnp:?}: {}{}",
                stdout(&o),
                stderr(&o)
            );
        }
        // Denied with the profile's errno, even with CAP_SYS_ADMIN; allowed without a
        // filter (the control).
        for (cmd, control_ok) in [
            (&["/bin/argprobe", "netlink"][..], true),
            (&["/bin/argprobe", "packet"][..], true),
            (&["/bin/argprobe", "clone-newns"][..], true),
            (&["/bin/argprobe", "clone-newuser"][..], true),
            (&["unshare", "-U", "true"][..], true),
            (&["unshare", "-m", "true"][..], true),
        ] {
            let o = env.run(
                &[
                    "--security-opt",
                    "seccomp=unconfined",
                    "--cap-add",
                    "SYS_ADMIN",
                    "--cap-add",
                    "NET_RAW",
                ],
                cmd,
            );
            assert_eq!(
                o.status.success(),
                control_ok,
                "control {cmd:?}: {}{}",
                stdout(&o),
                stderr(&o)
            );
            let o = env.run(
                &[
                    "--security-opt",
                    &sec,
                    "--cap-add",
                    "SYS_ADMIN",
                    "--cap-add",
                    "NET_RAW",
                ],
                cmd,
            );
            assert!(!o.status.success(), "{tag}: {cmd:?} ran under the profile");
            let said = format!("{}{}", stdout(&o), stderr(&o));
            assert!(
                said.contains("Function not implemented"),
                "{tag} {cmd:?}: {said}"
            );
        }

        // The same profile loads in runc (and crun through runc's command line).
        let Some(runc) = RuncEnv::new() else { return };
        runc.install(&probe, "bin/argprobe");
        let bundle = runc.bundle(&workload).seccomp(doc.clone());
        let o = runc.run(&bundle);
        assert!(
            o.status.success(),
            "runc {tag}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let o = runc.run(
            &runc
                .bundle(&["/bin/argprobe", "netlink"])
                .seccomp(doc.clone()),
        );
        assert!(!o.status.success(), "runc {tag}: netlink ran");
        assert!(
            stdout(&o).contains("netlink: Function not implemented"),
            "{}",
            stdout(&o)
        );
    }
    // podman first (its Drop waits for conmon's late cleanup hooks), then our pins.
    drop(env);
    drop(inst);
}

#[e2e_macros::test]
fn too_many_values_fall_back_to_the_name_with_a_warning() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("ioctl.json");
    // 20 distinct ioctl requests on stdin (most fail with ENOTTY; they are still made).
    let script = "for r in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do \
                  python3 -c \"import fcntl,sys; \
                  exec('try: fcntl.ioctl(0, 0x5400+$r)\\nexcept OSError: pass')\" </dev/null; done";
    if !prerequisite(have("python3"), "python3") {
        return;
    }
    let o = run(&[
        "record",
        "--args",
        "--runtime",
        "none",
        "-o",
        profile.to_str().expect("utf8"),
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    assert!(
        stderr(&o).contains("ioctl was called with")
            && stderr(&o).contains("distinct argument values"),
        "{}",
        stderr(&o)
    );
    let doc = profile_json(&profile);
    assert!(
        allowed_names_of(&doc).contains(&"ioctl".to_owned()),
        "{doc}"
    );
    assert!(arg_rules(&doc, "ioctl").is_empty(), "{doc}");
}

/// A static i386 program: `socketcall(call, [a, b, 0])` (the arguments in memory, as
/// i386 libcs multiplex sockets), exiting with the errno it got (0: success).
fn socketcall_program(dir: &Path, name: &str, call: u32, a: u32, b: u32) -> PathBuf {
    let src = format!(
        r#".globl _start
.data
args: .long {a}, {b}, 0
.text
_start:
    movl $102, %eax
    movl ${call}, %ebx
    leal args, %ecx
    int $0x80
    xorl %ebx, %ebx
    testl %eax, %eax
    jns 1f
    negl %eax
    movl %eax, %ebx
1:  movl $1, %eax
    int $0x80
"#
    );
    let s = dir.join(format!("{name}.s"));
    fs::write(&s, src).expect("write asm");
    let o = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    let ok = std::process::Command::new("as")
        .args(["--32", "-o"])
        .arg(&o)
        .arg(&s)
        .status()
        .expect("as")
        .success()
        && std::process::Command::new("ld")
            .args(["-m", "elf_i386", "-o"])
            .arg(&exe)
            .arg(&o)
            .status()
            .expect("ld")
            .success();
    assert!(ok, "assembling {name}");
    exe
}

#[e2e_macros::test]
fn i386_socketcall_gets_a_rule_on_its_call_number() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    const SYS_SOCKET: u32 = 1;
    const SYS_SOCKETPAIR: u32 = 8;
    let unix = socketcall_program(dir.path(), "sc-unix", SYS_SOCKET, 1, 1);
    let pair = socketcall_program(dir.path(), "sc-pair", SYS_SOCKETPAIR, 1, 1);
    let netlink = socketcall_program(dir.path(), "sc-netlink", SYS_SOCKET, 16, 3);
    let profile = dir.path().join("sc.json");
    let o = run(&[
        "record",
        "--args",
        "--runtime",
        "none",
        "-o",
        profile.to_str().expect("utf8"),
        "--",
        unix.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    let doc = profile_json(&profile);
    assert!(doc["architectures"]
        .as_array()
        .expect("arches")
        .contains(&json!("SCMP_ARCH_X86")));
    assert_eq!(
        arg_rules(&doc, "socketcall"),
        [json!([{"index": 0, "value": SYS_SOCKET, "op": "SCMP_CMP_EQ"}])],
        "{doc}"
    );
    let enforce = |exe: &Path| {
        run(&[
            "enforce",
            "--profile",
            profile.to_str().expect("utf8"),
            "--",
            exe.to_str().expect("utf8"),
        ])
        .status
        .code()
    };
    assert_eq!(enforce(&unix), Some(0), "the recorded call");
    assert_eq!(enforce(&pair), Some(38), "another socketcall: ENOSYS");
    // What seccomp cannot see: the family is in memory, so SYS_SOCKET with any family
    // passes (documented; the direct i386 socket syscall gets a family rule).
    assert_eq!(enforce(&netlink), Some(0));
}

/// The `ARGS` map (16,384 values) is shared by every recording. A recording whose
/// program calls ioctl with 20,000 distinct requests keeps 17 of them (one more than a
/// profile lists before it allows the call by name), so it can no longer fill the map:
/// a neighbour recording at the same time keeps its exact socket rules. Before, the
/// flood filled the map and the neighbour's profile fell back to no argument rules.
#[e2e_macros::test]
fn a_flood_of_argument_values_keeps_its_own_and_leaves_the_neighbours_theirs() {
    if !can_record() || !prerequisite(have("python3"), "python3") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(probe) = argprobe(dir.path()) else {
        return;
    };
    let ready = dir.path().join("flooded");
    let flood_profile = dir.path().join("flood.json");
    // 20,000 distinct ioctl requests on /dev/null (ENOTTY each), then hold the
    // recording open until the neighbour is done.
    let script = format!(
        "import fcntl, os, time\n\
         fd = os.open('/dev/null', os.O_RDONLY)\n\
         for r in range(20000):\n\
         \x20   try: fcntl.ioctl(fd, 0x100000 + r)\n\
         \x20   except OSError: pass\n\
         open('{}', 'w').close()\n\
         time.sleep(4)\n",
        ready.display()
    );
    let flood = std::process::Command::new(bin())
        .args(["record", "--args", "--runtime", "none", "-o"])
        .arg(&flood_profile)
        .args(["--", "python3", "-c", &script])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the flood's recording");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the flood did not finish in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let profile = dir.path().join("neighbour.json");
    let o = run(&[
        "record",
        "--args",
        "--runtime",
        "none",
        "-o",
        profile.to_str().expect("utf8"),
        "--",
        probe.to_str().expect("utf8"),
        "unix",
        "inet",
    ]);
    let flood_out = flood.wait_with_output().expect("flood recording");
    assert!(o.status.success(), "neighbour: {}", stderr(&o));
    assert!(
        !stderr(&o).contains("could not be stored"),
        "{}",
        stderr(&o)
    );
    let doc = profile_json(&profile);
    assert_eq!(socket_families(&doc), [AF_UNIX, AF_INET], "{doc}");
    let o = run(&[
        "enforce",
        "--profile",
        profile.to_str().expect("utf8"),
        "--",
        probe.to_str().expect("utf8"),
        "unix",
        "inet",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    // The flood's own profile: ioctl by name, with the reason; nothing lost.
    assert!(flood_out.status.success(), "{}", stderr(&flood_out));
    let err = stderr(&flood_out);
    assert!(
        err.contains("ioctl was called with more than 16 distinct argument values")
            && !err.contains("could not be stored"),
        "{err}"
    );
    let flood_doc = profile_json(&flood_profile);
    assert!(allowed_names_of(&flood_doc).contains(&"ioctl".to_owned()));
    assert!(arg_rules(&flood_doc, "ioctl").is_empty(), "{flood_doc}");
}
