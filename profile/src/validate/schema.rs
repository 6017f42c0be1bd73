//! The schema walk: types, required and unknown fields, names of actions, operators,
//! flags, architectures and errnos, per format (OCI, podman/Docker, SPO).

use super::*;

/// oci-spec's architectures beyond the SPO enum.
pub(super) const MORE_ARCHES: [&str; 4] = [
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// The `spec` fields of the SPO CRD (v1.0.0; `disabled` is the field `state` replaced).
pub(super) const SPO_SPEC: [&str; 9] = [
    "defaultAction",
    "architectures",
    "syscalls",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "baseProfileName",
    "state",
    "disabled",
];

/// The API group of SPO resources; `v1beta1` and `v1` have the same `spec` schema.
pub(super) const SPO_GROUP: &str = "security-profiles-operator.x-k8s.io";

#[derive(Default)]
pub(super) struct Checker {
    pub(super) findings: Vec<Finding>,
}

impl Checker {
    pub(super) fn error(&mut self, path: &str, message: String) {
        self.findings.push(Finding {
            severity: Severity::Error,
            path: path.to_owned(),
            message,
        });
    }

    pub(super) fn warn(&mut self, path: &str, message: String) {
        self.findings.push(Finding {
            severity: Severity::Warning,
            path: path.to_owned(),
            message,
        });
    }

    pub(super) fn expected(&mut self, path: &str, what: &str, v: &Value) {
        self.error(path, format!("expected {what}, found {}", describe(v)));
    }

    pub(super) fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
    ) -> Option<&'v Map<String, Value>> {
        let o = v.as_object();
        if o.is_none() {
            self.expected(path, "an object", v);
        }
        o
    }

    pub(super) fn array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        let a = v.as_array();
        if a.is_none() {
            self.expected(path, "an array", v);
        }
        a
    }

    pub(super) fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        let s = v.as_str();
        if s.is_none() {
            self.expected(path, "a string", v);
        }
        s
    }

    pub(super) fn strings<'v>(&mut self, v: &'v Value, path: &str) -> Vec<(String, &'v str)> {
        let mut out = Vec::new();
        for (i, x) in self.array(v, path).into_iter().flatten().enumerate() {
            let p = index(path, i);
            if let Some(s) = self.string(x, &p) {
                out.push((p, s));
            }
        }
        out
    }

    /// An unsigned integer up to `max` (`spo`: the CRD's signed int32/int64 minimum 0).
    pub(super) fn unsigned(&mut self, v: &Value, path: &str, max: u64, what: &str) -> Option<u64> {
        let n = v.as_u64().filter(|n| *n <= max);
        if n.is_none() {
            self.expected(path, what, v);
        }
        n
    }

    /// Optional fields: absent or `null` (Go and serde read both as absent).
    pub(super) fn field<'v>(obj: &'v Map<String, Value>, k: &str) -> Option<&'v Value> {
        obj.get(k).filter(|v| !v.is_null())
    }

    pub(super) fn required<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        base: &str,
        k: &str,
    ) -> Option<&'v Value> {
        let v = Self::field(obj, k);
        if v.is_none() {
            let at = if base.is_empty() { TOP_LEVEL } else { base };
            self.error(at, format!("missing required field \"{k}\""));
        }
        v
    }

    pub(super) fn unknown_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        known: &[&str],
        format: Format,
        docker_only: &[&str],
    ) {
        for k in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            let path = key(base, k);
            let hint = did_you_mean(k, known.iter().copied());
            let message = if format == Format::Oci && docker_only.contains(&k.as_str()) {
                format!("\"{k}\" is a podman/Docker extension, not part of the OCI runtime spec: runc and crun ignore it (check with --as docker for podman)")
            } else if format == Format::Spo
                && k.to_lowercase().contains("errno")
                && base.ends_with("spec")
            {
                format!("unknown field \"{k}\": the SeccompProfile CRD has no default errno; syscalls the profile does not allow fail with EPERM (the runtime's default)")
            } else if format == Format::Spo {
                format!("unknown field \"{k}\"{hint}: not in the SeccompProfile CRD (the API server rejects or drops it)")
            } else {
                format!("unknown field \"{k}\"{hint}: podman, runc and crun ignore it, so the profile would not mean what it says")
            };
            self.error(&path, message);
        }
    }

    pub(super) fn action(&mut self, v: &Value, path: &str) -> Option<LinuxSeccompAction> {
        let s = self.string(v, path)?;
        let a = parse_action(s);
        if a.is_none() {
            self.error(
                path,
                format!("unknown action {s:?}{}", did_you_mean(s, ACTIONS)),
            );
        }
        a
    }

    pub(super) fn arch(&mut self, v: &Value, path: &str, format: Format) -> Option<OciArch> {
        let s = self.string(v, path)?;
        let Ok(arch) = OciArch::from_str(s) else {
            let hint = match Arch::from_str(s) {
                Ok(a) => format!("; write {}", a.scmp_name()),
                Err(_) => did_you_mean(s, SPO_ARCHITECTURES.iter().chain(&MORE_ARCHES).copied()),
            };
            self.error(path, format!("unknown architecture {s:?}{hint}"));
            return None;
        };
        if format == Format::Spo && !SPO_ARCHITECTURES.contains(&s) {
            self.error(
                path,
                format!("{s} is not in the SeccompProfile CRD's architectures enum"),
            );
            return None;
        }
        Some(arch)
    }

    pub(super) fn arches(&mut self, v: &Value, path: &str, format: Format) -> Vec<OciArch> {
        let mut out = Vec::new();
        for (i, x) in self.array(v, path).into_iter().flatten().enumerate() {
            let p = index(path, i);
            if let Some(a) = self.arch(x, &p, format) {
                if out.contains(&a) && format == Format::Spo {
                    self.error(&p, format!("{a} is listed twice (the CRD's list is a set)"));
                }
                out.push(a);
            }
        }
        out
    }

    /// podman's errno name/number next to the spec's errnoRet: the effective errno.
    pub(super) fn errno(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ret_key: &str,
        name_key: &str,
        format: Format,
    ) -> Option<u32> {
        let ret_path = key(base, ret_key);
        let ret = Self::field(obj, ret_key).and_then(|v| match format {
            Format::Spo => self
                .unsigned(
                    v,
                    &ret_path,
                    i32::MAX as u64,
                    "an integer from 0 to 2147483647",
                )
                .and_then(|n| u32::try_from(n).ok()),
            _ => self
                .unsigned(
                    v,
                    &ret_path,
                    u64::from(u32::MAX),
                    "an unsigned 32-bit integer",
                )
                .and_then(|n| u32::try_from(n).ok()),
        });
        if format != Format::Docker {
            return ret;
        }
        let name_path = key(base, name_key);
        let Some(v) = Self::field(obj, name_key) else {
            return ret;
        };
        let name = self.string(v, &name_path)?;
        if name.is_empty() {
            return ret;
        }
        let Some(value) = name.parse::<u32>().ok().or_else(|| errno_by_name(name)) else {
            self.error(&name_path, format!("unknown errno {name:?}"));
            return ret;
        };
        if let Some(n) = ret.filter(|n| *n != value) {
            self.error(
                &name_path,
                format!("errno {name:?} ({value}) and {ret_key} {n} disagree"),
            );
        }
        Some(value)
    }

    pub(super) fn check_errno_allowed(
        &mut self,
        action: Option<LinuxSeccompAction>,
        errno: Option<u32>,
        path: &str,
    ) {
        if let (Some(a), Some(e)) = (action, errno) {
            if !matches!(
                a,
                LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
            ) {
                self.error(
                    path,
                    format!("errno {e} is given but {a} returns no errno (the runtime spec requires runtimes to refuse the profile)"),
                );
            }
        }
    }

    /// An OCI or docker profile (`base` is empty), or an SPO `spec` (`base` = "spec").
    pub(super) fn profile(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        format: Format,
    ) -> Option<Model> {
        let known: Vec<&str> = match format {
            Format::Oci => OCI_TOP.to_vec(),
            Format::Docker => OCI_TOP.iter().chain(&DOCKER_TOP).copied().collect(),
            Format::Spo => SPO_SPEC.to_vec(),
        };
        self.unknown_fields(obj, base, &known, format, &DOCKER_TOP);

        let default_action = self
            .required(obj, base, "defaultAction")
            .and_then(|v| self.action(v, &key(base, "defaultAction")));
        if format != Format::Spo {
            let errno = self.errno(obj, base, "defaultErrnoRet", "defaultErrno", format);
            let at = if Self::field(obj, "defaultErrnoRet").is_some() {
                "defaultErrnoRet"
            } else {
                "defaultErrno"
            };
            self.check_errno_allowed(default_action, errno, &key(base, at));
        }

        let mut arches = Self::field(obj, "architectures")
            .map(|v| self.arches(v, &key(base, "architectures"), format))
            .unwrap_or_default();
        if format == Format::Docker {
            if let Some(map) = Self::field(obj, "archMap") {
                let selected = self.arch_map(map, "archMap");
                let both = !arches.is_empty() && map.as_array().is_some_and(|m| !m.is_empty());
                if both {
                    self.error(
                        "archMap",
                        "both \"architectures\" and \"archMap\" are given; podman and Docker refuse the profile".into(),
                    );
                }
                arches.extend(selected);
            }
        }

        let flags = Self::field(obj, "flags")
            .map(|v| self.strings(v, &key(base, "flags")))
            .unwrap_or_default();
        for (p, s) in flags {
            if parse_flag(s).is_none() {
                self.error(&p, format!("unknown flag {s:?}{}", did_you_mean(s, FLAGS)));
            }
        }
        if let Some(v) = Self::field(obj, "listenerPath") {
            let p = key(base, "listenerPath");
            if let Some(s) = self.string(v, &p) {
                if format == Format::Spo && !formats::spo_listener_path_ok(s) {
                    self.error(
                        &p,
                        format!("{s:?} does not match the CRD's pattern ^/var/run/security-profiles-operator/[a-zA-Z0-9_\\-\\.]+$"),
                    );
                }
            }
        }
        for k in ["listenerMetadata", "baseProfileName"] {
            if let Some(v) = Self::field(obj, k) {
                self.string(v, &key(base, k));
            }
        }
        if format == Format::Spo {
            if let Some(v) = Self::field(obj, "state") {
                let p = key(base, "state");
                if let Some(s) = self.string(v, &p) {
                    if !["Enabled", "Disabled"].contains(&s) {
                        self.error(
                            &p,
                            format!("expected \"Enabled\" or \"Disabled\", found {s:?}"),
                        );
                    }
                }
            }
            if let Some(v) = Self::field(obj, "disabled") {
                let p = key(base, "disabled");
                if v.is_boolean() {
                    self.warn(&p, "\"disabled\" is the field of SPO before v1.0; v1.0 replaced it with \"state\" (Enabled/Disabled)".into());
                } else {
                    self.expected(&p, "a boolean", v);
                }
            }
        }

        let mut rules = Vec::new();
        if let Some(v) = Self::field(obj, "syscalls") {
            let p = key(base, "syscalls");
            for (i, r) in self.array(v, &p).into_iter().flatten().enumerate() {
                let rp = index(&p, i);
                if let Some(o) = self.object(r, &rp) {
                    rules.push(self.rule(o, &rp, format));
                }
            }
        }
        Some(Model {
            default_action,
            arches,
            syscalls_path: key(base, "syscalls"),
            rules,
        })
    }

    /// podman's `archMap`: checks it, returns the architectures podman adds on this
    /// host (the entry of the native architecture, with its sub-architectures).
    pub(super) fn arch_map(&mut self, v: &Value, path: &str) -> Vec<OciArch> {
        let native = crate::arch::native_oci();
        let mut selected = Vec::new();
        let mut found = false;
        let entries = self.array(v, path).cloned().unwrap_or_default();
        for (i, e) in entries.iter().enumerate() {
            let ep = index(path, i);
            let Some(o) = self.object(e, &ep) else {
                continue;
            };
            self.unknown_fields(
                o,
                &ep,
                &["architecture", "subArchitectures"],
                Format::Docker,
                &[],
            );
            let arch = self
                .required(o, &ep, "architecture")
                .and_then(|a| self.arch(a, &key(&ep, "architecture"), Format::Docker));
            let subs = Self::field(o, "subArchitectures")
                .map(|s| self.arches(s, &key(&ep, "subArchitectures"), Format::Docker))
                .unwrap_or_default();
            if arch.is_some() && arch == native && !found {
                found = true;
                selected.extend(arch);
                selected.extend(subs);
            }
        }
        if !found && !entries.is_empty() {
            if let Some(n) = native {
                self.warn(
                    path,
                    format!("no entry for this host's architecture ({n}): podman uses only that entry, so the filter here has the native architecture only"),
                );
            }
        }
        selected
    }

    pub(super) fn rule(&mut self, o: &Map<String, Value>, rp: &str, format: Format) -> RuleInfo {
        let known: Vec<&str> = match format {
            Format::Docker => OCI_RULE.iter().chain(&DOCKER_RULE).copied().collect(),
            _ => OCI_RULE.to_vec(),
        };
        self.unknown_fields(o, rp, &known, format, &DOCKER_RULE);

        let mut names: Vec<(String, String)> = Vec::new();
        let has_names = Self::field(o, "names").is_some();
        let has_name = format == Format::Docker && Self::field(o, "name").is_some();
        if has_names && has_name {
            self.error(
                &key(rp, "name"),
                "both \"name\" and \"names\" are given; podman refuses the profile".into(),
            );
        }
        if let Some(v) = Self::field(o, "names") {
            let p = key(rp, "names");
            let list = self.strings(v, &p);
            if v.as_array().is_some_and(|a| a.is_empty()) {
                if format == Format::Spo {
                    self.error(
                        &p,
                        "the SeccompProfile CRD requires at least one name".into(),
                    );
                } else {
                    self.warn(&p, "no names: the rule matches nothing".into());
                }
            }
            names.extend(list.into_iter().map(|(p, s)| (p, s.to_owned())));
        } else if has_name {
            let p = key(rp, "name");
            if let Some(s) = Self::field(o, "name").and_then(|v| self.string(v, &p)) {
                names.push((p, s.to_owned()));
            }
        } else {
            self.required(o, rp, "names");
        }

        let action = self
            .required(o, rp, "action")
            .and_then(|v| self.action(v, &key(rp, "action")));
        let errno = self.errno(o, rp, "errnoRet", "errno", format);
        let at = if Self::field(o, "errnoRet").is_some() {
            "errnoRet"
        } else {
            "errno"
        };
        self.check_errno_allowed(action, errno, &key(rp, at));

        let mut has_args = false;
        if let Some(v) = Self::field(o, "args") {
            let p = key(rp, "args");
            let args = self.array(v, &p).cloned().unwrap_or_default();
            has_args = !args.is_empty();
            if format == Format::Spo && args.len() > 6 {
                self.error(
                    &p,
                    format!("{} conditions; the CRD allows at most 6", args.len()),
                );
            }
            for (j, a) in args.iter().enumerate() {
                let ap = index(&p, j);
                if let Some(ao) = self.object(a, &ap) {
                    self.arg(ao, &ap, format);
                }
            }
        }

        if let Some(v) = Self::field(o, "comment") {
            if format == Format::Docker {
                self.string(v, &key(rp, "comment"));
            }
        }
        let mut conditional = has_args;
        if format == Format::Docker {
            for which in ["includes", "excludes"] {
                if let Some(v) = Self::field(o, which) {
                    conditional |= self.filter(v, &key(rp, which));
                }
            }
        }
        RuleInfo {
            path: rp.to_owned(),
            names,
            action: action.map(|a| Effective::new(a, errno)),
            conditional,
        }
    }

    pub(super) fn arg(&mut self, o: &Map<String, Value>, ap: &str, format: Format) {
        self.unknown_fields(o, ap, &["index", "value", "valueTwo", "op"], format, &[]);
        let (index_max, index_what, value_max, value_what) = if format == Format::Spo {
            (
                i32::MAX as u64,
                "an integer from 0 to 2147483647",
                i64::MAX as u64,
                "an integer from 0 to 9223372036854775807 (the CRD's int64)",
            )
        } else {
            (
                u64::from(u32::MAX),
                "an unsigned integer",
                u64::MAX,
                "an unsigned 64-bit integer",
            )
        };
        let ip = key(ap, "index");
        if let Some(i) = self
            .required(o, ap, "index")
            .and_then(|v| self.unsigned(v, &ip, index_max, index_what))
        {
            if i > 5 {
                self.error(
                    &ip,
                    format!("argument index {i} does not exist (syscalls have arguments 0 to 5)"),
                );
            }
        }
        let value = if format == Format::Spo {
            Self::field(o, "value")
        } else {
            self.required(o, ap, "value")
        };
        if let Some(v) = value {
            self.unsigned(v, &key(ap, "value"), value_max, value_what);
        }
        let vp = key(ap, "valueTwo");
        let value_two =
            Self::field(o, "valueTwo").and_then(|v| self.unsigned(v, &vp, value_max, value_what));
        let op_path = key(ap, "op");
        let op = self
            .required(o, ap, "op")
            .and_then(|v| self.string(v, &op_path))
            .and_then(|s| {
                let op = parse_op(s);
                if op.is_none() {
                    self.error(
                        &op_path,
                        format!("unknown op {s:?}{}", did_you_mean(s, OPS)),
                    );
                }
                op
            });
        if let (Some(op), Some(v2)) = (op, value_two) {
            if v2 != 0 && op != LinuxSeccompOperator::ScmpCmpMaskedEq {
                self.warn(
                    &vp,
                    format!("valueTwo {v2} is ignored by {op} (only SCMP_CMP_MASKED_EQ uses it)"),
                );
            }
        }
    }

    /// A docker `includes`/`excludes`; returns whether it has any condition.
    pub(super) fn filter(&mut self, v: &Value, path: &str) -> bool {
        let Some(o) = self.object(v, path) else {
            return false;
        };
        self.unknown_fields(
            o,
            path,
            &["caps", "arches", "minKernel"],
            Format::Docker,
            &[],
        );
        let mut any = false;
        if let Some(c) = Self::field(o, "caps") {
            let list = self.strings(c, &key(path, "caps"));
            for (p, cap) in &list {
                if capability_bit(cap).is_none() {
                    self.error(
                        p,
                        format!("unknown capability {cap:?} (expected names like CAP_SYS_ADMIN)"),
                    );
                }
            }
            any |= !list.is_empty();
        }
        if let Some(a) = Self::field(o, "arches") {
            any |= !self.strings(a, &key(path, "arches")).is_empty();
        }
        if let Some(k) = Self::field(o, "minKernel") {
            let p = key(path, "minKernel");
            if let Some(s) = self.string(k, &p) {
                let ok = s.split_once('.').is_some_and(|(a, b)| {
                    [a, b]
                        .iter()
                        .all(|x| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit()))
                });
                if !ok {
                    self.error(&p, format!("{s:?} is not a kernel version like \"4.8\""));
                }
                any = true;
            }
        }
        any
    }

    /// An SPO resource: apiVersion, kind, metadata.name, and its `spec`.
    pub(super) fn resource(&mut self, top: &Map<String, Value>) -> Option<Model> {
        self.unknown_fields(
            top,
            "",
            &["apiVersion", "kind", "metadata", "spec", "status"],
            Format::Spo,
            &[],
        );
        if let Some(v) = self.required(top, "", "apiVersion") {
            if let Some(s) = self.string(v, "apiVersion") {
                let ok = s
                    .split_once('/')
                    .is_some_and(|(g, ver)| g == SPO_GROUP && ["v1beta1", "v1"].contains(&ver));
                if !ok {
                    self.error(
                        "apiVersion",
                        format!("expected \"{SPO_GROUP}/v1beta1\" (or /v1), found {s:?}"),
                    );
                }
            }
        }
        if let Some(v) = self.required(top, "", "kind") {
            if let Some(s) = self.string(v, "kind") {
                if s != SPO_KIND {
                    self.error("kind", format!("expected \"{SPO_KIND}\", found {s:?}"));
                }
            }
        }
        if let Some(m) = self
            .required(top, "", "metadata")
            .and_then(|v| self.object(v, "metadata"))
        {
            match Self::field(m, "name") {
                Some(v) => {
                    if let Some(s) = self.string(v, "metadata.name") {
                        if !formats::is_k8s_name(s) {
                            self.error(
                                "metadata.name",
                                format!("{s:?} is not a valid object name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253)"),
                            );
                        }
                    }
                }
                None if Self::field(m, "generateName").is_some() => {}
                None => self.error("metadata", "missing required field \"name\"".into()),
            }
        }
        let spec = self.required(top, "", "spec")?;
        let spec = self.object(spec, "spec")?;
        self.profile(spec, "spec", Format::Spo)
    }
}

pub(super) const OCI_TOP: [&str; 7] = [
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
];

pub(super) const OCI_RULE: [&str; 4] = ["names", "action", "errnoRet", "args"];
