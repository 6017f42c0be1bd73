//! A small classic-BPF (seccomp) disassembler and emulator, for the filters that
//! `bench-enforced` dumps from running processes with `PTRACE_SECCOMP_GET_FILTER`.
//!
//! - [`parse`]: `struct sock_filter` records (8 bytes: code u16, jt u8, jf u8, k u32,
//!   native endian) to [`Insn`]s.
//! - [`disasm`]: one line per instruction, in the style of the kernel's `bpf_dbg`
//!   (`ld [0]` = `seccomp_data.nr`, `[4]` = arch, `[16 + 8i]` = low word of args[i]).
//! - [`run`]: executes a filter on a `seccomp_data` and counts the instructions on the
//!   path; it also says whether the kernel's action cache (Linux ≥ 5.11,
//!   `seccomp_cache_prepare_bitmap` / `seccomp_is_const_allow`) would allow the call
//!   without running the filter: the result is ALLOW and the path reads neither the
//!   arguments nor the instruction pointer, using only the instructions the kernel's
//!   emulator understands.
//! - [`nr_compares`]: the syscall numbers compared against, in instruction order, and
//!   whether the filter dispatches with a binary tree (`jgt`/`jge` on the number).

use std::fmt::Write as _;

/// One classic BPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

// Instruction classes and fields (linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const K: u16 = 0x00;
const X: u16 = 0x08;
const A: u16 = 0x10;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;

