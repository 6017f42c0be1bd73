//! The x86 guest's test programs (assembled and linked on the host, static, no libc
//! except argprobe) and its `/init`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::guest::{file, INIT_END, INIT_PRELUDE};
use crate::{root, sh};

/// getppid calls of the exact-count program.
pub const EXACT_GETPPID: u32 = 1_000_000;
/// Calls of the mixed program: native getppid, i386 getppid by `int 0x80` from the
/// 64-bit program, x32 getppid.
pub const MIXED: (u32, u32, u32) = (4242, 77, 3333);
/// getppid calls of the i386 program.
pub const I386_GETPPID: u32 = 100_000;
/// The attach points each step list runs under (`auto` runs the exact count only).
pub const ATTACH: [&str; 2] = ["fentry", "tracepoint"];

/// The x32 bit of a syscall number.
const X32: u32 = 0x4000_0000;

/// One call site of a generated x86_64 program.
enum Call {
    /// `n` times syscall `nr` by the `syscall` instruction (x32: `nr` carries the bit).
    Syscall { nr: u32, n: u32 },
    /// `n` times the i386 syscall `nr` by `int 0x80`.
    Int80 { nr: u32, n: u32 },
}

/// A static x86_64 program without libc: the calls, then exit(0). With `check`, the
/// first call's result decides the exit code instead (1 when it failed).
fn x86_64_asm(calls: &[Call], check: bool) -> String {
    let mut text = String::from(".globl _start\n.text\n_start:\n");
    for (i, c) in calls.iter().enumerate() {
        let (nr, n, insn, mov) = match *c {
            Call::Syscall { nr, n } => (nr, n, "syscall", "movq"),
            Call::Int80 { nr, n } => (nr, n, "int $0x80", "movl"),
        };
        let reg = if mov == "movq" { "%rax" } else { "%eax" };
        text.push_str(&format!(
            "    movq ${n}, %r12\n1{i}:\n    {mov} ${nr}, {reg}\n    {insn}\n    decq %r12\n    jnz 1{i}b\n"
        ));
    }
    if check {
        // rax < 0: the last call failed (ENOSYS when the kernel does not dispatch it).
        text.push_str(
            "    xorq %rdi, %rdi\n    testq %rax, %rax\n    jns 2f\n    movq $1, %rdi\n2:\n",
        );
    } else {
        text.push_str("    xorq %rdi, %rdi\n");
    }
    text.push_str("    movq $60, %rax\n    syscall\n");
    text
}

/// A static i386 program without libc: `n` getppid by `int 0x80`, then exit(0).
fn i386_asm(n: u32) -> String {
    format!(
        ".globl _start\n.text\n_start:\n    movl ${n}, %esi\n1:\n    movl $64, %eax\n    int $0x80\n    decl %esi\n    jnz 1b\n    movl $1, %eax\n    xorl %ebx, %ebx\n    int $0x80\n"
    )
}

fn assemble(dir: &Path, name: &str, text: &str, i386: bool) -> Result<Vec<u8>> {
    let src = dir.join(format!("{name}.s"));
    let obj = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    std::fs::write(&src, text)?;
    let mut as_ = Command::new("as");
    let mut ld = Command::new("ld");
    if i386 {
        as_.arg("--32");
        ld.args(["-m", "elf_i386"]);
    }
    sh(as_.arg("-o").arg(&obj).arg(&src)).with_context(|| format!("assemble {name}"))?;
    sh(ld.arg("-o").arg(&exe).arg(&obj)).with_context(|| format!("link {name}"))?;
    file(&exe)
}

/// The guest's programs, by their path in the initramfs.
pub fn build(dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let (native, int80, x32) = MIXED;
    let argprobe = dir.join("argprobe");
    sh(Command::new("gcc")
        .args(["-static", "-pthread", "-O2", "-o"])
        .arg(&argprobe)
        .arg(root().join("tests/fixtures/argprobe.c")))
    .context("gcc argprobe.c")?;
    Ok(vec![
        ("bin/argprobe", file(&argprobe)?),
        (
            "bin/exact",
            assemble(
                dir,
                "exact",
                &x86_64_asm(
                    &[Call::Syscall {
                        nr: 110,
                        n: EXACT_GETPPID,
                    }],
                    false,
                ),
                false,
            )?,
        ),
        (
            "bin/mixed",
            assemble(
                dir,
                "mixed",
                &x86_64_asm(
                    &[
                        Call::Syscall { nr: 110, n: native },
                        Call::Int80 { nr: 64, n: int80 },
                        Call::Syscall {
                            nr: X32 | 110,
                            n: x32,
                        },
                    ],
                    false,
                ),
                false,
            )?,
        ),
        (
            "bin/x32probe",
            assemble(
                dir,
                "x32probe",
                &x86_64_asm(
                    &[Call::Syscall {
                        nr: X32 | 110,
                        n: 1,
                    }],
                    true,
                ),
                false,
            )?,
        ),
        (
            "bin/i386",
            assemble(dir, "i386", &i386_asm(I386_GETPPID), true)?,
        ),
    ])
}

