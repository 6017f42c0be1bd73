//! What the hook does when recordings meet: two prestarts for one id, a prestart for
//! an id whose old recording is stale, a poststop without prestart, two gc at once,
//! and the 257th recording at once (slots are 256). Driven with hand-made OCI states
//! for processes in the test's own cgroups, so no container runtime is involved.

use crate::common;

use std::process::Stdio;

use common::hookrun::{poststop_state, prestart_state, sleeper, Hooks};
use common::scratch::TestCgroup;
use common::*;

#[e2e_macros::test]
fn two_prestarts_for_one_id() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("dup");
    let cg = TestCgroup::new("conc-dup");
    let mut p = sleeper(&cg);
    let st = prestart_state("ctr-dup", p.id(), "dup.json");
    let o = h.hook("prestart", &st);
    assert!(o.status.success(), "first prestart: {}", stderr(&o));
    // The same container again (e.g. createRuntime and prestart both configured):
    // nothing to do, success, the first recording untouched.
    let o = h.hook("prestart", &st);
    assert!(o.status.success(), "second prestart: {}", stderr(&o));
    assert_eq!(h.states(), ["ctr-dup.json"]);
    // The same id from another live cgroup: refused, one line, exit 66; the first
    // recording still owns the id.
    let other = TestCgroup::new("conc-dup2");
    let mut q = sleeper(&other);
    let o = h.hook("prestart", &prestart_state("ctr-dup", q.id(), "dup2.json"));
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("container id ctr-dup is already being recorded"),
        "{}",
        stderr(&o)
    );
    assert_eq!(h.states(), ["ctr-dup.json"]);
    let _ = p.kill();
    let _ = p.wait();
    let _ = q.kill();
    let _ = q.wait();
    let o = h.hook("poststop", &poststop_state("ctr-dup", "dup.json"));
    assert!(o.status.success(), "poststop: {}", stderr(&o));
    assert!(
        h.out().join("dup.json").exists(),
        "the first recording's profile"
    );
    assert!(!h.out().join("dup2.json").exists());
    assert!(h.states().is_empty(), "{:?}", h.states());
    assert!(!h.link_attached());
}