/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ACTION_FULL`.
pub const RET_ACTION_FULL: u32 = 0xffff_0000;
/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Size of `struct seccomp_data`.
const DATA_LEN: u32 = 64;

/// Parses `sock_filter` records (native endian, as ptrace returns them).
pub fn parse(bytes: &[u8]) -> Vec<Insn> {
    bytes
        .chunks_exact(8)
        .map(|b| Insn {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect()
}

/// Name of a `seccomp_data` offset.
fn field(k: u32) -> String {
    match k {
        0 => "nr".into(),
        4 => "arch".into(),
        8 => "ip".into(),
        12 => "ip_hi".into(),
        16..=63 => {
            let i = (k - 16) / 8;
            if (k - 16).is_multiple_of(8) {
                format!("args[{i}]")
            } else {
                format!("args[{i}]_hi")
            }
        }
        _ => format!("?{k}"),
    }
}

/// Name of a seccomp return value.
pub fn ret_name(k: u32) -> String {
    let data = k & 0xffff;
    match k & RET_ACTION_FULL {
        0x8000_0000 => "KILL_PROCESS".into(),
        0x0000_0000 => "KILL_THREAD".into(),
        0x0003_0000 => format!("TRAP({data})"),
        0x0005_0000 => format!("ERRNO({data})"),
        0x7fc0_0000 => "USER_NOTIF".into(),
        0x7ff0_0000 => format!("TRACE({data})"),
        0x7ffc_0000 => "LOG".into(),
        RET_ALLOW => "ALLOW".into(),
        _ => format!("{k:#x}"),
    }
}

/// One line of disassembly for instruction `i` of `prog`.
pub fn disasm_one(prog: &[Insn], i: usize) -> String {
    let n = prog[i];
    let target = |off: u8| i + 1 + off as usize;
    let class = n.code & 0x07;
    match class {
        LD | LDX => {
            let reg = if class == LD { "ld" } else { "ldx" };
            match n.code & 0xe0 {
                ABS => format!("{reg} [{}]  ; {}", n.k, field(n.k)),
                IMM => format!("{reg} #{:#x}", n.k),
                MEM => format!("{reg} M[{}]", n.k),
                LEN => format!("{reg} #len"),
                _ => format!("{reg} ?code={:#x}", n.code),
            }
        }
        ST => format!("st M[{}]", n.k),
        STX => format!("stx M[{}]", n.k),
        ALU => {
            let op = match n.code & 0xf0 {
                0x00 => "add",
                0x10 => "sub",
                0x20 => "mul",
                0x30 => "div",
                0x40 => "or",
                0x50 => "and",
                0x60 => "lsh",
                0x70 => "rsh",
                0x80 => "neg",
                0x90 => "mod",
                0xa0 => "xor",
                _ => "alu?",
            };
            if n.code & X != 0 {
                format!("{op} x")
            } else {
                format!("{op} #{:#x}", n.k)
            }
        }
        JMP => {
            let op = match n.code & 0xf0 {
                JA => return format!("ja {}", i + 1 + n.k as usize),
                JEQ => "jeq",
                JGT => "jgt",
                JGE => "jge",
                JSET => "jset",
                _ => "j?",
            };
            let src = if n.code & X != 0 {
                "x".to_string()
            } else {
                format!("#{:#x}", n.k)
            };
            format!("{op} {src}, {}, {}", target(n.jt), target(n.jf))
        }
        RET => match n.code & 0x18 {
            K => format!("ret {}", ret_name(n.k)),
            A => "ret a".into(),
            _ => "ret ?".into(),
        },
        _ => match n.code & 0xf8 {
            0x00 => "tax".into(),
            0x80 => "txa".into(),
            _ => format!("misc ?code={:#x}", n.code),
        },
    }
}

/// The whole program, one numbered line per instruction.
pub fn disasm(prog: &[Insn]) -> String {
    let mut s = String::new();
    for i in 0..prog.len() {
        let _ = writeln!(s, "{i:04}: {}", disasm_one(prog, i));
    }
    s
}

/// The input of a seccomp filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data {
    /// Syscall number.
    pub nr: u32,
    /// `AUDIT_ARCH_*`.
    pub arch: u32,
    /// Instruction pointer.
    pub ip: u64,
    /// Arguments.
    pub args: [u64; 6],
}

impl Data {
    /// A native x86_64 call.
    pub fn x86_64(nr: u32, args: [u64; 6]) -> Data {
        Data {
            nr,
            arch: AUDIT_ARCH_X86_64,
            ip: 0,
            args,
        }
    }

    fn word(&self, k: u32) -> Option<u32> {
        let lo_hi = |v: u64, hi: bool| if hi { (v >> 32) as u32 } else { v as u32 };
        match k {
            0 => Some(self.nr),
            4 => Some(self.arch),
            8 | 12 => Some(lo_hi(self.ip, k == 12)),
            16..=60 if k.is_multiple_of(4) => {
                let i = ((k - 16) / 8) as usize;
                Some(lo_hi(self.args[i], (k - 16) % 8 == 4))
            }
            _ => None,
        }
    }
}

/// What running a filter on one input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The return value.
    pub ret: u32,
    /// Instructions executed, the `ret` included.
    pub steps: usize,
    /// The kernel's action cache allows this syscall number without running the
    /// filter (ALLOW, decided from nr and arch alone with the instructions the kernel's
    /// emulator knows).
    pub cacheable: bool,
}

/// Runs `prog` on `data`, as the kernel's classic BPF interpreter would.
pub fn run(prog: &[Insn], data: &Data) -> Result<Outcome, String> {
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    let mut steps = 0usize;
    // The kernel's seccomp_is_const_allow emulates only: ld [nr|arch], ja, jeq/jge/
    // jgt/jset #k, and #k, ret #k.
    let mut const_path = true;
    loop {
        let n = *prog
            .get(pc)
            .ok_or_else(|| format!("pc {pc} runs off the end of the filter"))?;
        steps += 1;
        if steps > 1_000_000 {
            return Err("the filter does not terminate".into());
        }
        let class = n.code & 0x07;
        pc += 1;
        match class {
            LD | LDX => {
                let v = match n.code & 0xe0 {
                    ABS if n.code & 0x18 == W => {
                        if n.k != 0 && n.k != 4 {
                            const_path = false;
                        }
                        data.word(n.k)
                            .ok_or_else(|| format!("bad load offset {}", n.k))?
                    }
                    IMM => {
                        const_path = false;
                        n.k
                    }
                    MEM => {
                        const_path = false;
                        mem[(n.k & 15) as usize]
                    }
                    LEN => {
                        const_path = false;
                        DATA_LEN
                    }
                    _ => return Err(format!("unsupported load {:#x}", n.code)),
                };
                if class == LD {
                    a = v;
                } else {
                    const_path = false;
                    x = v;
                }
            }
            ST | STX => {
                const_path = false;
                mem[(n.k & 15) as usize] = if class == ST { a } else { x };
            }
            ALU => {
                let src = if n.code & X != 0 { x } else { n.k };
                let op = n.code & 0xf0;
                if !(op == 0x50 && n.code & X == 0) {
                    const_path = false;
                }
                a = match op {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).ok_or("division by zero")?,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(src).ok_or("modulo by zero")?,
                    0xa0 => a ^ src,
                    _ => return Err(format!("unsupported alu {:#x}", n.code)),
                };
            }
            JMP => {
                if n.code & X != 0 {
                    const_path = false;
                }
                let src = if n.code & X != 0 { x } else { n.k };
                let taken = match n.code & 0xf0 {
                    JA => {
                        pc += n.k as usize;
                        continue;
                    }
                    JEQ => a == src,
                    JGT => a > src,
                    JGE => a >= src,
                    JSET => a & src != 0,
                    _ => return Err(format!("unsupported jump {:#x}", n.code)),
                };
                pc += if taken { n.jt } else { n.jf } as usize;
            }
            RET => {
                let ret = match n.code & 0x18 {
                    K => n.k,
                    A => {
                        const_path = false;
                        a
                    }
                    _ => return Err(format!("unsupported ret {:#x}", n.code)),
                };
                return Ok(Outcome {
                    ret,
                    steps,
                    cacheable: const_path && ret == RET_ALLOW,
                });
            }
            _ => {
                const_path = false;
                if n.code & 0xf8 == 0 {
                    x = a;
                } else {
                    a = x;
                }
            }
        }
    }
}

/// The syscall numbers the filter compares `nr` against, in instruction order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// `jeq #k` on the syscall number (after a `ld [0]` with no other load between),
    /// in instruction order; a number appears once per comparison.
    pub eq: Vec<u32>,
    /// `jgt`/`jge` on the syscall number: a binary tree (libseccomp optimize 2).
    pub ranges: usize,
}

