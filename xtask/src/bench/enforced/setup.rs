//! Setting up what is measured: podman's default profile, our recorded one, the runc
//! and crun bundles.

use super::*;

/// Podman's default profile as podman passes it to crun.
pub(super) fn podman_default(to: &Path) -> Result<()> {
    let d = Path::new(PODMAN_DIR);
    let _ = std::fs::remove_dir_all(d);
    for sub in ["root", "runroot", "tmp", "rootfs"] {
        std::fs::create_dir_all(d.join(sub))?;
    }
    std::fs::write(
        d.join("containers.conf"),
        "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
         events_logger = \"file\"\nruntime = \"crun\"\nlock_type = \"file\"\n",
    )?;
    let podman = |args: &[&str]| {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        c
    };
    let result = (|| -> Result<()> {
        let id = crate::output(
            podman(&["create", "--network=none", "--rootfs"])
                .arg(d.join("rootfs"))
                .arg("/x"),
        )
        .context("podman create (isolated store)")?;
        let id = id.trim().to_string();
        // The OCI spec is written at init, before crun create (which may fail on this
        // host's rlimits: it does not matter, the container never starts).
        let _ = podman(&["init", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let config = d
            .join("root/vfs-containers")
            .join(&id)
            .join("userdata/config.json");
        let text = std::fs::read_to_string(&config)
            .with_context(|| format!("podman's generated {}", config.display()));
        let _ = podman(&["rm", "-f", &id]).stdout(Stdio::null()).status();
        let text = text?;
        let v: Value = serde_json::from_str(&text)?;
        let seccomp = v["linux"]["seccomp"].clone();
        ensure!(
            seccomp.is_object(),
            "podman's config.json has no linux.seccomp"
        );
        std::fs::write(to, serde_json::to_string_pretty(&seccomp)?)?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(d);
    result
}

/// Records enfbench (without the denied call) twice: with `--args` into ours.json,
/// without into ours-noargs.json.
pub(super) fn record_ours(w: &Work) -> Result<()> {
    record_one(w, true, &w.ours_json)?;
    record_one(w, false, &w.noargs_json)
}

/// One recording of enfbench into `out`.
fn record_one(w: &Work, args: bool, out: &Path) -> Result<()> {
    let env = |c: &mut Command| {
        c.env("SECCOMP_RECORDER_BPF_DIR", BPF_DIR)
            .env("SECCOMP_RECORDER_RUN_DIR", RUN_DIR);
    };
    let mut c = Command::new(&w.bin);
    env(&mut c);
    c.arg("record");
    if args {
        c.arg("--args");
    }
    c.args(["--runtime", "any", "-o"])
        .arg(out)
        .arg("--")
        .arg(&w.prog)
        .args(["run", "2000", "2", "7", "0"])
        .stdout(Stdio::null());
    let result = crate::sh(&mut c);
    let mut u = Command::new(&w.bin);
    env(&mut u);
    let _ = u.arg("unload").stdout(Stdio::null()).status();
    let _ = std::fs::remove_dir_all(BPF_DIR);
    let _ = std::fs::remove_dir_all(RUN_DIR);
    result?;
    let v: Value = serde_json::from_str(&std::fs::read_to_string(out)?)?;
    let names: Vec<&str> = v["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["names"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        ["getppid", "personality", "socket", "nanosleep"]
            .iter()
            .all(|n| names.contains(n)),
        "the recorded profile lacks the workload's syscalls (names: {names:?}): is {} a \
         working build?",
        w.bin.display()
    );
    Ok(())
}

/// `runc spec`'s template: no terminal, no pid namespace (the dump needs the host pid),
/// writable root, noNewPrivileges false (podman's default).
pub(super) fn runc_template(w: &Work) -> Result<Value> {
    let spec = w.dir.join("spec");
    std::fs::create_dir_all(&spec)?;
    crate::sh(Command::new("runc").args(["spec", "--bundle"]).arg(&spec))?;
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(spec.join("config.json"))?)?;
    t["process"]["terminal"] = json!(false);
    t["process"]["noNewPrivileges"] = json!(false);
    t["root"] = json!({ "path": w.dir.join("rootfs"), "readonly": false });
    if let Some(ns) = t["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "pid");
    }
    Ok(t)
}

impl Work {
    /// Command for a configuration (its stdout is the workload's).
    pub(super) fn command(
        &mut self,
        config: &Config,
        args: &[String],
    ) -> Result<(Command, Option<(String, PathBuf)>)> {
        Ok(match config {
            Config::Synth(..) | Config::Profile(Path3::Bare, _) => {
                let mut c = Command::new(&self.prog);
                c.args(args);
                (c, None)
            }
            Config::Profile(Path3::Enforce, f) => {
                let mut c = Command::new(&self.bin);
                c.arg("enforce").arg("--profile");
                // enforce refuses podman's generated OCI form (setns allowed in one
                // rule, ERRNO in another: libseccomp keeps one); it takes the
                // podman/Docker file itself.
                c.arg(match f {
                    Prof::Ours => self.ours_json.as_path(),
                    Prof::OursNoArgs => self.noargs_json.as_path(),
                    _ => Path::new(PODMAN_FILE),
                });
                c.arg("--").arg(&self.prog).args(args);
                (c, None)
            }
            Config::Profile(rt @ (Path3::Crun | Path3::Runc), f) => {
                self.seq += 1;
                let id = format!("enf-bench-{}-{}", std::process::id(), self.seq);
                let bundle = self.dir.join("bundles").join(&id);
                std::fs::create_dir_all(&bundle)?;
                let mut cfg = self.template.clone();
                let mut argv = vec![json!("/enfbench")];
                argv.extend(args.iter().map(|a| json!(a)));
                cfg["process"]["args"] = json!(argv);
                cfg["linux"]["cgroupsPath"] = json!(format!("/{id}"));
                match f {
                    Prof::None => {}
                    Prof::Podman | Prof::Ours | Prof::OursNoArgs => {
                        let p = match f {
                            Prof::Ours => &self.ours_json,
                            Prof::OursNoArgs => &self.noargs_json,
                            _ => &self.podman_json,
                        };
                        cfg["linux"]["seccomp"] =
                            serde_json::from_str(&std::fs::read_to_string(p)?)?;
                    }
                }
                std::fs::write(
                    bundle.join("config.json"),
                    serde_json::to_string_pretty(&cfg)?,
                )?;
                let state = self.dir.join(format!("{}-state", rt.label()));
                let mut c = Command::new(rt.label());
                c.arg("--root")
                    .arg(&state)
                    .arg("run")
                    .arg("-b")
                    .arg(&bundle)
                    .arg(&id);
                (c, Some((id, state)))
            }
        })
    }

    pub(super) fn cleanup(rt: &str, container: Option<(String, PathBuf)>) {
        if let Some((id, state)) = container {
            if state.join(&id).exists() {
                let _ = Command::new(rt)
                    .arg("--root")
                    .arg(&state)
                    .args(["delete", "-f", &id])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// Runs a configuration to its end; returns its stdout.
    pub(super) fn launch(&mut self, config: &Config, args: &[String]) -> Result<String> {
        let (mut c, container) = self.command(config, args)?;
        let out = c
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("{c:?}"));
        let rt = match config {
            Config::Profile(Path3::Runc, _) => "runc",
            _ => "crun",
        };
        Self::cleanup(rt, container);
        let out = out?;
        ensure!(
            out.status.success(),
            "{} failed with {}: {}",
            config.label(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Dumps and analyses the filter of every path × profile.
    pub(super) fn dumps(&mut self) -> Result<Vec<Dump>> {
        let mut all = Vec::new();
        for p in [Path3::Enforce, Path3::Crun, Path3::Runc] {
            for f in [Prof::Podman, Prof::Ours, Prof::OursNoArgs] {
                let config = Config::Profile(p, f);
                let args: Vec<String> = ["run", "1", "1", "0", "3000"].map(String::from).into();
                let (mut c, container) = self.command(&config, &args)?;
                let result = dump_child(&mut c);
                Self::cleanup(p.label(), container);
                let prog = result.with_context(|| format!("dumping {}", config.label()))?;
                let text = cbpf::disasm(&prog);
                std::fs::write(
                    self.dir
                        .join(format!("dump-{}-{}.txt", p.label(), prof_short(f))),
                    &text,
                )?;
                all.push(Dump::new(p, f, &prog, text));
            }
        }
        Ok(all)
    }
}
