use super::loader::{arg_offsets, trigger_nrs};
use super::privilege::{can_trace, effective_caps};
use super::slots::{config_for_levels, slot_used};
use super::*;
use recorder_ebpf::{cgroup_bucket, CGROUP_BUCKETS};

#[test]
fn levels_are_deepest_first_and_bounded() {
    let c = config_for_levels(&[2, 4, 2, 1]).expect("config");
    assert_eq!(c.level_count, 3);
    assert_eq!(&c.levels[..3], &[4, 2, 1]);
    assert_eq!(config_for_levels(&[]).expect("empty").level_count, 0);
    let many: Vec<u32> = (0..=MAX_LEVELS as u32).collect();
    assert!(matches!(
        config_for_levels(&many),
        Err(TracerError::TooManyLevels)
    ));
}

#[test]
fn used_slots_are_a_bitmap() {
    let c = config_for(&[(0, Some(2)), (65, Some(2)), (255, Some(3)), (7, None)]).expect("config");
    assert!(slot_used(&c, 0) && slot_used(&c, 65) && slot_used(&c, 255));
    assert!(!slot_used(&c, 1) && !slot_used(&c, 64));
    assert_eq!(c.level_count, 2);
}

#[test]
fn trigger_numbers_per_abi() {
    assert_eq!(trigger_nrs(Some(Arch::X86_64)), [59, 322, 317, 157]);
    assert_eq!(trigger_nrs(Some(Arch::X86)), [11, 358, 354, 172]);
    assert_eq!(trigger_nrs(None), [u32::MAX; 4]);
}

#[test]
fn argument_registers_per_abi() {
    assert_eq!(arg_offsets(Some(Arch::X86_64), None), [112, 104, 96]);
    assert_eq!(arg_offsets(Some(Arch::X86), None), [40, 88, 96]);
    // arm64: argument 0 from orig_x0 (272 in 6.1's pt_regs), for AArch32 tasks too.
    assert_eq!(arg_offsets(Some(Arch::Aarch64), Some(272)), [272, 8, 16]);
    assert_eq!(arg_offsets(Some(Arch::Arm), Some(272)), [272, 8, 16]);
    assert_eq!(trigger_nrs(Some(Arch::Aarch64)), [221, 281, 277, 167]);
    assert_eq!(trigger_nrs(Some(Arch::Arm)), [11, 387, 383, 172]);
}

#[test]
fn capabilities_for_tracing() {
    let status = "Name:\tx\nCapEff:\t000001ffffffffff\n";
    assert_eq!(effective_caps(status), Some(0x1ff_ffff_ffff));
    assert!(can_trace(0x1ff_ffff_ffff));
    assert!(can_trace(1 << 21));
    assert!(can_trace((1 << 38) | (1 << 39)));
    assert!(!can_trace(1 << 39));
    assert!(!can_trace(0));
    assert_eq!(effective_caps("Name: x\n"), None);
}

#[test]
fn buckets_wrap() {
    assert_eq!(cgroup_bucket(u64::from(CGROUP_BUCKETS) - 1, 1), 0);
    assert_eq!(cgroup_bucket(5, 2), 7);
}

#[test]
fn every_named_call_has_a_row_cell_and_reads_back_as_itself() {
    use recorder_ebpf::{cell_of, nr_of_cell, ARM_PRIVATE_BASE, ARM_PRIVATE_CELL};
    for arch in Arch::ALL {
        for (nr, name) in arch.table() {
            // x32 rows count the number without the x32 bit.
            let nr = if arch == Arch::X32 {
                nr & !X32_SYSCALL_BIT
            } else {
                nr
            };
            let cell = cell_of(nr).unwrap_or_else(|| panic!("{arch} {name} ({nr:#x}) has no cell"));
            assert!(cell < NR_PER_ROW, "{arch} {name}");
            assert_eq!(nr_of_cell(cell), nr, "{arch} {name}");
        }
    }
    assert_eq!(cell_of(0x0f_0005), Some(ARM_PRIVATE_CELL + 5));
    assert_eq!(
        Arch::Arm.name_of(nr_of_cell(ARM_PRIVATE_CELL + 5)),
        Some("set_tls")
    );
    // Numbers no table names, also those whose cell holds a private one, overflow.
    for nr in [
        ARM_PRIVATE_CELL as u64,
        NR_PER_ROW as u64 - 1,
        ARM_PRIVATE_BASE + 8,
        0x10_0000,
        u64::MAX,
    ] {
        assert_eq!(cell_of(nr), None, "{nr:#x}");
    }
    assert_eq!(
        cell_of(ARM_PRIVATE_CELL as u64 - 1),
        Some(ARM_PRIVATE_CELL - 1)
    );
}

#[test]
fn the_program_keeps_one_argument_value_more_than_a_profile_lists() {
    use recorder_ebpf::{ARG_TALLIES, ARG_VALUES_KEPT, MAX_ARG_SPECS};
    // One more than the profile lists, so that "more than 16" is still seen.
    assert_eq!(
        usize::from(ARG_VALUES_KEPT),
        seccomp_profile::args::MAX_VALUES_PER_SYSCALL + 1
    );
    assert!(ARG_TALLIES >= ABI_COUNT as usize * MAX_ARG_SPECS);
}
