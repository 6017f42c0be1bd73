//! Hostile input: output paths (fs::confined): resolve, check, write.

use super::*;

proptest! {
    #![proptest_config(config())]

    /// Whatever is asked, a write lands below the output directory, never through a
    /// symlink, and nothing appears outside.
    #[e2e_macros::test]
    fn output_paths_never_leave_the_output_directory(requested in annotation_value()) {
        let p = planted();
        let policy = OutputPolicy::new(std::slice::from_ref(&p.out)).expect("policy");
        let root = p.out.canonicalize().expect("canonical");
        let absolute = format!("{}/{}", root.display(), requested);
        for asked in [requested.as_str(), absolute.as_str()] {
            let dest = match policy.resolve(asked) {
                Ok(d) => d,
                Err(e) => {
                    assert_error(&e, &[Category::BadInput], asked);
                    continue;
                }
            };
            prop_assert_eq!(&dest.root, &root);
            prop_assert!(dest.relative.components().all(|c| matches!(c, std::path::Component::Normal(_))));
            let checked = confined::check_writable(&dest);
            match confined::write(&dest, b"{}") {
                Ok(()) => {
                    prop_assert!(checked.is_ok(), "written although the check refused {asked:?}");
                    let md = std::fs::symlink_metadata(dest.path()).expect("written file");
                    prop_assert!(md.is_file());
                    prop_assert!(dest.path().canonicalize().expect("canon").starts_with(&root));
                }
                Err(e) => assert_error(&e, &[Category::BadInput, Category::Io], asked),
            }
        }
        prop_assert!(entries(&p.outside).is_empty(), "written outside: {:?}", entries(&p.outside));
        prop_assert!(std::fs::symlink_metadata(p.out.join("link")).expect("link").file_type().is_symlink());
    }
}

#[e2e_macros::test]
fn proc_self_root_and_parent_dirs_are_refused() {
    let p = planted();
    let policy = OutputPolicy::new(std::slice::from_ref(&p.out)).expect("policy");
    let root = p.out.canonicalize().expect("canonical");
    for asked in [
        format!("/proc/self/root{}/x.json", root.display()),
        format!("/proc/1/root{}/x.json", root.display()),
        format!("{}/../outside/x.json", root.display()),
        "../outside/x.json".to_owned(),
        "a/../../outside/x.json".to_owned(),
        "/etc/x.json".to_owned(),
        root.display().to_string(),
        format!("{}/", root.display()),
    ] {
        let e = policy.resolve(&asked).expect_err(&asked);
        assert_eq!(e.category().code(), 66, "{asked}: {e}");
    }
    // Through the planted symlinks: refused at check and at write time.
    for asked in ["link/x.json", "file.json", "link"] {
        let dest = policy
            .resolve(asked)
            .expect("resolves (no file system access)");
        assert!(confined::check_writable(&dest).is_err(), "{asked}");
        assert!(confined::write(&dest, b"x").is_err(), "{asked}");
    }
    assert!(entries(&p.outside).is_empty());
}

/// Iterations of the symlink race: 4 per proptest case (1,024 by default).
pub(super) fn race_iterations() -> usize {
    usize::try_from(cases()).unwrap_or(256) * 4
}

/// A directory on the way is swapped for a symlink to the outside, in a loop, while
/// profiles are written through it: every write lands in the real directory or is
/// refused, nothing ever appears outside.
#[e2e_macros::test]
fn directory_swapped_for_a_symlink_during_writes_never_leaks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let outside = tmp.path().join("outside");
    let real = tmp.path().join("real");
    std::fs::create_dir_all(out.join("sub")).expect("mkdir");
    std::fs::create_dir(&outside).expect("mkdir");
    let policy = OutputPolicy::new(std::slice::from_ref(&out)).expect("policy");
    let dest = policy.resolve("sub/deeper/x.json").expect("resolve");

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, out, outside, real) = (stop.clone(), out.clone(), outside.clone(), real);
        std::thread::spawn(move || {
            let sub = out.join("sub");
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // sub: directory -> symlink to the outside -> directory again. A
                // writer that opened `sub` before the rename writes into the moved
                // directory (the descriptor, not the path): where the one who moved it
                // could write anyway, and back in `sub` after the swap.
                if std::fs::rename(&sub, &real).is_ok() {
                    let _ = std::os::unix::fs::symlink(&outside, &sub);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&sub);
                    let _ = std::fs::rename(&real, &sub);
                    swaps += 1;
                }
                std::thread::yield_now();
            }
            swaps
        })
    };
    let (mut written, mut refused) = (0usize, 0usize);
    for i in 0..race_iterations() {
        match confined::write(&dest, format!("{{\"n\":{i}}}").as_bytes()) {
            Ok(()) => written += 1,
            Err(e) => {
                assert_error(&e, &[Category::BadInput, Category::Io], "");
                refused += 1;
            }
        }
        assert!(
            entries(&outside).is_empty(),
            "written outside after {i} writes: {:?}",
            entries(&outside)
        );
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper");
    assert!(entries(&outside).is_empty());
    eprintln!("symlink race: {written} written, {refused} refused, {swaps} swaps");
    assert!(swaps > 0, "the race never swapped");
}
