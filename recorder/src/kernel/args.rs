//! Argument-aware rules: the tables and rules are in [`seccomp_profile::args`]; this
//! adds the kernel-side specs the eBPF program reads.

use seccomp_profile::args::{Compare, TRACKED};

use recorder_ebpf::{ArgSpec, ARG_NONE, MAX_ARG_SPECS, X32_SYSCALL_BIT};

use seccomp_profile::syscalls::Arch;

/// The kernel-side specs for one ABI (pure): the tracked syscalls that exist on it,
/// up to [`MAX_ARG_SPECS`], the rest unused.
pub fn specs_for(arch: Option<Arch>) -> [ArgSpec; MAX_ARG_SPECS] {
    let mut out = [ArgSpec::UNUSED; MAX_ARG_SPECS];
    let Some(arch) = arch else { return out };
    let mut n = 0;
    for t in TRACKED {
        if n == MAX_ARG_SPECS {
            break;
        }
        let Some(nr) = arch.number_of(t.name) else {
            continue;
        };
        let (arg_b, mask_b) = match t.b {
            Some((i, c)) => (i, Compare::mask(c)),
            None => (ARG_NONE, 0),
        };
        out[n] = ArgSpec {
            nr: (nr & !X32_SYSCALL_BIT) as u32,
            arg_a: t.a.0,
            arg_b,
            deref_a: u32::from(t.deref),
            mask_a: Compare::mask(t.a.1),
            mask_b,
        };
        n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use recorder_ebpf::ARG_SPEC_UNUSED;
    use seccomp_profile::args::{CLONE_NEW_MASK, SOCK_TYPE_MASK};

    #[test]
    fn specs_resolve_per_abi_and_fit() {
        let s = specs_for(Some(Arch::X86_64));
        assert_eq!(s[0].nr, 41); // socket
        assert_eq!((s[0].arg_b, s[0].mask_b), (1, SOCK_TYPE_MASK));
        assert_eq!((s[1].nr, s[1].mask_a), (56, CLONE_NEW_MASK)); // clone
                                                                  // socketcall does not exist on x86_64; on i386 it takes the place of nothing
                                                                  // else: every tracked name there fits.
        assert!(s.iter().all(|x| x.nr != 102 || x.arg_a == 0));
        let i386 = specs_for(Some(Arch::X86));
        assert!(i386.iter().any(|x| x.nr == 102), "socketcall on i386");
        assert!(i386.iter().any(|x| x.nr == 359), "socket on i386");
        let x32 = specs_for(Some(Arch::X32));
        assert!(x32
            .iter()
            .all(|x| x.nr == ARG_SPEC_UNUSED || x.nr < 0x4000_0000));
        assert!(specs_for(None).iter().all(|x| x.nr == ARG_SPEC_UNUSED));
    }
}