#[e2e_macros::test]
fn a_stale_recording_of_the_id_is_finished_before_the_new_one() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("stale");
    let old = TestCgroup::new("conc-old");
    let mut p = sleeper(&old);
    let o = h.hook("prestart", &prestart_state("ctr-re", p.id(), "old.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    // Its container dies without a poststop; the cgroup goes.
    let _ = p.kill();
    let _ = p.wait();
    drop(old);
    let new = TestCgroup::new("conc-new");
    let mut q = sleeper(&new);
    let o = h.hook("prestart", &prestart_state("ctr-re", q.id(), "new.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        h.out().join("old.json").exists(),
        "the stale recording was finished"
    );
    let _ = q.kill();
    let _ = q.wait();
    let o = h.hook("poststop", &poststop_state("ctr-re", "new.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(h.out().join("new.json").exists());
    assert!(h.states().is_empty(), "{:?}", h.states());
}

#[e2e_macros::test]
fn a_poststop_without_prestart_writes_nothing_and_succeeds() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("nopre");
    let o = h.hook("poststop", &poststop_state("never-started", "ghost.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!h.out().join("ghost.json").exists());
    assert!(h.states().is_empty());
}

#[e2e_macros::test]
fn two_gc_at_once_finish_a_recording_exactly_once() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("gc2");
    let cg = TestCgroup::new("conc-gc");
    let mut p = sleeper(&cg);
    let o = h.hook("prestart", &prestart_state("ctr-gc", p.id(), "gc.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = p.kill();
    let _ = p.wait();
    drop(cg);
    let a = h
        .cmd()
        .arg("gc")
        .stdout(Stdio::piped())
        .spawn()
        .expect("gc a");
    let b = h
        .cmd()
        .arg("gc")
        .stdout(Stdio::piped())
        .spawn()
        .expect("gc b");
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    assert!(a.status.success() && b.status.success());
    let finished = [stdout(&a), stdout(&b)]
        .iter()
        .filter(|s| s.contains("finished ctr-gc"))
        .count();
    assert_eq!(finished, 1, "{} / {}", stdout(&a), stdout(&b));
    assert!(h.out().join("gc.json").exists());
    assert!(h.states().is_empty(), "{:?}", h.states());
    assert!(!h.link_attached());
}

#[e2e_macros::test]
fn the_257th_recording_at_once_is_refused_and_the_others_finish() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("slots");
    let cg = TestCgroup::new("conc-slots");
    // 257 child cgroups, one sleeping process each.
    let mut kids = Vec::new();
    let mut procs = Vec::new();
    for i in 0..257 {
        let dir = cg.dir.join(format!("c{i}"));
        std::fs::create_dir(&dir).expect("child cgroup");
        let child = TestCgroup { dir };
        procs.push(sleeper(&child));
        kids.push(child);
    }
    for (i, p) in procs.iter().enumerate().take(256) {
        let o = h.hook(
            "prestart",
            &prestart_state(&format!("c{i}"), p.id(), &format!("c{i}.json")),
        );
        assert!(o.status.success(), "prestart {i}: {}", stderr(&o));
    }
    let o = h.hook(
        "prestart",
        &prestart_state("c256", procs[256].id(), "c256.json"),
    );
    assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("too many recordings at once (at most 256)"),
        "{}",
        stderr(&o)
    );
    // The refused one left nothing behind; every other one finishes.
    assert!(!h.states().contains(&"c256.json".to_owned()));
    for p in &mut procs {
        let _ = p.kill();
        let _ = p.wait();
    }
    for i in 0..256 {
        let o = h.hook(
            "poststop",
            &poststop_state(&format!("c{i}"), &format!("c{i}.json")),
        );
        assert!(o.status.success(), "poststop {i}: {}", stderr(&o));
        assert!(h.out().join(format!("c{i}.json")).exists(), "c{i}");
    }
    assert!(h.states().is_empty(), "{:?}", h.states());
    assert!(!h.link_attached());
    drop(kids);
}

#[e2e_macros::test]
fn a_hung_lock_holder_makes_the_hook_give_up_in_bounded_time() {
    use std::os::unix::io::AsRawFd;
    if !can_record() {
        return;
    }
    let h = Hooks::new("lock");
    let cg = TestCgroup::new("conc-lock");
    let mut p = sleeper(&cg);
    // Someone (a hung seccomp-recorder) holds the state lock.
    let run = h.dir.path().join("run");
    std::fs::create_dir_all(&run).expect("run dir");
    let lock = std::fs::File::create(run.join("lock")).expect("lock file");
    // SAFETY: flock on our own descriptor.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let started = std::time::Instant::now();
    let o = h.hook("prestart", &prestart_state("locked", p.id(), "locked.json"));
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
    assert!(stderr(&o).contains("has held"), "{}", stderr(&o));
    // Well below the 10 s the hook definitions give a hook.
    assert!(took < std::time::Duration::from_secs(8), "{took:?}");
    assert!(h.states().is_empty(), "{:?}", h.states());
    drop(lock);
    let _ = p.kill();
    let _ = p.wait();
}

/// A poststop whose recording another process is finishing waits for it, but not past
/// the runtime's hook timeout (10 s in the hook JSON): with a finisher that hangs it
/// returns success after its 8 s bound, with a warning in the hook log. When the hung
/// finisher is gone, `gc` puts its claim back and writes the profile.
#[e2e_macros::test]
fn a_hung_finisher_holds_poststop_no_longer_than_its_bound_and_gc_finishes_after_it() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("hung");
    let cg = TestCgroup::new("conc-hung");
    let mut p = sleeper(&cg);
    let o = h.hook("prestart", &prestart_state("ctr-hung", p.id(), "hung.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = p.kill();
    let _ = p.wait();
    drop(cg);
    // A finisher that claimed the state and hangs: the claim names a live process.
    let mut finisher = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let recordings = h.dir.path().join("run/recordings");
    std::fs::rename(
        recordings.join("ctr-hung.json"),
        recordings.join(format!(".ctr-hung.finishing-{}", finisher.id())),
    )
    .expect("claim as the finisher would");

    let t = std::time::Instant::now();
    let o = h.hook("poststop", &poststop_state("ctr-hung", "hung.json"));
    let waited = t.elapsed();
    assert!(o.status.success(), "{}", stderr(&o));
    // Waited for the finisher (8 s), and returned before the runtime's 10 s timeout.
    assert!(
        waited >= std::time::Duration::from_secs(8) && waited < std::time::Duration::from_secs(10),
        "poststop took {waited:?}"
    );
    let log = std::fs::read_to_string(h.dir.path().join("hook.log")).unwrap_or_default();
    assert!(
        log.contains("another process has been finishing this recording for 8 s"),
        "{log}"
    );
    assert!(!h.out().join("hung.json").exists());

    // The finisher dies: gc takes its claim back and writes the profile.
    let _ = finisher.kill();
    let _ = finisher.wait();
    let o = h.cmd().arg("gc").output().expect("gc");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(h.out().join("hung.json").exists(), "{}", stderr(&o));
    assert!(h.states().is_empty(), "{:?}", h.states());
}
