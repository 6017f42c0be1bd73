//! Just enough of a BTF reader to find struct member offsets in the running kernel.
//!
//! aya-ebpf has no CO-RE, so the program gets the offsets it needs (where a task says
//! it is making compat syscalls) as load-time globals. aya's own BTF parser builds the
//! whole type graph (~25 ms for vmlinux); we only walk the type section once.

use std::path::{Path, PathBuf};

use seccomp_profile::exit::{Categorized, Category};

/// Default location of the running kernel's BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_FUNC: u32 = 12;

/// Errors reading BTF.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// The BTF file could not be read.
    #[error("cannot read kernel BTF at {path} (the kernel needs CONFIG_DEBUG_INFO_BTF=y)")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The data is not BTF or is truncated.
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
    /// A struct or member we need is not described.
    #[error("kernel BTF has no member '{member}' in struct {strukt}")]
    MissingMember {
        /// The struct searched.
        strukt: String,
        /// The member not found.
        member: String,
    },
}

impl Categorized for BtfError {
    fn category(&self) -> Category {
        Category::MissingKernelFeature
    }
}

/// A parsed view of a BTF blob.
pub struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    little: bool,
}

/// A struct member: byte offset and BTF type id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Byte offset from the start of the struct.
    pub offset: u32,
    /// BTF type id of the member.
    pub type_id: u32,
}

impl<'a> Btf<'a> {
    /// Parses the header of a BTF blob.
    pub fn parse(data: &'a [u8]) -> Result<Self, BtfError> {
        if data.len() < 24 {
            return Err(BtfError::Malformed("shorter than its header"));
        }
        let little = match u16::from_le_bytes([data[0], data[1]]) {
            BTF_MAGIC => true,
            _ if u16::from_be_bytes([data[0], data[1]]) == BTF_MAGIC => false,
            _ => return Err(BtfError::Malformed("bad magic")),
        };
        let rd = |off: usize| read_u32(data, off, little);
        let hdr_len = rd(4)? as usize;
        let type_off = rd(8)? as usize;
        let type_len = rd(12)? as usize;
        let str_off = rd(16)? as usize;
        let str_len = rd(20)? as usize;
        let section = |off: usize, len: usize| {
            let start = hdr_len
                .checked_add(off)
                .ok_or(BtfError::Malformed("section offset overflows"))?;
            let end = start
                .checked_add(len)
                .ok_or(BtfError::Malformed("section length overflows"))?;
            data.get(start..end)
                .ok_or(BtfError::Malformed("section past the end"))
        };
        Ok(Btf {
            types: section(type_off, type_len)?,
            strings: section(str_off, str_len)?,
            little,
        })
    }