/// The steps under one attach point (`A` names them and their files).
fn attach_steps(a: &str) -> String {
    format!(
        r#"export SECCOMP_RECORDER_ATTACH={a}
$R unload >/dev/null 2>&1
step {a}_exact $R record --runtime none --stats /tmp/{a}.exact.stats -o /tmp/{a}.exact.json -- /bin/exact
dump {a}.exact.stats /tmp/{a}.exact.stats
step {a}_mixed $R record --runtime none --stats /tmp/{a}.mixed.stats -o /tmp/{a}.mixed.json -- /bin/mixed
dump {a}.mixed.stats /tmp/{a}.mixed.stats
dump {a}.mixed /tmp/{a}.mixed.json
step {a}_i386 $R record --runtime none --stats /tmp/{a}.i386.stats -o /tmp/{a}.i386.json -- /bin/i386
dump {a}.i386.stats /tmp/{a}.i386.stats
step {a}_i386_enforce $R enforce --profile /tmp/{a}.i386.json -- /bin/i386
step {a}_record $R record --runtime none -o /tmp/{a}.json -- $P unix inet thread fork
dump {a} /tmp/{a}.json
step {a}_enforce_run $R enforce --profile /tmp/{a}.json -- $P unix inet thread fork
step {a}_deny_unshare $R enforce --profile /tmp/{a}.json -- $P unshare-mount
step {a}_deny_mount $R enforce --profile /tmp/{a}.json -- $P mount:/mnt
step {a}_args_record $R record --runtime none --args -o /tmp/{a}.args.json --report /tmp/{a}.args.report -- $P unix inet
dump {a}.args /tmp/{a}.args.json
dump {a}.args.report /tmp/{a}.args.report
step {a}_args_allowed $R enforce --profile /tmp/{a}.args.json -- $P unix inet
step {a}_args_denied $R enforce --profile /tmp/{a}.args.json -- $P netlink inet6
"#
    )
}

/// The guest's `/init`: the shared prelude, what the kernel offers (dispatchers in
/// kallsyms, x32 on), the controls, the steps under each attach point, `auto`.
pub fn init_script() -> String {
    let mut s = String::from(INIT_PRELUDE);
    s.push_str(
        r#"R=/bin/seccomp-recorder
P=/bin/argprobe
step kallsyms grep -wE "x64_sys_call|ia32_sys_call|x32_sys_call" /proc/kallsyms
step btf grep -c -wE "x64_sys_call" /sys/kernel/btf/vmlinux
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
step lockdown cat /sys/kernel/security/lockdown
step cmdline cat /proc/cmdline
step x32_dispatched /bin/x32probe
step control_unshare $P unshare-mount
step control_mount $P mount:/mnt
step control_args $P netlink inet6
"#,
    );
    for a in ATTACH {
        s.push_str(&attach_steps(a));
    }
    s.push_str(
        r#"export SECCOMP_RECORDER_ATTACH=auto
$R unload >/dev/null 2>&1
step auto_exact $R record --runtime none --stats /tmp/auto.exact.stats -o /tmp/auto.exact.json -- /bin/exact
dump auto.exact.stats /tmp/auto.exact.stats
"#,
    );
    s.push_str(INIT_END);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x32_probe_exits_by_the_calls_result() {
        let a = x86_64_asm(
            &[Call::Syscall {
                nr: X32 | 110,
                n: 1,
            }],
            true,
        );
        assert!(a.contains("movq $1073741934, %rax"), "{a}");
        assert!(a.contains("jns 2f"));
        let b = x86_64_asm(&[Call::Int80 { nr: 64, n: 2 }], false);
        assert!(b.contains("movl $64, %eax\n    int $0x80"), "{b}");
    }

    #[test]
    fn every_attach_point_runs_the_same_steps() {
        let init = init_script();
        for a in ATTACH {
            assert!(init.contains(&format!("export SECCOMP_RECORDER_ATTACH={a}\n")));
            assert!(init.contains(&format!("step {a}_args_denied ")));
        }
        assert!(init.ends_with(INIT_END));
    }
}
