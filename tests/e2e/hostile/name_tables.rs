//! Hostile input: name tables (syscalls.rs).

use super::*;

/// Every entry of every table maps both ways.
#[e2e_macros::test]
fn every_table_entry_round_trips() {
    for arch in Arch::ALL {
        let table = arch.table();
        assert!(!table.is_empty(), "{arch}");
        for (nr, name) in table {
            assert_eq!(arch.name_of(nr), Some(name), "{arch} {nr}");
            assert_eq!(arch.number_of(name), Some(nr), "{arch} {name}");
            assert_eq!(arch.resolve(name).expect("resolve"), nr);
        }
        for name in [arch.scmp_name(), arch.short_name()] {
            assert_eq!(name.parse::<Arch>().expect("arch name"), arch);
            assert_eq!(name.to_lowercase().parse::<Arch>().expect("any case"), arch);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[e2e_macros::test]
    fn numbers_map_to_names_that_map_back(
        arch in prop::sample::select(Arch::ALL.to_vec()),
        nr in prop_oneof![
            any::<u64>(),
            0u64..1024,
            (0u64..1024).prop_map(|n| n | 0x4000_0000),
            0x0f_0000u64..0x0f_0010,
        ],
    ) {
        if let Some(name) = arch.name_of(nr) {
            prop_assert_eq!(arch.number_of(name), Some(nr));
        }
    }

    #[e2e_macros::test]
    fn unknown_names_never_panic_and_are_65(arch in prop::sample::select(Arch::ALL.to_vec()), name in hostile_string()) {
        match arch.resolve(&name) {
            Ok(nr) => prop_assert_eq!(arch.name_of(nr), Some(name.as_str())),
            Err(e) => {
                prop_assert!(matches!(e, SyscallError::UnknownName { .. }), "{e:?}");
                assert_error(&e, &[Category::UnknownSyscall], &name);
            }
        }
    }

    #[e2e_macros::test]
    fn unknown_architectures_are_64(name in hostile_string()) {
        match name.parse::<Arch>() {
            Ok(a) => {
                // Only the documented spellings, in any case.
                let lower = name.to_ascii_lowercase();
                let key = lower.strip_prefix("scmp_arch_").unwrap_or(&lower);
                let aliases: &[&str] = match a {
                    Arch::X86_64 => &["x86_64", "amd64", "x86-64"],
                    Arch::X86 => &["x86", "i386", "i686", "ia32"],
                    Arch::X32 => &["x32"],
                    Arch::Aarch64 => &["aarch64", "arm64"],
                    Arch::Arm => &["arm", "armhf", "arm32"],
                    Arch::Riscv64 => &["riscv64"],
                };
                prop_assert!(aliases.contains(&key), "{name:?} read as {a}");
            }
            Err(e) => assert_error(&e, &[Category::UnknownArch], &name),
        }
    }
}