    fn name(&self, off: u32) -> &'a [u8] {
        let rest = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// Walks all types: calls `f(type_id, kind, name, vlen, kind_flag, body)`, stops when
    /// it returns `Some`.
    fn find<T>(
        &self,
        mut f: impl FnMut(u32, u32, &[u8], u32, bool, &'a [u8]) -> Option<T>,
    ) -> Result<Option<T>, BtfError> {
        let mut off = 0usize;
        let mut id = 1u32;
        let t = self.types;
        while off < t.len() {
            let name_off = read_u32(t, off, self.little)?;
            let info = read_u32(t, off + 4, self.little)?;
            let vlen = info & 0xffff;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let extra = match kind {
                1 | 14 | 17 => 4,                      // INT, VAR, DECL_TAG
                3 => 12,                               // ARRAY
                4 | 5 | 15 | 19 => 12 * vlen as usize, // STRUCT, UNION, DATASEC, ENUM64
                6 | 13 => 8 * vlen as usize,           // ENUM, FUNC_PROTO
                2 | 7..=12 | 16 | 18 => 0,
                _ => return Err(BtfError::Malformed("unknown type kind")),
            };
            let body_start = off + 12;
            let body = t
                .get(body_start..body_start + extra)
                .ok_or(BtfError::Malformed("type past the end"))?;
            if let Some(r) = f(id, kind, self.name(name_off), vlen, kind_flag, body) {
                return Ok(Some(r));
            }
            off = body_start + extra;
            id += 1;
        }
        Ok(None)
    }

    fn members_of(
        &self,
        pred: impl Fn(u32, &[u8]) -> bool,
        member: &str,
    ) -> Result<Option<Member>, BtfError> {
        let little = self.little;
        self.find(|id, kind, name, vlen, kind_flag, body| {
            if !(kind == KIND_STRUCT || kind == KIND_UNION) || !pred(id, name) {
                return None;
            }
            (0..vlen as usize).find_map(|i| {
                let m = &body[i * 12..i * 12 + 12];
                let m_name = read_u32(m, 0, little).ok()?;
                if self.name(m_name) != member.as_bytes() {
                    return None;
                }
                let type_id = read_u32(m, 4, little).ok()?;
                let raw = read_u32(m, 8, little).ok()?;
                let bits = if kind_flag { raw & 0x00ff_ffff } else { raw };
                Some(Member {
                    offset: bits / 8,
                    type_id,
                })
            })
        })
    }

    /// The member `member` of the struct named `strukt`.
    pub fn member(&self, strukt: &str, member: &str) -> Result<Member, BtfError> {
        self.members_of(|_, name| name == strukt.as_bytes(), member)?
            .ok_or_else(|| BtfError::MissingMember {
                strukt: strukt.to_owned(),
                member: member.to_owned(),
            })
    }

    /// The BTF type ids of the functions (FUNC types) named `names`, in one pass; `None`
    /// for a name the BTF does not describe.
    pub fn func_ids<const N: usize>(&self, names: [&str; N]) -> Result<[Option<u32>; N], BtfError> {
        let mut ids = [None; N];
        let mut left = N;
        self.find(|id, kind, name, _, _, _| {
            if kind == KIND_FUNC {
                if let Some(i) = names.iter().position(|n| n.as_bytes() == name) {
                    if ids[i].is_none() {
                        ids[i] = Some(id);
                        left -= 1;
                    }
                }
            }
            (left == 0).then_some(())
        })?;
        Ok(ids)
    }

    /// Byte offset of `path[1..]` inside struct `path[0]`, following nested struct members
    /// by type id (e.g. `["task_struct", "thread_info", "status"]`).
    pub fn offset_of(&self, path: &[&str]) -> Result<u32, BtfError> {
        let (first, rest) = path
            .split_first()
            .ok_or(BtfError::Malformed("empty member path"))?;
        let (second, rest) = rest
            .split_first()
            .ok_or(BtfError::Malformed("member path needs a member"))?;
        let mut m = self.member(first, second)?;
        let mut total = m.offset;
        let mut parent = (*second).to_owned();
        for name in rest {
            let want = m.type_id;
            m = self.members_of(|id, _| id == want, name)?.ok_or_else(|| {
                BtfError::MissingMember {
                    strukt: parent.clone(),
                    member: (*name).to_owned(),
                }
            })?;
            total += m.offset;
            parent = (*name).to_owned();
        }
        Ok(total)
    }
}

fn read_u32(data: &[u8], off: usize, little: bool) -> Result<u32, BtfError> {
    let b: [u8; 4] = data
        .get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or(BtfError::Malformed("truncated"))?;
    Ok(if little {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// Where the running kernel tells, per task, that a syscall uses the compat ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompatProbe {
    /// Byte offset in `task_struct` of the 32-bit word to test.
    pub offset: u32,
    /// The bit that marks a compat task.
    pub mask: u32,
}

/// The kernel's syscall dispatchers that an `fentry` program can attach to (their BTF
/// type ids), per ABI: native, compat, x32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispatchers {
    /// The native dispatcher (`x64_sys_call`).
    pub native: Option<u32>,
    /// The compat dispatcher (`ia32_sys_call`).
    pub compat: Option<u32>,
    /// The x32 dispatcher (`x32_sys_call`, CONFIG_X86_X32_ABI).
    pub x32: Option<u32>,
}

impl Dispatchers {
    /// The dispatchers' function names on `arch` (native, compat, x32); none where the
    /// kernel dispatches through a table or an inlined function (arm64's
    /// `invoke_syscall` is static and inlined: the tracepoint serves there).
    pub fn names(arch: &str) -> Option<[&'static str; 3]> {
        match arch {
            "x86_64" => Some(["x64_sys_call", "ia32_sys_call", "x32_sys_call"]),
            _ => None,
        }
    }
}

/// What the program needs to know about the running kernel's `task_struct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelOffsets {
    /// Where a compat task is marked, on architectures with a compat ABI we know.
    pub compat: Option<CompatProbe>,
    /// Byte offset of `task_struct.seccomp.mode`, `None` on kernels without seccomp.
    pub seccomp_mode: Option<u32>,
    /// The syscall dispatchers described in the BTF (kernels since the 2024
    /// branch-history mitigation, and the stable lines it went to).
    pub dispatchers: Dispatchers,
    /// Byte offset in `struct pt_regs` of the first syscall argument, where the
    /// architecture keeps it apart from the register file: arm64's `orig_x0` (`x0` is
    /// the return value's register; seccomp and audit read argument 0 from `orig_x0`).
    /// `None` where the argument registers are read in place (x86_64).
    pub syscall_arg0: Option<u32>,
}

impl KernelOffsets {
    /// Reads the offsets for the architecture this binary runs on from the BTF file
    /// at `path` (one pass over the file per lookup, no type graph).
    pub fn read(path: &Path) -> Result<Self, BtfError> {
        let data = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.to_owned(),
            source,
        })?;
        let btf = Btf::parse(&data)?;
        Self::from_btf(&btf, std::env::consts::ARCH)
    }

    /// The offsets in `btf` for architecture `arch` (pure).
    pub fn from_btf(btf: &Btf<'_>, arch: &str) -> Result<Self, BtfError> {
        let spec: Option<(&[&str], u32)> = match arch {
            // TS_COMPAT in thread_info.status; thread_info is embedded in task_struct.
            "x86_64" => Some((&["task_struct", "thread_info", "status"], 0x2)),
            // _TIF_32BIT (bit 22) in thread_info.flags (little endian: low word).
            "aarch64" => Some((&["task_struct", "thread_info", "flags"], 1 << 22)),
            _ => None,
        };
        let compat = match spec {
            Some((path, mask)) => Some(CompatProbe {
                offset: btf.offset_of(path)?,
                mask,
            }),
            None => None,
        };
        let seccomp_mode = match btf.offset_of(&["task_struct", "seccomp", "mode"]) {
            Ok(off) => Some(off),
            Err(BtfError::MissingMember { .. }) => None,
            Err(e) => return Err(e),
        };
        let dispatchers = match Dispatchers::names(arch) {
            Some(names) => {
                let [native, compat, x32] = btf.func_ids(names)?;
                Dispatchers {
                    native,
                    compat,
                    x32,
                }
            }
            None => Dispatchers::default(),
        };
        let syscall_arg0 = match arch {
            "aarch64" => Some(btf.offset_of(&["pt_regs", "orig_x0"])?),
            _ => None,
        };
        Ok(KernelOffsets {
            compat,
            seccomp_mode,
            dispatchers,
            syscall_arg0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a little-endian BTF blob: types given as (kind, name, vlen, size, members).
    /// (member name, type id, bit offset)
    type TestMember<'a> = (&'a str, u32, u32);

    fn blob(types: &[(u32, &str, Vec<TestMember<'_>>)]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut add = |s: &str| {
            let off = strings.len() as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            off
        };
        let mut t = Vec::new();
        // type 1: an INT
        let int_name = add("int");
        t.extend_from_slice(&int_name.to_le_bytes());
        t.extend_from_slice(&(1u32 << 24).to_le_bytes());
        t.extend_from_slice(&4u32.to_le_bytes());
        t.extend_from_slice(&32u32.to_le_bytes());
        for (kind, name, members) in types {
            let n = add(name);
            t.extend_from_slice(&n.to_le_bytes());
            let info = (kind << 24) | members.len() as u32;
            t.extend_from_slice(&info.to_le_bytes());
            t.extend_from_slice(&64u32.to_le_bytes());
            for (m, ty, bits) in members {
                let mn = add(m);
                t.extend_from_slice(&mn.to_le_bytes());
                t.extend_from_slice(&ty.to_le_bytes());
                t.extend_from_slice(&bits.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&24u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&t);
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn nested_member_offsets_add_up() {
        // type 2: thread_info { flags @0, status @128 bits }, type 3: task_struct
        let data = blob(&[
            (
                KIND_STRUCT,
                "thread_info",
                vec![("flags", 1, 0), ("status", 1, 128)],
            ),
            (
                KIND_STRUCT,
                "task_struct",
                vec![("pad", 1, 0), ("thread_info", 2, 64)],
            ),
        ]);
        let btf = Btf::parse(&data).expect("parse");
        assert_eq!(
            btf.offset_of(&["task_struct", "thread_info", "status"])
                .expect("offset"),
            8 + 16
        );
        let err = btf.offset_of(&["task_struct", "nope"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "kernel BTF has no member 'nope' in struct task_struct"
        );
    }

    #[test]
    fn functions_are_found_by_name_in_one_pass() {
        let data = blob(&[
            (KIND_FUNC, "ia32_sys_call", vec![]),
            (KIND_STRUCT, "x64_sys_call", vec![]),
            (KIND_FUNC, "x64_sys_call", vec![]),
        ]);
        let btf = Btf::parse(&data).expect("parse");
        // Type 1 is the blob's INT; a STRUCT of the same name is no function.
        assert_eq!(
            btf.func_ids(["x64_sys_call", "ia32_sys_call", "x32_sys_call"])
                .expect("ids"),
            [Some(4), Some(2), None]
        );
    }

    #[test]
    fn arm64_reads_orig_x0_and_the_32bit_flag() {
        // type 2: thread_info { flags @0 }, 3: seccomp { mode @0 }, 4: task_struct,
        // 5: pt_regs { regs @0, sp @248 bytes, ..., orig_x0 @272 bytes }.
        let data = blob(&[
            (KIND_STRUCT, "thread_info", vec![("flags", 1, 0)]),
            (KIND_STRUCT, "seccomp", vec![("mode", 1, 0)]),
            (
                KIND_STRUCT,
                "task_struct",
                vec![("thread_info", 2, 0), ("seccomp", 3, 8 * 3000)],
            ),
            (
                KIND_STRUCT,
                "pt_regs",
                vec![("regs", 1, 0), ("sp", 1, 8 * 248), ("orig_x0", 1, 8 * 272)],
            ),
        ]);
        let btf = Btf::parse(&data).expect("parse");
        let k = KernelOffsets::from_btf(&btf, "aarch64").expect("offsets");
        assert_eq!(k.syscall_arg0, Some(272));
        assert_eq!(
            k.compat,
            Some(CompatProbe {
                offset: 0,
                mask: 1 << 22
            })
        );
        assert_eq!(k.seccomp_mode, Some(3000));
        // x86_64 reads its argument registers in place.
        let x86 = blob(&[
            (KIND_STRUCT, "thread_info", vec![("status", 1, 0)]),
            (KIND_STRUCT, "task_struct", vec![("thread_info", 2, 0)]),
        ]);
        let btf = Btf::parse(&x86).expect("parse");
        let k = KernelOffsets::from_btf(&btf, "x86_64").expect("offsets");
        assert_eq!((k.syscall_arg0, k.seccomp_mode), (None, None));
        // An arm64 kernel without the member is a clear error, not a wrong register.
        let no_regs = blob(&[
            (KIND_STRUCT, "thread_info", vec![("flags", 1, 0)]),
            (KIND_STRUCT, "task_struct", vec![("thread_info", 2, 0)]),
        ]);
        let btf = Btf::parse(&no_regs).expect("parse");
        let err = KernelOffsets::from_btf(&btf, "aarch64").unwrap_err();
        assert_eq!(
            err.to_string(),
            "kernel BTF has no member 'orig_x0' in struct pt_regs"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            Btf::parse(b"not btf at all, not btf at all"),
            Err(BtfError::Malformed(_))
        ));
        assert!(matches!(Btf::parse(b"x"), Err(BtfError::Malformed(_))));
    }

    #[test]
    fn running_kernel_has_the_compat_marker() {
        let path = Path::new(VMLINUX_BTF);
        if !path.exists() {
            eprintln!("skipped: {VMLINUX_BTF} missing");
            return;
        }
        let k = KernelOffsets::read(path).expect("offsets");
        if let Some(p) = k.compat {
            assert!(p.offset < 64 * 1024, "offset {}", p.offset);
        }
        let mode = k.seccomp_mode.expect("kernel has seccomp");
        assert!(mode > 0 && mode < 64 * 1024, "offset {mode}");
        // Where kallsyms names the native dispatcher, the BTF describes it too.
        let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        if kallsyms.lines().any(|l| l.ends_with(" x64_sys_call")) {
            assert!(k.dispatchers.native.is_some(), "{:?}", k.dispatchers);
        }
    }
}