/// Finds the comparisons of the syscall number (linear scan, tracking what A holds
/// along the straight-line order; good enough for libseccomp's output).
pub fn nr_compares(prog: &[Insn]) -> Dispatch {
    let mut eq = Vec::new();
    let mut ranges = 0;
    // Which field A holds, following jumps is not needed: libseccomp reloads nr after
    // every argument check, and every block starts with a load.
    let mut a_is_nr = false;
    for n in prog {
        match n.code & 0x07 {
            LD => a_is_nr = n.code == (LD | W | ABS) && n.k == 0,
            ALU | MISC => a_is_nr = false,
            JMP if a_is_nr && n.code & X == 0 => match n.code & 0xf0 {
                JEQ => eq.push(n.k),
                JGT | JGE => ranges += 1,
                _ => {}
            },
            _ => {}
        }
    }
    Dispatch { eq, ranges }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    /// arch check; getppid allowed; personality(0xffffffff) allowed; else ERRNO(38).
    fn sample() -> Vec<Insn> {
        vec![
            i(LD | W | ABS, 0, 0, 4),
            i(JMP | JEQ | K, 1, 0, AUDIT_ARCH_X86_64),
            i(RET | K, 0, 0, 0x8000_0000),
            i(LD | W | ABS, 0, 0, 0),
            i(JMP | JEQ | K, 0, 1, 110),
            i(RET | K, 0, 0, RET_ALLOW),
            i(JMP | JEQ | K, 0, 3, 135),
            i(LD | W | ABS, 0, 0, 16),
            i(JMP | JEQ | K, 0, 1, 0xffff_ffff),
            i(RET | K, 0, 0, RET_ALLOW),
            i(RET | K, 0, 0, 0x0005_0026),
        ]
    }

    #[test]
    fn parses_native_records() {
        let mut bytes = Vec::new();
        for n in sample() {
            bytes.extend_from_slice(&n.code.to_ne_bytes());
            bytes.push(n.jt);
            bytes.push(n.jf);
            bytes.extend_from_slice(&n.k.to_ne_bytes());
        }
        assert_eq!(parse(&bytes), sample());
        assert!(parse(&bytes[..7]).is_empty());
    }

    #[test]
    fn disassembles() {
        let text = disasm(&sample());
        assert!(text.contains("0000: ld [4]  ; arch"), "{text}");
        assert!(text.contains("0001: jeq #0xc000003e, 3, 2"), "{text}");
        assert!(text.contains("0002: ret KILL_PROCESS"), "{text}");
        assert!(text.contains("0007: ld [16]  ; args[0]"), "{text}");
        assert!(text.contains("0010: ret ERRNO(38)"), "{text}");
        assert_eq!(disasm_one(&[i(JMP | JA, 0, 0, 5)], 0), "ja 6");
        assert_eq!(disasm_one(&[i(ALU | 0x50 | K, 0, 0, 0xf)], 0), "and #0xf");
    }

    #[test]
    fn runs_and_counts_steps_and_cacheability() {
        let p = sample();
        let getppid = run(&p, &Data::x86_64(110, [0; 6])).unwrap();
        assert_eq!(
            (getppid.ret, getppid.steps, getppid.cacheable),
            (RET_ALLOW, 5, true)
        );
        let pers = run(&p, &Data::x86_64(135, [0xffff_ffff, 0, 0, 0, 0, 0])).unwrap();
        assert_eq!(
            (pers.ret, pers.steps, pers.cacheable),
            (RET_ALLOW, 8, false)
        );
        let pers0 = run(&p, &Data::x86_64(135, [0; 6])).unwrap();
        assert_eq!((pers0.ret, pers0.steps), (0x0005_0026, 8));
        let denied = run(&p, &Data::x86_64(183, [0; 6])).unwrap();
        assert_eq!(
            (denied.ret, denied.steps, denied.cacheable),
            (0x0005_0026, 6, false)
        );
        let mut other = Data::x86_64(110, [0; 6]);
        other.arch = 0x4000_0003;
        assert_eq!(run(&p, &other).unwrap().ret, 0x8000_0000);
        assert!(run(&p[..5], &Data::x86_64(1, [0; 6])).is_err());
    }

    #[test]
    fn finds_nr_comparisons_and_trees() {
        let d = nr_compares(&sample());
        assert_eq!(d.eq, vec![110, 135]);
        assert_eq!(d.ranges, 0);
        let tree = vec![
            i(LD | W | ABS, 0, 0, 0),
            i(JMP | JGT | K, 1, 0, 200),
            i(JMP | JEQ | K, 0, 1, 110),
            i(RET | K, 0, 0, RET_ALLOW),
            i(RET | K, 0, 0, 0x0005_0026),
        ];
        assert_eq!(nr_compares(&tree).ranges, 1);
        assert_eq!(ret_name(0x7ff0_0001), "TRACE(1)");
    }
}
